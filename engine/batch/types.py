"""Value types of a batch run: executors, per-household outcomes, chunk reports and the batch result.

    result = run_batch(households, as_of, BatchOptions(Executor.PROCESSES))
    print(result.households_per_second, [(o.household, o.error_type) for o in result.failed])

Workers send their reports back as explicit records of plain values (``engine.batch.wire``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING

from engine.model import Proposal

if TYPE_CHECKING:
    from engine.batch.execute import ExecutionOutcome
    from engine.goals import Mandate

__all__ = [
    "BatchResult",
    "ChunkReport",
    "Executor",
    "HouseholdOutcome",
    "KeptMandate",
    "OutcomeStatus",
    "WorkerMemory",
]


class Executor(StrEnum):
    """Where the households are planned."""

    INLINE = "inline"  # this process, one after another (tests, debugging)
    PROCESSES = "processes"  # a local process pool (the default)
    DASK = "dask"  # a Dask cluster: ROBO_DASK_SCHEDULER's address, or a LocalCluster on this machine


class OutcomeStatus(StrEnum):
    """What became of one household."""

    PLANNED = "planned"  # a proposal exists
    FAILED = "failed"  # an EngineError for this household (infeasible, data gap, planning, broker)
    ERROR = "error"  # an unexpected exception for this household (a bug: report it)


@dataclass(frozen=True, slots=True)
class KeptMandate:
    """A household's mandate with the fingerprint of the household facts it was built from.

    A later batch reuses it (``BatchOptions(mandates=..., mandate_max_age_days=N)``) while the fingerprint
    (goals, events, members, accounts, tax, values, risk, savings and expenses) is unchanged and the
    mandate is at most N days old — the goal Monte Carlo and DP then do not run for that household.
    """

    fingerprint: str
    mandate: Mandate


@dataclass(frozen=True, slots=True)
class HouseholdOutcome:
    """One household's result: its proposal, or the error's type and message; ``seconds`` of wall time.

    ``mandate`` is the mandate the plan used (new or reused), to keep for the next batch.
    """

    household: str
    status: OutcomeStatus
    proposal: Proposal | None
    error_type: str | None
    error: str | None
    seconds: float
    mandate: KeptMandate | None = None

    @property
    def ok(self) -> bool:
        """True when a proposal was planned."""
        return self.status is OutcomeStatus.PLANNED

    def summary(self) -> dict[str, object]:
        """A JSON-able line for the run record (no proposal body: that is stored on its own)."""
        row: dict[str, object] = {"status": self.status.value, "seconds": round(self.seconds, 4)}
        if self.proposal is not None:
            row["proposal"] = self.proposal.id
            row["orders"] = len(self.proposal.orders)
        if self.error_type is not None:
            row["error_type"] = self.error_type
            row["error"] = self.error
        return row


@dataclass(frozen=True, slots=True)
class ChunkReport:
    """What a worker sends back for one chunk: outcomes, its id, seconds, memory (bytes), compiles so far.

    ``cpu_seconds`` is the CPU time of the thread that planned the chunk (what the machine's load does not inflate).
    ``reused`` names the households whose outcome left out the kept mandate it was given and reused: the
    caller sent it and still holds it, so it does not travel back (see ``run.py``).
    """

    outcomes: tuple[HouseholdOutcome, ...]
    worker: str
    seconds: float
    rss_bytes: int
    peak_rss_bytes: int
    compiled: int
    compile_seconds: float
    cpu_seconds: float = 0.0
    reused: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WorkerMemory:
    """A worker's resident memory (bytes) after its first and last chunk, its peak, and shapes compiled."""

    first_rss: int
    last_rss: int
    peak_rss: int
    chunks: int
    compiled: int


@dataclass(frozen=True, slots=True)
class BatchResult:
    """The batch: one outcome per household (input order), wall seconds, workers' memory, the run id.

    ``cpu_seconds`` is the planning CPU time summed over the workers' planning threads; ``executions`` (by
    household id) and ``execute_seconds`` are filled when the batch executed. With a store, proposals are saved
    while the workers plan: ``seconds`` (and households/s) then covers planning and saving, ``save_seconds`` is
    the part this process spent saving.
    """

    as_of: date
    executor: Executor
    workers: int
    outcomes: tuple[HouseholdOutcome, ...]
    seconds: float
    setup_seconds: float
    memory: Mapping[str, WorkerMemory] = field(default_factory=dict)
    run_id: str | None = None
    cpu_seconds: float = 0.0
    executions: Mapping[str, ExecutionOutcome] = field(default_factory=dict)
    execute_seconds: float = 0.0
    save_seconds: float = 0.0

    @property
    def planned(self) -> list[HouseholdOutcome]:
        """Outcomes with a proposal."""
        return [o for o in self.outcomes if o.ok]

    @property
    def failed(self) -> list[HouseholdOutcome]:
        """Outcomes without a proposal (FAILED and ERROR)."""
        return [o for o in self.outcomes if not o.ok]

    @property
    def proposals(self) -> dict[str, Proposal]:
        """Proposals by household id."""
        return {o.household: o.proposal for o in self.outcomes if o.proposal is not None}

    @property
    def mandates(self) -> dict[str, KeptMandate]:
        """The mandates used, by household id: pass them to the next ``BatchOptions(mandates=...)``."""
        return {o.household: o.mandate for o in self.outcomes if o.mandate is not None}

    @property
    def households_per_second(self) -> float:
        """Households finished per second of batch wall time (setup excluded: see ``setup_seconds``)."""
        return len(self.outcomes) / self.seconds if self.seconds > 0 else float("inf")

    @property
    def peak_rss(self) -> int:
        """The largest peak resident memory of any worker, bytes."""
        return max((m.peak_rss for m in self.memory.values()), default=0)

    def summary(self) -> dict[str, object]:
        """A JSON-able summary: counts, rates, memory, and one line per household."""
        counts = {s.value: sum(1 for o in self.outcomes if o.status is s) for s in OutcomeStatus}
        out: dict[str, object] = {
            "as_of": self.as_of.isoformat(),
            "executor": self.executor.value,
            "workers": self.workers,
            "households": len(self.outcomes),
            "counts": counts,
            "seconds": round(self.seconds, 3),
            "setup_seconds": round(self.setup_seconds, 3),
            "save_seconds": round(self.save_seconds, 3),
            "households_per_second": round(self.households_per_second, 2),
            "cpu_ms_per_household": round(self.cpu_seconds / max(len(self.outcomes), 1) * 1e3, 2),
            "peak_rss_bytes": self.peak_rss,
            "results": {o.household: self._line(o) for o in self.outcomes},
        }
        if self.executions:
            out["executions"] = {s: sum(1 for e in self.executions.values() if e.status == s)
                                 for s in sorted({e.status.value for e in self.executions.values()})}
            out["execute_seconds"] = round(self.execute_seconds, 3)
        return out

    def _line(self, outcome: HouseholdOutcome) -> dict[str, object]:
        line = outcome.summary()
        execution = self.executions.get(outcome.household)
        if execution is not None:
            line["execution"] = execution.summary()
        return line
