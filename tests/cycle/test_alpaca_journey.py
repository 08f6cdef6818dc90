"""The paper trader's journey through the CLI against the strict local Alpaca (real alpaca-py over HTTP):
a fresh paper account (cash only) → import the sample household → sync reports the difference → adopt the
broker's positions → rebalance → approve → execute: orders only for the Alpaca account, advice for the held-away
accounts, no position ever negative, fewer than 200 requests in any minute, the ledger equal to the broker's
positions; a second execute and a same-day re-plan place nothing new."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from robo.cli import main
from tests.brokers._alpaca_server import KEY_ID, SECRET, LocalAlpaca

START = datetime(2026, 8, 4, 14, 0, tzinfo=UTC)  # 10:00 in New York, the day after the embedded prices end


class OffsetClock:
    """Real time, shifted to ``START``: the CLI sleeps for real, the server's day is the day after the data."""

    def __init__(self) -> None:
        self.t0, self.slept = time.time(), []

    def time(self) -> float:
        return START.timestamp() + (time.time() - self.t0)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        time.sleep(max(seconds, 0.0))

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)


@pytest.fixture(scope="module")
def server():
    srv = LocalAlpaca(clock=OffsetClock(), stall=0.6)
    yield srv
    srv.close()


@pytest.fixture()
def paper(server, tmp_path, monkeypatch):
    from engine.config import load_universe
    from engine.data import MarketData

    last = MarketData.embedded().as_of(MarketData.embedded().last_day).latest()
    prices = {t: str(round(float(last[t]), 2)) for t in load_universe().tickers if t in last.index}
    server.fresh_paper_account(cash="100000", prices=prices)
    server.fill_every = 0.2  # accepted → partially filled → filled, a step every 0.2 s of the clock
    monkeypatch.setenv("APCA_API_BASE_URL", server.url)
    monkeypatch.setenv("APCA_API_KEY_ID", KEY_ID)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.setenv("ROBO_DATABASE_URL", f"sqlite:///{tmp_path / 'robo.db'}")
    return server


