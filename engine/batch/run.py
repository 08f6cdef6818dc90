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

import ctypes
import dataclasses
import gc
import itertools
import logging
import math
import multiprocessing
import os
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from engine.batch.day import Day
from engine.batch.execute import BrokerFactory, ExecutionOutcome, execute_planned
from engine.batch.types import (
    BatchResult,
    ChunkReport,
    Executor,
    HouseholdOutcome,
    KeptMandate,
    OutcomeStatus,
    WorkerMemory,
)
from engine.batch.wire import pack, unpack
from engine.batch.work import run_chunk
from engine.errors import ConfigError, EngineError, StoreError
from engine.model import Household, Proposal

if TYPE_CHECKING:
    from engine.data import MarketData
    from engine.engine import Engine
    from engine.model import Universe
    from engine.model.broker import Rails
    from engine.store import Store

__all__ = ["BatchOptions", "BatchProgress", "chunk_households", "run_batch", "shape_hint"]

log = logging.getLogger("engine.batch")


@dataclass(frozen=True, slots=True)
class BatchProgress:
    """Progress of a phase (``plan`` or ``execute``): households done of ``total``, failures, seconds, rate, ETA."""

    done: int
    total: int
    failed: int
    elapsed: float
    rate: float
    eta: float | None
    phase: str = "plan"


ProgressCallback = Callable[[BatchProgress], None]


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


@dataclass(frozen=True, slots=True)
class BatchOptions:
    """How ``run_batch`` runs: where, on which day's data, what it saves, and whether it trades.

    Where: ``executor`` and ``workers`` (default: the CPU count; 1 inline), ``chunk_size`` (households per
    task; default about 16 chunks per worker, 4–64), and for Dask ``client`` if given, else ``scheduler``
    (default ``Settings().dask_scheduler``), else a ``LocalCluster`` of ``workers`` single-threaded processes
    started and closed by the batch. The day: ``day``, else ``engine`` (its cached estimates), else a new
    ``Engine`` on ``market`` (default: the embedded prices) and ``universe``. ``mandates`` (e.g. last night's
    ``result.mandates``) are reused for households whose facts are unchanged, up to ``mandate_max_age_days``
    old. ``store``: proposals saved chunk by chunk while the workers plan, and a run record of kind ``batch``.
    ``progress`` gets a ``BatchProgress`` per chunk. ``execute=True`` executes, after planning (and saving),
    every proposal that needs no approval through ``broker_for(household)``, ``execute_threads`` households
    at a time, behind ``rails`` (the safety rails every order passes: ``brokers.rails_for()``).

    Raises:
        ConfigError: an unknown executor, or a count below its minimum (workers, chunk size, threads ≥ 1; the
            mandate age ≥ 0 days).
    """

    executor: Executor | str = Executor.PROCESSES
    workers: int | None = None
    chunk_size: int | None = None
    day: Day | None = None
    engine: Engine | None = None
    market: MarketData | None = None
    universe: Universe | None = None
    scheduler: str | None = None
    client: Any = None
    store: Store | None = None
    progress: ProgressCallback | None = None
    mandates: Mapping[str, KeptMandate] | None = None
    mandate_max_age_days: int = 0
    execute: bool = False
    broker_for: BrokerFactory | None = None
    execute_threads: int = 1
    rails: Rails | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "executor", _executor(self.executor))
        for name, least in (("workers", 1), ("chunk_size", 1), ("execute_threads", 1), ("mandate_max_age_days", 0)):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
                raise ConfigError(
                    f"must be a whole number ≥ {least}", field=name, value=value,
                    fix=f"pass {name}={least} or more" + (" (or leave it None for the default)"
                                                          if name in ("workers", "chunk_size") else ""),
                )


_OPTION_NAMES = frozenset(f.name for f in dataclasses.fields(BatchOptions))


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
        raise ConfigError("executing a batch needs a broker per household", field="broker_for", value=None,
                          fix="pass broker_for=lambda household: <its Broker>, or execute=False to only plan")
    if execute and rails is None:
        raise ConfigError("executing a batch needs the safety rails every order passes", field="rails", value=None,
                          fix="pass rails=brokers.rails_for() (kill switch, market hours, size cap)")
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


