"""The exactly-once executor: claim a (job, household, trading day) key in the store, run it, record the outcome.

    worker = Worker(store, runner, load_scheduler_config(), clock=SystemClock())
    worker.run_job(JobKind.DRIFT_CHECK, date(2024, 11, 29))     # every unpaused household, each key once
    worker.poll()                            # retries, take-overs, reactions, approved proposals

Any number of workers (threads, processes, machines) may call these at once against one database: the
unique key lets exactly one of them own a run; a failure in one household never stops the others.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from engine.data.calendar import is_trading_day, session_close, session_open
from engine.model import ProposalStatus
from engine.scheduler.config import SchedulerConfig
from engine.scheduler.jobs import JobKind, trading_day_of
from engine.scheduler.runner import CycleRunner, JobContext, JobOutcome, LostClaim, cycle_proposal_id
from engine.store.jobs import ALL_HOUSEHOLDS, Claim, JobRun, JobRunStatus

if TYPE_CHECKING:
    from engine.scheduler.clock import Clock
    from engine.store import Store

__all__ = ["RunResult", "RunState", "Worker", "redact_secrets", "worker_id"]

log = logging.getLogger("engine.scheduler")


class RunState(StrEnum):
    """What happened to one key when a worker tried it."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"  # will be retried after the back-off
    GAVE_UP = "gave_up"  # max attempts reached: alert recorded
    LOST = "lost"  # another worker took the run over mid-way
    SKIPPED = "skipped"  # done already, owned by a live worker, or waiting for its back-off


@dataclass(frozen=True, slots=True)
class RunResult:
    """One key's fate in this worker: state, run id (None if never claimed here) and error text."""

    job: JobKind
    household: str
    trading_day: date
    state: RunState
    run_id: str | None = None
    ref: str = ""
    error: str | None = None
    resumed: bool = False


def worker_id() -> str:
    """``host:pid:random`` — names the owner of the runs this process claims."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


_URL_PASSWORD = re.compile(r"(\w+://[^:/@\s]+:)([^@\s]+)(@)")


def redact_secrets(text: str) -> str:
    """``text`` with database passwords and the broker keys from the environment masked (for logs and rows)."""
    text = _URL_PASSWORD.sub(r"\1***\3", text)
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "ROBO_ALPACA_API_KEY", "ROBO_ALPACA_SECRET_KEY"):
        secret = os.environ.get(name)
        if secret and len(secret) >= 6:
            text = text.replace(secret, "***")
    return text


class _Heartbeat:
    """Sends the run's heartbeat every ``interval`` seconds (wall time) while the job runs; notes a lost claim."""

    def __init__(self, worker: Worker, run_id: str, interval: float) -> None:
        self._worker = worker
        self._run_id = run_id
        self._interval = interval
        self._stop = threading.Event()
        self.lost = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{run_id[:8]}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                if not self._worker.store.job_runs.heartbeat(
                    self._run_id, owner=self._worker.owner, now=self._worker.clock.now()
                ):
                    self.lost.set()
                    return
            except Exception:  # the next beat retries; a dead database shows up in the job itself
                log.warning("heartbeat failed", exc_info=True, extra={"run_id": self._run_id})

    def beat(self) -> None:
        """Synchronous heartbeat before a side effect; raises ``LostClaim`` if the run is no longer ours."""
        if self.lost.is_set() or not self._worker.store.job_runs.heartbeat(
            self._run_id, owner=self._worker.owner, now=self._worker.clock.now()
        ):
            self.lost.set()
            raise LostClaim(
                f"run {self._run_id} was taken over by another worker — this worker stops here",
                run_id=self._run_id,
            )


