"""Two scheduler workers race through one day's jobs on one database; each (job, household, day) runs once.

    .venv/bin/python examples/scheduler_exactly_once.py

Runs on a temporary SQLite file with a tiny in-memory runner (no broker, no network). Point ``url`` at
PostgreSQL to see the same with real concurrency (tests/scheduler/test_processes.py uses processes).
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from engine.config import load_household
from engine.scheduler import FixedClock, JobContext, JobOutcome, SchedulerService, load_scheduler_config
from engine.store import Store


class CountingRunner:
    """Counts the cycles it runs; a real deployment passes ``EngineRunner`` instead."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ran: list[tuple[str, str | None]] = []

    def run(self, ctx: JobContext) -> JobOutcome:
        with self.lock:
            self.ran.append((ctx.job.value, ctx.household))
        return JobOutcome(proposal_ids=(ctx.proposal_id,))


def main() -> None:
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'robo.db'}"
    store = Store(url)
    store.upgrade()
    sample = load_household()
    for i in range(6):
        store.households.add(replace(sample, id=f"h{i}"))
    at = datetime(2024, 11, 27, 20, 5, tzinfo=UTC)  # 15:05 New York: harvest scan and drift check are due
    runner = CountingRunner()
    config = load_scheduler_config()
    workers = [SchedulerService(store, runner, config, clock=FixedClock(at), owner=f"w{i}") for i in (1, 2)]
    threads = [threading.Thread(target=w.run_once) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"cycles run: {len(runner.ran)} for {len(set(runner.ran))} distinct keys")
    for run in sorted(store.job_runs.list(), key=lambda r: r.key)[:4]:
        print(f"  {run.key:32} {run.status.value:9} owner={run.owner}")
    assert len(runner.ran) == len(set(runner.ran)) == 12
    store.close()


if __name__ == "__main__":
    main()
