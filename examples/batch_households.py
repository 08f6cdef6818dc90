"""Plan the day's cycle for many households on a local process pool, with a planted failure.

    .venv/bin/python examples/batch_households.py

Set ROBO_DASK_SCHEDULER=tcp://host:8786 and pass executor=Executor.DASK to run the same batch on a cluster.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from engine.batch import Executor, run_batch, synthetic
from engine.model import Values


def main() -> None:
    as_of = date(2026, 7, 31)
    households = synthetic(12, seed=3, as_of=as_of)
    households[0] = replace(households[0], values=Values(min_esg_score=9.9))  # no fund scores that high
    result = run_batch(
        households,
        as_of,
        executor=Executor.PROCESSES,
        workers=2,
        progress=lambda p: print(f"  {p.done}/{p.total} households, {p.rate:.1f}/s, {p.failed} failed"),
    )
    rate = result.households_per_second
    print(f"{len(result.planned)} planned, {len(result.failed)} failed, {rate:.1f} households/s")
    for outcome in result.failed:
        print(f"  {outcome.household}: {outcome.error_type}: {outcome.error[:100]}")
    some = result.planned[0].proposal
    print(f"{some.id}: {len(some.orders)} orders, e.g. {some.orders[0].side} {some.orders[0].symbol}")


if __name__ == "__main__":
    main()