def _leave_kept(report: ChunkReport, kept: Mapping[str, KeptMandate]) -> ChunkReport:
    """Worker side: outcomes without the kept mandates they reused (the caller holds them), named in ``reused``.

    A reused mandate is ~2 KB of pickle per household that the caller would only read back into a copy of
    what it sent (~0.4 ms of its time per household).
    """
    reused = tuple(o.household for o in report.outcomes if o.mandate is not None and o.mandate is kept.get(o.household))
    if not reused:
        return report
    same = set(reused)
    outcomes = tuple(replace(o, mandate=None) if o.household in same else o for o in report.outcomes)
    return replace(report, outcomes=outcomes, reused=reused)


def _with_kept(report: ChunkReport, kept: Mapping[str, KeptMandate]) -> ChunkReport:
    """Caller side: the reused mandates put back into their outcomes (the inverse of ``_leave_kept``)."""
    if not report.reused:
        return report
    same = set(report.reused)
    outcomes = tuple(replace(o, mandate=kept[o.household]) if o.household in same else o for o in report.outcomes)
    return replace(report, outcomes=outcomes, reused=())


def _executor(value: Executor | str) -> Executor:
    try:
        return Executor(value)
    except ValueError as exc:
        raise ConfigError(
            "unknown executor", field="executor", value=value, fix=f"use one of: {', '.join(e.value for e in Executor)}"
        ) from exc


class _Tracker:
    """Counts finished households and reports rate and ETA to the callback."""

    def __init__(self, total: int, callback: ProgressCallback | None, phase: str = "plan") -> None:
        self.total, self.callback, self.phase = total, callback, phase
        self.done = self.failed = 0
        self.t0 = time.perf_counter()
        self._lock = threading.Lock()

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self._emit()

    def add(self, outcomes: Sequence[HouseholdOutcome]) -> None:
        with self._lock:
            self.done += len(outcomes)
            self.failed += sum(1 for o in outcomes if not o.ok)
            self._emit()

    def add_one(self, ok: bool) -> None:
        with self._lock:
            self.done += 1
            self.failed += 0 if ok else 1
            self._emit()

    def _emit(self) -> None:
        if self.callback is None:
            return
        elapsed = time.perf_counter() - self.t0
        rate = self.done / elapsed if elapsed > 0 and self.done else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else None
        self.callback(BatchProgress(self.done, self.total, self.failed, elapsed, rate, eta, self.phase))


def _lost_chunk(chunk: Sequence[Household], exc: BaseException) -> ChunkReport:
    """A chunk whose worker died: every household in it is recorded as an ERROR, the batch goes on."""
    outcomes = tuple(
        HouseholdOutcome(h.id, OutcomeStatus.ERROR, None, type(exc).__name__, f"worker lost: {exc}", 0.0) for h in chunk
    )
    return ChunkReport(outcomes, "lost", 0.0, 0, 0, 0, 0.0)


# ---------------------------------------------------------------------------------------------
# Local process pool: the day is handed to each worker once, by the pool's initializer.
# ---------------------------------------------------------------------------------------------

_WORKER_DAY: Day | None = None
_WORKER_WORK: _Work | None = None

_Work = tuple[Sequence[Sequence[Household]], Sequence[Mapping[str, KeptMandate]]]
"""A batch's chunks and each chunk's kept mandates, in the same order."""


def _init_worker(day: Day, work: _Work | None = None) -> None:
    """Pool initializer: keep the day (and, forked, the batch's chunks) in this worker; one BLAS thread.

    A forked worker inherits the parent's whole heap (the batch's households, earlier results): freezing
    it keeps the garbage collector from walking those objects again and again (and copying their pages).
    """
    global _WORKER_DAY, _WORKER_WORK
    _WORKER_DAY, _WORKER_WORK = day, work
    _worker_process()
    gc.freeze()


def _worker_process() -> None:
    """Settle a worker process for planning: one BLAS thread, a heap that keeps its MB-sized arrays, and
    a young-generation threshold for planning's many short-lived objects."""
    _single_threaded_blas()
    _steady_heap()
    gc.set_threshold(_GC_YOUNG, *gc.get_threshold()[1:])


