"""Approved proposals executed by real processes through the real Engine: a race, and a SIGKILL mid-execution."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from engine.model import ProposalStatus
from engine.scheduler import JobRunStatus
from tests.scheduler._sim import approved_proposal
from tests.scheduler.conftest import AT_1505
from tests.scheduler.test_processes import _ledger_reconciles, _results, _spawn
from tests.scheduler.test_processes import pg as _pg_fixture

pg = _pg_fixture  # the same fixture: a migrated PostgreSQL schema, its store and the shared broker

N = 6


def _approve_all(store, template, n):
    from tests.scheduler._sim import households

    ids = []
    for i, h in enumerate(households(template, n)):
        # the shared broker starts empty, so the stored household does too: the cycle trades only an account whose
        # ledger and broker agree (nothing trades until a difference is resolved)
        h = replace(h, lots=(), loss_sales=())
        store.households.add(h)
        approved_proposal(store, h.id, AT_1505 - timedelta(hours=1) + timedelta(seconds=i))
        ids.append(h.id)
    return ids


def _executed_once(store, ids) -> None:
    for h in ids:
        pid = f"appr-{h}"
        assert store.proposals.get(pid).status is ProposalStatus.EXECUTED, h
        moves = [(t.from_status, t.to_status) for t in store.proposals.history(pid)]
        assert moves.count((ProposalStatus.APPROVED, ProposalStatus.EXECUTING)) == 1, h
        assert moves[-1] == (ProposalStatus.EXECUTING, ProposalStatus.EXECUTED), h


def test_two_processes_execute_each_approved_proposal_once(pg, tmp_path: Path) -> None:
    url, store, broker, template = pg
    ids = _approve_all(store, template, N)
    go = tmp_path / "go"
    procs = [_spawn({"url": url, "now": AT_1505.isoformat(), "owner": f"proc-{i}", "go": str(go),
                     "runner": "engine", "mode": "poll"}) for i in (1, 2)]
    deadline = time.monotonic() + 90
    while not all((tmp_path / f"go.proc-{i}.ready").exists() for i in (1, 2)):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.05)
    go.touch()
    results = [_results(p) for p in procs]

    done = Counter(r["household"] for rs in results for r in rs
                   if r["job"] == "execute_approved" and r["state"] == "succeeded")
    assert dict(done) == dict.fromkeys(ids, 1)  # each proposal executed by exactly one process
    assert not [r for rs in results for r in rs if r["state"] not in ("succeeded", "skipped")]
    runs = store.job_runs.list(job="execute_approved")
    assert sorted(r.ref for r in runs) == [f"appr-{h}" for h in ids]
    assert {(r.status, r.attempt, r.takeovers) for r in runs} == {(JobRunStatus.SUCCEEDED, 1, 0)}
    orders = broker.all_orders()
    assert sorted(o["client_order_id"] for o in orders) == sorted(f"appr-{h}-{i:03d}" for h in ids for i in range(3))
    _executed_once(store, ids)
    _ledger_reconciles(store, broker, ids)


def test_sigkill_mid_execution_then_restart_places_no_order_twice_and_books_fills_once(pg, tmp_path: Path) -> None:
    url, store, broker, template = pg
    ids = _approve_all(store, template, 4)
    hang_file = tmp_path / "hanging"
    victim = _spawn({"url": url, "now": AT_1505.isoformat(), "owner": "victim", "hang": ["h02", 2],
                     "hang_file": str(hang_file), "runner": "engine", "mode": "poll"})
    deadline = time.monotonic() + 90
    while not hang_file.exists():
        assert victim.poll() is None, victim.communicate()
        assert time.monotonic() < deadline, "the victim never reached the third order of h02"
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL

    # killed inside Engine.execute: two of h02's three orders are at the broker, none of its fills in the store
    stuck = store.job_runs.find("execute_approved", "h02", AT_1505.date(), "appr-h02")
    assert stuck.status is JobRunStatus.RUNNING and stuck.owner == "victim"
    assert store.proposals.get("appr-h02").status is ProposalStatus.EXECUTING
    assert sorted(o["client_order_id"] for o in broker.all_orders() if o["household"] == "h02") == [
        "appr-h02-000", "appr-h02-001"]
    assert store.fills.for_household("h02") == []

    # 5 minutes later the run still looks alive: left alone; h03's approval is executed by the new process
    soon = _results(_spawn({"url": url, "now": (AT_1505 + timedelta(minutes=5)).isoformat(), "owner": "soon",
                            "runner": "engine", "mode": "poll"}))
    assert [(r["household"], r["state"]) for r in soon] == [("h03", "succeeded")]
    assert len([o for o in broker.all_orders() if o["household"] == "h02"]) == 2

    # after the heartbeat went stale: taken over and resumed, the two placed orders re-used by client order id
    after = _results(_spawn({"url": url, "now": (AT_1505 + timedelta(minutes=11)).isoformat(), "owner": "heir",
                             "runner": "engine", "mode": "poll"}))
    (taken,) = after
    assert (taken["household"], taken["state"], taken["resumed"], taken["run_id"]) == (
        "h02", "succeeded", True, stuck.id), taken
    run = store.job_runs.get(stuck.id)
    assert (run.status, run.attempt, run.takeovers, run.owner) == (JobRunStatus.SUCCEEDED, 2, 1, "heir")
    assert run.produced["notes"]["resumed"] and run.produced["notes"]["errors"] == []
    assert run.produced["fills"] == 3  # the two the victim never booked, and the third order's

    assert sorted(o["client_order_id"] for o in broker.all_orders()) == sorted(
        f"appr-{h}-{i:03d}" for h in ids for i in range(3))  # no duplicate (the broker's key would refuse one)
    _executed_once(store, ids)
    _ledger_reconciles(store, broker, ids)
    assert {r.status for r in store.job_runs.list()} == {JobRunStatus.SUCCEEDED}
