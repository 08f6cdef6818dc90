"""A batch on Dask: the day is scattered once to every worker; chunks are sent a few at a time; results stream back.

    client, owned = _dask_client(client, scheduler, workers)
    _run_dask(chunks, kept, age, _dask_ready(client, day), client, sink)

The only home of Dask (``distributed``), imported inside the functions so the rest of the batch never loads it.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from engine.batch.day import Day
from engine.batch.pool import _worker_process, _worker_ready
from engine.batch.types import KeptMandate
from engine.batch.wire import pack, unpack
from engine.batch.work import _leave_kept, _lost_chunk, _with_kept, run_chunk
from engine.errors import ConfigError
from engine.model import Household

if TYPE_CHECKING:
    from engine.batch.sink import _Sink


log = logging.getLogger("engine.batch")


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
