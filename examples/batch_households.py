"""Plan the day's cycle for many households on a local process pool, with a planted failure, then execute.

    .venv/bin/python examples/batch_households.py

Set ROBO_DASK_SCHEDULER=tcp://host:8786 and pass executor=Executor.DASK to run the same batch on a cluster.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

from brokers import SimulatedBroker, rails_for
from engine.batch import BatchOptions, Day, Executor, run_batch, synthetic
from engine.data import MarketData
from engine.engine import ApprovalRules, EngineConfig
from engine.model import Household, Values
from engine.store import Store


def main() -> None:
    as_of = date(2026, 7, 31)
    households = synthetic(12, seed=3, as_of=as_of)
    households[0] = replace(households[0], values=Values(min_esg_score=9.9))  # no fund scores that high
    result = run_batch(
        households,
        as_of,
        BatchOptions(
            executor=Executor.PROCESSES,
            workers=2,
            progress=lambda p: print(f"  {p.done}/{p.total} households, {p.rate:.1f}/s, {p.failed} failed"),
        ),
    )
    rate = result.households_per_second
    print(f"{len(result.planned)} planned, {len(result.failed)} failed, {rate:.1f} households/s")
    for outcome in result.failed:
        print(f"  {outcome.household}: {outcome.error_type}: {outcome.error[:100]}")
    some = result.planned[0].proposal
    print(f"{some.id}: {len(some.orders)} orders, e.g. {some.orders[0].side} {some.orders[0].symbol}")
    execute(MarketData.embedded())


def execute(market: MarketData) -> None:
    """Plan on Wednesday and execute through a simulated broker per household (fills Thursday and Friday)."""
    wednesday = date(2026, 7, 29)
    households = synthetic(4, seed=5, as_of=wednesday)
    # synthetic households hold random portfolios (an onboarding: 110-180 % turnover); a platform that lets
    # onboarding trades through without a human would configure so (the default holds them for approval)
    rules = ApprovalRules(first_run=False, max_turnover=2.0, max_order_fraction=1.0)
    day = Day.build(market, wednesday, config=EngineConfig(approval=rules))

    def broker_for(household: Household) -> SimulatedBroker:
        held: dict[str, dict[str, Decimal]] = {}
        for lot in household.lots:
            book = held.setdefault(lot.account, {})
            book[lot.symbol] = book.get(lot.symbol, Decimal(0)) + lot.shares
        return SimulatedBroker(
            market.prices,
            accounts={a.id: a.cash for a in household.accounts},
            positions=held,
            start=wednesday,
            assets=day.universe,
        )

    with tempfile.TemporaryDirectory() as tmp, Store(f"sqlite:///{Path(tmp) / 'robo.db'}") as store:
        store.upgrade()
        result = run_batch(
            households,
            wednesday,
            BatchOptions(
                executor=Executor.INLINE, day=day, store=store, execute=True, broker_for=broker_for, rails=rails_for()
            ),
        )
        for hid, e in result.executions.items():
            lots = len(store.households.get(hid).lots)
            print(f"  {hid}: {e.status.value}, {e.fills}/{e.orders} orders filled, {lots} lots stored after trading")
        print(f"run {result.run_id}: {store.runs.get(result.run_id).summary['executions']}")


if __name__ == "__main__":
    main()
