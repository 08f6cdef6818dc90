"""The worker in one process: failures isolated and backed off, pauses, reactions, approval expiry, logs."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from engine.model import LifeEvent, LifeEventKind, ProposalStatus
from engine.scheduler import JobKind, JobRunStatus, RunState, SchedulerService, Worker
from tests.scheduler._sim import SimRunner
from tests.scheduler.conftest import AT_1505

DAY = date(2024, 11, 27)


def test_run_once_runs_every_due_key_once(store, homes, broker, clock, config) -> None:
    runner = SimRunner(store, broker)
    service = SchedulerService(store, runner, config, clock=clock)
    first = service.run_once()
    assert {(r.job, r.state) for r in first} == {(JobKind.DRIFT_CHECK, RunState.SUCCEEDED),
                                                 (JobKind.HARVEST_SCAN, RunState.SUCCEEDED)}
    assert len(first) == 2 * len(homes)
    clock.advance(minutes=10)
    assert {r.state for r in service.run_once()} == {RunState.SKIPPED}
    assert len(runner.calls) == 2 * len(homes)
    run = store.job_runs.find("drift_check", "h00", DAY)
    assert run.produced["proposal_ids"] == ["cycle-h00-20241127"] and run.produced["fills"] == 3
    assert store.proposals.get("cycle-h00-20241127").household == "h00"


def test_failing_household_does_not_stop_others_backs_off_then_alerts(store, homes, broker, clock, config,
                                                                      caplog) -> None:
    runner = SimRunner(store, broker, fail={(JobKind.DRIFT_CHECK, "h01")})
    worker = Worker(store, runner, config, clock=clock, owner="w")
    states = {r.household: r.state for r in worker.run_job(JobKind.DRIFT_CHECK, DAY)}
    assert states == {"h00": RunState.SUCCEEDED, "h01": RunState.FAILED, "h02": RunState.SUCCEEDED,
                      "h03": RunState.SUCCEEDED, "h04": RunState.SUCCEEDED}
    failed = store.job_runs.find("drift_check", "h01", DAY)
    assert failed.status is JobRunStatus.FAILED and "simulated failure" in failed.error
    assert failed.next_attempt == AT_1505 + timedelta(minutes=5)
    assert [r.household for r in worker.poll()] == []  # the back-off has not passed: no retry yet
    clock.advance(minutes=5)
    (retry,) = worker.poll()
    assert (retry.household, retry.state) == ("h01", RunState.FAILED)
    clock.advance(minutes=10)
    with caplog.at_level(logging.ERROR, logger="engine.scheduler"):
        (last,) = worker.poll()
    assert last.state is RunState.GAVE_UP
    gave_up = store.job_runs.find("drift_check", "h01", DAY)
    assert (gave_up.status, gave_up.attempt) == (JobRunStatus.GAVE_UP, 3)
    (alert,) = store.job_runs.alerts()
    assert (alert.household, alert.job, alert.attempts) == ("h01", "drift_check", 3)
    assert any(r.levelno == logging.ERROR and "gave up on h01" in r.getMessage() for r in caplog.records)
    clock.advance(hours=2)
    assert worker.poll() == []  # never retried forever


def test_paused_household_is_skipped_until_resumed(store, homes, broker, clock, config) -> None:
    worker = Worker(store, SimRunner(store, broker), config, clock=clock)
    store.job_runs.pause("h03", now=clock.now(), actor="alex", reason="transfer in progress")
    assert "h03" not in {r.household for r in worker.run_job(JobKind.DRIFT_CHECK, DAY)}
    store.job_runs.resume("h03", actor="alex")
    assert [r.household for r in worker.run_job(JobKind.DRIFT_CHECK, DAY) if r.state is RunState.SUCCEEDED] == [
        "h03"]


def test_life_event_wakes_the_household_within_a_poll(store, homes, broker, clock, config) -> None:
    runner = SimRunner(store, broker)
    worker = Worker(store, runner, config, clock=clock)
    assert worker.poll() == []
    store.households.record_event("h02", LifeEvent(LifeEventKind.CHILD, DAY))
    (react,) = worker.poll()
    assert (react.job, react.household, react.state, react.ref) == (
        JobKind.REACT, "h02", RunState.SUCCEEDED, "event:child-2024-11-27")
    assert runner.calls[-1].reason == "life_event"
    assert store.job_runs.wakeups() == []  # consumed
    assert worker.poll() == []  # answered once, even though the event stays within the look-back
    orders = [o["client_order_id"] for o in broker.all_orders()]
    assert len(orders) == 3 and all(o.startswith("react-h02-20241127-") for o in orders)


def test_large_deposit_found_by_the_sync_wakes_the_cycle(store, homes, broker, clock, config) -> None:
    runner = SimRunner(store, broker, deposits={"h04": Decimal(20000), "h00": Decimal(100)})
    worker = Worker(store, runner, config, clock=clock)
    worker.run_job(JobKind.ACCOUNT_SYNC, DAY)
    assert [(w.household, w.reason) for w in store.job_runs.wakeups()] == [("h04", "deposit")]
    (react,) = worker.poll()
    assert (react.household, react.state) == ("h04", RunState.SUCCEEDED)


def test_reactions_wait_for_market_hours(store, homes, broker, clock, config) -> None:
    worker = Worker(store, SimRunner(store, broker), config, clock=clock)
    clock.advance(hours=1)  # 16:05 New York: closed
    store.job_runs.wake("h01", reason="api", ref="manual-1", now=clock.now())
    assert worker.poll() == []
    clock.advance(hours=17, minutes=30)  # 09:35 on Thanksgiving: no session
    assert worker.poll() == []
    clock.advance(days=1)  # 09:35 on Friday (a half day, open)
    assert [(r.household, r.state) for r in worker.poll()] == [("h01", RunState.SUCCEEDED)]


def test_approvals_nobody_acted_on_expire(store, homes, broker, clock, config) -> None:
    runner = SimRunner(store, broker)
    fresh = runner._proposal(replace(_ctx(clock), proposal_id="p-fresh", now=clock.now() - timedelta(days=1)))
    old = runner._proposal(replace(_ctx(clock), proposal_id="p-old", now=clock.now() - timedelta(days=6)))
    store.proposals.add(fresh)
    store.proposals.add(old)
    worker = Worker(store, runner, config, clock=clock)
    (result,) = worker.run_job(JobKind.APPROVAL_EXPIRY, DAY)
    assert result.state is RunState.SUCCEEDED
    assert store.proposals.get("p-old").status is ProposalStatus.EXPIRED
    assert store.proposals.get("p-fresh").status is ProposalStatus.PROPOSED
    assert store.job_runs.find("approval_expiry", "*", DAY).produced["proposal_ids"] == ["p-old"]


def _ctx(clock):
    from engine.scheduler import JobContext

    return JobContext(JobKind.DRIFT_CHECK, "h00", DAY, "r", 1, False, "p", clock.now())


def test_a_worker_that_lost_its_claim_stops_before_the_next_order(store, homes, broker, clock, config) -> None:
    """While worker A is mid-cycle, B takes the run over (A looked dead); A's next heartbeat fences it off."""
    b = Worker(store, SimRunner(store, broker), config, clock=clock, owner="b")

    class Slow(SimRunner):
        def run(self, ctx):
            if ctx.household == "h00" and not getattr(self, "done", False):
                self.done = True
                clock.advance(minutes=11)
                b.run_key(JobKind.DRIFT_CHECK, "h00", DAY)  # B takes over and finishes the cycle
            return super().run(ctx)

    a = Worker(store, Slow(store, broker), config, clock=clock, owner="a")
    result = a.run_key(JobKind.DRIFT_CHECK, "h00", DAY)
    assert result.state is RunState.LOST
    run = store.job_runs.find("drift_check", "h00", DAY)
    assert (run.owner, run.status, run.takeovers) == ("b", JobRunStatus.SUCCEEDED, 1)
    assert len(broker.all_orders()) == 3  # A never submitted after losing the claim


