"""The scheduler's configuration: ``config/scheduler.yaml``, validated (unknown keys and bad times are errors).

    cfg = load_scheduler_config()                 # the shipped defaults (or ROBO_CONFIG_DIR/scheduler.yaml)
    cfg.jobs[JobKind.MARKET_DATA].after_close_minutes   # 30
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.config.loader import default_file, load_yaml
from engine.scheduler.jobs import SCHEDULED_JOBS, JobKind

__all__ = ["JobSchedule", "SchedulerConfig", "load_scheduler_config"]

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
PositiveMinutes = Annotated[int, Field(ge=1, le=24 * 60)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JobSchedule(_Strict):
    """When one job is due on a trading day: exactly one of ``at`` (HH:MM), minutes after or before the close."""

    at: str | None = None
    after_close_minutes: Annotated[int, Field(ge=0, le=8 * 60)] | None = None
    before_close_minutes: Annotated[int, Field(ge=0, le=6 * 60)] | None = None
    misfire_grace_minutes: PositiveMinutes = 60
    enabled: bool = True

    @field_validator("at")
    @classmethod
    def _hhmm(cls, v: str | None) -> str | None:
        if v is not None and not _HHMM.match(v):
            raise ValueError("write the time as HH:MM (24 h, New York time), e.g. '09:00'")
        return v

    @model_validator(mode="after")
    def _exactly_one(self) -> JobSchedule:
        given = [n for n in ("at", "after_close_minutes", "before_close_minutes") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of at, after_close_minutes, before_close_minutes (got {', '.join(given) or 'none'})"
            )
        return self

    @property
    def wall_time(self) -> time | None:
        """``at`` as a ``time`` (None for close-relative jobs)."""
        if self.at is None:
            return None
        hh, mm = self.at.split(":")
        return time(int(hh), int(mm))

    @property
    def grace(self) -> timedelta:
        """How late the job may still start."""
        return timedelta(minutes=self.misfire_grace_minutes)


class SchedulerConfig(_Strict):
    """Everything ``robo schedule run`` needs besides the store and the broker (see scheduler.yaml)."""

    timezone: str = "America/New_York"
    jobs: dict[JobKind, JobSchedule] = Field(default_factory=dict)
    poll_minutes: PositiveMinutes = 2
    event_lookback_days: Annotated[int, Field(ge=0, le=366)] = 7
    large_deposit: Annotated[Decimal, Field(ge=0)] = Decimal(5000)
    approval_expiry_days: Annotated[int, Field(ge=1, le=366)] = 5
    heartbeat_seconds: Annotated[int, Field(ge=1, le=3600)] = 30
    stale_after_minutes: PositiveMinutes = 10
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 3
    backoff_minutes: PositiveMinutes = 5

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}; use an IANA name like America/New_York") from exc
        return v

    @field_validator("jobs")
    @classmethod
    def _only_scheduled(cls, v: dict[JobKind, JobSchedule]) -> dict[JobKind, JobSchedule]:
        for kind in v:
            if kind not in SCHEDULED_JOBS:
                raise ValueError(f"{kind.value} is not scheduled by time (it runs at each poll in market hours)")
        return v

    @model_validator(mode="after")
    def _stale_after_heartbeats(self) -> SchedulerConfig:
        if self.stale_after_minutes * 60 < 3 * self.heartbeat_seconds:
            raise ValueError("stale_after_minutes must cover at least three heartbeats, or live runs get taken over")
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The wall-clock zone of ``at`` times and cron triggers."""
        return ZoneInfo(self.timezone)

    @property
    def stale_after(self) -> timedelta:
        return timedelta(minutes=self.stale_after_minutes)

    def backoff(self, attempt: int) -> timedelta:
        """Wait before attempt ``attempt + 1``: backoff_minutes × 2^(attempt − 1)."""
        return timedelta(minutes=self.backoff_minutes * 2 ** max(attempt - 1, 0))

    def enabled_jobs(self) -> dict[JobKind, JobSchedule]:
        """The time-scheduled jobs that are switched on."""
        return {k: s for k, s in self.jobs.items() if s.enabled}


def load_scheduler_config(path: str | Path | None = None) -> SchedulerConfig:
    """``path`` or ``config/scheduler.yaml`` (ROBO_CONFIG_DIR first), validated.

    Raises:
        ConfigError: unknown keys, bad times, two schedules for one job (names file and field).
    """
    return load_yaml(path if path is not None else default_file("scheduler.yaml"), SchedulerConfig)
