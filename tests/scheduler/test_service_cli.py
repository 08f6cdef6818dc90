"""APScheduler wiring (persistent job store, restart, a real fire) and ``robo schedule`` commands."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import create_engine, inspect, text

from engine.scheduler import APSCHEDULER_TABLE, FixedClock, JobKind, SchedulerService
from robo.cli import main
from tests.scheduler._sim import SimRunner
from tests.scheduler.conftest import AT_1505


def _jobstore_ids(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return sorted(r[0] for r in conn.execute(text(f"SELECT id FROM {APSCHEDULER_TABLE}")))
    finally:
        engine.dispose()


def test_jobs_persist_in_the_database_and_a_restart_replaces_them(store, homes, broker, config, db_url) -> None:
    service = SchedulerService(store, SimRunner(store, broker), config, clock=FixedClock(AT_1505))
    scheduler = service.start()
    try:
        jobs = {j.id: j for j in scheduler.get_jobs()}
        assert jobs["robo:market_data:0"].misfire_grace_time == 360 * 60 and jobs["robo:market_data:0"].coalesce
        assert jobs["robo:drift_check:1"].max_instances == 1
        nxt = jobs["robo:account_sync:0"].next_run_time.astimezone(config.zone)
        assert (nxt.hour, nxt.minute, nxt.weekday() < 5) == (9, 0, True)
    finally:
        service.shutdown()
    first = _jobstore_ids(db_url)
    assert len(first) == 2 * 6 - 2 + 1  # close-relative jobs have a normal and a half-day trigger; plus the poll
    again = SchedulerService(store, SimRunner(store, broker), config.model_copy(
        update={"jobs": {k: v for k, v in config.jobs.items() if k is not JobKind.ESTIMATES}}))
    again.start()
    again.shutdown()
    assert _jobstore_ids(db_url) == [i for i in first if not i.startswith("robo:estimates")]
    assert APSCHEDULER_TABLE in inspect(create_engine(db_url)).get_table_names()


def test_a_fired_job_runs_through_the_worker_and_shutdown_waits(store, homes, broker, config) -> None:
    ran = threading.Event()

    class Signalling(SimRunner):
        def run(self, ctx):
            out = super().run(ctx)
            if len(self.calls) == len(homes):
                ran.set()
            return out

    service = SchedulerService(store, Signalling(store, broker), config, clock=FixedClock(AT_1505))
    scheduler = service.start()
    try:
        scheduler.modify_job("robo:drift_check:0", next_run_time=datetime.now(UTC))  # fire now
        assert ran.wait(60)
    finally:
        service.shutdown(wait=True)
    assert {r.status.value for r in store.job_runs.list(job="drift_check")} == {"succeeded"}
    assert len(store.job_runs.list(job="drift_check")) == len(homes)


def test_cli_pause_resume_wake_status_run_once(db_url, homes, capsys) -> None:
    url = ["--url", db_url]
    assert main(["schedule", "pause", "h01", "--reason", "moving", *url]) == 0
    assert "paused" in capsys.readouterr().out
    assert main(["schedule", "wake", "h02", *url]) == 0
    assert main(["schedule", "status", *url]) == 0
    out = capsys.readouterr().out
    assert "Next" in out and "account_sync" in out and "Paused" in out and "moving" in out and "h02" in out
    assert main(["schedule", "run", "--once", "--runner", "tests.scheduler._cli_runner:make", *url]) == 0
    assert "This run" in capsys.readouterr().out
    assert main(["schedule", "resume", "h01", *url]) == 0
    assert "resumed" in capsys.readouterr().out
    assert main(["schedule", "pause", "nobody", *url]) == 2
    assert main(["schedule", "run", "--once", "--runner", "nowhere:make", *url]) == 2
    assert "--runner" in capsys.readouterr().out
