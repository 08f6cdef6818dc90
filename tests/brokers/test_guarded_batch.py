"""GuardedBroker's batch check: the rails for a whole batch with few broker reads, and never a short."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from brokers import GuardedBroker, MarketRule, SafetyPolicy, SimulatedBroker, submit_all
from engine.errors import TradingHalted
from engine.model import Order

PRICES = {"VTI": D("250.12"), "BND": D("72.5"), "VEA": D("48.31"), "BRK": D(400)}
POLICY = SafetyPolicy(max_data_age=None, max_order_fraction=0.5)


def order(cid, side, symbol, qty, account="brokerage"):
    return Order(cid, account, symbol, side, qty=D(qty))


@pytest.fixture
def guarded(alpaca):
    return GuardedBroker(alpaca, POLICY, prices=PRICES)


def reads(server):
    return [r.path for r in server.requests if r.method == "GET"]


BATCH_READS = ["/v2/account", "/v2/account/configurations", "/v2/assets/BND", "/v2/assets/BRK", "/v2/assets/VEA",
               "/v2/assets/VTI", "/v2/clock", "/v2/orders", "/v2/positions"]


def batch():
    return [order("p-000", "sell", "BND", 4), order("p-001", "sell", "BND", 5)] + [
        order(f"p-{i:03d}", "buy", s, 1) for i, s in enumerate(["VTI", "VEA", "VTI", "VEA", "VTI", "VEA", "BRK"], 2)]


def test_check_all_reads_once_per_batch_and_submit_skips_rereads(guarded, server):
    guarded.check_all(batch())
    assert sorted(reads(server)) == BATCH_READS
    server.requests.clear()
    for o in batch():
        guarded.submit(o)  # cleared by check_all: no re-reads
    assert [r.method for r in server.requests] == ["POST"] * 9


def test_submit_all_runs_the_batch_check_once_then_places(guarded, server):
    placed = submit_all(guarded, batch())
    lookups = [r for r in server.requests if r.path == "/v2/orders:by_client_order_id"]
    posts = [r for r in server.requests if r.method == "POST"]
    others = sorted(r.path for r in server.requests if r not in lookups and r not in posts)
    assert len(placed) == 9 and len(lookups) == 9 and len(posts) == 9 and others == BATCH_READS
    server.requests.clear()
    again = submit_all(guarded, batch())  # a re-run: the working sells are not counted twice, nothing is re-sent
    assert [p.id for p in again] == [p.id for p in placed] and not [r for r in server.requests if r.method == "POST"]
    assert len(server.requests) == 9  # only the lookups: every order is already at the broker


def test_a_sell_beyond_what_the_broker_reports_is_refused_so_no_short_is_opened(guarded, server, alpaca):
    server.fresh_paper_account(cash="50000")  # shorting is on: Alpaca itself would open the short
    with pytest.raises(TradingHalted, match="broker reports 0 available") as exc:
        guarded.submit(order("p-000", "sell", "VTI", 1))
    assert exc.value.context["rail"] == "position" and server.by_cid("p-000") == []
    server.reset(cash="10000", prices=PRICES, positions={"BND": "10"})
    with pytest.raises(TradingHalted, match="sells 6 BND but the broker reports 4 available") as exc:
        guarded.check_all([order("p-001", "sell", "BND", 6), order("p-002", "sell", "BND", 6),
                           order("p-003", "buy", "VTI", 1)])
    assert [r[:2] for r in exc.value.context["refused"]] == [("p-002", "position")]
    alpaca.submit(order("p-004", "sell", "BND", 8))  # working: it reserves 8 of the 10 shares
    with pytest.raises(TradingHalted, match="reports 2 available"):
        guarded.check_all([order("p-005", "sell", "BND", 3)])
    guarded.check_all([order("p-006", "sell", "BND", 2)])
    assert all(o.qty >= 0 for o in alpaca.positions())


def test_blocked_accounts_and_assets_stop_with_the_flag_named(guarded, server):
    server.set_account(trading_blocked=True)
    with pytest.raises(TradingHalted, match="trading_blocked") as exc:
        guarded.check_all([order("p-000", "buy", "VTI", 1)])
    assert exc.value.context["rail"] == "account"
    server.set_account(trading_blocked=False)
    server.set_asset("VEA", status="inactive")
    server.set_asset("BRK", tradable=False)
    with pytest.raises(TradingHalted, match="VEA is inactive") as exc:
        guarded.check_all([order("p-001", "buy", "VEA", 1), order("p-002", "buy", "BRK", 1),
                           order("p-003", "buy", "VTI", 1)])
    refused = exc.value.context["refused"]
    assert [(c, rail) for c, rail, _ in refused] == [("p-001", "asset"), ("p-002", "asset")]
    assert "tradable=false" in refused[1][2] and not [r for r in server.requests if r.method == "POST"]


def test_unknown_symbols_and_foreign_accounts_are_refused_as_rails(guarded, server):
    with pytest.raises(TradingHalted, match="ZZZ is unknown to the broker") as exc:
        guarded.check_all([order("p-000", "buy", "ZZZ", 1)])
    assert exc.value.context["rail"] == "asset"
    with pytest.raises(TradingHalted, match="does not hold account ira") as exc:
        guarded.check_all([order("p-001", "buy", "VTI", 1, account="ira")])
    assert exc.value.context["rail"] == "account" and not [r for r in server.requests if r.method == "POST"]


def test_a_cleared_order_is_rechecked_when_changed_or_stale(alpaca, server):
    t = [0.0]
    guarded = GuardedBroker(alpaca, POLICY, prices=PRICES, clearance=30, monotonic=lambda: t[0])
    guarded.check_all([order("p-000", "buy", "VTI", 1), order("p-001", "buy", "VTI", 1)])
    server.requests.clear()
    with pytest.raises(TradingHalted, match="over the cap"):
        guarded.submit(order("p-000", "buy", "VTI", 30))  # not the order that was cleared: full check
    t[0] = 31
    server.set_account(account_blocked=True)
    with pytest.raises(TradingHalted, match="account_blocked"):
        guarded.submit(order("p-001", "buy", "VTI", 1))  # cleared too long ago: full check
    assert not [r for r in server.requests if r.method == "POST"]


def test_kill_switch_still_stops_a_cleared_order(guarded, server, monkeypatch):
    guarded.check_all([order("p-000", "buy", "VTI", 1)])
    monkeypatch.setenv("ROBO_TRADING_DISABLED", "1")
    with pytest.raises(TradingHalted, match="kill switch"):
        guarded.submit(order("p-000", "buy", "VTI", 1))
    assert not [r for r in server.requests if r.method == "POST"]


def test_batch_rails_on_the_simulator():
    sim = SimulatedBroker(lambda s, d: {"VTI": 100, "BND": 70}[s], accounts={"a": 10_000, "b": 5_000},
                          positions={"a": {"BND": 10}}, start=date(2026, 3, 2))
    guarded = GuardedBroker(sim, SafetyPolicy(market=MarketRule.QUEUE_FOR_OPEN, max_data_age=None))
    guarded.check_all([order("p-000", "sell", "BND", 10, "a"), order("p-001", "buy", "VTI", 5, "b")])
    with pytest.raises(TradingHalted, match="reports 0 available in b"):
        guarded.check_all([order("p-002", "sell", "BND", 1, "b")])
    placed = submit_all(guarded, [order("p-000", "sell", "BND", 10, "a"), order("p-001", "buy", "VTI", 5, "b")])
    assert [p.client_order_id for p in placed] == ["p-000", "p-001"]