_GC_YOUNG = 20_000
"""Allocations between young-generation collections while planning (Python's default: 700).

A plan allocates ~50k short-lived objects (Decimals, lots, orders) that reference counting frees; at the
default threshold the cyclic collector ran every few hundred of them and walked the long-lived ones too:
~0.9 ms of a ~14 ms plan, ~0.15 ms at this threshold (``benchmarks/batch.py`` setting, 300 households).
"""


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """This process's part of a batch with ``_GC_YOUNG`` and what already exists frozen; restored after.

    Inline it plans; with workers it unpickles every outcome, and a full collection would walk all of them
    (and whatever the caller holds) again and again while they arrive.
    """
    before = gc.get_threshold()
    freeze = gc.get_freeze_count() == 0  # a caller's own frozen objects stay frozen: leave freezing alone then
    if freeze:
        gc.freeze()
    gc.set_threshold(_GC_YOUNG, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if freeze:
            gc.unfreeze()


def _single_threaded_blas() -> None:
    """One BLAS thread per worker: W workers × N BLAS threads would oversubscribe the cores."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn/scipy stacks
        return
    threadpool_limits(1)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters
_HEAP_KEEP = 1 << 25  # 32 MB: glibc's own ceiling for its dynamic mmap threshold


def _steady_heap() -> None:
    """Keep freed arrays of up to 32 MB in the heap for reuse instead of handing them back to the kernel.

    A plan allocates and frees the same few MB-sized arrays (goal DP grids, Monte Carlo blocks) per
    household. Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which also turns off
    glibc's dynamic mmap threshold: every such array was then mapped fresh and page-faulted in (measured:
    ~50 instead of ~32 ms of CPU per household). Worker memory stays flat either way. No-op off glibc.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, _HEAP_KEEP)
        libc.mallopt(_M_TRIM_THRESHOLD, 2 * _HEAP_KEEP)
    except (OSError, AttributeError):  # pragma: no cover - musl or another libc
        return


class _Closer:
    """Shuts a process pool down with the other things a batch started (``close()`` like a Dask client)."""

    def __init__(self, pool: ProcessPoolExecutor) -> None:
        self.pool = pool

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _pool_context() -> Any:
    """The multiprocessing context a pool starts its workers with (the platform's default)."""
    return multiprocessing.get_context()


def _pool_ready(day: Day, workers: int, work: _Work) -> tuple[ProcessPoolExecutor, bool]:
    """A pool whose every worker has started, run its initializer (the day) and imported the planner.

    Where workers are forked (Linux's default) they inherit ``work``, the batch's chunks, with the rest of
    this process: a task is then a chunk's index, and the caller pickles no household (~1 ms each, ~8 % of
    a plan, on the core the workers share with it). Returns the pool and whether the work was inherited.
    """
    context = _pool_context()
    inherited = context.get_start_method() == "fork"  # a forked pool starts every worker at its first task
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(day, work if inherited else None)
    )
    try:
        for fut in [pool.submit(_worker_ready) for _ in range(workers)]:
            fut.result()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    return pool, inherited


def _worker_ready(day: Day | None = None) -> int:
    """Warm a worker: the planner's modules imported and the day's engine touched; returns the pid."""
    import engine.optimizer  # noqa: F401 - the import is the warm-up

    _worker_process()
    held = day if day is not None else _WORKER_DAY
    if held is not None:
        held.engine.day(held.as_of)
    gc.freeze()  # the day and the imported modules live as long as the worker: the collector need not walk them
    return os.getpid()


def _pool_chunk(part: bytes, age: int) -> bytes:
    """A pool task: plan a chunk sent with the task (``wire.pack((chunk, kept))``); the report goes back packed."""
    assert _WORKER_DAY is not None, "the pool initializer did not run"
    chunk, kept = unpack(part)
    return pack(_leave_kept(run_chunk(chunk, _WORKER_DAY, kept, age), kept))


def _pool_chunk_at(index: int, age: int) -> bytes:
    """A pool task: plan chunk ``index`` of the work this forked worker inherited; the report goes back packed."""
    assert _WORKER_DAY is not None and _WORKER_WORK is not None, "the pool initializer did not run"
    chunks, kept = _WORKER_WORK
    return pack(_leave_kept(run_chunk(chunks[index], _WORKER_DAY, kept[index], age), kept[index]))


