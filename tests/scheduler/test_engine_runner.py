"""``EngineRunner`` over the real Engine and SimulatedBroker: a cycle planned once under its key, an approved
proposal executed once, and a half-executed one resumed after its worker died (no order placed twice)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from brokers import rails_for
from engine.data import MarketData
from engine.model import OrderSide, ProposalStatus
from engine.scheduler import FixedClock, JobKind, JobRunStatus, RunState, Worker
from engine.scheduler.engine_runner import EngineRunner
from engine.store import Store

DAY = date(2026, 7, 30)
AT = datetime(2026, 7, 30, 19, 5, tzinfo=UTC)  # 15:05 New York


def test_drift_check_plans_under_the_deterministic_id_and_never_twice(sqlite_url, household, universe, config):
    from brokers.simulated import SimulatedBroker

    market = MarketData.embedded()
    broker = SimulatedBroker(market.prices, accounts={a.id: a.cash for a in household.accounts}, start=DAY,
                             assets=universe)
    with Store(sqlite_url) as store:
        store.upgrade()
        store.households.add(household)
        runner = EngineRunner(store, market=lambda: market, broker_for=lambda _h: broker, rails=rails_for())
        worker = Worker(store, runner, config, clock=FixedClock(AT))
        (first,) = worker.run_job(JobKind.DRIFT_CHECK, DAY)
        assert first.state is RunState.SUCCEEDED, first.error
        produced = store.job_runs.find("drift_check", household.id, DAY).produced
        if produced["proposal_ids"]:  # the policy fired: a first run always waits for a human's approval
            proposal = store.proposals.get("cycle-rivera-20260730")
            assert proposal.needs_approval and produced["notes"]["needs_approval"]
            assert produced["client_order_ids"] == [o.client_order_id for o in proposal.orders]
            assert all(o.client_order_id.startswith("cycle-rivera-20260730-") for o in proposal.orders)
            assert broker.orders(status="all") == []  # nothing traded without approval
        else:
            assert produced["notes"] == {"decision": None}
        assert [r.state for r in worker.run_job(JobKind.DRIFT_CHECK, DAY)] == [RunState.SKIPPED]


def _setup(sqlite_url, household, universe):
    """A store with the household, an EngineRunner over a SimulatedBroker holding its lots, an approved proposal."""
    from brokers.simulated import SimulatedBroker

    market = MarketData.embedded()
    positions: dict = {}
    for lot in household.lots:
        held = positions.setdefault(lot.account, {})
        held[lot.symbol] = held.get(lot.symbol, 0) + lot.shares
    broker = SimulatedBroker(market.prices, accounts={a.id: a.cash for a in household.accounts}, positions=positions,
                             start=DAY, assets=universe)
    store = Store(sqlite_url)
    store.upgrade()
    store.households.add(household)
    runner = EngineRunner(store, market=lambda: market, broker_for=lambda _h: broker, rails=rails_for())
    proposal = runner.cycle.plan(household, DAY, proposal_id="appr-rivera")
    assert proposal.needs_approval and len(proposal.orders) > 5  # sells and buys, waiting for a human
    runner.cycle.approve(proposal.id, actor="alex")
    return store, runner, broker, store.proposals.get(proposal.id)


def _assert_each_order_once_and_fills_booked_once(store, broker, proposal) -> None:
    ids = [o.client_order_id for o in proposal.orders]
    at_broker = [o.client_order_id for o in broker.orders(status="all")]
    assert sorted(at_broker) == sorted(ids)  # every order placed, none twice
    broker_fills = sorted(f.id for f in broker.fills(datetime(2000, 1, 1, tzinfo=UTC)))
    assert sorted(f.id for f in store.fills.for_household(proposal.household)) == broker_fills
    assert len(broker_fills) == len(ids)
    _assert_stored_holdings_match_the_broker(store, broker, proposal.household)


def _assert_stored_holdings_match_the_broker(store, broker, household_id) -> None:
    """After execution the stored household holds what the broker holds: the next cycle plans from the trades."""
    stored = store.households.get(household_id)
    for account in stored.accounts:
        shares: dict = {}
        for lot in stored.lots:
            if lot.account == account.id:
                shares[lot.symbol] = shares.get(lot.symbol, 0) + lot.shares
        assert shares == {p.symbol: p.qty for p in broker.positions(account.id)}
        assert account.cash == broker.account(account.id).cash
    # the plan sells the taxable BND lot at a loss: its wash-sale window is kept for the next cycles
    assert [(s.account, s.symbol, s.lot_id) for s in stored.loss_sales if s.symbol == "BND"] == [
        ("brokerage", "BND", "b5")]


def test_an_approved_proposal_is_executed_once_through_the_engine(sqlite_url, household, universe, config):
    store, runner, broker, proposal = _setup(sqlite_url, household, universe)
    with store:
        worker = Worker(store, runner, config, clock=FixedClock(AT))
        (result,) = worker.poll()  # in market hours: the approval is acted on at the next poll
        assert (result.job, result.household, result.ref, result.state) == (
            JobKind.EXECUTE_APPROVED, "rivera", "appr-rivera", RunState.SUCCEEDED), result.error
        run = store.job_runs.find("execute_approved", "rivera", DAY, "appr-rivera")
        assert run.produced["notes"]["status"] == "executed" and run.produced["notes"]["errors"] == []
        assert run.produced["client_order_ids"] == [o.client_order_id for o in proposal.orders]
        assert store.proposals.get("appr-rivera").status is ProposalStatus.EXECUTED
        assert [t.to_status for t in store.proposals.history("appr-rivera")] == [
            ProposalStatus.APPROVED, ProposalStatus.EXECUTING, ProposalStatus.EXECUTED]
        _assert_each_order_once_and_fills_booked_once(store, broker, proposal)
        assert worker.poll() == []  # executed: nothing left to do
        assert worker.run_job(JobKind.EXECUTE_APPROVED, DAY) == []
        assert len(broker.orders(status="all")) == len(proposal.orders)


def test_a_take_over_resumes_a_half_executed_proposal_re_using_the_orders_at_the_broker(
    sqlite_url, household, universe, config
):
    from engine.execution import submit_all

    store, runner, broker, proposal = _setup(sqlite_url, household, universe)
    with store:
        # a worker claimed the key, moved the proposal to executing, placed the first three sells, and died
        dead = store.job_runs.claim(job="execute_approved", household="rivera", trading_day=DAY, ref="appr-rivera",
                                    owner="dead", now=AT)
        assert dead is not None
        store.proposals.transition("appr-rivera", ProposalStatus.EXECUTING, actor="engine")
        first = submit_all(broker, [o for o in proposal.orders if o.side is OrderSide.SELL][:3])
        assert [o.final for o in broker.orders(status="all")] == [False] * 3  # working: they fill at the next bar

        clock = FixedClock(AT + timedelta(minutes=5))
        worker = Worker(store, runner, config, clock=clock, owner="heir")
        assert worker.poll() == []  # the dead worker's heartbeat is still fresh: nobody touches the run
        assert len(broker.orders(status="all")) == 3

        clock.advance(minutes=6)  # 11 minutes without a heartbeat: taken over
        (result,) = worker.poll()
        assert (result.job, result.state, result.resumed, result.run_id) == (
            JobKind.EXECUTE_APPROVED, RunState.SUCCEEDED, True, dead.run.id), result.error
        run = store.job_runs.get(dead.run.id)
        assert (run.status, run.attempt, run.takeovers, run.owner) == (JobRunStatus.SUCCEEDED, 2, 1, "heir")
        assert run.produced["notes"]["resumed"] and run.produced["notes"]["errors"] == []
        assert store.proposals.get("appr-rivera").status is ProposalStatus.EXECUTED
        last = store.proposals.history("appr-rivera")[-1]
        assert (last.from_status, last.to_status, last.actor) == (
            ProposalStatus.EXECUTING, ProposalStatus.EXECUTED, "scheduler")
        assert [t.to_status for t in store.proposals.history("appr-rivera")].count(ProposalStatus.EXECUTING) == 1
        # the three orders the dead worker placed are the broker's originals, not resubmissions
        assert {o.client_order_id: o.id for o in first} == {
            o.client_order_id: o.id for o in broker.orders(status="all") if o.client_order_id in
            {f.client_order_id for f in first}}
        _assert_each_order_once_and_fills_booked_once(store, broker, proposal)
        clock.advance(minutes=30)
        assert worker.poll() == []


def _direct_household(day: date, *, washed: bool):
    """The shipped direct household on ``day`` with the sleeve's AMD lot at a long-term loss worth harvesting and
    everything else at a gain, so the fund view (the sleeve as one IVV lot) has no fund-level harvest candidate.
    ``washed``: AMD was also bought 10 days ago, so its loss is in a wash window."""
    from dataclasses import replace

    from engine.config import load_universe
    from engine.config.loader import default_file, load_household
    from engine.model import Lot

    h = load_household(default_file("households/direct.yaml"), universe=load_universe(), as_of=day)
    lots = [replace(lot, shares=Decimal(400), basis=Decimal(1000)) if lot.id == "s2" else lot for lot in h.lots]
    if washed:
        lots.append(Lot("s3", "brokerage", "AMD", Decimal(10), Decimal(640), day - timedelta(days=10)))
    return replace(h, lots=tuple(lots))


def test_a_harvest_scan_sees_the_direct_index_sleeves_stock_losses(tmp_path, config):
    """Issue 24: stock-level losses start the harvest run by themselves (the trigger policy used to see the sleeve
    only as one fund lot); a loss in a wash window does not."""
    from brokers.simulated import SimulatedBroker
    from engine.data.market import with_stock_prices
    from engine.data.stocks import embedded_stocks
    from engine.planner import Planner

    day = date(2022, 12, 22)
    market = with_stock_prices(MarketData.embedded(), embedded_stocks())
    prices = Planner(market).day(day).prices
    woke = {}
    for washed in (False, True):
        h = _direct_household(day, washed=washed)
        sleeve = [lot for lot in h.lots if lot.account == "brokerage" and lot.symbol not in ("IVV",)]
        assert sum(lot.shares * prices[lot.symbol] for lot in sleeve) > sum(lot.basis for lot in sleeve)
        assert h.lots[1].symbol == "AMD" and h.lots[1].shares * prices["AMD"] < Decimal("0.7") * h.lots[1].basis
        broker = SimulatedBroker(market.prices, accounts={a.id: a.cash for a in h.accounts}, start=day,
                                 assets=Planner(market).assets_for(h))
        with Store(f"sqlite:///{tmp_path / f'washed-{washed}.db'}") as store:
            store.upgrade()
            store.households.add(h)
            runner = EngineRunner(store, market=lambda m=market: m, broker_for=lambda _h, b=broker: b,
                                  rails=rails_for())
            worker = Worker(store, runner, config, clock=FixedClock(datetime(2022, 12, 22, 20, 5, tzinfo=UTC)))
            (run,) = worker.run_job(JobKind.HARVEST_SCAN, day)
            assert run.state is RunState.SUCCEEDED, run.error
            woke[washed] = store.job_runs.find("harvest_scan", h.id, day).produced["wake"]
            decision = runner.cycle.check(h.id, day)  # what the scan saw, through the one cycle
            assert decision is not None  # the brokerage's cash drifts in both
            assert ("harvest" in decision.sources) is (not washed)
            assert ("1 lot worth harvesting" in decision.reason) is (not washed)
    assert woke == {False: [["harvest", "harvest:2022-12-22"]], True: []}  # the harvest run is woken, or not
