"""The broker-facing model: reconcile, statuses, value checks, and the protocol."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from brokers import (
    Broker,
    BrokerOrder,
    BrokerOrderStatus,
    DiscrepancyKind,
    GuardedBroker,
    SafetyPolicy,
    SimulatedBroker,
)
from engine.errors import ValidationError
from engine.model.broker import AccountInfo, AssetInfo, reconcile, select_orders


def test_reconcile_reports_each_kind_and_ignores_tolerance():
    found = reconcile(
        {"VTI": D("10"), "BND": D("5"), "VEA": D("1.0000000001"), "GLD": D(0)},
        {"VTI": D("9.5"), "IEF": D("2"), "VEA": D("1"), "bnd": D("5")},
        account="brokerage",
    )
    assert [(d.symbol, d.kind, d.difference) for d in found] == [
        ("IEF", DiscrepancyKind.MISSING_AT_BROKER, D("-2")),
        ("VTI", DiscrepancyKind.QUANTITY, D("0.5")),
    ]
    assert found[1].account == "brokerage" and "broker holds 10" in str(found[1])
    assert reconcile({"A": D(1)}, {}) [0].kind is DiscrepancyKind.MISSING_IN_LEDGER
    assert reconcile({"A": D(1)}, {"A": D("1.5")}, tolerance=D("0.6")) == []


ALPACA_STATUSES = ("new", "partially_filled", "filled", "done_for_day", "canceled", "expired", "replaced",
                   "pending_cancel", "pending_replace", "accepted", "pending_new", "accepted_for_bidding", "stopped",
                   "rejected", "suspended", "calculated", "held", "pending_review")


def test_status_vocabulary_maps_every_alpaca_status():
    """Alpaca, Orders at Alpaca → Order Lifecycle: filled/canceled/expired/rejected/replaced get no further
    updates; done_for_day "will not receive further updates until the next trading day" (not final)."""
    for text in ALPACA_STATUSES:
        assert BrokerOrderStatus.parse(text.upper()).value == text
    assert BrokerOrderStatus.parse("some_future_status") is BrokerOrderStatus.OTHER
    assert not BrokerOrderStatus.OTHER.final and not BrokerOrderStatus.OTHER.done_today
    finals = {s.value for s in BrokerOrderStatus if s.final}
    assert finals == {"filled", "canceled", "expired", "rejected", "replaced"}
    assert {s.value for s in BrokerOrderStatus if s.done_today} == finals | {"done_for_day", "calculated"}


def test_account_and_asset_flags_name_what_blocks():
    ok = AccountInfo("brokerage", 1, 1, 1)
    assert ok.blocked_reason() is None and ok.fractional_trading and not ok.shorting_enabled
    assert AccountInfo("b", 1, 1, 1, pattern_day_trader=True).blocked_reason() is None  # only limits day trades
    for flag in ("account_blocked", "trading_blocked", "trade_suspended_by_user"):
        assert flag in AccountInfo("b", 1, 1, 1, **{flag: True}).blocked_reason()
    assert "ACCOUNT_UPDATED" in AccountInfo("b", 1, 1, 1, status="account_updated").blocked_reason()
    assert AssetInfo("vti", True, True).blocked_reason() is None
    assert "inactive" in AssetInfo("VTI", True, True, status="INACTIVE").blocked_reason()
    assert "tradable=false" in AssetInfo("VTI", False, True).blocked_reason()


def test_select_orders_filters_like_alpacas_list():
    t = datetime(2026, 1, 2, 15, tzinfo=UTC)
    rows = [BrokerOrder(str(i), f"c{i}", "a", sym, "buy", st, t + timedelta(minutes=i), qty=1)
            for i, (sym, st) in enumerate([("VTI", "filled"), ("BND", "new"), ("VTI", "held"), ("VEA", "expired")])]
    assert [o.id for o in select_orders(rows[::-1], "all")] == ["0", "1", "2", "3"]
    assert [o.id for o in select_orders(rows, "open")] == ["1", "2"]
    assert [o.id for o in select_orders(rows, "closed", after=t)] == ["3"]  # after is exclusive
    assert [o.id for o in select_orders(rows, "all", symbols=["vti"])] == ["0", "2"]
    assert [o.id for o in select_orders(rows, "all", limit=2)] == ["2", "3"]  # without after: the newest
    assert [o.id for o in select_orders(rows, "all", after=t - timedelta(1), limit=2)] == ["0", "1"]
    with pytest.raises(ValidationError):
        select_orders(rows, "all", after=datetime(2026, 1, 1))


def test_values_are_exact_and_aware():
    with pytest.raises(ValidationError, match="naive"):
        BrokerOrder("1", "c", "a", "VTI", "buy", "new", datetime(2026, 1, 2))
    o = BrokerOrder("1", "c", "a", "vti", "buy", "accepted", datetime(2026, 1, 2, tzinfo=UTC), qty="1.5")
    assert o.symbol == "VTI" and o.qty == D("1.5") and o.filled_qty == 0 and not o.final
    assert AccountInfo("a", 1, "2.5", 0).equity == D("2.5")


def test_implementations_satisfy_the_protocol(alpaca):
    sim = SimulatedBroker(lambda s, d: 1, accounts={"a": 1}, start=date(2026, 1, 2))
    assert isinstance(sim, Broker) and isinstance(alpaca, Broker)
    assert isinstance(GuardedBroker(sim, SafetyPolicy(max_data_age=None)), Broker)
