"""The scheduler's repository: job runs claimed by idempotency key, heartbeats, pauses, wake-ups and alerts.

    claim = store.job_runs.claim(job="drift_check", household="rivera", trading_day=day, owner=me, now=now)
    if claim: ...; store.job_runs.succeed(claim.run.id, owner=me, now=later, produced={...})

A run's key is ``(job, household, trading_day, ref)`` under a unique constraint: ``claim`` inserts the row or,
when the key exists, takes it over only by one compare-and-set UPDATE (a ``running`` row whose heartbeat is
older than ``stale_after``, or a ``failed`` row whose back-off has passed). Every later write is fenced by
``owner``: a worker that lost its claim learns it from a ``False`` instead of overwriting the new owner.
"""

from __future__ import annotations

import builtins
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, case, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import ValidationError
from engine.store.base import SYSTEM, Repository, changed, normalized
from engine.store.mapping import RowMapper
from engine.store.scheduler_tables import JobRunRow, SchedulerAlertRow, SchedulerPauseRow, SchedulerWakeupRow

__all__ = [
    "ALL_HOUSEHOLDS",
    "Claim",
    "JobRun",
    "JobRunRepository",
    "JobRunStatus",
    "Pause",
    "SchedulerAlert",
    "Wakeup",
]

ALL_HOUSEHOLDS = "*"
"""The household of market-wide jobs (market data, estimates, approval expiry)."""


class JobRunStatus(StrEnum):
    """Life cycle of a job run: running → succeeded, or failed (retried after a back-off, then gave up)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    GAVE_UP = "gave_up"


@dataclass(frozen=True, slots=True)
class JobRun:
    """One stored job run; instants are aware UTC, ``produced`` is what the run made (JSON)."""

    id: str
    job: str
    household: str
    trading_day: date
    ref: str
    status: JobRunStatus
    attempt: int
    takeovers: int
    owner: str
    started: datetime
    heartbeat: datetime
    finished: datetime | None
    next_attempt: datetime | None
    error: str | None
    produced: Any

    @property
    def key(self) -> str:
        """The idempotency key as text: ``job/household/YYYY-MM-DD[/ref]``."""
        base = f"{self.job}/{self.household}/{self.trading_day.isoformat()}"
        return f"{base}/{self.ref}" if self.ref else base


@dataclass(frozen=True, slots=True)
class Claim:
    """A run this worker now owns; ``resumed`` when an earlier attempt existed (takeover or retry)."""

    run: JobRun
    resumed: bool
    took_over_from: str | None = None


@dataclass(frozen=True, slots=True)
class Pause:
    """A paused household: who paused it, when (aware UTC) and why."""

    household: str
    at: datetime
    actor: str
    reason: str


@dataclass(frozen=True, slots=True)
class Wakeup:
    """A request to run a household's cycle soon; ``ref`` is unique per household (event id, deposit id)."""

    id: str
    household: str
    reason: str
    ref: str
    created: datetime
    consumed: datetime | None
    run_id: str | None


@dataclass(frozen=True, slots=True)
class SchedulerAlert:
    """An alert for a human: ``job`` gave up on ``household`` for ``trading_day`` after ``attempts`` failures."""

    seq: int
    at: datetime
    job: str
    household: str
    trading_day: date
    run_id: str
    attempts: int
    message: str


