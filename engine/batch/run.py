"""``run_batch``: plan a cycle for many households in-process, on a local process pool, or on Dask.

    result = run_batch(synthetic(2000, seed=7), date(2026, 7, 31), BatchOptions(Executor.PROCESSES, workers=2))
    print(result.households_per_second, [o.error for o in result.failed])
    run_batch(households, as_of, BatchOptions(store=store, execute=True, broker_for=broker_of))   # plan, save, execute

The day's prices and estimates are computed once (``Day``) and shipped once per worker (pool
initializer; Dask ``scatter(broadcast=True)``). Households are sorted by problem shape and cut into
chunks, so a worker compiles each shape once and then only re-solves. A household's own failure is
recorded in its outcome and the batch goes on; with a ``store`` the proposals and one run record (a
summary line per household) are persisted. ``execute=True`` then executes the proposals that need no
approval in this process, each household through ``broker_for(household)`` (see ``execute.py``).
Households going out and outcomes coming back travel as explicit records of plain values (``wire.py``).
"""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any

from engine.batch.day import Day
from engine.batch.execute import ExecutionOutcome, execute_planned
from engine.batch.on_dask import _dask_client, _dask_ready, _run_dask
from engine.batch.options import _OPTION_NAMES, BatchOptions, BatchProgress, ProgressCallback
from engine.batch.pool import _Closer, _fewer_collections, _pool_ready, _run_processes
from engine.batch.sink import _Sink, _Tracker
from engine.batch.types import (
    BatchResult,
    ChunkReport,
    Executor,
    HouseholdOutcome,
    KeptMandate,
    WorkerMemory,
)
from engine.batch.work import run_chunk
from engine.errors import ConfigError
from engine.model import Household, RunKind

if TYPE_CHECKING:
    from engine.batch.execute import BrokerFactory
    from engine.model.broker import Rails
    from engine.store import Store


log = logging.getLogger("engine.batch")

__all__ = ["BatchOptions", "BatchProgress", "chunk_households", "run_batch", "shape_hint"]


def shape_hint(household: Household) -> tuple[int, ...]:
    """Accounts and the lot slots the optimizer will pad this household to (its problem shape, cheaply)."""
    from engine.optimizer import lot_bucket

    return len(household.accounts), lot_bucket(len(household.lots))


def chunk_households(households: Sequence[Household], chunk_size: int) -> list[list[Household]]:
    """Households grouped by problem shape (most common first), cut into chunks of at most ``chunk_size``."""
    if chunk_size < 1:
        raise ConfigError("must be ≥ 1", field="chunk_size", value=chunk_size)
    groups: dict[tuple[int, ...], list[Household]] = {}
    for h in households:
        groups.setdefault(shape_hint(h), []).append(h)
    chunks: list[list[Household]] = []
    for members in sorted(groups.values(), key=len, reverse=True):
        chunks += [members[i : i + chunk_size] for i in range(0, len(members), chunk_size)]
    return chunks


def _default_chunk_size(n: int, workers: int) -> int:
    """About 16 chunks per worker for balance and a live progress bar, between 4 and 64 households."""
    return max(4, min(64, math.ceil(n / (max(workers, 1) * 16))))


def run_batch(
    households: Iterable[Household],
    as_of: date,
    options: BatchOptions | None = None,
    **keywords: Any,
) -> BatchResult:
    """Plan ``households`` on ``as_of`` as ``options`` say; one outcome per household, in input order.

    The keywords of earlier versions (``run_batch(households, as_of, executor=..., workers=...)``) still work,
    with a ``DeprecationWarning``: they are ``BatchOptions``' fields.

    Raises:
        ConfigError: bad options (see ``BatchOptions``), duplicate household ids, execute without
            ``broker_for``, or Dask requested but not installed.
        DataError: the day's prices are missing or stale (no household is planned then).
        TypeError: an unknown keyword, or both ``options`` and keywords.
    """
    if keywords:
        unknown = sorted(set(keywords) - _OPTION_NAMES)
        if unknown:
            raise TypeError(f"run_batch() got unexpected keyword argument(s) {', '.join(unknown)}")
        if options is not None:
            raise TypeError("run_batch() takes options or keywords, not both: put the keywords into BatchOptions")
        warnings.warn(
            "run_batch(households, as_of, executor=..., ...) keywords are deprecated; "
            "pass run_batch(households, as_of, BatchOptions(...)) instead",
            DeprecationWarning,
            stacklevel=2,
        )
        options = BatchOptions(**keywords)
    return _run(list(households), as_of, options or BatchOptions())


