"""``robo schedule``: the scheduler service — status, run (foreground or --once), pause/resume, wake.

    robo schedule run            # foreground; Ctrl-C stops after the running jobs' current household
    robo schedule run --once     # every due job once, then exit (for cron)
    robo schedule status         # last runs, what is next, paused households, alerts
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from robo.cli import _args

_URL_HELP = "database URL (default: ROBO_DATABASE_URL or SQLite under ROBO_HOME)"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schedule", help="the scheduler: run jobs unattended, status, pause/resume households")
    ssub = p.add_subparsers(dest="schedule_command", metavar="ACTION", required=True)
    run = ssub.add_parser("run", help="run the scheduler in the foreground (Ctrl-C stops it gracefully)")
    run.add_argument("--once", action="store_true", help="run every job due now once, then exit (for cron)")
    run.add_argument("--config", type=_args.input_file("--config"),
                     help="scheduler YAML (default: config/scheduler.yaml)")
    run.add_argument("--runner", type=_args.runner_spec("--runner"),
                     help="module:callable(store, config) returning a CycleRunner (default: the engine)")
    run.add_argument("--url", help=_URL_HELP)
    run.add_argument("--broker", choices=["sim", "alpaca"], default="alpaca",
                     help="alpaca: each account at the broker its broker_account names (paper); sim: try the "
                          "scheduler with no keys on the embedded prices (state kept in the store)")
    run.add_argument("--key-file", type=_args.input_file("--key-file"),
                     help="file with APCA_API_KEY_ID=… and APCA_API_SECRET_KEY=… lines")
    run.add_argument("--data", choices=["alpaca", "embedded"], default=None,
                     help="price data (default: Alpaca's market data with --broker alpaca, the embedded set with sim)")
    run.add_argument("--json", action="store_true", help="print one JSON document on stdout (with --once)")
    run.add_argument("--at", type=_args.instant("--at"),
                     help="with --once: run as if it were this instant (ISO 8601 with a "
                          "zone, e.g. 2026-08-04T16:05-04:00) — to replay a missed day")
    run.set_defaults(func=run_schedule)
    st = ssub.add_parser("status", help="last runs, next due times, paused households, alerts")
    st.add_argument("--limit", type=_args.int_range("--limit", 1, 10_000), default=20,
                    help="how many recent runs (default 20)")
    st.add_argument("--config", type=_args.input_file("--config"),
                    help="scheduler YAML (default: config/scheduler.yaml)")
    st.add_argument("--url", help=_URL_HELP)
    st.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    st.set_defaults(func=status)
    for name, func, text in (("pause", pause, "stop running jobs for a household"),
                             ("resume", resume, "run jobs for a paused household again")):
        q = ssub.add_parser(name, help=text)
        q.add_argument("household", type=_args.identifier("HOUSEHOLD", "household id"), help="household id")
        q.add_argument("--reason", default="", help="why (kept in the audit log)")
        q.add_argument("--url", help=_URL_HELP)
        q.set_defaults(func=func)
    w = ssub.add_parser("wake", help="run a household's cycle at the next poll (e.g. after a deposit)")
    w.add_argument("household", type=_args.identifier("HOUSEHOLD", "household id"), help="household id")
    w.add_argument("--reason", default="cli", help="why (default 'cli')")
    w.add_argument("--url", help=_URL_HELP)
    w.set_defaults(func=wake)


def _store(url: str | None, *, read_only: bool = False) -> Any:
    """The store; a read-only command neither creates nor migrates the database."""
    from engine.store import Store

    store = Store(url, create=not read_only)
    if not read_only:
        store.upgrade()
    return store


def _default_runner(store: Any, config: Any, broker: str = "alpaca", key_file: str | None = None,
                    data: str | None = None) -> Any:
    """The one cycle on each account's broker (Alpaca paper by default) behind the settings' safety rails.

    ``broker="alpaca"``: Alpaca market data and one AlpacaBroker per Alpaca account (keys from the environment,
    ``key_file`` or ``APCA_<LABEL>_*``); ``broker="sim"``: the embedded prices and the simulated broker rebuilt
    from the stored household on every run (the store is its state) — no keys, no network.
    """
    from datetime import date, timedelta

    from brokers import household_brokers, rails_for
    from engine.config import load_universe
    from engine.data import AlpacaSource, MarketData, load_market_data
    from engine.scheduler.engine_runner import EngineRunner
    from engine.settings import Settings

    universe = load_universe()
    embedded = MarketData.embedded() if broker == "sim" or data == "embedded" else None
    if broker == "sim":

        def sim_brokers(household: Any) -> Any:
            return household_brokers(household, embedded, default="sim", start=embedded.last_day, universe=universe)

        return EngineRunner(store, market=lambda: embedded, broker_for=sim_brokers, rails=rails_for(),
                            large_deposit=config.large_deposit)
    settings = Settings()
    if settings.alpaca_api_key is None and key_file is None:
        from brokers.alpaca import AlpacaBroker

        AlpacaBroker(paper=True)  # ConfigError naming APCA_API_KEY_ID / APCA_API_SECRET_KEY and the fix
    tickers = list(universe.tickers)

    def market() -> Any:
        if embedded is not None:
            return embedded
        source = AlpacaSource(settings.alpaca_api_key, settings.alpaca_secret_key)
        return load_market_data(source, tickers, date.today() - timedelta(days=365 * 11), date.today())

    def alpaca_brokers(household: Any) -> Any:
        return household_brokers(household, None, default="alpaca", key_file=key_file)

    return EngineRunner(store, market=market, broker_for=alpaca_brokers, rails=rails_for(),
                        large_deposit=config.large_deposit)


def _runner(spec: str | None, store: Any, config: Any, broker: str = "alpaca", key_file: str | None = None,
            data: str | None = None) -> Any:
    from engine.errors import ConfigError

    if spec is None:
        return _default_runner(store, config, broker, key_file, data)
    module, _, name = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError("cannot import the runner", field="--runner", value=spec,
                          fix="give module:callable, e.g. mypkg.jobs:make_runner") from exc
    return factory(store, config)


def run_schedule(args: argparse.Namespace) -> int:
    from engine.scheduler import RunState, SchedulerService, load_scheduler_config
    from robo.cli._out import console, table

    config = load_scheduler_config(args.config)
    with _store(args.url) as store:
        clock = None
        if args.at is not None:
            from engine.errors import ConfigError
            from engine.scheduler import FixedClock

            if not args.once:
                raise ConfigError("--at replays one instant: use it with --once", field="--at", value=str(args.at),
                                  fix="add --once, or drop --at to run in real time")
            clock = FixedClock(args.at)
        runner = _runner(args.runner, store, config, args.broker, args.key_file, args.data)
        service = SchedulerService(store, runner, config, clock=clock)
        if not args.once:
            service.run()
            return 0
        results = service.run_once()
        rows = [(r.job.value, r.household, r.trading_day, r.state.value, r.error or "") for r in results]
        if args.json:
            from robo.cli._cycle import emit

            emit({"runs": [dict(zip(("job", "household", "trading_day", "result", "error"), r, strict=True))
                           for r in rows]})
        else:
            console.print(table("This run", ["job", "household", "day", "result", "error"], rows))
        failed = [r for r in results if r.state in (RunState.FAILED, RunState.GAVE_UP)]
        return 1 if failed else 0


def status(args: argparse.Namespace) -> int:
    from engine.scheduler import SchedulerService, load_scheduler_config
    from robo.cli._out import console, table

    config = load_scheduler_config(args.config)
    with _store(args.url, read_only=True) as store:
        st = SchedulerService(store, _NoRunner(), config).status(limit=args.limit)
    if args.json:
        from robo.cli._cycle import emit

        emit({
            "upcoming": [{"job": w.job.value, "trading_day": w.trading_day, "due": w.due, "until": w.until}
                         for w in st.upcoming],
            "recent": [{"job": r.job, "household": r.household, "trading_day": r.trading_day,
                        "status": r.status.value, "attempt": r.attempt, "started": r.started, "error": r.error}
                       for r in st.recent],
            "paused": [{"household": p.household, "at": p.at, "actor": p.actor, "reason": p.reason}
                       for p in st.paused],
            "wakeups": [{"household": w.household, "reason": w.reason, "ref": w.ref} for w in st.wakeups],
            "alerts": [{"at": a.at, "job": a.job, "household": a.household, "message": a.message}
                       for a in st.alerts],
        })
        return 0
    zone = config.zone
    fmt = "%Y-%m-%d %H:%M %Z"
    console.print(table("Next", ["job", "trading day", "due", "until"], [
        (w.job.value, w.trading_day, w.due.astimezone(zone).strftime(fmt), w.until.astimezone(zone).strftime(fmt))
        for w in st.upcoming]))
    console.print(table("Last runs", ["job", "household", "day", "status", "attempt", "started", "error"], [
        (r.job, r.household, r.trading_day, r.status.value, r.attempt, r.started.astimezone(zone).strftime(fmt),
         (r.error or "")[:60]) for r in st.recent]))
    if st.paused:
        console.print(table("Paused", ["household", "since", "by", "reason"], [
            (p.household, p.at.astimezone(zone).strftime(fmt), p.actor, p.reason) for p in st.paused]))
    if st.wakeups:
        console.print(table("Waiting to react", ["household", "reason", "ref"], [
            (w.household, w.reason, w.ref) for w in st.wakeups]))
    if st.alerts:
        console.print(table("Alerts", ["at", "job", "household", "day", "message"], [
            (a.at.astimezone(zone).strftime(fmt), a.job, a.household, a.trading_day, a.message[:80])
            for a in st.alerts]))
    return 0


class _NoRunner:
    """Status needs no runner; refuses to run anything."""

    def run(self, ctx: Any) -> Any:  # pragma: no cover - status never runs jobs
        raise RuntimeError("status does not run jobs")


def pause(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from robo.cli._out import console

    with _store(args.url) as store:
        store.households.get(args.household)  # NotFound with the fix for an unknown id
        done = store.job_runs.pause(args.household, now=datetime.now(UTC), actor="cli", reason=args.reason)
    console.print(f"{args.household}: {'paused' if done else 'already paused'}")
    return 0


def resume(args: argparse.Namespace) -> int:
    from robo.cli._out import console

    with _store(args.url) as store:
        store.households.get(args.household)  # NotFound with the fix for an unknown id
        done = store.job_runs.resume(args.household, actor="cli")
    console.print(f"{args.household}: {'resumed' if done else 'was not paused'}")
    return 0


def wake(args: argparse.Namespace) -> int:
    import uuid
    from datetime import UTC, datetime

    from robo.cli._out import console

    with _store(args.url) as store:
        store.households.get(args.household)
        w = store.job_runs.wake(args.household, reason=args.reason, ref=f"cli:{uuid.uuid4().hex[:12]}",
                                now=datetime.now(UTC))
    console.print(f"{args.household}: its cycle runs at the next poll in market hours ({w.ref})")
    return 0