class Worker:
    """Claims and runs job keys exactly once against ``store`` (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        runner: CycleRunner,
        config: SchedulerConfig,
        *,
        clock: Clock,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.runner = runner
        self.config = config
        self.clock = clock
        self.owner = owner or worker_id()

    # ------------------------------------------------------------------------------------------
    # Households
    # ------------------------------------------------------------------------------------------

    def households(self) -> list[str]:
        """Stored households that are not paused, sorted."""
        paused = self.store.job_runs.paused()
        return [h for h in sorted(self.store.households.list()) if h not in paused]

    # ------------------------------------------------------------------------------------------
    # Running keys
    # ------------------------------------------------------------------------------------------

    def run_job(self, job: JobKind, trading_day: date, *, households: Iterable[str] | None = None) -> list[RunResult]:
        """Run ``job`` for ``trading_day``: once for the market, or once per unpaused household."""
        if not job.per_household:
            return [self.run_key(job, ALL_HOUSEHOLDS, trading_day)]
        if job is JobKind.EXECUTE_APPROVED:
            return self.execute_approved(trading_day, households=households)
        chosen = households if households is not None else self.households()
        results = []
        for household in chosen:
            try:
                results.append(self.run_key(job, household, trading_day))
            except Exception as exc:  # a failing household (or its claim) never stops the others
                log.error("could not run %s: %s", job.value, redact_secrets(str(exc)), exc_info=True,
                          extra={"job": job.value, "household": household})
                results.append(RunResult(job, household, trading_day, RunState.FAILED, error=str(exc)))
        return results

    def run_key(
        self, job: JobKind, household: str, trading_day: date, *, ref: str = "", reason: str = ""
    ) -> RunResult:
        """Claim the key ``(job, household, trading_day, ref)`` and run it, or skip it if it is not ours to run."""
        now = self.clock.now()
        claim = self.store.job_runs.claim(
            job=job.value,
            household=household,
            trading_day=trading_day,
            ref=ref,
            owner=self.owner,
            now=now,
            stale_after=self.config.stale_after,
            max_attempts=self.config.max_attempts,
        )
        extra = {"job": job.value, "household": household}
        if claim is None:
            log.debug("skipped %s for %s on %s: done or owned elsewhere", job.value, household, trading_day,
                      extra=extra)
            return RunResult(job, household, trading_day, RunState.SKIPPED, ref=ref)
        return self._run_claimed(claim, job, reason=reason, now=now)

    def _run_claimed(self, claim: Claim, job: JobKind, *, reason: str, now: datetime) -> RunResult:
        run = claim.run
        extra = {"job": job.value, "household": run.household, "run_id": run.id}
        if claim.took_over_from:
            log.warning("took over %s from %s (no heartbeat for %s); checking the broker before acting",
                        run.key, claim.took_over_from, self.config.stale_after, extra=extra)
        log.info("started %s (attempt %d)", run.key, run.attempt, extra=extra)
        household = None if run.household == ALL_HOUSEHOLDS else run.household
        with _Heartbeat(self, run.id, self.config.heartbeat_seconds) as heart:
            ctx = JobContext(
                job=job,
                household=household,
                trading_day=run.trading_day,
                run_id=run.id,
                attempt=run.attempt,
                resumed=claim.resumed,
                proposal_id=cycle_proposal_id(job, run.household, run.trading_day, run.ref),
                now=now,
                ref=run.ref,
                reason=reason,
                beat=heart.beat,
            )
            try:
                outcome = self._builtin(ctx) if job is JobKind.APPROVAL_EXPIRY else self.runner.run(ctx)
            except LostClaim as exc:
                log.warning("%s", exc, extra=extra)
                return RunResult(job, run.household, run.trading_day, RunState.LOST, run.id, run.ref, str(exc))
            except Exception as exc:
                return self._failed(run, job, exc, extra)
        if not isinstance(outcome, JobOutcome):
            return self._failed(run, job, TypeError(f"runner returned {type(outcome).__name__}, not JobOutcome"),
                                extra)
        if household is not None:
            for wake_reason, wake_ref in outcome.wake:
                self.store.job_runs.wake(household, reason=wake_reason, ref=wake_ref, now=self.clock.now())
        if not self.store.job_runs.succeed(run.id, owner=self.owner, now=self.clock.now(),
                                           produced=outcome.to_json()):
            log.warning("finished %s but another worker had taken it over; its record stands", run.key,
                        extra=extra)
            return RunResult(job, run.household, run.trading_day, RunState.LOST, run.id, run.ref)
        log.info("succeeded %s: %d proposal(s), %d order(s), %d fill(s)", run.key, len(outcome.proposal_ids),
                 len(outcome.client_order_ids), outcome.fills, extra=extra)
        return RunResult(job, run.household, run.trading_day, RunState.SUCCEEDED, run.id, run.ref,
                         resumed=claim.resumed)

    def _failed(self, run: JobRun, job: JobKind, exc: Exception, extra: dict[str, Any]) -> RunResult:
        error = redact_secrets(f"{type(exc).__name__}: {exc}")
        now = self.clock.now()
        if run.attempt < self.config.max_attempts:
            retry_at = now + self.config.backoff(run.attempt)
            self.store.job_runs.fail(run.id, owner=self.owner, now=now, error=error, retry_at=retry_at)
            log.warning("failed %s (attempt %d of %d), retrying after %s: %s", run.key, run.attempt,
                        self.config.max_attempts, retry_at.isoformat(), error, extra=extra)
            return RunResult(job, run.household, run.trading_day, RunState.FAILED, run.id, run.ref, error)
        self.store.job_runs.fail(run.id, owner=self.owner, now=now, error=error, retry_at=None)
        message = f"{job.value} gave up on {run.household} for {run.trading_day} after {run.attempt} attempts: {error}"
        self.store.job_runs.alert(run, now=now, message=message)
        log.error("%s", message, extra=extra)
        return RunResult(job, run.household, run.trading_day, RunState.GAVE_UP, run.id, run.ref, error)

    # ------------------------------------------------------------------------------------------
    # Built-in job: approvals nobody acted on expire
    # ------------------------------------------------------------------------------------------

    def _builtin(self, ctx: JobContext) -> JobOutcome:
        cutoff = ctx.now - timedelta(days=self.config.approval_expiry_days)
        expired = []
        for proposal in self.store.proposals.list(status=ProposalStatus.PROPOSED):
            if proposal.created <= cutoff:
                ctx.heartbeat()
                self.store.proposals.transition(
                    proposal.id,
                    ProposalStatus.EXPIRED,
                    actor="scheduler",
                    reason=f"not approved within {self.config.approval_expiry_days} days",
                )
                expired.append(proposal.id)
        return JobOutcome(proposal_ids=tuple(expired), notes={"expired": len(expired)})

    # ------------------------------------------------------------------------------------------
    # Polling: reactions, retries, take-overs
    # ------------------------------------------------------------------------------------------

    def poll(self) -> list[RunResult]:
        """Retry and take over runs; in market hours also answer wake-ups and execute approved proposals."""
        now = self.clock.now()
        results = self._retry_and_take_over(now)
        day = trading_day_of(now, self.config.zone)
        if day is None or not session_open(day) <= now < session_close(day):
            return results  # reactions trade: they wait for the next session
        paused = self.store.job_runs.paused()
        self._wake_for_life_events(day, now, paused)
        for wakeup in self.store.job_runs.wakeups(pending=True):
            if wakeup.household in paused:
                continue
            try:
                result = self.run_key(JobKind.REACT, wakeup.household, day, ref=wakeup.ref, reason=wakeup.reason)
            except Exception as exc:
                log.error("reaction failed: %s", redact_secrets(str(exc)), exc_info=True,
                          extra={"job": JobKind.REACT.value, "household": wakeup.household})
                continue
            results.append(result)
            done = self.store.job_runs.find(JobKind.REACT.value, wakeup.household, day, wakeup.ref)
            if done is not None and done.status in (JobRunStatus.SUCCEEDED, JobRunStatus.GAVE_UP):
                self.store.job_runs.consume_wakeup(wakeup.id, run_id=done.id, now=self.clock.now())
        results += [r for r in self.execute_approved(day) if r.state is not RunState.SKIPPED]
        return results

    def execute_approved(self, trading_day: date, *, households: Iterable[str] | None = None) -> list[RunResult]:
        """Execute every approved proposal of the (unpaused) households once: key ``(execute_approved, household,
        trading_day, proposal id)``. The poll calls this in market hours, so an approval is acted on at the next poll.
        """
        wanted = set(households) if households is not None else None
        paused = self.store.job_runs.paused()
        results = []
        for proposal in self.store.proposals.list(status=ProposalStatus.APPROVED):
            if proposal.household in paused or (wanted is not None and proposal.household not in wanted):
                continue
            try:
                results.append(self.run_key(JobKind.EXECUTE_APPROVED, proposal.household, trading_day,
                                            ref=proposal.id, reason="approved"))
            except Exception as exc:  # one proposal's failure never stops the others
                log.error("could not execute %s: %s", proposal.id, redact_secrets(str(exc)), exc_info=True,
                          extra={"job": JobKind.EXECUTE_APPROVED.value, "household": proposal.household})
                results.append(RunResult(JobKind.EXECUTE_APPROVED, proposal.household, trading_day,
                                         RunState.FAILED, ref=proposal.id, error=str(exc)))
        return results

    def _give_up_on_old_day(self, run: JobRun, now: datetime) -> None:
        """A run that failed on an earlier trading day and was never retried: gave up, alert, error log."""
        message = (
            f"{run.job} for {run.household} on {run.trading_day} failed {run.attempt} time(s) and was not retried "
            f"before its day ended; last error: {run.error or 'unknown'}"
        )
        extra = {"job": run.job, "household": run.household, "run_id": run.id}
        try:
            alert = self.store.job_runs.give_up(run, now=now, message=message)
        except Exception as exc:
            log.error("could not record the alert for %s: %s", run.key, redact_secrets(str(exc)), exc_info=True,
                      extra=extra)
            return
        if alert is not None:  # another worker (or a retry) got there first otherwise
            log.error("%s", message, extra=extra)

    def _wake_for_life_events(self, day: date, now: datetime, paused: Iterable[str]) -> None:
        since = day - timedelta(days=self.config.event_lookback_days)
        skip = set(paused)
        for household_id in self.store.households.list():
            if household_id in skip:
                continue
            try:
                household = self.store.households.get(household_id)
            except Exception:
                log.warning("could not read household for life events", exc_info=True,
                            extra={"household": household_id})
                continue
            for event in household.events:
                if since <= event.on <= day:
                    self.store.job_runs.wake(household_id, reason="life_event", ref=f"event:{event.id}", now=now)

    def _retry_and_take_over(self, now: datetime) -> list[RunResult]:
        results = []
        paused = self.store.job_runs.paused()
        today = now.astimezone(self.config.zone).date()
        for run in self.store.job_runs.needing_attention(now=now, stale_after=self.config.stale_after):
            if run.household in paused:
                continue
            if run.status is JobRunStatus.FAILED and run.trading_day < today:
                self._give_up_on_old_day(run, now)  # its day is over: a human looks at it, nobody retries
                continue
            if run.status is JobRunStatus.FAILED and (run.trading_day != today or not is_trading_day(today)):
                continue  # a failed day is retried only on that day
            try:
                results.append(self.run_key(JobKind(run.job), run.household, run.trading_day, ref=run.ref))
            except Exception as exc:
                log.error("retry of %s failed: %s", run.key, redact_secrets(str(exc)), exc_info=True,
                          extra={"job": run.job, "household": run.household, "run_id": run.id})
        return results