def _run_processes(
    chunks: Sequence[Sequence[Household]],
    kept: Sequence[Mapping[str, KeptMandate]],
    age: int,
    pool: ProcessPoolExecutor,
    inherited: bool,
    sink: _Sink,
) -> None:
    futures: dict[Future[bytes], int] = {
        (pool.submit(_pool_chunk_at, i, age) if inherited else pool.submit(_pool_chunk, pack((c, kept[i])), age)): i
        for i, c in enumerate(chunks)
    }
    for fut in as_completed(futures):
        i = futures[fut]
        try:
            report = _with_kept(unpack(fut.result()), kept[i])
        except Exception as exc:
            log.error("batch worker failed on a chunk of %d households: %s", len(chunks[i]), exc)
            report = _lost_chunk(chunks[i], exc)
        sink.add(report)


# ---------------------------------------------------------------------------------------------
# Dask: the day is scattered once to every worker; chunks are mapped; results stream back.
# ---------------------------------------------------------------------------------------------


def _dask_part(part: bytes, day: Day, age: int = 0) -> bytes:
    """Runs on a Dask worker: one scattered, packed (chunk, kept mandates) pair; ``day`` is scattered once per
    worker. The report goes back packed, naming the worker (where the caller sends its next chunk)."""
    from distributed import get_worker

    _worker_process()
    chunk, kept = unpack(part)
    report = _leave_kept(run_chunk(chunk, day, kept, age), kept)
    return pack(replace(report, worker=get_worker().address))


def _dask_client(client: Any, scheduler: str | None, workers: int) -> tuple[Any, list[Any]]:
    """The client to use and what this call started (to close): given, by address, or a LocalCluster."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ConfigError(
            "the Dask executor needs dask[distributed]",
            field="executor",
            value="dask",
            fix="pip install 'adaptive-robo[distributed]'",
        ) from exc
    if client is not None:
        return client, []
    if scheduler is None:
        from engine.settings import Settings

        scheduler = Settings().dask_scheduler
    if scheduler:
        client = Client(scheduler)
        return client, [client]
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
    )
    client = Client(cluster)
    return client, [client, cluster]


def _dask_ready(client: Any, day: Day) -> Any:
    """Scatter the day to every worker once and warm each worker on it; returns the day's future."""
    day_future = client.scatter(day, broadcast=True, hash=False)
    workers = list(client.scheduler_info()["workers"])
    warm = [client.submit(_worker_ready, day_future, workers=[w], pure=False) for w in workers]
    client.gather(warm)
    return day_future


def _run_dask(
    chunks: Sequence[Sequence[Household]],
    kept: Sequence[Mapping[str, KeptMandate]],
    age: int,
    day_future: Any,
    client: Any,
    sink: _Sink,
) -> None:
    from distributed import as_completed as dask_completed

    # The chunks go to the workers as data (scattered), not inside the task graph the scheduler holds, and a
    # few at a time: each worker has one chunk queued behind the one it plans while this process pickles the
    # next (scattering them all first left the workers idle for ~1 ms per household of the batch). A worker
    # that hands back a chunk gets the next one (round-robin placement let one worker queue two while another
    # ran dry); a worker that joins later is served by the scheduler's work stealing.
    addresses = list(client.scheduler_info().get("workers", {}))
    flying = dask_completed()
    held: dict[str, tuple[int, Any]] = {}  # task key → (chunk index, its scattered part)

    def send(i: int, worker: str | None) -> None:
        data = [pack((chunks[i], kept[i]))]
        try:
            part = client.scatter(data, hash=False, workers=[worker] if worker in addresses else None)[0]
        except Exception:  # that worker just left: let the scheduler place it
            part = client.scatter(data, hash=False)[0]
        fut = client.submit(_dask_part, part, day=day_future, age=age, pure=False)
        held[fut.key] = (i, part)
        flying.add(fut)

    todo = iter(range(len(chunks)))
    for k, i in enumerate(itertools.islice(todo, 2 * max(len(addresses), 1))):
        send(i, addresses[k % len(addresses)] if addresses else None)
    try:
        for fut in flying:
            i, part = held.pop(fut.key)
            try:
                report = _with_kept(unpack(fut.result()), kept[i])
            except Exception as exc:
                log.error("dask task failed on a chunk of %d households: %s", len(chunks[i]), exc)
                report = _lost_chunk(chunks[i], exc)
            fut.release()
            part.release()
            nxt = next(todo, None)
            if nxt is not None:  # the workers' queue first, then this chunk's saving
                send(nxt, report.worker)
            sink.add(report)
    finally:
        client.cancel([*(part for _, part in held.values()), day_future])


