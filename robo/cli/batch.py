"""``robo batch plan``: plan the day's cycle for many households, with a progress bar (households/s, ETA).

robo batch plan --households all --executor processes --workers 4
robo batch plan --households synthetic:500 --executor dask --scheduler tcp://10.0.0.5:8786
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from engine.errors import ConfigError


def register(sub: Any) -> None:
    """Add ``robo batch plan``."""
    parser = sub.add_parser("batch", help="plan the cycle for many households (process pool or Dask)")
    cmds = parser.add_subparsers(dest="batch_command", metavar="ACTION", required=True)
    plan = cmds.add_parser("plan", help="plan every household; results and failures are saved per household")
    plan.add_argument(
        "--households",
        default="all",
        help="'all' (every household in the store), a YAML file or folder of them, or synthetic:N",
    )
    plan.add_argument("--as-of", type=date.fromisoformat, default=None, help="trading day (default: last price)")
    plan.add_argument("--executor", choices=["inline", "processes", "dask"], default="processes")
    plan.add_argument("--workers", type=int, default=None, help="workers (default: CPU count)")
    plan.add_argument("--scheduler", default=None, help="Dask scheduler address (default ROBO_DASK_SCHEDULER)")
    plan.add_argument("--no-save", action="store_true", help="do not write proposals and the run to the store")
    plan.set_defaults(func=_plan)


def _households(arg: str, universe: Any, store: Any) -> list[Any]:
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
        return synthetic(n, seed=0)
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

    from engine.batch import BatchProgress, Executor, run_batch
    from engine.config import load_universe
    from engine.data import MarketData
    from engine.store import Store
    from robo.cli._out import console, table

    universe = load_universe()
    market = MarketData.embedded()
    as_of = args.as_of or market.last_day
    store = Store.from_settings()
    save = not args.no_save
    if save or args.households == "all":
        store.upgrade()
    households = _households(args.households, universe, store)
    if not households:
        console.print("no households to plan (import some with robo household import)")
        return 1
    columns = (
        TextColumn("[bold]planning"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.1f} households/s"),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("[red]{task.fields[failed]} failed"),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("batch", total=len(households), rate=0.0, failed=0)

        def update(p: BatchProgress) -> None:
            bar.update(task, completed=p.done, rate=p.rate, failed=p.failed)

        result = run_batch(
            households,
            as_of,
            executor=Executor(args.executor),
            workers=args.workers,
            market=market,
            universe=universe,
            scheduler=args.scheduler,
            store=store if save else None,
            progress=update,
        )
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
    return 0 if result.planned or not households else 1
