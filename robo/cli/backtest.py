"""``robo backtest SCENARIO.yaml`` — replay strategies through history and compare them; ``robo demo``.

    robo backtest demo --report demo.html --strategies static_60_40,glide_path
    robo demo
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from typing import Any

from robo.cli import _args

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add ``backtest`` (and ``demo``, unless a dedicated demo command module exists)."""
    p = sub.add_parser("backtest", help="replay strategies through history and compare them")
    p.add_argument("scenario", help="a scenario YAML path or a shipped name (demo, retiree, esg, tlh, direct)")
    p.add_argument("--report", type=_args.output_file("--report", suffixes=(".html", ".htm")), default=None,
                   help="write the HTML report here (PNGs beside it)")
    p.add_argument("--strategies", type=_args.strategy_list("--strategies"), default=None,
                   help="comma-separated strategy names (default: all)")
    p.add_argument("--processes", type=_args.int_range("--processes", 1, 256), default=None,
                   help="worker processes (default: one per CPU)")
    p.add_argument("--save", type=_args.output_dir("--save"), default=None,
                   help="write CSVs and provenance.json to this folder")
    p.add_argument("--prices", type=_args.input_file("--prices", suffixes=(".csv", ".gz")), default=None,
                   help="a CSV of adjusted closes (wide or long) to run on instead of the scenario's data; for "
                   "'direct' the S&P 500 set's sp500_adj_close.csv.gz (its sectors and dividends files beside it)")
    p.add_argument("--cadence", type=_args.int_range("--cadence", 1, 252), default=None,
                   help="direct only: trading days between decisions (harvest passes) of both strategies; 1 = daily")
    p.add_argument("--max-daily-move", type=_args.real_range("--max-daily-move", 0.0, 100.0), default=0.60,
                   help="with --prices: the largest one-day move accepted (fraction; 0 switches the check off)")
    p.add_argument("--json", action="store_true",
                   help='print {"strategies": {NAME: {twr_pre_tax, tax_alpha, ...}}} as JSON instead of the table')
    p.set_defaults(func=_backtest)
    if importlib.util.find_spec("robo.cli.demo") is None:
        d = sub.add_parser("demo", help="run the demo scenario end to end and write its report")
        d.add_argument("--report", type=_args.output_file("--report", suffixes=(".html", ".htm")),
                       default=Path("robo-demo-report.html"))
        d.add_argument("--processes", type=_args.int_range("--processes", 1, 256), default=None)
        d.set_defaults(func=run_demo)


def _run(scenario_arg: str, strategies: str | None, processes: int | None, report: Path | None,
         save: Path | None = None, *, prices: Path | None = None, max_daily_move: float | None = 0.60,
         as_json: bool = False) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from backtests import load_scenario, run_scenario
    from backtests.result import TABLE_COLUMNS
    from robo.cli._out import console, table

    scenario = load_scenario(scenario_arg)
    table_in = None
    if prices is not None:
        from datetime import date

        from backtests import PriceTable
        from engine.data import CsvSource

        source = CsvSource(prices, max_daily_move=max_daily_move or None)
        table_in = PriceTable.from_source(source, scenario.universe.tickers, scenario.start,
                                          scenario.end or date.today())
    names = [s.strip() for s in strategies.split(",")] if strategies else None
    total = len(names) if names else len(scenario.strategies)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(f"backtest {scenario.name}", total=total)

        def done(name: str, i: int, n: int) -> None:
            bar.update(task, completed=i + (total - n), description=f"backtest {scenario.name}: {name} done")

        result = run_scenario(scenario, names, processes=processes, on_done=done, prices=table_in)
    if as_json:
        import json

        print(json.dumps(result.summary(), indent=2, default=str))
        if save is not None:
            result.save(save)
        if report is not None:
            result.report(report)
        return 0
    first = next(iter(result.runs.values()), None)
    period = f"{first.days[0]} → {first.days[-1]}" if first else ""
    t = table(f"{scenario.name}: {period} (hash {scenario.hash[:12]})",
              ["Strategy", *[h for _, h, _ in TABLE_COLUMNS]], result.table_rows())
    t.columns[0].no_wrap = True
    t.columns[0].min_width = max((len(n) for n in result.runs), default=8)
    console.print(t)
    for name, why in result.skipped.items():
        console.print(f"[yellow]skipped[/] {name}: {why}")
    if save is not None:
        console.print(f"results: {result.save(save)}")
    if report is not None:
        console.print(f"report: {result.report(report).resolve()}")
    return 0


