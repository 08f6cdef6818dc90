"""``EngineRunner`` over the real Engine and SimulatedBroker: a drift-check cycle planned once, under its key."""

from __future__ import annotations

from datetime import UTC, date, datetime

from engine.data import MarketData
from engine.scheduler import FixedClock, JobKind, RunState, Worker
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
        runner = EngineRunner(store, market=lambda: market, broker_for=lambda _h: broker)
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
