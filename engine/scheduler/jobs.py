"""Job kinds and when each is due on the XNYS calendar (weekends and holidays skipped, half days respected).

    due_at(JobKind.MARKET_DATA, schedule, date(2024, 11, 29), zone)   # 13:30 New York: the close was 13:00
    trading_day_of(now, zone)                                         # the New York date, if a session day
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from engine.data.calendar import is_trading_day, next_trading_day, session_close

if TYPE_CHECKING:
    from engine.scheduler.config import JobSchedule

__all__ = [
    "HOUSEHOLD_JOBS",
    "MARKET_JOBS",
    "POLLED_JOBS",
    "SCHEDULED_JOBS",
    "DueJob",
    "JobKind",
    "due_at",
    "due_window",
    "next_due",
    "trading_day_of",
]


class JobKind(StrEnum):
    """The scheduler's jobs; market-wide ones run once per day, the others once per household per day.

    ``REACT`` runs once per wake-up and ``EXECUTE_APPROVED`` once per approved proposal (the key's ``ref``).
    """

    MARKET_DATA = "market_data"
    ESTIMATES = "estimates"
    ACCOUNT_SYNC = "account_sync"
    HARVEST_SCAN = "harvest_scan"
    DRIFT_CHECK = "drift_check"
    APPROVAL_EXPIRY = "approval_expiry"
    REACT = "react"
    EXECUTE_APPROVED = "execute_approved"

    @property
    def per_household(self) -> bool:
        """True when the job runs once for each (unpaused) household."""
        return self in HOUSEHOLD_JOBS


MARKET_JOBS = frozenset({JobKind.MARKET_DATA, JobKind.ESTIMATES, JobKind.APPROVAL_EXPIRY})
HOUSEHOLD_JOBS = frozenset(
    {JobKind.ACCOUNT_SYNC, JobKind.HARVEST_SCAN, JobKind.DRIFT_CHECK, JobKind.REACT, JobKind.EXECUTE_APPROVED}
)
POLLED_JOBS = frozenset({JobKind.REACT, JobKind.EXECUTE_APPROVED})
"""Run at each poll in market hours (wake-ups, approved proposals), not at a time of day."""
SCHEDULED_JOBS = frozenset(JobKind) - POLLED_JOBS


@dataclass(frozen=True, slots=True)
class DueJob:
    """A job due on ``trading_day`` at ``due`` (aware UTC), startable until ``until``."""

    job: JobKind
    trading_day: date
    due: datetime
    until: datetime


def trading_day_of(now: datetime, zone: ZoneInfo) -> date | None:
    """The local date of ``now`` in ``zone`` when the NYSE holds a session that day, else None."""
    local = now.astimezone(zone).date()
    return local if is_trading_day(local) else None


def due_at(schedule: JobSchedule, day: date, zone: ZoneInfo) -> datetime:
    """When the job is due on trading day ``day`` (aware UTC); close-relative times follow early closes."""
    wall = schedule.wall_time
    if wall is not None:
        return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)
    close = session_close(day)
    if schedule.after_close_minutes is not None:
        return close + timedelta(minutes=schedule.after_close_minutes)
    assert schedule.before_close_minutes is not None  # the schema allows exactly one of the three
    return close - timedelta(minutes=schedule.before_close_minutes)


def due_window(job: JobKind, schedule: JobSchedule, day: date, zone: ZoneInfo) -> DueJob:
    """The job's due instant on ``day`` and the end of its misfire grace."""
    due = due_at(schedule, day, zone)
    return DueJob(job, day, due, due + schedule.grace)


def next_due(job: JobKind, schedule: JobSchedule, now: datetime, zone: ZoneInfo) -> DueJob:
    """The first due time of ``job`` at or after ``now`` (skipping weekends and holidays)."""
    day = now.astimezone(zone).date()
    if not is_trading_day(day):
        day = next_trading_day(day)
    window = due_window(job, schedule, day, zone)
    if window.due < now:
        window = due_window(job, schedule, next_trading_day(day), zone)
    return window
