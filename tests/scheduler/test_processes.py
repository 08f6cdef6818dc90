"""Real processes against PostgreSQL: two schedulers racing through a burst, and a SIGKILL in mid-cycle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from engine.scheduler import JobRunStatus
from engine.store import Store
from tests.conftest import ROOT
from tests.scheduler._sim import SharedBroker, households
from tests.scheduler.conftest import AT_1505

N_BURST = 12


def _spawn(spec: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.scheduler._proc", json.dumps(spec)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _results(proc: subprocess.Popen) -> list[dict]:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture
def pg(pg_schema_url: str, household):
    store = Store(pg_schema_url)
    store.upgrade()
    broker = SharedBroker(pg_schema_url).create()
    yield pg_schema_url, store, broker, household
    broker.close()
    store.close()


def _ledger_reconciles(store: Store, broker: SharedBroker, ids: list[str]) -> None:
    """Every broker fill is in the store exactly once and positions agree per (account, symbol)."""
    for h in ids:
        at_broker = sorted(f.id for f in broker.fills(h))
        in_store = sorted(f.id for f in store.fills.for_household(h))
        assert in_store == at_broker, h
        held: Counter = Counter()
        for f in store.fills.for_household(h):
            held[(f.account, f.symbol)] += f.qty
        positions: Counter = Counter()
        for o in broker.all_orders():
            if o["household"] == h:
                positions[(o["account"], o["symbol"])] += Decimal(o["qty"])
        assert held == positions, h


def test_two_scheduler_processes_run_each_key_once(pg, tmp_path: Path) -> None:
    url, store, broker, template = pg
    ids = [h.id for h in households(template, N_BURST)]
    for h in households(template, N_BURST):
        store.households.add(h)
    go = tmp_path / "go"
    procs = [_spawn({"url": url, "now": AT_1505.isoformat(), "owner": f"proc-{i}", "go": str(go)}) for i in (1, 2)]
    deadline = time.monotonic() + 90
    while not all((tmp_path / f"go.proc-{i}.ready").exists() for i in (1, 2)):  # both imported and connected
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.05)
    go.touch()  # the race starts now
    results = [_results(p) for p in procs]

    # every key of the burst (drift check + harvest scan per household) succeeded in exactly one process
    succeeded = Counter((r["job"], r["household"]) for rs in results for r in rs if r["state"] == "succeeded")
    assert set(succeeded) == {(job, h) for job in ("drift_check", "harvest_scan") for h in ids}
    assert set(succeeded.values()) == {1}
    assert not [r for rs in results for r in rs if r["state"] not in ("succeeded", "skipped")]
    runs = store.job_runs.list()
    assert len(runs) == 2 * N_BURST
    assert {(r.status, r.attempt, r.takeovers) for r in runs} == {(JobRunStatus.SUCCEEDED, 1, 0)}
    # the broker's unique client_order_id saw each order once: 3 per household's drift cycle
    orders = broker.all_orders()
    assert len(orders) == 3 * N_BURST
    assert {o["client_order_id"] for o in orders} == {f"cycle-{h}-20241127-{i:03d}" for h in ids for i in range(3)}
    _ledger_reconciles(store, broker, ids)


def test_sigkill_mid_cycle_then_restart_has_no_duplicates_and_no_lost_fills(pg, tmp_path: Path) -> None:
    url, store, broker, template = pg
    ids = [h.id for h in households(template, 4)]
    for h in households(template, 4):
        store.households.add(h)
    hang_file = tmp_path / "hanging"
    victim = _spawn({"url": url, "now": AT_1505.isoformat(), "owner": "victim", "hang": ["h02", 2],
                     "hang_file": str(hang_file)})
    deadline = time.monotonic() + 90
    while not hang_file.exists():
        assert victim.poll() is None, victim.communicate()
        assert time.monotonic() < deadline, "the victim never reached the third order of h02"
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL

    # killed after two of h02's three orders reached the broker, before their fills reached the store
    stuck = store.job_runs.find("drift_check", "h02", AT_1505.date())
    assert stuck.status is JobRunStatus.RUNNING and stuck.owner == "victim" and stuck.id == hang_file.read_text()
    assert sorted(o["client_order_id"] for o in broker.all_orders() if o["household"] == "h02") == [
        "cycle-h02-20241127-000", "cycle-h02-20241127-001"]
    assert store.fills.for_household("h02") == []

    # restarted 5 minutes later: the run still looks alive, so nobody touches it; the rest of the day runs
    soon = _results(_spawn({"url": url, "now": (AT_1505 + timedelta(minutes=5)).isoformat(), "owner": "soon"}))
    assert ("drift_check", "h02", "skipped") in {(r["job"], r["household"], r["state"]) for r in soon}
    assert store.job_runs.find("drift_check", "h03", AT_1505.date()).status is JobRunStatus.SUCCEEDED
    assert len([o for o in broker.all_orders() if o["household"] == "h02"]) == 2

    # restarted after the heartbeat went stale: the run is taken over, the broker is asked first
    late = AT_1505 + timedelta(minutes=11)
    after = _results(_spawn({"url": url, "now": late.isoformat(), "owner": "heir"}))
    (taken,) = [r for r in after if r["household"] == "h02" and r["job"] == "drift_check"]
    assert taken["state"] == "succeeded" and taken["resumed"] and taken["run_id"] == stuck.id
    run = store.job_runs.get(stuck.id)
    assert (run.status, run.attempt, run.takeovers, run.owner) == (JobRunStatus.SUCCEEDED, 2, 1, "heir")
    assert run.produced["fills"] == 3  # the two fills the victim never booked, and the third order's

    orders = broker.all_orders()
    assert len(orders) == 3 * len(ids)  # no duplicate order (the broker's primary key would have refused one)
    _ledger_reconciles(store, broker, ids)
    assert {r.status for r in store.job_runs.list()} == {JobRunStatus.SUCCEEDED}
