"""The idempotency key in the store: one owner per (job, household, day, ref), stale take-over, fencing, back-off."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest

from engine.errors import ValidationError
from engine.scheduler import JobRunStatus
from tests.scheduler.conftest import AT_1505

DAY = date(2024, 11, 27)
STALE = timedelta(minutes=10)


def _claim(store, owner, now=AT_1505, **kw):
    args = {"job": "drift_check", "household": "h00", "trading_day": DAY, "owner": owner, "now": now,
            "stale_after": STALE, "max_attempts": 3}
    return store.job_runs.claim(**(args | kw))


def test_a_key_is_claimed_once(store) -> None:
    first = _claim(store, "a")
    assert first is not None and not first.resumed and first.run.attempt == 1
    assert _claim(store, "b") is None  # live owner
    assert _claim(store, "a") is None  # not even the owner claims twice
    assert _claim(store, "b", ref="event:x") is not None  # another ref is another key
    assert _claim(store, "b", household="h01") is not None
    assert store.job_runs.succeed(first.run.id, owner="a", now=AT_1505, produced={"proposal_ids": ["p"]})
    assert _claim(store, "b", now=AT_1505 + timedelta(days=1)) is None  # succeeded: never again
    done = store.job_runs.find("drift_check", "h00", DAY)
    assert done.status is JobRunStatus.SUCCEEDED and done.produced == {"proposal_ids": ["p"]}
    assert done.key == "drift_check/h00/2024-11-27"


def test_stale_run_is_taken_over_and_the_old_owner_is_fenced_off(store) -> None:
    first = _claim(store, "a")
    assert _claim(store, "b", now=AT_1505 + STALE) is None  # exactly at the limit: still alive
    later = AT_1505 + STALE + timedelta(seconds=1)
    taken = _claim(store, "b", now=later)
    assert taken is not None and taken.resumed and taken.took_over_from == "a"
    assert taken.run.id == first.run.id and taken.run.attempt == 2 and taken.run.takeovers == 1
    # the first owner wakes up: every write it tries is refused
    assert not store.job_runs.heartbeat(first.run.id, owner="a", now=later)
    assert not store.job_runs.succeed(first.run.id, owner="a", now=later)
    assert store.job_runs.heartbeat(first.run.id, owner="b", now=later)
    assert store.job_runs.get(first.run.id).owner == "b"


def test_heartbeats_keep_a_long_run_alive(store) -> None:
    first = _claim(store, "a")
    for minutes in (5, 10, 15, 20):
        assert store.job_runs.heartbeat(first.run.id, owner="a", now=AT_1505 + timedelta(minutes=minutes))
        assert _claim(store, "b", now=AT_1505 + timedelta(minutes=minutes + 9)) is None


def test_failed_run_waits_for_its_back_off_then_gives_up(store) -> None:
    run = _claim(store, "a").run
    retry_at = AT_1505 + timedelta(minutes=5)
    assert store.job_runs.fail(run.id, owner="a", now=AT_1505, error="boom", retry_at=retry_at)
    assert _claim(store, "b", now=retry_at - timedelta(seconds=1)) is None
    second = _claim(store, "b", now=retry_at)
    assert second.resumed and second.took_over_from is None and second.run.attempt == 2
    assert second.run.takeovers == 0 and second.run.error == "boom"
    store.job_runs.fail(run.id, owner="b", now=retry_at, error="boom", retry_at=retry_at)
    third = _claim(store, "c", now=retry_at)
    assert third.run.attempt == 3
    store.job_runs.fail(run.id, owner="c", now=retry_at, error="boom", retry_at=retry_at)
    assert _claim(store, "d", now=retry_at + timedelta(hours=1)) is None  # max_attempts=3 reached
    assert store.job_runs.needing_attention(now=retry_at, stale_after=STALE) == [store.job_runs.get(run.id)]
    store.job_runs.list()  # the listing works with every filter unset


def test_only_one_of_many_concurrent_claimers_wins(store) -> None:
    """Eight threads race for one fresh key and then for its take-over; exactly one wins each time."""

    def race(now):
        wins, barrier = [], threading.Barrier(8)

        def go(i):
            barrier.wait()
            c = _claim(store, f"w{i}", now=now)
            if c is not None:
                wins.append(c)

        threads = [threading.Thread(target=go, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return wins

    assert len(race(AT_1505)) == 1
    (taken,) = race(AT_1505 + timedelta(hours=1))
    assert taken.run.attempt == 2 and taken.run.takeovers == 1


def test_pause_resume_wakeups_alerts(store) -> None:
    assert store.job_runs.pause("h00", now=AT_1505, actor="alex", reason="moving accounts")
    assert not store.job_runs.pause("h00", now=AT_1505)
    assert store.job_runs.paused()["h00"].reason == "moving accounts"
    assert store.job_runs.resume("h00", actor="alex") and not store.job_runs.resume("h00")
    assert [e.action for e in store.audit.list(household="h00")] == ["scheduler.pause", "scheduler.resume"]
    w1 = store.job_runs.wake("h00", reason="life_event", ref="event:child-2024-11-27", now=AT_1505)
    w2 = store.job_runs.wake("h00", reason="life_event", ref="event:child-2024-11-27", now=AT_1505)
    assert w1 == w2 and len(store.job_runs.wakeups()) == 1
    assert store.job_runs.consume_wakeup(w1.id, run_id="r", now=AT_1505)
    assert not store.job_runs.consume_wakeup(w1.id, run_id="r", now=AT_1505)
    assert store.job_runs.wakeups() == [] and len(store.job_runs.wakeups(pending=False)) == 1
    run = _claim(store, "a").run
    alert = store.job_runs.alert(run, now=AT_1505, message="gave up")
    assert store.job_runs.alerts(household="h00") == [alert]
    with pytest.raises(ValidationError):
        _claim(store, " ")
