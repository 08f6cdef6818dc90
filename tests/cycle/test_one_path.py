"""Every caller that trades runs the one cycle: the CLI, the scheduler, the batch runner and the backtests each
go through ``engine.cycle.Cycle.execute`` (a caller that assembled the steps itself would leave the count at 0)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from engine.cycle import Cycle

PLAN_DAY = date(2026, 7, 30)


@pytest.fixture()
def calls(monkeypatch):
    seen: list[str] = []
    real = Cycle.execute

    def counted(self, proposal, **kw):
        seen.append(proposal if isinstance(proposal, str) else proposal.id)
        return real(self, proposal, **kw)

    monkeypatch.setattr(Cycle, "execute", counted)
    return seen


def test_the_cli_executes_through_the_cycle(tmp_path, monkeypatch, calls, capsys):
    from engine.store import Store
    from robo.cli import main

    url = f"sqlite:///{tmp_path / 'robo.db'}"
    monkeypatch.setenv("ROBO_DATABASE_URL", url)
    assert main(["household", "import", "sample"]) == 0
    assert main(["rebalance", "rivera"]) == 0
    (proposal,) = Store(url).proposals.list(household="rivera")
    assert main(["approve", proposal.id]) == 0
    assert main(["execute", proposal.id, "--broker", "sim"]) == 0
    assert calls == [proposal.id]


def test_the_scheduler_executes_through_the_cycle(tmp_path, calls, household, universe):
    from dataclasses import replace

    from brokers import rails_for, simulated_for
    from engine.data import MarketData
    from engine.scheduler import FixedClock, JobKind, RunState, Worker, load_scheduler_config
    from engine.scheduler.engine_runner import EngineRunner
    from engine.store import Store

    market = MarketData.embedded()
    held = replace(household, accounts=tuple(replace(a, broker_account=None) for a in household.accounts))
    broker = simulated_for(held, market, PLAN_DAY, universe)
    with Store(f"sqlite:///{tmp_path / 'robo.db'}") as store:
        store.upgrade()
        store.households.add(held)
        runner = EngineRunner(store, market=lambda: market, broker_for=lambda _h: broker, rails=rails_for())
        proposal = runner.cycle.plan(held.id, PLAN_DAY, proposal_id="sched-p")
        runner.cycle.approve(proposal.id, actor="alex")
        worker = Worker(store, runner, load_scheduler_config(), clock=FixedClock(datetime(2026, 7, 30, 19, 5,
                                                                                          tzinfo=UTC)))
        (result,) = worker.run_job(JobKind.EXECUTE_APPROVED, PLAN_DAY)
        assert result.state is RunState.SUCCEEDED, result.error
    assert calls == ["sched-p"]


def test_the_batch_executes_through_the_cycle(calls):
    from brokers import rails_for, simulated_for
    from engine.batch import BatchOptions, Day, Executor, run_batch, synthetic
    from engine.data import MarketData
    from engine.planner import ApprovalRules, EngineConfig

    market = MarketData.embedded()
    day = Day.build(market, date(2026, 7, 29), config=EngineConfig(
        approval=ApprovalRules(first_run=False, max_turnover=10.0, max_order_fraction=1.0), mandate_paths=300))
    households = synthetic(2, seed=5, as_of=date(2026, 7, 29))
    result = run_batch(households, date(2026, 7, 29), BatchOptions(
        executor=Executor.INLINE, day=day, execute=True, rails=rails_for(),
        broker_for=lambda h: simulated_for(h, market, date(2026, 7, 29), day.universe)))
    executed = [e.proposal for e in result.executions.values() if e.orders]
    assert executed and sorted(calls) == sorted(executed)


def test_a_backtest_executes_through_the_cycle(calls):
    from backtests import PriceTable, run_scenario
    from backtests.scenario import scenario_from_dict
    from tests.backtests.conftest import household, weekdays

    days = weekdays(date(2021, 1, 4), 30)
    px = np.linspace(10, 12, len(days))
    table = PriceTable(days, ("VTI", "IVV", "BND"), np.column_stack([px, px, px]))
    sc = scenario_from_dict({
        "name": "t", "start": "2021-01-04", "universe": ["VTI", "IVV", "BND"],
        "household": household([{"id": "ira", "type": "roth", "cash": 1000}]),
        "strategies": [{"name": "s", "kind": "static", "weights": {"VTI": 1.0}, "rebalance": "annual"}],
    })
    run_scenario(sc, processes=1, prices=table)
    assert calls, "the backtest placed its orders through the one cycle"


def test_the_batch_runs_the_harvest_pass_for_every_household():
    """Issue 19: the daily harvest run is the batch's too (``BatchOptions(run_kind=TAX_LOSS_HARVEST)``)."""
    from dataclasses import replace
    from decimal import Decimal

    from engine.batch import BatchOptions, Day, Executor, run_batch, synthetic
    from engine.data import MarketData
    from engine.model import Lot, RunKind
    from engine.planner import ApprovalRules, EngineConfig

    day_ = date(2026, 7, 29)
    market = MarketData.embedded()
    day = Day.build(market, day_, config=EngineConfig(
        approval=ApprovalRules(first_run=False, max_turnover=10.0, max_order_fraction=1.0), mandate_paths=300))
    price = Decimal(str(day.prices["VTI"]))
    households = []
    for h in synthetic(2, seed=5, as_of=day_):
        taxable = next(a.id for a in h.accounts if a.type.value == "taxable")
        loss = Lot(f"{h.id}-loss", taxable, "VTI", Decimal(100), price * 100 * Decimal("1.25"), date(2025, 1, 2))
        households.append(replace(h, lots=(*h.lots, loss)))  # a 20 % loss worth harvesting
    result = run_batch(households, day_, BatchOptions(executor=Executor.INLINE, day=day,
                                                      run_kind=RunKind.TAX_LOSS_HARVEST))
    for o in result.outcomes:
        assert o.proposal is not None and o.proposal.run_kind is RunKind.TAX_LOSS_HARVEST
        assert o.proposal.id.endswith("-harvest")
        sells = [x for x in o.proposal.orders if x.side.value == "sell" and x.symbol == "VTI"]
        assert sells and f"{o.household}-loss" in sells[0].lots  # the loss lot is harvested
