"""Where each chunk's report goes in the calling process: counted for progress and, with a store, saved.

sink = _Sink(_Tracker(len(households), progress), store, day, households)
sink.add(report)          # as each chunk comes back
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from engine.batch.day import Day
from engine.batch.options import BatchProgress, ProgressCallback
from engine.batch.types import ChunkReport, HouseholdOutcome
from engine.errors import EngineError, StoreError
from engine.model import Household, Proposal

if TYPE_CHECKING:
    from engine.store import Store


log = logging.getLogger("engine.batch")


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
