"""The per-household work function and the worker-side state that outlives a chunk.

    outcome = plan_one(household, day)          # a HouseholdOutcome: proposal, or the recorded failure
    outcomes = run_chunk(chunk, day)             # what every executor runs on a worker

The work is ``Engine.plan`` with the day's shared estimates and a deterministic proposal id. The
engine's compiled-problem cache is per process and lives as long as the worker, so a problem shape is
compiled once per worker, not once per household. A household's ``EngineError`` (infeasible, data
gap, planning, broker) becomes a ``FAILED`` outcome; any other exception an ``ERROR`` outcome with
its type and message — the batch always goes on.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from engine.batch.day import Day
from engine.batch.types import ChunkReport, HouseholdOutcome, KeptMandate, OutcomeStatus
from engine.errors import EngineError
from engine.model import Household, Proposal, RunKind

if TYPE_CHECKING:
    from engine.optimizer import ProblemCache

__all__ = ["household_fingerprint", "plan_one", "proposal_id", "run_chunk", "worker_cache"]

from engine.goals.mandate import household_fingerprint

_ENGINE_LOCK = threading.Lock()


def worker_cache() -> ProblemCache:
    """This process's compiled-problem cache (the one ``Engine.plan`` solves with; kept for the worker's life)."""
    from engine.optimizer import DEFAULT_CACHE

    return DEFAULT_CACHE


def proposal_id(household: Household | str, day: Day) -> str:
    """The deterministic proposal id of a batch: ``batch-YYYYMMDD-<household id>`` (``…-harvest`` for the harvest
    run, so a night's harvest pass and its full rebalance never share an id)."""
    hid = household if isinstance(household, str) else household.id
    tail = "" if day.run_kind is RunKind.FULL_REBALANCE else f"-{day.run_kind.value.split('_')[-1]}"
    return f"batch-{day.as_of:%Y%m%d}-{hid}{tail}"


def plan_one(
    household: Household, day: Day, *, previous: KeptMandate | None = None, mandate_max_age_days: int = 0
) -> HouseholdOutcome:
    """Plan one household on ``day``; never raises for a household's own problem (see module docstring).

    ``previous`` (a mandate kept from an earlier batch) is reused when the household's fingerprint is
    unchanged and it is at most ``mandate_max_age_days`` old; otherwise a new mandate is built.
    """
    start = time.perf_counter()
    kept: KeptMandate | None = None
    try:
        proposal, kept = _plan(household, day, previous, mandate_max_age_days)
    except EngineError as exc:
        return HouseholdOutcome(
            household.id, OutcomeStatus.FAILED, None, type(exc).__name__, str(exc), time.perf_counter() - start, kept
        )
    except Exception as exc:
        return HouseholdOutcome(
            household.id, OutcomeStatus.ERROR, None, type(exc).__name__, str(exc), time.perf_counter() - start, kept
        )
    return HouseholdOutcome(
        household.id, OutcomeStatus.PLANNED, proposal, None, None, time.perf_counter() - start, kept
    )


def run_chunk(
    households: Sequence[Household],
    day: Day,
    mandates: Mapping[str, KeptMandate] | None = None,
    mandate_max_age_days: int = 0,
) -> ChunkReport:
    """Plan every household of a chunk with this worker's cache; returns outcomes and worker memory.

    ``mandates`` are kept mandates by household id (see ``plan_one``). The engine's own per-household
    mandate cache is emptied after the chunk: outcomes carry the mandates, so worker memory stays flat.
    """
    start, cpu = time.perf_counter(), time.thread_time()
    mandates = mandates or {}
    outcomes = tuple(
        plan_one(h, day, previous=mandates.get(h.id), mandate_max_age_days=mandate_max_age_days) for h in households
    )
    cache = getattr(day.engine, "_mandates", None)
    if isinstance(cache, dict):
        cache.clear()
    stats = worker_cache().stats()
    rss = _rss_bytes()
    return ChunkReport(
        outcomes=outcomes,
        worker=f"{os.getpid()}-{threading.get_ident()}",
        seconds=time.perf_counter() - start,
        rss_bytes=rss,
        peak_rss_bytes=max(_peak_rss_bytes(), rss),
        compiled=stats.misses,
        compile_seconds=stats.compile_time,
        cpu_seconds=time.thread_time() - cpu,
    )


def _plan(
    household: Household, day: Day, previous: KeptMandate | None, max_age_days: int
) -> tuple[Proposal, KeptMandate | None]:
    # One plan at a time per process: the engine's caches (mandates, compiled problems) are not
    # thread-safe, so a multi-threaded Dask worker plans serially (run workers with one thread each).
    engine = day.engine
    with _ENGINE_LOCK:
        ledger = engine.ledger(household)
        fingerprint = household_fingerprint(household)
        if (
            previous is not None
            and previous.fingerprint == fingerprint
            and 0 <= (day.as_of - previous.mandate.as_of).days <= max_age_days
        ):
            kept = previous
        else:
            kept = KeptMandate(fingerprint, engine.mandate(household, day.as_of, ledger=ledger))
        proposal = engine.plan(
            household,
            day.as_of,
            estimates=day.estimates,
            proposal_id=proposal_id(household, day),
            ledger=ledger,
            mandate=kept.mandate,
            run_kind=day.run_kind,
        )
        return proposal, kept


def _rss_bytes() -> int:
    """Resident set size of this process now (bytes; 0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):  # pragma: no cover - not Linux
        return 0


def _peak_rss_bytes() -> int:
    """Peak resident set size of this process (bytes): the kernel's high-water mark of this address space.

    ``/proc/self/status`` VmHWM, not ``getrusage``'s maxrss, which a spawned worker inherits from the
    process that started it (a Dask worker would report its parent's peak).
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):  # pragma: no cover - not Linux
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) * (1 if os.uname().sysname == "Darwin" else 1024)


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


def _lost_chunk(chunk: Sequence[Household], exc: BaseException) -> ChunkReport:
    """A chunk whose worker died: every household in it is recorded as an ERROR, the batch goes on."""
    outcomes = tuple(
        HouseholdOutcome(h.id, OutcomeStatus.ERROR, None, type(exc).__name__, f"worker lost: {exc}", 0.0) for h in chunk
    )
    return ChunkReport(outcomes, "lost", 0.0, 0, 0, 0, 0.0)