def _run(households: list[Household], as_of: date, options: BatchOptions) -> BatchResult:
    executor = Executor(options.executor)
    workers, day, store, progress = options.workers, options.day, options.store, options.progress
    execute, broker_for, rails = options.execute, options.broker_for, options.rails
    ids = [h.id for h in households]
    if len(set(ids)) != len(ids):
        dup = next(i for i, c in Counter(ids).items() if c > 1)
        raise ConfigError(
            "duplicate household id in the batch", field="households", value=dup, fix="pass each household once"
        )
    if execute and broker_for is None:
        raise ConfigError(
            "executing a batch needs a broker per household",
            field="broker_for",
            value=None,
            fix="pass broker_for=lambda household: <its Broker>, or execute=False to only plan",
        )
    if execute and rails is None:
        raise ConfigError(
            "executing a batch needs the safety rails every order passes",
            field="rails",
            value=None,
            fix="pass rails=brokers.rails_for() (kill switch, market hours, size cap)",
        )
    workers = workers or (1 if executor is Executor.INLINE else (os.cpu_count() or 1))
    setup_start = time.perf_counter()
    if day is None:
        if options.engine is not None:
            day = Day.from_engine(options.engine, as_of)
        else:
            market = options.market
            if market is None:
                from engine.data import MarketData

                market = MarketData.embedded()
            day = Day.build(market, as_of, options.universe)
    if day.run_kind is not options.run_kind:
        day = replace(day, run_kind=RunKind(options.run_kind))
    size = options.chunk_size or _default_chunk_size(len(households), workers)
    chunks = chunk_households(households, size)
    kept = _kept_per_chunk(chunks, options.mandates)
    run_id = _start_run(store, as_of, executor, workers, len(households)) if store is not None else None
    sink = _Sink(_Tracker(len(households), progress), store, day, households)
    owned: list[Any] = []
    pool: ProcessPoolExecutor | None = None
    day_future: Any = None
    try:
        # Workers are started and handed the day before the clock starts: households/s is planning speed.
        client: Any = None
        if executor is Executor.DASK:
            client, owned = _dask_client(options.client, options.scheduler, workers)
            day_future = _dask_ready(client, day)
        elif executor is Executor.PROCESSES:
            pool, inherited = _pool_ready(day, workers, (chunks, kept))
            owned.append(_Closer(pool))
        setup_seconds = time.perf_counter() - setup_start
        start = time.perf_counter()
        sink.tracker.start()
        age = options.mandate_max_age_days
        with _fewer_collections():  # this process plans (inline) or reads back every outcome (workers)
            if executor is Executor.INLINE:
                for chunk, prev in zip(chunks, kept, strict=True):
                    sink.add(run_chunk(chunk, day, prev, age))
            elif executor is Executor.PROCESSES:
                assert pool is not None
                _run_processes(chunks, kept, age, pool, inherited, sink)
            else:
                _run_dask(chunks, kept, age, day_future, client, sink)
        seconds = time.perf_counter() - start
    finally:
        for thing in owned:
            thing.close()
    reports = sink.reports
    by_id = {o.household: o for r in reports for o in r.outcomes}
    outcomes = tuple(by_id[i] for i in ids)
    save_errors = sink.save_errors
    executions: dict[str, ExecutionOutcome] = {}
    execute_seconds = 0.0
    if execute:
        assert broker_for is not None
        saved = [o for o in outcomes if o.household not in save_errors]  # never trade a proposal the store lacks
        executions, execute_seconds = _execute(
            saved, households, day, store, broker_for, options.execute_threads, progress, rails
        )
    result = BatchResult(
        as_of=as_of,
        executor=executor,
        workers=workers,
        outcomes=outcomes,
        seconds=seconds,
        setup_seconds=setup_seconds,
        memory=_memory(reports),
        run_id=run_id,
        cpu_seconds=sum(r.cpu_seconds for r in reports),
        save_seconds=sink.save_seconds,
        executions=executions,
        execute_seconds=execute_seconds,
    )
    if store is not None and run_id is not None:
        _finish_run(store, run_id, result, save_errors)
    return result


def _execute(
    outcomes: Sequence[HouseholdOutcome],
    households: Sequence[Household],
    day: Day,
    store: Store | None,
    broker_for: BrokerFactory,
    threads: int,
    progress: ProgressCallback | None,
    rails: Rails | None,
) -> tuple[dict[str, ExecutionOutcome], float]:
    """Execute the planned proposals here, with an engine that records into ``store``; progress as phase execute."""
    from engine.cycle import Cycle

    engine = Cycle(day.engine, store=store, rails=rails, actor="batch")  # the one cycle executes; workers planned
    todo = sum(1 for o in outcomes if o.proposal is not None)
    tracker = _Tracker(todo, progress, phase="execute")
    tracker.start()
    start = time.perf_counter()
    executions = execute_planned(
        outcomes,
        {h.id: h for h in households},
        engine,
        broker_for,
        store=store,
        threads=threads,
        on_done=lambda e: tracker.add_one(e.ok),
    )
    return executions, time.perf_counter() - start


def _kept_per_chunk(
    chunks: Sequence[Sequence[Household]], mandates: Mapping[str, KeptMandate] | None
) -> list[dict[str, KeptMandate]]:
    """Each chunk's kept mandates by household id (what its worker may reuse)."""
    return [{h.id: mandates[h.id] for h in c if h.id in mandates} if mandates else {} for c in chunks]


def _memory(reports: Sequence[ChunkReport]) -> dict[str, WorkerMemory]:
    seen: dict[str, list[ChunkReport]] = {}
    for r in reports:
        if r.worker != "lost":
            seen.setdefault(r.worker, []).append(r)
    return {
        w: WorkerMemory(
            rs[0].rss_bytes, rs[-1].rss_bytes, max(r.peak_rss_bytes for r in rs), len(rs), max(r.compiled for r in rs)
        )
        for w, rs in seen.items()
    }


def _start_run(store: Store, as_of: date, executor: Executor, workers: int, n: int) -> str:
    return store.runs.start(
        "batch", {"as_of": as_of.isoformat(), "executor": executor.value, "workers": workers, "households": n}
    )


def _finish_run(store: Store, run_id: str, result: BatchResult, save_errors: Mapping[str, str]) -> None:
    """Finish the run record with one summary line per household (plan, execution, any persistence error)."""
    summary = result.summary()
    lines: dict[str, dict[str, object]] = summary["results"]  # type: ignore[assignment]
    for hid, line in lines.items():
        error = save_errors.get(hid)
        if error is not None:
            line["persist_error"] = error
    failed = sum(1 for o in result.outcomes if not o.ok)
    status = "succeeded" if failed < len(result.outcomes) or not result.outcomes else "failed"
    store.runs.finish(run_id, status, summary)
