"""A scheduler process for the multi-process tests: ``python -m tests.scheduler._proc '<json spec>'``.

Spec keys: url, now (ISO, aware), owner, go (a file to wait for before starting, so processes race),
hang ([household, n]) and hang_file, runner ("sim", or "engine": ``EngineRunner`` over the real Engine) and
mode ("run_once", or "poll"). Runs the service with a fixed clock and the shared simulated broker, then
prints the results as one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path

from engine.scheduler import FixedClock, SchedulerService, load_scheduler_config
from engine.store import Store
from tests.scheduler._sim import HouseholdBroker, SharedBroker, SimRunner


def main(spec: dict) -> int:
    store = Store(spec["url"])
    broker = SharedBroker(spec["url"])
    hang = tuple(spec["hang"]) if spec.get("hang") else None
    hang_file = Path(spec["hang_file"]) if spec.get("hang_file") else None
    if spec.get("runner") == "engine":  # the real Engine over the shared broker
        from engine.data import MarketData
        from engine.scheduler.engine_runner import EngineRunner

        market = MarketData.embedded()
        from brokers import rails_for

        runner = EngineRunner(store, market=lambda: market, rails=rails_for(),
                              broker_for=lambda h: HouseholdBroker(broker, h.id, hang=hang, hang_file=hang_file))
        _ = runner.cycle  # built before the race
    else:
        runner = SimRunner(store, broker, hang=hang, hang_file=hang_file)
    service = SchedulerService(
        store, runner, load_scheduler_config(), clock=FixedClock(datetime.fromisoformat(spec["now"])),
        owner=spec["owner"],
    )
    go = spec.get("go")
    if go:
        service.due()  # warm the calendar before the race
        Path(f"{go}.{spec['owner']}.ready").touch()
        deadline = time.monotonic() + 60
        while not Path(go).exists() and time.monotonic() < deadline:
            time.sleep(0.005)
    results = service.poll() if spec.get("mode") == "poll" else service.run_once()
    print(json.dumps([
        {"job": r.job.value, "household": r.household, "day": r.trading_day.isoformat(), "ref": r.ref,
         "state": r.state.value, "run_id": r.run_id, "resumed": r.resumed, "error": r.error}
        for r in results
    ]))
    store.close()
    broker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
