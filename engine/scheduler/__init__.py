"""The scheduler service (the only home of APScheduler): data, sync, harvest, drift, reactions — each key once.

    service = SchedulerService(Store.from_settings(), runner)     # runner: a CycleRunner, e.g. EngineRunner
    service.run_once()     # or service.run() in the foreground (Ctrl-C stops gracefully)

Exactly once: every run is a row keyed unique on (job, household, trading day, ref); a worker owns it by
inserting it, or by one compare-and-set UPDATE when the owner's heartbeat went stale (then it checks the
broker by client order id before acting). See ``worker.py`` and docs/scheduler.md.
"""

from engine.scheduler.clock import Clock, FixedClock, SystemClock
from engine.scheduler.config import JobSchedule, SchedulerConfig, load_scheduler_config
from engine.scheduler.jobs import HOUSEHOLD_JOBS, MARKET_JOBS, DueJob, JobKind, due_at, next_due, trading_day_of
from engine.scheduler.runner import CycleRunner, JobContext, JobOutcome, LostClaim, cycle_proposal_id
from engine.scheduler.service import APSCHEDULER_TABLE, SchedulerService, ScheduleStatus
from engine.scheduler.worker import RunResult, RunState, Worker, redact_secrets, worker_id
from engine.store.jobs import ALL_HOUSEHOLDS, JobRun, JobRunStatus

__all__ = [
    "ALL_HOUSEHOLDS",
    "APSCHEDULER_TABLE",
    "HOUSEHOLD_JOBS",
    "MARKET_JOBS",
    "Clock",
    "CycleRunner",
    "DueJob",
    "FixedClock",
    "JobContext",
    "JobKind",
    "JobOutcome",
    "JobRun",
    "JobRunStatus",
    "JobSchedule",
    "LostClaim",
    "RunResult",
    "RunState",
    "ScheduleStatus",
    "SchedulerConfig",
    "SchedulerService",
    "SystemClock",
    "Worker",
    "cycle_proposal_id",
    "due_at",
    "load_scheduler_config",
    "next_due",
    "redact_secrets",
    "trading_day_of",
    "worker_id",
]