def test_json_log_lines_carry_ids_and_no_secrets(store, homes, broker, clock, config, monkeypatch, capsys) -> None:
    from robo.cli._out import setup_logging

    secret = "sEcReT-never-printed-42"
    monkeypatch.setenv("APCA_API_SECRET_KEY", secret)
    runner = SimRunner(store, broker, fail={(JobKind.DRIFT_CHECK, "h00")})

    def leak(ctx):
        raise RuntimeError(f"auth failed for postgresql://u:hunter2@db/x with key {secret}")

    runner._cycle = leak
    setup_logging(1, json_lines=True)
    try:
        Worker(store, runner, config.model_copy(update={"max_attempts": 1}), clock=clock, owner="w").run_key(
            JobKind.DRIFT_CHECK, "h01", DAY)
    finally:
        logging.getLogger().handlers.clear()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    gave_up = [x for x in lines if x["level"] == "error"]
    assert gave_up and gave_up[0]["household"] == "h01" and gave_up[0]["job"] == "drift_check"
    assert gave_up[0]["run_id"] == store.job_runs.find("drift_check", "h01", DAY).id
    text = json.dumps(lines) + store.job_runs.find("drift_check", "h01", DAY).error
    assert secret not in text and "hunter2" not in text and "u:***@db" in text
