"""``store.households.record_event`` writes the scheduler's wake-up in its own transaction: no polling scan needed."""

from __future__ import annotations

from datetime import date

import pytest

from engine.errors import Conflict, ValidationError
from engine.model import LifeEvent, LifeEventKind
from engine.scheduler import JobKind, RunState, Worker
from tests.scheduler._sim import SimRunner

DAY = date(2024, 11, 27)


def test_recording_an_event_writes_a_wake_up_at_once(store, homes) -> None:
    event = LifeEvent(LifeEventKind.CHILD, DAY)
    store.households.record_event("h02", event)
    (wakeup,) = store.job_runs.wakeups()
    assert (wakeup.household, wakeup.reason, wakeup.ref) == ("h02", "life_event", f"event:{event.id}")
    with pytest.raises(Conflict):
        store.households.record_event("h02", event)  # recorded once: no second event, no second wake-up
    assert store.job_runs.wakeups() == [wakeup]


def test_the_reaction_does_not_depend_on_the_life_event_scan(store, homes, broker, clock, config, monkeypatch) -> None:
    runner = SimRunner(store, broker)
    worker = Worker(store, runner, config, clock=clock)
    monkeypatch.setattr(Worker, "_wake_for_life_events", lambda *_a, **_k: None)  # no scan of the households
    assert worker.poll() == []
    store.households.record_event("h01", LifeEvent(LifeEventKind.MARRIAGE, DAY))
    (react,) = worker.poll()
    assert (react.job, react.household, react.state) == (JobKind.REACT, "h01", RunState.SUCCEEDED)
    assert runner.calls[-1].reason == "life_event" and store.job_runs.wakeups() == []
    assert worker.poll() == []


def test_no_wake_up_without_the_event_and_no_event_without_the_wake_up(store, homes, monkeypatch) -> None:
    with pytest.raises(ValidationError):
        store.households.record_event("h00", LifeEvent(LifeEventKind.CHILD, DAY, member="nobody"))
    assert store.job_runs.wakeups(pending=False) == []

    import engine.store.households as households

    def broken(*_a, **_k):
        raise Conflict("wake-up refused")

    monkeypatch.setattr(households, "_wake_for_event", broken)
    with pytest.raises(Conflict):
        store.households.record_event("h00", LifeEvent(LifeEventKind.CHILD, DAY))
    assert store.households.get("h00").events == ()  # one transaction: the event rolled back with it
    assert store.job_runs.wakeups(pending=False) == []