def _insert_if_new(session: Session, row: Any) -> bool:
    """Insert ``row`` under a savepoint; False (and nothing written) when a unique key already holds it."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        if row in session:
            session.expunge(row)
        return False
    return True


#: Job runs, pauses, wake-ups and alerts ↔ their rows (engine/store/mapping.py).
JOB_RUNS: RowMapper[JobRun] = RowMapper(JobRun, JobRunRow, renames={
    "household": "household_id", "started": "started_at", "heartbeat": "heartbeat_at", "finished": "finished_at",
    "next_attempt": "next_attempt_at"})
PAUSES: RowMapper[Pause] = RowMapper(Pause, SchedulerPauseRow, renames={"household": "household_id", "at": "paused_at"})
WAKEUPS: RowMapper[Wakeup] = RowMapper(Wakeup, SchedulerWakeupRow, renames={
    "household": "household_id", "created": "created_at", "consumed": "consumed_at"})
ALERTS: RowMapper[SchedulerAlert] = RowMapper(SchedulerAlert, SchedulerAlertRow, renames={"household": "household_id"},
                                              generated=("seq",))


def _run(r: JobRunRow) -> JobRun:
    return JOB_RUNS.to_domain(r)


def _wakeup(r: SchedulerWakeupRow) -> Wakeup:
    return WAKEUPS.to_domain(r)


def _need(value: str, name: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("must be a non-empty string", field=f"job_runs.{name}", value=value)


class JobRunRepository(Repository):
    """Job runs, pauses, wake-ups and alerts (``store.job_runs``); each method is one transaction."""

    # ------------------------------------------------------------------------------------------
    # Claiming and finishing runs
    # ------------------------------------------------------------------------------------------

    def claim(
        self,
        *,
        job: str,
        household: str,
        trading_day: date,
        owner: str,
        now: datetime,
        ref: str = "",
        stale_after: timedelta = timedelta(minutes=10),
        max_attempts: int = 3,
    ) -> Claim | None:
        """Own the run of this key, or None when it is done, owned by a live worker, or waiting to retry.

        A new key is inserted (``running``, attempt 1). An existing key is taken over by one atomic UPDATE
        when it is ``running`` with a heartbeat older than ``now - stale_after`` (a dead worker) or
        ``failed`` with ``next_attempt_at <= now`` and fewer than ``max_attempts`` attempts.
        """
        for value, name in ((job, "job"), (household, "household"), (owner, "owner")):
            _need(value, name)
        with self._tx() as session:
            row = JobRunRow(**JOB_RUNS.values(JobRun(
                id=uuid.uuid4().hex, job=job, household=household, trading_day=trading_day, ref=ref,
                status=JobRunStatus.RUNNING, attempt=1, takeovers=0, owner=owner, started=now, heartbeat=now,
                finished=None, next_attempt=None, error=None, produced=None)))
            if _insert_if_new(session, row):
                return Claim(_run(row), resumed=False)
            key = and_(
                JobRunRow.job == job,
                JobRunRow.household_id == household,
                JobRunRow.trading_day == trading_day,
                JobRunRow.ref == ref,
            )
            before = session.execute(select(JobRunRow.owner, JobRunRow.status).where(key)).one_or_none()
            stale = and_(JobRunRow.status == JobRunStatus.RUNNING.value, JobRunRow.heartbeat_at < now - stale_after)
            retry = and_(
                JobRunRow.status == JobRunStatus.FAILED.value,
                JobRunRow.attempt < max_attempts,
                JobRunRow.next_attempt_at <= now,
            )
            was_running = case((JobRunRow.status == JobRunStatus.RUNNING.value, 1), else_=0)
            taken = session.execute(
                update(JobRunRow)
                .where(key, or_(stale, retry))
                .values(
                    status=JobRunStatus.RUNNING.value,
                    owner=owner,
                    attempt=JobRunRow.attempt + 1,
                    takeovers=JobRunRow.takeovers + was_running,
                    started_at=now,
                    heartbeat_at=now,
                    finished_at=None,
                    next_attempt_at=None,
                )
                .returning(JobRunRow.id)
                .execution_options(synchronize_session=False)
            ).scalar_one_or_none()
            if taken is None:
                return None
            fresh = session.execute(
                select(JobRunRow).where(JobRunRow.id == taken).execution_options(populate_existing=True)
            ).scalar_one()
            previous = before[0] if before is not None and before[1] == JobRunStatus.RUNNING.value else None
            return Claim(_run(fresh), resumed=True, took_over_from=previous)

    def heartbeat(self, run_id: str, *, owner: str, now: datetime) -> bool:
        """Prove ``owner`` still runs ``run_id``; False when the claim was lost (another worker took over)."""
        return self._fenced(run_id, owner, heartbeat_at=now)

    def succeed(self, run_id: str, *, owner: str, now: datetime, produced: Any = None) -> bool:
        """Mark the run succeeded with what it ``produced`` (JSON); False when ``owner`` lost the claim."""
        return self._fenced(
            run_id,
            owner,
            status=JobRunStatus.SUCCEEDED.value,
            finished_at=now,
            heartbeat_at=now,
            produced=normalized(produced),
            error=None,
        )

    def fail(
        self,
        run_id: str,
        *,
        owner: str,
        now: datetime,
        error: str,
        retry_at: datetime | None,
        produced: Any = None,
    ) -> bool:
        """Mark the run failed; retried after ``retry_at``, or ``gave_up`` when it is None. Fenced by ``owner``."""
        return self._fenced(
            run_id,
            owner,
            status=(JobRunStatus.FAILED if retry_at is not None else JobRunStatus.GAVE_UP).value,
            finished_at=now,
            heartbeat_at=now,
            next_attempt_at=retry_at,
            error=error[:4000],
            produced=normalized(produced),
        )

    def _fenced(self, run_id: str, owner: str, **values: Any) -> bool:
        with self._tx() as session:
            result = session.execute(
                update(JobRunRow)
                .where(
                    JobRunRow.id == run_id,
                    JobRunRow.owner == owner,
                    JobRunRow.status == JobRunStatus.RUNNING.value,
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            return bool(changed(result))

    # ------------------------------------------------------------------------------------------
    # Reading runs
    # ------------------------------------------------------------------------------------------

    def get(self, run_id: str) -> JobRun | None:
        """The run with this id, or None."""
        with self._tx() as session:
            row = session.get(JobRunRow, run_id)
            return _run(row) if row is not None else None

    def find(self, job: str, household: str, trading_day: date, ref: str = "") -> JobRun | None:
        """The run of this key, or None when it never started."""
        with self._tx() as session:
            row = session.execute(
                select(JobRunRow).where(
                    JobRunRow.job == job,
                    JobRunRow.household_id == household,
                    JobRunRow.trading_day == trading_day,
                    JobRunRow.ref == ref,
                )
            ).scalar_one_or_none()
            return _run(row) if row is not None else None

    def list(
        self,
        *,
        job: str | None = None,
        household: str | None = None,
        trading_day: date | None = None,
        status: JobRunStatus | None = None,
        limit: int | None = None,
    ) -> builtins.list[JobRun]:
        """Runs, newest start first, filtered by any of job, household, trading day and status."""
        stmt = select(JobRunRow).order_by(JobRunRow.started_at.desc(), JobRunRow.id)
        if job is not None:
            stmt = stmt.where(JobRunRow.job == job)
        if household is not None:
            stmt = stmt.where(JobRunRow.household_id == household)
        if trading_day is not None:
            stmt = stmt.where(JobRunRow.trading_day == trading_day)
        if status is not None:
            stmt = stmt.where(JobRunRow.status == JobRunStatus(status).value)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._tx() as session:
            return [_run(r) for r in session.execute(stmt).scalars()]

    def needing_attention(self, *, now: datetime, stale_after: timedelta) -> builtins.list[JobRun]:
        """Runs another worker may claim now: stale ``running`` ones and ``failed`` ones whose back-off passed."""
        stmt = select(JobRunRow).where(
            or_(
                and_(JobRunRow.status == JobRunStatus.RUNNING.value, JobRunRow.heartbeat_at < now - stale_after),
                and_(JobRunRow.status == JobRunStatus.FAILED.value, JobRunRow.next_attempt_at <= now),
            )
        )
        with self._tx() as session:
            return [_run(r) for r in session.execute(stmt.order_by(JobRunRow.started_at)).scalars()]

    # ------------------------------------------------------------------------------------------
    # Pauses
    # ------------------------------------------------------------------------------------------

    def pause(self, household: str, *, now: datetime, actor: str = SYSTEM, reason: str = "") -> bool:
        """Pause the household's jobs (audited); False when it was already paused."""
        _need(household, "household")
        with self._tx() as session:
            if session.get(SchedulerPauseRow, household) is not None:
                return False
            session.add(SchedulerPauseRow(**PAUSES.values(Pause(household, now, actor, reason))))
            self._record(
                session,
                actor=actor,
                action="scheduler.pause",
                entity="household",
                entity_id=household,
                household=household,
                after={"reason": reason},
            )
            return True

    def resume(self, household: str, *, actor: str = SYSTEM) -> bool:
        """Resume the household's jobs (audited); False when it was not paused."""
        with self._tx() as session:
            gone = changed(session.execute(
                delete(SchedulerPauseRow)
                .where(SchedulerPauseRow.household_id == household)
                .execution_options(synchronize_session=False)
            ))
            if gone:
                self._record(
                    session,
                    actor=actor,
                    action="scheduler.resume",
                    entity="household",
                    entity_id=household,
                    household=household,
                )
            return bool(gone)

    def paused(self) -> dict[str, Pause]:
        """Every paused household by id."""
        with self._tx() as session:
            rows = session.execute(select(SchedulerPauseRow)).scalars()
            return {r.household_id: PAUSES.to_domain(r) for r in rows}

    # ------------------------------------------------------------------------------------------
    # Wake-ups
    # ------------------------------------------------------------------------------------------

    def wake(self, household: str, *, reason: str, ref: str, now: datetime) -> Wakeup:
        """Ask for the household's cycle to run soon; idempotent per ``(household, ref)`` (returns the first)."""
        for value, name in ((household, "household"), (reason, "reason"), (ref, "ref")):
            _need(value, name)
        with self._tx() as session:
            wakeup = Wakeup(uuid.uuid4().hex, household, reason, ref, now, None, None)
            row = SchedulerWakeupRow(**WAKEUPS.values(wakeup))
            if not _insert_if_new(session, row):
                row = session.execute(
                    select(SchedulerWakeupRow).where(
                        SchedulerWakeupRow.household_id == household, SchedulerWakeupRow.ref == ref
                    )
                ).scalar_one()
            return _wakeup(row)

    def wakeups(self, *, pending: bool = True) -> builtins.list[Wakeup]:
        """Wake-ups, oldest first; only the ones not yet consumed when ``pending``."""
        stmt = select(SchedulerWakeupRow).order_by(SchedulerWakeupRow.created_at, SchedulerWakeupRow.id)
        if pending:
            stmt = stmt.where(SchedulerWakeupRow.consumed_at.is_(None))
        with self._tx() as session:
            return [_wakeup(r) for r in session.execute(stmt).scalars()]

    def consume_wakeup(self, wakeup_id: str, *, run_id: str, now: datetime) -> bool:
        """Mark the wake-up answered by ``run_id``; False when it was already consumed."""
        with self._tx() as session:
            result = session.execute(
                update(SchedulerWakeupRow)
                .where(SchedulerWakeupRow.id == wakeup_id, SchedulerWakeupRow.consumed_at.is_(None))
                .values(consumed_at=now, run_id=run_id)
                .execution_options(synchronize_session=False)
            )
            return bool(changed(result))

    # ------------------------------------------------------------------------------------------
    # Alerts
    # ------------------------------------------------------------------------------------------

    def alert(self, run: JobRun, *, now: datetime, message: str) -> SchedulerAlert:
        """Record that ``run``'s job gave up on its household (audited)."""
        with self._tx() as session:
            return self._alert(session, run, now=now, message=message)

    def give_up(self, run: JobRun, *, now: datetime, message: str) -> SchedulerAlert | None:
        """Move a ``failed`` run nobody will retry (its day is over) to ``gave_up`` and alert, in one transaction.

        A compare-and-set on ``(status, attempt)``: of several workers seeing the same run, one gives up and
        alerts; the others (and a worker that retried it meanwhile) get None.
        """
        with self._tx() as session:
            taken = changed(session.execute(
                update(JobRunRow)
                .where(
                    JobRunRow.id == run.id,
                    JobRunRow.status == JobRunStatus.FAILED.value,
                    JobRunRow.attempt == run.attempt,
                )
                .values(status=JobRunStatus.GAVE_UP.value, next_attempt_at=None)
                .execution_options(synchronize_session=False)
            ))
            if not taken:
                return None
            return self._alert(session, run, now=now, message=message)

    def _alert(self, session: Any, run: JobRun, *, now: datetime, message: str) -> SchedulerAlert:
        row = SchedulerAlertRow(**ALERTS.values(
            SchedulerAlert(0, now, run.job, run.household, run.trading_day, run.id, run.attempt, message)))
        session.add(row)
        session.flush()
        self._record(
            session,
            actor=SYSTEM,
            action="scheduler.alert",
            entity="job_run",
            entity_id=run.id,
            household=None if run.household == ALL_HOUSEHOLDS else run.household,
            after={"job": run.job, "attempts": run.attempt, "message": message},
        )
        return ALERTS.to_domain(row)

    def alerts(self, *, household: str | None = None, limit: int | None = None) -> builtins.list[SchedulerAlert]:
        """Alerts, newest first."""
        stmt = select(SchedulerAlertRow).order_by(SchedulerAlertRow.seq.desc())
        if household is not None:
            stmt = stmt.where(SchedulerAlertRow.household_id == household)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._tx() as session:
            return [ALERTS.to_domain(r) for r in session.execute(stmt).scalars()]
