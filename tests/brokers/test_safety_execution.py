"""Safety rails for both brokers, submit_all's idempotence and wait_for_final."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from brokers import GuardedBroker, MarketRule, SafetyPolicy, SimulatedBroker, submit_all, wait_for_final
from engine.errors import BrokerError, BrokerUnavailable, InsufficientFunds, TradingHalted, ValidationError
from engine.model import Order

DAY = date(2026, 3, 2)
QUEUE = {"market": MarketRule.QUEUE_FOR_OPEN, "max_data_age": None}


def sim():
    return SimulatedBroker(lambda s, d: {"VTI": 100, "BND": 70}[s], accounts={"a": 10_000},
                           positions={"a": {"BND": 10}}, start=DAY)


def o(cid, side="buy", symbol="VTI", account="a", **kw):
    if "qty" not in kw and "notional" not in kw:
        kw["qty"] = D(1)
    return Order(cid, account, symbol, side, **kw)


@pytest.fixture
def guarded_alpaca(alpaca):
    return GuardedBroker(alpaca, SafetyPolicy(max_data_age=None), prices={"VTI": D("250.12"), "BND": D("72.5")})


def test_kill_switch_env_stops_every_submit_for_both_brokers(monkeypatch, guarded_alpaca, server):
    s = GuardedBroker(sim(), SafetyPolicy(**QUEUE))
    monkeypatch.setenv("ROBO_TRADING_DISABLED", "1")
    for broker, cid in ((s, "p-000"), (guarded_alpaca, "p-001")):
        account = "a" if broker is s else "brokerage"
        with pytest.raises(TradingHalted, match="ROBO_TRADING_DISABLED") as exc:
            broker.submit(o(cid, account=account))
        assert exc.value.client_order_id == cid
    assert s.order("p-000") is None and [r for r in server.requests if r[0] == "POST"] == []
    monkeypatch.delenv("ROBO_TRADING_DISABLED")
    assert guarded_alpaca.submit(o("p-001", account="brokerage")).client_order_id == "p-001"


def test_kill_switch_file_for_both_brokers(monkeypatch, tmp_path, guarded_alpaca, server):
    flag = tmp_path / "STOP"
    monkeypatch.setenv("ROBO_KILL_SWITCH_FILE", str(flag))
    own = tmp_path / "OWN"
    s = GuardedBroker(sim(), SafetyPolicy(kill_switch_file=own, **QUEUE))
    s.submit(o("p-000"))
    flag.touch()
    with pytest.raises(TradingHalted, match="ROBO_KILL_SWITCH_FILE"):
        s.submit(o("p-001"))
    with pytest.raises(TradingHalted, match="kill-switch file"):
        guarded_alpaca.submit(o("p-002", account="brokerage"))
    flag.unlink()
    own.touch()
    with pytest.raises(TradingHalted, match="OWN"):
        s.submit(o("p-003"))
    assert [r for r in server.requests if r[0] == "POST"] == []
    assert SafetyPolicy.from_settings(max_data_age=None).kill_switch_file == flag


def test_market_hours_rule(server, guarded_alpaca):
    server.state.is_open = False
    with pytest.raises(TradingHalted, match="market is closed"):
        guarded_alpaca.submit(o("p-000", account="brokerage"))
    with pytest.raises(TradingHalted, match="market is closed"):
        GuardedBroker(sim(), SafetyPolicy(max_data_age=None)).submit(o("p-000"))
    queued = GuardedBroker(guarded_alpaca.inner, SafetyPolicy(**QUEUE), prices={"VTI": 250})
    assert queued.submit(o("p-000", account="brokerage")).client_order_id == "p-000"


def test_stale_data_and_size_cap():
    b = sim()
    fresh = GuardedBroker(b, SafetyPolicy(market=MarketRule.QUEUE_FOR_OPEN), data_time=lambda: DAY)
    fresh.submit(o("p-000"))
    stale = GuardedBroker(b, SafetyPolicy(market=MarketRule.QUEUE_FOR_OPEN, max_data_age=timedelta(days=3)),
                          data_time=lambda: DAY - timedelta(days=4))
    with pytest.raises(TradingHalted, match="stale"):
        stale.submit(o("p-001"))
    with pytest.raises(ValidationError, match="data_time"):
        GuardedBroker(b, SafetyPolicy())
    capped = GuardedBroker(b, SafetyPolicy(max_order_fraction=0.1, **QUEUE))
    capped.submit(o("p-002", qty=D(10)))  # 1,000 USD of 10,700 equity
    with pytest.raises(TradingHalted, match="over the cap") as exc:
        capped.submit(o("p-003", qty=D(11)))
    assert exc.value.context["rail"] == "size"
    with pytest.raises(TradingHalted, match="over the cap"):
        capped.submit(o("p-004", notional=D(1_100)))
    with pytest.raises(TradingHalted, match="no price"):
        GuardedBroker(b, SafetyPolicy(**QUEUE), prices={}).submit(o("p-005"))
    assert fresh.process() and b.order("p-000").final  # extras of the inner broker pass through
    with pytest.raises(ValidationError):
        SafetyPolicy(max_order_fraction=0)


def test_submit_all_sells_first_and_never_twice():
    b = sim()
    orders = [o("p-000"), o("p-001", "sell", "BND"), o("p-002", notional=D(500))]
    placed = submit_all(b, orders)
    assert [p.client_order_id for p in placed] == ["p-001", "p-000", "p-002"]
    again = submit_all(b, orders)
    assert [p.id for p in again] == [p.id for p in placed] and len(b.orders("all")) == 3
    with pytest.raises(ValidationError, match="duplicate"):
        submit_all(b, [o("x"), o("x")])


def test_submit_all_stops_at_the_first_refusal_and_reports_what_was_placed():
    b = sim()
    with pytest.raises(InsufficientFunds) as exc:
        submit_all(b, [o("p-000", qty=D(50)), o("p-001", qty=D(60)), o("p-002")])
    assert [p.client_order_id for p in exc.value.context["submitted"]] == ["p-000"]
    assert b.order("p-002") is None


def test_submit_all_resolves_unknown_outcomes_by_lookup():
    inner = sim()

    class Flaky:
        """Places the order, then loses the answer (as a dropped connection would)."""

        def __getattr__(self, name):
            return getattr(inner, name)

        def submit(self, order):
            inner.submit(order)
            raise BrokerUnavailable("connection dropped", client_order_id=order.client_order_id)

    (placed,) = submit_all(Flaky(), [o("p-000")])
    assert placed.id == inner.order("p-000").id and len(inner.orders("all")) == 1


def test_wait_for_final_with_an_injected_clock():
    b = sim()
    submit_all(b, [o("p-000"), o("p-001", "sell", "BND")])
    ticks = []
    states = wait_for_final(b, ["p-000", "p-001"], timeout=10, poll=1, clock=lambda: len(ticks),
                            sleep=lambda s: (ticks.append(s), b.process()))
    assert all(s.final for s in states.values()) and ticks == [1]
    gtc = o("p-002", type="limit", limit_price=D(1), time_in_force="gtc")
    b.submit(gtc)
    states = wait_for_final(b, ["p-002"], timeout=3, clock=lambda: len(ticks), sleep=lambda s: ticks.append(s))
    assert not states["p-002"].final and len(ticks) == 4  # returned at the timeout, still working
    with pytest.raises(BrokerError, match="unknown"):
        wait_for_final(b, ["nope"], timeout=1)


def test_fills_since_is_inclusive_and_aware():
    b = sim()
    submit_all(b, [o("p-000")])
    (f,) = b.process()
    assert b.fills(f.at) == [f] and b.fills(f.at + timedelta(microseconds=1)) == []
    with pytest.raises(ValidationError):
        b.fills(datetime(2026, 1, 1))
    assert b.fills(datetime(2026, 1, 1, tzinfo=UTC))[0].id == f.id
