"""What a job does, behind one small protocol, so the exactly-once machinery does not depend on the engine.

    class MyRunner:
        def run(self, ctx: JobContext) -> JobOutcome: ...      # ctx.heartbeat() before each side effect

The scheduler claims a key, builds a ``JobContext`` (with a deterministic ``proposal_id``) and calls
``run``. A runner that submits orders MUST derive them from ``ctx.proposal_id`` and, when
``ctx.resumed``, look each ``client_order_id`` up at the broker before submitting it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable

from engine.errors import Conflict
from engine.scheduler.jobs import JobKind

__all__ = ["CycleRunner", "JobContext", "JobOutcome", "LostClaim", "cycle_proposal_id"]


class LostClaim(Conflict):
    """Another worker took this run over (this one looked dead); stop before any further side effect."""


def cycle_proposal_id(job: JobKind, household: str, day: date, ref: str = "") -> str:
    """The deterministic proposal id of a run: the same key always re-derives the same id (and order ids).

    The drift check's cycle is ``cycle-<household>-<YYYYMMDD>``; a reaction adds a short hash of its ``ref``
    (each life event or deposit gets its own cycle); executing an approved proposal keeps that proposal's id
    (the key's ``ref``); other jobs ``<job>-<household>-<YYYYMMDD>``. Orders
    are ``<proposal_id>-<index:03d>``.
    """
    if job is JobKind.EXECUTE_APPROVED:
        return ref  # the approved proposal being executed (its orders keep their client order ids)
    if job is JobKind.REACT:
        return f"react-{household}-{day:%Y%m%d}-{hashlib.sha256(ref.encode()).hexdigest()[:8]}"
    prefix = "cycle" if job is JobKind.DRIFT_CHECK else job.value
    return f"{prefix}-{household}-{day:%Y%m%d}"


@dataclass(frozen=True, slots=True)
class JobContext:
    """One claimed run: its key, attempt, deterministic proposal id and the clock's time at the claim.

    ``household`` is None for market-wide jobs. ``resumed`` is True when an earlier attempt of the same
    key existed (a take-over of a dead worker or a retry): orders may already be at the broker.
    """

    job: JobKind
    household: str | None
    trading_day: date
    run_id: str
    attempt: int
    resumed: bool
    proposal_id: str
    now: datetime
    ref: str = ""
    reason: str = ""
    beat: Callable[[], None] = field(default=lambda: None, repr=False, compare=False)

    def heartbeat(self) -> None:
        """Prove this worker still owns the run; raises ``LostClaim`` if another took it over."""
        self.beat()


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """What a run produced: proposal ids, client order ids, fills booked, notes and wake-ups to raise.

    ``wake`` holds ``(reason, ref)`` pairs: e.g. the account sync found a large deposit and asks for the
    household's cycle at the next poll.
    """

    proposal_ids: tuple[str, ...] = ()
    client_order_ids: tuple[str, ...] = ()
    fills: int = 0
    notes: Mapping[str, Any] = field(default_factory=dict)
    wake: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The outcome as the ``produced`` JSON of the run row."""
        return {
            "proposal_ids": list(self.proposal_ids),
            "client_order_ids": list(self.client_order_ids),
            "fills": self.fills,
            "notes": dict(self.notes),
            "wake": [list(w) for w in self.wake],
        }


@runtime_checkable
class CycleRunner(Protocol):
    """Runs one claimed job (every job but approval expiry, which the scheduler does itself)."""

    def run(self, ctx: JobContext) -> JobOutcome: ...
