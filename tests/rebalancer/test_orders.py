"""Targets to orders: minimums, rounding, min notional, 9 decimals, sells first, buys fit the cash."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.model import Asset, OrderSide
from engine.rebalancer import OrderRules, build_orders, client_order_id, quantize_qty, resize_buys

ASSETS = {
    "VTI": Asset("VTI", "us_equity"),
    "BND": Asset("BND", "us_bonds"),
    "XLK": Asset("XLK", "us_equity", fractionable=False),
}
PRICES = {"VTI": Decimal("250.00"), "BND": Decimal("72.50"), "XLK": Decimal("210.37")}
D = Decimal


def test_sells_first_then_buys_with_deterministic_ids():
    current = {("t", "VTI"): D(100), ("t", "BND"): D(0)}
    targets = {("t", "VTI"): D(60), ("t", "BND"): D(130)}
    plan = build_orders("p1", current, targets, PRICES, {"t": D(0)}, ASSETS, sell_lots={("t", "VTI"): ["lot-7"]})
    sides = [o.side for o in plan.orders]
    assert sides == [OrderSide.SELL, OrderSide.BUY]
    assert [o.client_order_id for o in plan.orders] == ["p1-000", "p1-001"]
    assert plan.orders[0].qty == D(40) and plan.orders[0].lots == ("lot-7",)
    assert client_order_id("p1", 12) == "p1-012"


def test_buys_fit_cash_after_sells_less_buffer():
    # Sell 40 VTI = $10,000; buy wants 150 BND = $10,875 > available → scaled down.
    current = {("t", "VTI"): D(100)}
    targets = {("t", "VTI"): D(60), ("t", "BND"): D(150)}
    plan = build_orders("p", current, targets, PRICES, {"t": D(0)}, ASSETS)
    buy = plan.buys[0]
    buffer = D(25000) * D("0.0025")
    assert buy.qty * PRICES["BND"] <= D(10000) - buffer
    assert plan.cash_after["t"] >= buffer - D("0.000001")


def test_non_fractionable_whole_shares_residue_in_cash():
    plan = build_orders("p", {}, {("t", "XLK"): D("10.7")}, PRICES, {"t": D(5000)}, ASSETS)
    assert plan.orders[0].qty == D(10)
    assert plan.cash_after["t"] == D(5000) - D(10) * PRICES["XLK"]


def test_min_trade_skips_small_and_says_why():
    plan = build_orders("p", {("t", "VTI"): D(10)}, {("t", "VTI"): D("10.02")}, PRICES, {"t": D(100)}, ASSETS)
    assert plan.orders == ()
    assert "minimum trade" in plan.skipped[0].reason


def test_selling_out_fractional_remainder_allowed():
    plan = build_orders("p", {("t", "VTI"): D("0.123456789")}, {}, PRICES, {"t": D(0)}, ASSETS)
    assert plan.orders[0].qty == D("0.123456789") and plan.orders[0].side is OrderSide.SELL


def test_min_notional_and_less_than_a_share():
    rules = OrderRules(min_trade=D(0), min_trade_weight=0.0)
    plan = build_orders("p", {}, {("t", "VTI"): D("0.002")}, PRICES, {"t": D(1000)}, ASSETS, rules=rules)
    assert plan.orders == () and "minimum notional" in plan.skipped[0].reason
    plan = build_orders("p", {}, {("t", "XLK"): D("0.9")}, PRICES, {"t": D(1000)}, ASSETS, rules=rules)
    assert plan.orders == () and "whole share" in plan.skipped[0].reason


def test_invest_cash_forbids_sells():
    current = {("t", "VTI"): D(100)}
    plan = build_orders("p", current, {("t", "VTI"): D(50), ("t", "BND"): D(20)}, PRICES, {"t": D(2000)}, ASSETS,
                        allow_sells=False)
    assert all(o.side is OrderSide.BUY for o in plan.orders)
    assert any("sells not allowed" in s.reason for s in plan.skipped)


def test_quantize():
    assert quantize_qty(D("1.23456789012"), True) == D("1.234567890")
    assert quantize_qty(D("3.99"), False) == D(3)


def test_resize_buys_keeps_ids_and_never_grows():
    plan = build_orders("p", {}, {("t", "VTI"): D(10), ("t", "BND"): D(10)}, PRICES, {"t": D(10000)}, ASSETS)
    resized, _ = resize_buys(plan.buys, {"t": D(1000)}, PRICES, ASSETS)
    assert {o.client_order_id for o in resized} <= {o.client_order_id for o in plan.buys}
    assert sum(o.qty * PRICES[o.symbol] for o in resized) <= D(1000)
    same, _ = resize_buys(plan.buys, {"t": D(10**6)}, PRICES, ASSETS)
    assert [o.qty for o in same] == [o.qty for o in plan.buys]


money = st.decimals(min_value=0, max_value=100000, places=2)
shares = st.decimals(min_value=0, max_value=2000, places=4)


@settings(max_examples=150, deadline=None)
@given(
    cur=st.dictionaries(st.sampled_from(["VTI", "BND", "XLK"]), shares, max_size=3),
    tgt=st.dictionaries(st.sampled_from(["VTI", "BND", "XLK"]), shares, max_size=3),
    cash=money,
)
def test_properties(cur, tgt, cash):
    current = {("t", s): q for s, q in cur.items()}
    targets = {("t", s): q for s, q in tgt.items()}
    plan = build_orders("p", current, targets, PRICES, {"t": cash}, ASSETS)
    seen_buy = False
    for o in plan.orders:
        seen_buy |= o.side is OrderSide.BUY
        assert not (seen_buy and o.side is OrderSide.SELL), "a sell after a buy"
        assert o.qty == o.qty.quantize(D("1e-9"))
        selling_out = o.side is OrderSide.SELL and o.qty == current.get(("t", o.symbol))
        if not ASSETS[o.symbol].fractionable and not selling_out:
            assert o.qty == o.qty.to_integral_value()
        assert o.qty * PRICES[o.symbol] >= D(1)
        if o.side is OrderSide.SELL:
            assert o.qty <= current[("t", o.symbol)]
    assert plan.cash_after["t"] >= 0  # buys never overdraw the account
    assert len({o.client_order_id for o in plan.orders}) == len(plan.orders)


def test_client_order_id_length_is_capped():
    import pytest

    from engine.errors import ValidationError

    assert len(client_order_id("p" * 124, 1)) == 128
    with pytest.raises(ValidationError, match="at most 128"):
        client_order_id("p" * 125, 1)
