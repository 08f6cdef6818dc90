"""A run that failed on an earlier trading day is never left silently failed: it gives up with an alert and a log."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from engine.scheduler import JobKind, JobRunStatus, RunState, Worker
from tests.scheduler._sim import SimRunner
from tests.scheduler.conftest import AT_1505

DAY = date(2024, 11, 27)
NEXT_SESSION = datetime(2024, 11, 29, 14, 35, tzinfo=AT_1505.tzinfo)  # Friday 09:35 New York (Thursday: holiday)


def _fail_once(store, broker, clock, config):
    runner = SimRunner(store, broker, fail={(JobKind.DRIFT_CHECK, "h01")})
    worker = Worker(store, runner, config, clock=clock, owner="w")
    states = {r.household: r.state for r in worker.run_job(JobKind.DRIFT_CHECK, DAY, households=["h00", "h01"])}
    assert states == {"h00": RunState.SUCCEEDED, "h01": RunState.FAILED}
    return worker, runner


def test_failed_run_from_an_earlier_day_alerts_once_and_logs_an_error(store, homes, broker, clock, config,
                                                                       caplog) -> None:
    worker, runner = _fail_once(store, broker, clock, config)
    clock.advance(hours=12)  # 03:05 on Thanksgiving: the day of the run is over, its back-off long passed
    with caplog.at_level(logging.ERROR, logger="engine.scheduler"):
        assert worker.poll() == []  # not retried on another day
    run = store.job_runs.find("drift_check", "h01", DAY)
    assert (run.status, run.attempt, run.next_attempt) == (JobRunStatus.GAVE_UP, 1, None)
    assert "simulated failure" in run.error  # the last error is kept
    (alert,) = store.job_runs.alerts()
    assert (alert.job, alert.household, alert.trading_day, alert.run_id, alert.attempts) == (
        "drift_check", "h01", DAY, run.id, 1)
    assert "not retried before its day ended" in alert.message and "simulated failure" in alert.message
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "h01" in errors[0].getMessage() and errors[0].run_id == run.id
    assert [e.action for e in store.audit.list(household="h01")][-1] == "scheduler.alert"
    assert len(runner.calls) == 2  # h00 and h01's one attempt: nothing ran again

    clock.set(NEXT_SESSION)  # the next session: still no retry, and no second alert
    assert worker.poll() == [] and len(store.job_runs.alerts()) == 1
    assert store.job_runs.needing_attention(now=clock.now(), stale_after=config.stale_after) == []


def test_same_day_failure_is_still_retried_not_alerted(store, homes, broker, clock, config) -> None:
    worker, _runner = _fail_once(store, broker, clock, config)
    clock.advance(minutes=5)
    (retry,) = worker.poll()
    assert (retry.household, retry.state) == ("h01", RunState.FAILED)
    assert store.job_runs.alerts() == []


def test_two_workers_seeing_the_old_failure_raise_one_alert(store, homes, broker, clock, config) -> None:
    _fail_once(store, broker, clock, config)
    clock.set(NEXT_SESSION)
    (run,) = store.job_runs.needing_attention(now=clock.now(), stale_after=config.stale_after)
    first = store.job_runs.give_up(run, now=clock.now(), message="first")
    second = store.job_runs.give_up(run, now=clock.now(), message="second")
    assert first is not None and second is None
    assert [a.message for a in store.job_runs.alerts()] == ["first"]
    other = Worker(store, SimRunner(store, broker), config, clock=clock, owner="other")
    other.poll()
    assert len(store.job_runs.alerts()) == 1 and timedelta(0) <= clock.now() - first.at
