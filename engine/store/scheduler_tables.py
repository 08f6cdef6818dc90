"""The scheduler's tables: job runs (the idempotency keys), pauses, wake-ups and alerts.

    from engine.store.scheduler_tables import JobRunRow
    JobRunRow.__table__.c.job, JobRunRow.__table__.c.trading_day      # unique with household_id and ref

Registered on the store's one ``Base`` (imported at the end of ``engine/store/tables.py``); created by
migration ``0002``. The unique constraint on ``(job, household_id, trading_day, ref)`` is what makes a
job cycle run at most once across processes and restarts.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.tables import Base

__all__ = [
    "APSCHEDULER_TABLE",
    "JobRunRow",
    "SchedulerAlertRow",
    "SchedulerPauseRow",
    "SchedulerWakeupRow",
    "include_object",
]

APSCHEDULER_TABLE = "scheduler_apscheduler_jobs"
"""APScheduler's own job-store table: created and owned by APScheduler, not by the store's migrations."""


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic's ``include_object`` hook: leave APScheduler's job-store table (and its indexes) out of autogenerate.

    APScheduler creates ``scheduler_apscheduler_jobs`` itself on the store's database; without this filter an
    autogenerate would propose to drop it. Everything else is compared as usual.
    """
    if type_ == "table":
        return name != APSCHEDULER_TABLE
    table = getattr(obj, "table", None)
    return getattr(table, "name", None) != APSCHEDULER_TABLE


class JobRunRow(Base):
    """One run of a scheduled job for one household (``"*"`` for market-wide jobs) on one trading day.

    ``status`` is a ``JobRunStatus``; ``heartbeat_at`` proves the owner is alive; ``produced`` holds
    the proposal ids, client order ids and notes the run produced (JSON).
    """

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "household_id", "trading_day", "ref"),)

    id: Mapped[str] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(40))
    household_id: Mapped[str] = mapped_column(index=True)
    trading_day: Mapped[date] = mapped_column(index=True)
    ref: Mapped[str]
    status: Mapped[str] = mapped_column(String(20), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    takeovers: Mapped[int] = mapped_column(Integer)
    owner: Mapped[str]
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    produced: Mapped[Any | None]


class SchedulerPauseRow(Base):
    """A paused household: the scheduler runs no job for it until resumed."""

    __tablename__ = "scheduler_pauses"

    household_id: Mapped[str] = mapped_column(primary_key=True)
    paused_at: Mapped[datetime]
    actor: Mapped[str]
    reason: Mapped[str] = mapped_column(Text)


class SchedulerWakeupRow(Base):
    """A request to run a household's cycle soon (life event, large deposit, API call); one per ``ref``."""

    __tablename__ = "scheduler_wakeups"
    __table_args__ = (UniqueConstraint("household_id", "ref"),)

    id: Mapped[str] = mapped_column(primary_key=True)
    household_id: Mapped[str] = mapped_column(index=True)
    reason: Mapped[str]
    ref: Mapped[str]
    created_at: Mapped[datetime]
    consumed_at: Mapped[datetime | None]
    run_id: Mapped[str | None]


class SchedulerAlertRow(Base):
    """An alert for a human: a job gave up on a household after repeated failures."""

    __tablename__ = "scheduler_alerts"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    job: Mapped[str]
    household_id: Mapped[str] = mapped_column(index=True)
    trading_day: Mapped[date]
    run_id: Mapped[str]
    attempts: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
