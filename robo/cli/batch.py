"""``robo batch plan|run``: the day's cycle for many households, with a progress bar (households/s, ETA).

robo batch plan --households all --executor processes --workers 4
robo batch plan --households synthetic:500 --executor dask --scheduler tcp://10.0.0.5:8786
robo batch run --households all          # plan, save, then execute what needs no approval (simulated broker)
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from robo.cli import _args


def register(sub: Any) -> None:
    """Add ``robo batch plan`` and ``robo batch run``."""
    parser = sub.add_parser("batch", help="plan (and execute) the cycle for many households (process pool or Dask)")
    cmds = parser.add_subparsers(dest="batch_command", metavar="ACTION", required=True)
    plan = cmds.add_parser("plan", help="plan every household; results and failures are saved per household")
    _common(plan)
    plan.add_argument("--no-save", action="store_true", help="do not write proposals and the run to the store")
    plan.set_defaults(func=_plan, execute=False)
    run = cmds.add_parser(
        "run", help="plan, save, then execute every proposal that needs no approval (the rest wait for a human)"
    )
    _common(run)
    run.add_argument("--broker", choices=["sim", "alpaca"], default="sim",
                     help="sim: a simulated broker per household over the embedded prices (default)")
    run.add_argument("--threads", type=_args.int_range("--threads", 1, 64), default=1,
                     help="households executed at a time (default 1)")
    run.set_defaults(func=_plan, execute=True, no_save=False)


def _common(plan: argparse.ArgumentParser) -> None:
    plan.add_argument(
        "--households",
        default="all",
        type=_args.households_arg("--households"),
        help="'all' (every household in the store), a YAML file or folder of them, or synthetic:N",
    )
    plan.add_argument("--as-of", type=_args.trading_day("--as-of"), default=None,
                      help="trading day (default: last price)")
    plan.add_argument("--executor", choices=["inline", "processes", "dask"], default="processes")
    plan.add_argument("--workers", type=_args.int_range("--workers", 1, 256), default=None,
                      help="workers (default: CPU count)")
    plan.add_argument("--scheduler", default=None, help="Dask scheduler address (default ROBO_DASK_SCHEDULER)")
    plan.add_argument("--kind", choices=["full_rebalance", "tax_loss_harvest"], default="full_rebalance",
                      help="what each household's plan is: a full rebalance, or the nightly tax-loss harvest run")


def _households(arg: str, universe: Any, store: Any, as_of: date) -> list[Any]:
    from engine.batch import synthetic
    from engine.config import load_household

    if arg == "all":
        return [store.households.get(i) for i in store.households.list()]
    if arg.startswith("synthetic:"):
        try:
            n = int(arg.split(":", 1)[1])
        except ValueError as exc:
            raise ConfigError(
                "synthetic needs a count", field="--households", value=arg, fix="e.g. synthetic:500"
            ) from exc
        return synthetic(n, seed=0, as_of=as_of)
    path = Path(arg)
    if path.is_dir():
        return [load_household(p, universe=universe) for p in sorted(path.glob("*.y*ml"))]
    if path.exists():
        return [load_household(path, universe=universe)]
    raise ConfigError(
        "no such household file or folder",
        field="--households",
        value=arg,
        fix="pass 'all', a YAML path, a folder of YAML files, or synthetic:N",
    )


def _plan(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from brokers import rails_for
    from engine.batch import BatchOptions, BatchProgress, Executor, run_batch
    from engine.config import load_universe
    from engine.data import MarketData
    from engine.store import Store
    from robo.cli._cycle import default_day
    from robo.cli._out import console, table

    universe = load_universe()
    market = MarketData.embedded()
    as_of = args.as_of or (default_day(market, "sim") if args.execute else market.last_day)
    broker_for = _broker_factory(args, market, universe, as_of) if args.execute else None
    store = Store.from_settings()
    save = not args.no_save
    if save or args.households == "all":
        store.upgrade()
    households = _households(args.households, universe, store, as_of)
    if not households:
        console.print("no households to plan (import some with robo household import)")
        return 1
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.1f} households/s"),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("[red]{task.fields[failed]} failed"),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        tasks = {"plan": bar.add_task("planning", total=len(households), rate=0.0, failed=0)}

        def update(p: BatchProgress) -> None:
            if p.phase not in tasks:
                tasks[p.phase] = bar.add_task("executing", total=p.total, rate=0.0, failed=0)
            bar.update(tasks[p.phase], completed=p.done, total=p.total, rate=p.rate, failed=p.failed)

        options = BatchOptions(
            executor=Executor(args.executor),
            workers=args.workers,
            market=market,
            universe=universe,
            scheduler=args.scheduler,
            store=store if save else None,
            progress=update,
            execute=args.execute,
            broker_for=broker_for,
            execute_threads=getattr(args, "threads", 1),
            rails=rails_for() if args.execute else None,
            run_kind=args.kind,
        )
        result = run_batch(households, as_of, options)
    store.close()
    console.print(
        f"{len(result.planned)} planned, {len(result.failed)} failed in {result.seconds:.1f} s "
        f"({result.households_per_second:.1f} households/s, {result.workers} worker(s), {result.executor.value}); "
        f"setup {result.setup_seconds:.1f} s; peak worker memory {result.peak_rss / 2**20:.0f} MB"
        + (f"; run {result.run_id}" if result.run_id else "")
    )
    if result.failed:
        rows = [(o.household, o.status.value, o.error_type, (o.error or "")[:110]) for o in result.failed[:20]]
        console.print(table("Failures", ["household", "status", "error", "message"], rows))
    if args.execute:
        _print_executions(result)
    return 0 if result.planned or not households else 1


def _print_executions(result: Any) -> None:
    from collections import Counter

    from robo.cli._out import console, table

    counts = Counter(e.status.value for e in result.executions.values())
    console.print(
        f"executed in {result.execute_seconds:.1f} s: "
        + (", ".join(f"{n} {status.replace('_', ' ')}" for status, n in sorted(counts.items())) or "nothing to execute")
    )
    waiting = [e for e in result.executions.values() if e.status.value == "awaiting_approval"]
    if waiting:
        console.print(f"{len(waiting)} proposal(s) wait for approval: robo approve PROPOSAL_ID, then the scheduler's "
                      f"execute_approved job (or robo execute PROPOSAL_ID) runs them", highlight=False)
    bad = [e for e in result.executions.values() if not e.ok and e.status.value != "awaiting_approval"]
    if bad:
        rows = [(e.household, e.proposal, e.status.value, f"{e.fills}/{e.orders}",
                 "; ".join([*e.errors, *e.discrepancies])[:110]) for e in bad[:20]]
        console.print(table("Execution problems", ["household", "proposal", "status", "fills/orders", "why"], rows))


def _broker_factory(args: argparse.Namespace, market: Any, universe: Any, as_of: date) -> Any:
    """A simulated broker per household, holding its lots and cash (Alpaca trades one account: not for batches)."""
    if args.broker == "alpaca":
        raise ConfigError(
            "an Alpaca account trades one household account, so a batch cannot share one",
            field="--broker",
            value="alpaca",
            fix="run robo rebalance --broker alpaca per household, or give run_batch a broker_for that maps "
            "each household to its own account (see docs/batch.md)",
        )
    from brokers import simulated_for

    def broker_for(household: Any) -> Any:
        return simulated_for(household, market, as_of, universe)

    return broker_for