# ---------------------------------------------------------------------------------------------
# Memory and persistence
# ---------------------------------------------------------------------------------------------


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


class _Sink:
    """Where each chunk's report goes as it arrives: kept, counted for progress and, with a store, saved.

    Saving chunk by chunk overlaps the caller's writes with the workers' planning (a nightly batch's proposals
    are stored by the time the last household is planned); ``save_seconds`` is the caller's time in it.
    """

    def __init__(self, tracker: _Tracker, store: Store | None, day: Day, households: Sequence[Household]) -> None:
        self.tracker, self.store = tracker, store
        self.reports: list[ChunkReport] = []
        self.save_errors: dict[str, str] = {}
        self.save_seconds = 0.0
        self._households = {h.id: h for h in households}
        self._stored: set[str] = set()
        self._seasoned: set[str] | None = None
        if store is not None:
            start = time.perf_counter()
            self._stored = set(store.households.list())
            self._seasoned = _seasoned(store, day, self._households)
            self.save_seconds += time.perf_counter() - start

    def add(self, report: ChunkReport) -> None:
        if self.store is not None:
            start = time.perf_counter()
            report = replace(report, outcomes=_first_runs(self._seasoned, report.outcomes))
            self.save_errors.update(_save_proposals(self.store, self._households, self._stored, report.outcomes))
            self.save_seconds += time.perf_counter() - start
        self.reports.append(report)
        self.tracker.add(report.outcomes)


def _seasoned(store: Store, day: Day, households: Iterable[str]) -> set[str] | None:
    """The households that have traded a proposal before (None: the first-run approval rule is off)."""
    from engine.planner import TRADED

    config = getattr(day.engine, "config", None)
    if config is None or not config.approval.first_run:
        return None
    return store.proposals.households_with(TRADED, among=households)


def _first_runs(seasoned: set[str] | None, outcomes: Sequence[HouseholdOutcome]) -> tuple[HouseholdOutcome, ...]:
    """Hold a household's first proposal with orders for approval, as ``Engine.plan`` does with a store.

    Workers plan without the store, so the rule ``ApprovalRules.first_run`` is applied here: ``seasoned`` are
    the households that traded before (one query for the batch, ``_seasoned``).
    """
    from engine.planner import FIRST_RUN_REASON

    if seasoned is None:
        return tuple(outcomes)
    out = []
    for o in outcomes:
        p = o.proposal
        if p is not None and p.orders and o.household not in seasoned and FIRST_RUN_REASON not in p.approval_reasons:
            p = replace(p, needs_approval=True, approval_reasons=(*p.approval_reasons, FIRST_RUN_REASON))
            o = replace(o, proposal=p)
        out.append(o)
    return tuple(out)


def _save_proposals(
    store: Store, households: Mapping[str, Household], stored: set[str], outcomes: Sequence[HouseholdOutcome]
) -> dict[str, str]:
    """Save each proposal, adding the households the store lacks (to ``stored`` too); failures by household id.

    The proposals go in one transaction (``add_many``); if it fails as a whole (say, a concurrent writer), each
    is saved in its own, so one bad proposal costs only itself.
    """
    errors: dict[str, str] = {}
    ready: list[Proposal] = []
    for outcome in outcomes:
        if outcome.proposal is None:
            continue
        if outcome.household not in stored:
            try:
                store.households.add(households[outcome.household], actor="batch")
            except (StoreError, EngineError) as exc:
                errors[outcome.household] = f"{type(exc).__name__}: {exc}"
                continue
            stored.add(outcome.household)
        ready.append(outcome.proposal)
    if not ready:
        return errors
    try:
        refused: dict[str, EngineError] = store.proposals.add_many(ready, actor="batch")
    except (StoreError, EngineError):  # nothing of the group is stored: one transaction per proposal then
        refused = {}
        for p in ready:
            try:
                store.proposals.add(p, actor="batch")
            except (StoreError, EngineError) as exc:
                refused[p.id] = exc
    for p in ready:
        if p.id in refused:
            errors[p.household] = f"{type(refused[p.id]).__name__}: {refused[p.id]}"
    return errors


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
