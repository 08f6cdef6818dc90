"""A batch on a local process pool: the day is handed to each worker once, by the pool's initializer.

    pool, inherited = _pool_ready(day, workers, (chunks, kept))
    _run_processes(chunks, kept, age, pool, inherited, sink)

Also what settles any worker process for planning (one BLAS thread, a heap that keeps its arrays, fewer
collections), which the Dask workers use too.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import multiprocessing
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from engine.batch.day import Day
from engine.batch.types import KeptMandate
from engine.batch.wire import pack, unpack
from engine.batch.work import _leave_kept, _lost_chunk, _with_kept, run_chunk
from engine.model import Household

if TYPE_CHECKING:
    from engine.batch.sink import _Sink


log = logging.getLogger("engine.batch")


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