def _run_direct(args: argparse.Namespace) -> int:
    """``robo backtest direct --prices FILE``: the direct-index sleeve against the fund with fund-level harvesting."""
    import json

    from backtests.direct import CBL_TAX_ALPHA, load_direct_data, load_direct_scenario, run_direct
    from engine.errors import ConfigError
    from robo.cli._out import console, table

    scenario = load_direct_scenario(args.scenario)
    if args.prices is None:
        raise ConfigError("the direct scenario runs on the S&P 500 research set, which is never shipped",
                          field="--prices", fix="pass --prices ../shared/data/sp500/sp500_adj_close.csv.gz "
                          "(its sp500_sectors.csv and sp500_dividends_splits.csv.gz beside it)")
    if args.strategies:
        unknown = [s for s in args.strategies.split(",") if s.strip() not in scenario.strategies]
        if unknown:
            raise ConfigError("unknown strategy", field="--strategies", value=unknown,
                              fix=f"the direct scenario runs {', '.join(scenario.strategies)}")
    data = load_direct_data(args.prices)
    names = [s.strip() for s in args.strategies.split(",")] if args.strategies else None
    with console.status(f"backtest {scenario.name} ({len(names or scenario.strategies)} strategies)"):
        result = run_direct(scenario, data, strategies=names, cadence_days=args.cadence)
    out = result.summary()
    if args.json:
        print(json.dumps(out, indent=2, default=str))
        return 0
    rows = []
    for name, m in out["strategies"].items():
        rows.append([name, f"{m['twr_pre_tax']:.2%}", f"{m['twr_after_tax']:.2%}", f"{m['tax_drag']:.2%}",
                     f"${m['final_liquidation']:,.0f}", f"${m['harvested']:,.0f}", f"{m['harvest_yield']:.2%}",
                     f"{m['turnover']:.1%}", f"{m['tracking_error']:.2%}", f"{m.get('tax_drag_alpha', 0.0):+.2%}"])
    a, b = out["period"]
    console.print(table(f"{scenario.name}: {a} → {b}, {out['stocks']} stocks, a decision every "
                        f"{out['cadence_days']} trading days", ["Strategy", "TWR pre-tax", "TWR after-tax",
                        "Tax drag", "After liquidation", "Harvested", "Harvest yield", "Turnover",
                        "Tracking error", "Tax-drag α"], rows))
    console.print(f"direct over fund_tlh: tax-drag alpha {out['tax_drag_alpha']:+.2%}/yr (realized tracking error "
                  f"{out['strategies'].get('direct', {}).get('tracking_error', float('nan')):.2%}/yr, limit "
                  f"{out['te_limit']:.2%}) — Chaudhuri, Burnham & Lo (FAJ 2020): {CBL_TAX_ALPHA:.2%}/yr with the "
                  "wash-sale rule (CRSP 500 largest, 1926–2018, monthly, 35 %/15 % rates, losses always usable)")
    console.print(f"[yellow]note[/] {out['survivorship']}")
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from backtests.direct import is_direct_scenario

    if is_direct_scenario(args.scenario):
        return _run_direct(args)
    if args.cadence is not None:
        from engine.errors import ConfigError

        raise ConfigError("--cadence is for the direct scenario only", field="--cadence", value=args.cadence,
                          fix="drop --cadence, or run robo backtest direct")
    return _run(args.scenario, args.strategies, args.processes, args.report, args.save, prices=args.prices,
                max_daily_move=args.max_daily_move, as_json=args.json)


def run_demo(args: argparse.Namespace) -> int:
    """``robo demo``: the demo scenario end to end — comparison table and the report's path.

    ``args.strategies`` (comma-separated) narrows the run; None runs every strategy of the scenario.
    """
    return _run("demo", getattr(args, "strategies", None), getattr(args, "processes", None),
                getattr(args, "report", None) or Path("robo-demo-report.html"))
