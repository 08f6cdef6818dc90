"""The service: APScheduler (3.x) fires the jobs of ``config/scheduler.yaml``; the ``Worker`` runs each key once.

    service = SchedulerService(store, runner)            # SystemClock, the shipped scheduler.yaml
    service.run_once()                                   # every job due now, then one poll — for cron and tests
    service.run()                                        # foreground until SIGINT/SIGTERM (graceful)

Choices (see docs/scheduler.md):
- Job store: APScheduler's ``SQLAlchemyJobStore`` on the store's database (table ``scheduler_apscheduler_jobs``),
  so schedules survive restarts. APScheduler 3 does not coordinate schedulers sharing a job store — two
  processes may both fire a job — which is safe because every run is claimed by its unique key first.
- ``coalesce=True``: after an outage several missed fire times collapse into one run; a run covers "today".
- ``misfire_grace_time`` per job from the YAML (e.g. 6 h for market data, 45 min before the close for
  trading jobs, 25 min for the pre-open sync); ``fire`` re-checks the same window on the XNYS calendar.
- ``max_instances=1`` per job and process; a thread pool of 4 lets the poll run beside a long daily job.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.events import EVENT_SCHEDULER_STARTED

from engine.scheduler.clock import Clock, SystemClock
from engine.scheduler.config import JobSchedule, SchedulerConfig, load_scheduler_config
from engine.scheduler.jobs import DueJob, JobKind, due_window, next_due, trading_day_of
from engine.scheduler.runner import CycleRunner
from engine.scheduler.worker import RunResult, Worker
from engine.store.scheduler_tables import APSCHEDULER_TABLE

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler

    from engine.store import Store
    from engine.store.jobs import JobRun, Pause, SchedulerAlert, Wakeup

__all__ = ["APSCHEDULER_TABLE", "ScheduleStatus", "SchedulerService"]

log = logging.getLogger("engine.scheduler")

_JOB_PREFIX = "robo:"
_NORMAL_CLOSE = time(16, 0)
_EARLY_CLOSE = time(13, 0)
_active: SchedulerService | None = None


def _fire(job: str) -> None:
    """APScheduler's entry point (stored by textual reference): fire ``job`` on this process's service."""
    if _active is None:  # pragma: no cover - a job store loaded without a running service
        log.error("no active scheduler service in this process; %s not run", job)
        return
    if job == "poll":
        _active.poll()
    else:
        _active.fire(JobKind(job))


@dataclass(frozen=True, slots=True)
class ScheduleStatus:
    """What ``robo schedule status`` shows: recent runs, the next due time of each job, pauses, alerts."""

    now: datetime
    recent: tuple[JobRun, ...]
    upcoming: tuple[DueJob, ...]
    paused: tuple[Pause, ...]
    alerts: tuple[SchedulerAlert, ...]
    wakeups: tuple[Wakeup, ...]


class SchedulerService:
    """Schedules and runs the jobs; ``run_once`` for cron/tests, ``run`` in the foreground, ``start`` in background."""

    def __init__(
        self,
        store: Store,
        runner: CycleRunner,
        config: SchedulerConfig | None = None,
        *,
        clock: Clock | None = None,
        owner: str | None = None,
        jobstore_url: str | None = None,
    ) -> None:
        self.store = store
        self.config = config if config is not None else load_scheduler_config()
        self.clock = clock or SystemClock()
        self.worker = Worker(store, runner, self.config, clock=self.clock, owner=owner)
        self.jobstore_url = jobstore_url or store.url
        self.stopping = threading.Event()
        self._scheduler: BaseScheduler | None = None

    # ------------------------------------------------------------------------------------------
    # What is due
    # ------------------------------------------------------------------------------------------

    def due(self, now: datetime | None = None) -> list[DueJob]:
        """The jobs whose due time today has passed and whose misfire grace has not (none on non-trading days)."""
        now = now or self.clock.now()
        day = trading_day_of(now, self.config.zone)
        if day is None:
            return []
        windows = (due_window(job, s, day, self.config.zone) for job, s in self.config.enabled_jobs().items())
        return sorted((w for w in windows if w.due <= now <= w.until), key=lambda w: (w.due, w.job.value))

    def upcoming(self, now: datetime | None = None) -> list[DueJob]:
        """The next due time of every enabled job, soonest first."""
        now = now or self.clock.now()
        return sorted(
            (next_due(job, s, now, self.config.zone) for job, s in self.config.enabled_jobs().items()),
            key=lambda w: (w.due, w.job.value),
        )

    # ------------------------------------------------------------------------------------------
    # Running
    # ------------------------------------------------------------------------------------------

    def fire(self, job: JobKind) -> list[RunResult]:
        """Run ``job`` for today if it is inside its window now (APScheduler calls this at the cron times)."""
        now = self.clock.now()
        schedule = self.config.enabled_jobs().get(job)
        day = trading_day_of(now, self.config.zone)
        if schedule is None or day is None:
            log.info("%s: not a trading day or job disabled; nothing to do", job.value, extra={"job": job.value})
            return []
        window = due_window(job, schedule, day, self.config.zone)
        if not window.due <= now <= window.until:
            # the cron fires at both the normal and the half-day time; only one is today's
            log.debug("%s fired at %s outside its window %s–%s", job.value, now, window.due, window.until,
                      extra={"job": job.value})
            return []
        return self._run(job, window)

    def _run(self, job: JobKind, window: DueJob) -> list[RunResult]:
        households = None if not job.per_household else self._households_until_stopped()
        return self.worker.run_job(job, window.trading_day, households=households)

    def _households_until_stopped(self) -> Iterator[str]:
        for household in self.worker.households():
            if self.stopping.is_set():
                log.warning("stopping: remaining households are left for the next run or another worker")
                return
            yield household

    def poll(self) -> list[RunResult]:
        """Reactions to life events and deposits, retries after back-off, take-overs of dead runs."""
        if self.stopping.is_set():
            return []
        return self.worker.poll()

    def run_once(self) -> list[RunResult]:
        """Every job due now, once, then one poll; returns what happened to each key."""
        results: list[RunResult] = []
        for window in self.due():
            results += self._run(window.job, window)
        results += self.poll()
        return results

    # ------------------------------------------------------------------------------------------
    # APScheduler
    # ------------------------------------------------------------------------------------------

    def triggers(self, job: JobKind, schedule: JobSchedule) -> list[Any]:
        """Cron triggers (weekdays, ``config.timezone``) for the job: its time, or the normal and half-day times."""
        from apscheduler.triggers.cron import CronTrigger

        if schedule.wall_time is not None:
            times = [schedule.wall_time]
        else:
            offset = timedelta(
                minutes=schedule.after_close_minutes
                if schedule.after_close_minutes is not None
                else -(schedule.before_close_minutes or 0)
            )
            times = [_shift(_NORMAL_CLOSE, offset), _shift(_EARLY_CLOSE, offset)]
        return [
            CronTrigger(day_of_week="mon-fri", hour=t.hour, minute=t.minute, timezone=self.config.zone) for t in times
        ]

    def build(self, *, blocking: bool) -> BaseScheduler:
        """An APScheduler with the persistent job store and every job of the config (replacing older ones)."""
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.schedulers.blocking import BlockingScheduler
        from apscheduler.triggers.interval import IntervalTrigger

        cls = BlockingScheduler if blocking else BackgroundScheduler
        scheduler = cls(
            jobstores={"default": SQLAlchemyJobStore(url=self.jobstore_url, tablename=APSCHEDULER_TABLE)},
            executors={"default": ThreadPoolExecutor(4)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=self.config.zone,
        )
        wanted: list[tuple[str, Any, str, int]] = []
        for job, schedule in self.config.enabled_jobs().items():
            for i, trigger in enumerate(self.triggers(job, schedule)):
                wanted.append((f"{_JOB_PREFIX}{job.value}:{i}", trigger, job.value, schedule.misfire_grace_minutes))
        poll = IntervalTrigger(minutes=self.config.poll_minutes, timezone=self.config.zone)
        wanted.append((f"{_JOB_PREFIX}poll", poll, "poll", self.config.poll_minutes))
        self._wanted = {w[0] for w in wanted}
        for job_id, trigger, arg, grace_minutes in wanted:
            scheduler.add_job(
                "engine.scheduler.service:_fire",
                trigger=trigger,
                args=[arg],
                id=job_id,
                name=arg,
                replace_existing=True,
                misfire_grace_time=grace_minutes * 60,
                coalesce=True,
                max_instances=1,
            )
        return scheduler

    def start(self) -> BaseScheduler:
        """Start in a background thread (returns the APScheduler); stop with ``shutdown()``."""
        global _active
        scheduler = self.build(blocking=False)
        _active = self
        scheduler.start()
        self._drop_unwanted(scheduler)
        self._scheduler = scheduler
        log.info("scheduler started (owner %s)", self.worker.owner)
        return scheduler

    def run(self) -> None:
        """Run in the foreground until SIGINT/SIGTERM; a running job finishes its current household first."""
        global _active
        scheduler = self.build(blocking=True)
        self._scheduler = scheduler
        _active = self

        def stop(signum: int, _frame: Any) -> None:
            log.warning("signal %d: stopping after the running jobs' current household", signum)
            threading.Thread(target=self.shutdown, name="scheduler-shutdown", daemon=True).start()

        previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            scheduler.add_listener(lambda _event: self._drop_unwanted(scheduler), mask=EVENT_SCHEDULER_STARTED)
            log.info("scheduler running in the foreground (owner %s); Ctrl-C stops it", self.worker.owner)
            scheduler.start()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        log.info("scheduler stopped")

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop firing jobs; with ``wait`` block until running jobs finish (they stop between households)."""
        self.stopping.set()
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=wait)

    def _drop_unwanted(self, scheduler: BaseScheduler) -> None:
        for job in scheduler.get_jobs():
            if job.id.startswith(_JOB_PREFIX) and job.id not in self._wanted:
                log.info("removing job %s no longer in the configuration", job.id)
                job.remove()

    # ------------------------------------------------------------------------------------------
    # Status
    # ------------------------------------------------------------------------------------------

    def status(self, *, limit: int = 20) -> ScheduleStatus:
        """The last ``limit`` runs, what is next, paused households, recent alerts and pending wake-ups."""
        runs = self.store.job_runs
        return ScheduleStatus(
            now=self.clock.now(),
            recent=tuple(runs.list(limit=limit)),
            upcoming=tuple(self.upcoming()),
            paused=tuple(runs.paused().values()),
            alerts=tuple(runs.alerts(limit=10)),
            wakeups=tuple(runs.wakeups(pending=True)),
        )


def _shift(t: time, delta: timedelta) -> time:
    minutes = t.hour * 60 + t.minute + int(delta.total_seconds() // 60)
    minutes %= 24 * 60
    return time(minutes // 60, minutes % 60)