def _run(capsys, *argv: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_a_fresh_paper_account_from_import_to_reconciled_execution(paper, capsys):
    server = paper
    code, imported = _run(capsys, "household", "import", "sample", "--json")
    assert code == 0 and {a["id"]: a["route"] for a in imported["accounts"]} == {
        "brokerage": "broker", "alex_401k": "advice", "jordan_ira": "advice", "alex_roth": "advice"}

    # The store holds the sample's brokerage lots; the fresh account holds cash only: reported, nothing adopted.
    code, synced = _run(capsys, "sync", "rivera", "--broker", "alpaca", "--json")
    assert code == 1 and {d["symbol"] for d in synced["discrepancies"]} == {"VTI", "VEA", "VWO", "BND", "VNQ"}
    assert all(d["broker"] == "0" for d in synced["discrepancies"]) and not synced["adopted"]
    code, adopted = _run(capsys, "sync", "rivera", "--broker", "alpaca", "--adopt-broker", "--json")
    assert code == 0 and adopted["adopted"] == ["brokerage"] and adopted["cash_by_account"] == {"brokerage": "100000"}

    code, proposal = _run(capsys, "rebalance", "rivera", "--broker", "alpaca", "--json")
    assert code == 0 and proposal["needs_approval"]  # a first run waits for a person
    broker_orders = [o for o in proposal["orders"] if o["route"] == "broker"]
    assert broker_orders and {o["account"] for o in broker_orders} == {"brokerage"}
    assert {o["account"] for o in proposal["orders"] if o["route"] == "advice"} <= {"alex_401k", "jordan_ira",
                                                                                      "alex_roth"}
    code, _ = _run(capsys, "approve", proposal["id"], "--json")
    assert code == 0

    code, report = _run(capsys, "execute", proposal["id"], "--broker", "alpaca", "--json")
    assert code == 0, (report["errors"], report["skipped"])
    assert report["status"] == "executed" and not report["errors"] and not report["discrepancies"]
    assert {p["account"] for p in report["placed"]} == {"brokerage"}
    assert {p["status"] for p in report["placed"]} == {"filled"}
    assert {a["account"] for a in report["advised"]} == {o["account"] for o in proposal["orders"]
                                                         if o["route"] == "advice"}
    buys = [p for p in report["placed"] if p["side"] == "buy"]
    assert buys and all(p["notional"] for p in buys if p["symbol"] != "BRK.B")  # cash-true notional buys

    # No position ever negative; fewer than 200 requests in any minute; the ledger equals the broker.
    state = server.state
    assert all(q >= 0 for q in state.positions.values())
    print(f"journey: {len(server.requests)} requests, peak {server.peak_per_minute(KEY_ID)} in any minute",
          file=sys.__stderr__)
    assert server.peak_per_minute(KEY_ID) < 200
    from engine.store import Store

    stored = Store().households.get("rivera")
    mine: dict[str, Decimal] = {}
    for lot in stored.lots:
        if lot.account == "brokerage":
            mine[lot.symbol] = mine.get(lot.symbol, Decimal(0)) + lot.shares
    assert mine == {s: q for s, q in state.positions.items() if q}
    assert stored.account("brokerage").cash == state.cash

    # A second execute is refused and places nothing; a same-day re-plan has nothing left to trade at Alpaca.
    placed = len(server.requests_for("POST", "/v2/orders")) if hasattr(server, "requests_for") else sum(
        1 for r in server.requests if r.method == "POST" and r.path.startswith("/v2/orders"))
    assert main(["execute", proposal["id"], "--broker", "alpaca"]) == 2
    code, again = _run(capsys, "rebalance", "rivera", "--broker", "alpaca", "--json")
    assert code == 0 and not [o for o in again["orders"] if o["route"] == "broker"], again["orders"]
    after = sum(1 for r in server.requests if r.method == "POST" and r.path.startswith("/v2/orders"))
    assert after == placed


def test_the_same_journey_through_the_scheduler(paper, capsys):
    """``robo schedule run --once --at …``: the drift check plans (a first run waits for approval), a person
    approves, the next run's poll executes it through the one cycle at Alpaca; nothing is placed twice."""
    server = paper
    assert main(["household", "import", "sample"]) == 0
    assert main(["sync", "rivera", "--broker", "alpaca", "--adopt-broker"]) == 0
    at = "2026-08-04T15:05:00-04:00"  # the drift check is due at 15:00 New York (an hour before the close)
    code, first = _run(capsys, "schedule", "run", "--once", "--at", at, "--broker", "alpaca", "--data", "embedded",
                       "--json")
    assert code == 0, first
    assert any(r["job"] == "drift_check" and r["result"] == "succeeded" for r in first["runs"]), first
    from engine.store import Store

    store = Store()
    (proposal,) = store.proposals.list(household="rivera")
    assert proposal.status.value == "proposed" and proposal.needs_approval
    assert not [r for r in server.requests if r.method == "POST"]  # nothing traded without a person
    assert main(["approve", proposal.id]) == 0
    code, second = _run(capsys, "schedule", "run", "--once", "--at", "2026-08-04T15:09:00-04:00", "--broker",
                        "alpaca", "--data", "embedded", "--json")
    assert code == 0 and any(r["job"] == "execute_approved" and r["result"] == "succeeded" for r in second["runs"])
    assert store.proposals.get(proposal.id).status.value == "executed"
    posts = [r for r in server.requests if r.method == "POST" and r.path.startswith("/v2/orders")]
    broker_orders = [o for o in proposal.orders if o.account == "brokerage"]
    assert 1 <= len(posts) <= len(broker_orders)  # each broker order placed once at most (no retries re-POSTed)
    assert all(q >= 0 for q in server.state.positions.values())
    assert server.peak_per_minute(KEY_ID) < 200
    # a third run at the same instant finds nothing to do: the approved proposal is final
    code, _third = _run(capsys, "schedule", "run", "--once", "--at", "2026-08-04T15:09:00-04:00", "--broker",
                       "alpaca", "--data", "embedded", "--json")
    assert code == 0
    assert len([r for r in server.requests if r.method == "POST" and r.path.startswith("/v2/orders")]) == len(posts)


def test_the_same_journey_through_the_python_api(paper):
    """The wealth platform's way in: ``Engine`` with a store, brokers from each account's broker_account, rails."""
    from brokers import household_brokers, rails_for
    from engine import Engine, MarketData, load_household
    from engine.store import Store

    server = paper
    store = Store()
    store.upgrade()
    household = load_household()
    store.households.add(household)
    market = MarketData.embedded()
    brokers = household_brokers(household, market, default="alpaca")
    assert set(brokers) == {"brokerage"}  # retirement accounts are held away: no broker, advice
    engine = Engine(market, store=store, brokers=brokers, rails=rails_for())
    report = engine.sync("rivera")
    assert {d.symbol for d in report.discrepancies} == {"VTI", "VEA", "VWO", "BND", "VNQ"}
    engine.sync("rivera", adopt=True)
    proposal = engine.plan("rivera")
    engine.approve(proposal.id, actor="advisor@platform")
    done = engine.execute(proposal.id)
    assert done.ok and {o.account for o in done.submitted} == {"brokerage"} and done.advised
    assert all(q >= 0 for q in server.state.positions.values())
    assert server.peak_per_minute(KEY_ID) < 200
    again = engine.plan("rivera")
    assert not [o for o in again.orders if o.account == "brokerage"]


def test_orders_still_working_after_the_wait_are_picked_up_by_the_next_sync_never_placed_twice(paper):
    """Alpaca fills on its own time: orders still working when the cycle's wait ends are recorded as working;
    a re-plan's execution refuses to place beside them; the next sync books their fills."""
    from brokers import household_brokers, rails_for
    from engine import Engine, MarketData, load_household
    from engine.planner import EngineConfig
    from engine.store import OrderStatus, Store

    server = paper
    server.fill_every = None  # nothing fills until the test moves the market (tick)
    store = Store()
    store.upgrade()
    store.households.add(load_household())
    market = MarketData.embedded()
    engine = Engine(market, store=store, rails=rails_for(), config=EngineConfig(fill_timeout_s=1.5),
                    brokers=household_brokers(store.households.get("rivera"), market, default="alpaca"))
    engine.sync("rivera", adopt=True)
    first = engine.plan("rivera")
    engine.approve(first.id, actor="alex")
    report = engine.execute(first.id)
    assert report.working and not report.fills  # placed, still working when the wait ended
    ids = {o.client_order_id for o in report.working}
    assert {store.orders.get(i).status for i in ids} == {OrderStatus.SUBMITTED}
    posts = sum(1 for r in server.requests if r.method == "POST")

    second = engine.plan("rivera")  # the store has not seen the fills yet: the same trades are proposed again
    assert [o for o in second.orders if o.account == "brokerage"]
    engine.approve(second.id, actor="alex")
    refused = engine.execute(second.id)
    assert any("still working" in e for e in refused.errors) and not refused.submitted
    assert sum(1 for r in server.requests if r.method == "POST") == posts  # nothing placed twice

    for _ in range(3):
        server.tick()
    synced = engine.sync("rivera")
    assert {f.client_order_id for f in synced.new_fills} == ids and not synced.discrepancies
    assert {store.orders.get(i).status for i in ids} == {OrderStatus.FILLED}
    assert not [o for o in engine.plan("rivera").orders if o.account == "brokerage"]
