"""SimulatedBroker: next-bar fills, costs, participation caps, rejections, accounts, determinism."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

import pandas as pd
import pytest

from brokers import BrokerOrderStatus, CostModel, FillAt, OrderQuery, SimulatedBroker
from engine.errors import BrokerError, InsufficientFunds, OrderRejected, ValidationError
from engine.model import Asset, AssetClass, Order, TimeInForce

DAYS = [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4), date(2026, 3, 5)]
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def frames():
    idx = pd.DatetimeIndex(DAYS, name="Date")
    closes = pd.DataFrame({"VTI": [100.0, 102.0, 104.0, 106.0], "BRK": [400.0, 410.0, 420.0, 430.0]}, index=idx)
    opens = pd.DataFrame({"VTI": [99.0, 101.0, 103.0, 105.0], "BRK": [399.0, 409.0, 419.0, 429.0]}, index=idx)
    volumes = pd.DataFrame({"VTI": [1000.0, 30.0, 30.0, float("nan")], "BRK": [10.0] * 4}, index=idx)
    return closes, opens, volumes


def make(frames, **kw):
    closes, opens, volumes = frames
    kw.setdefault("accounts", {"taxable": 10_000, "ira": 5_000})
    kw.setdefault("positions", {"ira": {"VTI": 20}})
    kw.setdefault("costs", CostModel(half_spread=D("0.001"), per_order=D("1"), per_share=D("0.005")))
    assets = [Asset("VTI", AssetClass.US_EQUITY), Asset("BRK", AssetClass.US_EQUITY, fractionable=False)]
    return SimulatedBroker(closes, opens=opens, volumes=volumes, start=DAYS[0], assets=assets, **kw)


def test_fills_at_next_close_with_spread_and_commission(frames):
    b = make(frames)
    b.submit(Order("p-000", "taxable", "VTI", "buy", qty=D(10)))
    assert b.fills(EPOCH) == [] and b.order("p-000").status is BrokerOrderStatus.ACCEPTED
    new = b.advance_to(DAYS[1])
    (f,) = new
    assert f.price == D("102.102") and f.qty == 10 and f.fees == D("1.05")  # 102 × 1.001; 1 + 10 × 0.005
    assert f.at == datetime(2026, 3, 3, 21, 0, tzinfo=UTC)  # 16:00 New York
    assert b.account("taxable").cash == D(10_000) - D("1021.02") - D("1.05")
    assert b.order("p-000").status is BrokerOrderStatus.FILLED and b.order("p-000").filled_avg_price == D("102.102")
    assert b.positions("taxable")[0].qty == 10 and b.account("ira").cash == 5_000  # the other account is untouched


def test_fills_at_next_open_and_sells_receive_less(frames):
    b = make(frames, fill_at=FillAt.NEXT_OPEN)
    b.submit(Order("p-000", "ira", "VTI", "sell", qty=D(5)))
    (f,) = b.process()
    assert f.price == D("100.899") and f.at == datetime(2026, 3, 3, 14, 30, tzinfo=UTC)  # 101 × 0.999, 9:30 NY
    assert f.fees == D("1.02")  # 1 + 5 × 0.005 = 1.025, rounded half-even to cents
    assert b.account("ira").cash == D(5_000) + D("504.50") - D("1.02")  # 504.495 settles half-even to cents
    assert b.positions("ira")[0].qty == 15


def test_notional_buy_spends_the_notional(frames):
    b = make(frames, costs=CostModel(half_spread=D(0)))
    b.submit(Order("p-000", "taxable", "VTI", "buy", notional=D("1000")))
    (f,) = b.process()
    assert f.qty == D("9.803921568") and f.gross <= D(1000) and D(1000) - f.gross < D("0.0000001") * 102


def test_participation_cap_partial_fills_day_expires_gtc_continues(frames):
    b = make(frames, max_participation=0.1)
    b.submit(Order("p-000", "taxable", "VTI", "buy", qty=D(5)))
    b.submit(Order("p-001", "taxable", "VTI", "buy", qty=D(5), time_in_force=TimeInForce.GTC))
    b.advance_to(DAYS[1])  # volume 30 → at most 3 shares per order on this bar
    day, gtc = b.order("p-000"), b.order("p-001")
    assert day.status is BrokerOrderStatus.EXPIRED and day.filled_qty == 3
    assert gtc.status is BrokerOrderStatus.PARTIALLY_FILLED and gtc.filled_qty == 3
    b.advance_to(DAYS[2])
    assert b.order("p-001").status is BrokerOrderStatus.FILLED and b.order("p-001").filled_qty == 5
    assert sum(f.qty for f in b.fills(EPOCH)) == 3 + 5 and b.positions("taxable")[0].qty == 8
    assert [o.client_order_id for o in b.orders(OrderQuery.CLOSED, "taxable")] == ["p-000", "p-001"]


def test_unknown_volume_means_no_cap_and_whole_shares_when_capped(frames):
    b = make(frames, max_participation=0.15)
    b.submit(Order("p-000", "taxable", "BRK", "buy", qty=D(3)))
    b.process()  # volume 10 × 0.15 = 1.5 → 1 whole share of a non-fractionable fund
    assert b.order("p-000").filled_qty == 1
    b.advance_to(DAYS[2])
    b.submit(Order("p-001", "taxable", "VTI", "buy", qty=D(50)))
    b.process()  # NaN volume on the last bar: no cap
    assert b.order("p-001").filled_qty == 50


def test_rejections(frames):
    b = make(frames)
    with pytest.raises(InsufficientFunds, match="insufficient buying power") as exc:
        b.submit(Order("p-000", "taxable", "VTI", "buy", qty=D(200)))
    assert exc.value.status == 403 and exc.value.client_order_id == "p-000"
    b.submit(Order("p-001", "taxable", "VTI", "buy", notional=D(9_000)))
    with pytest.raises(InsufficientFunds):  # the open buy reserves the cash
        b.submit(Order("p-002", "taxable", "VTI", "buy", notional=D(2_000)))
    with pytest.raises(InsufficientFunds, match="insufficient qty"):
        b.submit(Order("p-003", "ira", "VTI", "sell", qty=D("20.5")))
    with pytest.raises(OrderRejected, match="not fractionable"):
        b.submit(Order("p-004", "taxable", "BRK", "buy", qty=D("1.5")))
    with pytest.raises(OrderRejected, match="notional"):
        b.submit(Order("p-005", "taxable", "BRK", "buy", notional=D(500)))
    with pytest.raises(OrderRejected, match="must be unique"):
        b.submit(Order("p-001", "taxable", "VTI", "buy", qty=D(1)))
    with pytest.raises(OrderRejected, match="unknown account"):
        b.submit(Order("p-006", "roth", "VTI", "buy", qty=D(1)))
    with pytest.raises(OrderRejected, match="not found"):
        b.submit(Order("p-007", "taxable", "XYZ", "buy", qty=D(1)))
    assert [o.client_order_id for o in b.orders(OrderQuery.ALL)] == ["p-001"]


def test_buy_rejected_when_price_jumps_past_cash():
    prices = {date(2026, 3, 2): 100, date(2026, 3, 3): 200}
    b = SimulatedBroker(lambda s, d: prices[d], accounts={"a": 1_000}, start=date(2026, 3, 2),
                        costs=CostModel(half_spread=D(0)))
    b.submit(Order("p-000", "a", "VTI", "buy", qty=D(9)))
    assert b.process() == []
    o = b.order("p-000")
    assert o.status is BrokerOrderStatus.REJECTED and "insufficient cash" in o.reason and b.account("a").cash == 1_000


def test_cancel_limit_orders_and_clock(frames):
    b = make(frames)
    placed = b.submit(Order("p-000", "taxable", "VTI", "buy", qty=D(1), type="limit", limit_price=D(50),
                            time_in_force=TimeInForce.GTC))
    b.process()
    assert b.order("p-000").status is BrokerOrderStatus.ACCEPTED  # 102 is above the limit
    b.cancel(placed.id)
    assert b.order("p-000").status is BrokerOrderStatus.CANCELED
    with pytest.raises(OrderRejected, match="not cancelable"):
        b.cancel("p-000")
    clock = b.clock()
    assert not clock.is_open and clock.next_open == datetime(2026, 3, 4, 14, 30, tzinfo=UTC)
    with pytest.raises(ValidationError, match="back in time"):
        b.advance_to(DAYS[0])
    with pytest.raises(BrokerError):
        b.cancel("nope")


def test_household_accounts_and_totals(frames):
    b = make(frames)
    assert b.accounts == ["ira", "taxable"]
    total = b.account()
    assert total.account == "all" and total.cash == 15_000 and total.equity == 15_000 + 20 * 100
    assert [(p.account, p.symbol, p.qty) for p in b.positions()] == [("ira", "VTI", 20)]
    assert b.deposit("taxable", "500") == 10_500
    with pytest.raises(InsufficientFunds):
        b.deposit("ira", -6_000)


def test_replays_are_identical(frames):
    def run():
        b = make(frames, max_participation=0.2)
        b.submit(Order("p-000", "ira", "VTI", "sell", qty=D("7.25")))
        b.submit(Order("p-001", "taxable", "VTI", "buy", notional=D("2500"), time_in_force="gtc"))
        b.advance_to(DAYS[-1])
        return b.fills(EPOCH), b.positions(), b.account()

    assert run() == run()


def test_bad_inputs():
    with pytest.raises(ValidationError):
        SimulatedBroker(42, accounts={"a": 1}, start=date(2026, 3, 2))
    with pytest.raises(ValidationError):
        SimulatedBroker(lambda s, d: 1, accounts={}, start=date(2026, 3, 2))
    with pytest.raises(ValidationError):
        SimulatedBroker(lambda s, d: 1, accounts={"a": 1}, start=date(2026, 3, 2), max_participation=1.5)
    with pytest.raises(ValidationError):
        CostModel(half_spread=D("-0.1"))
