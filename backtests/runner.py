"""Run every strategy of a scenario — in parallel processes — and collect one ``BacktestResult``.

    result = run_scenario(load_scenario("demo"), processes=3)
    print(result.metrics[["twr_after_tax", "taxes_paid"]])

Runs are deterministic: the same scenario and seed give identical results in any process layout.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from backtests.harness import StrategyRun, run_strategy, scenario_prices
from backtests.market import PriceTable
from backtests.result import BacktestResult
from backtests.scenario import Scenario, StrategyKind
from backtests.strategies import engine_available

__all__ = ["format_table", "run_demo", "run_scenario"]


def _one(scenario: Scenario, name: str, prices: PriceTable) -> StrategyRun:
    np.random.seed(scenario.seed)  # determinism for anything stochastic downstream
    return run_strategy(scenario, name, prices)


def run_scenario(
    scenario: Scenario,
    strategies: Sequence[str] | None = None,
    *,
    prices: PriceTable | None = None,
    processes: int | None = None,
    on_done: Callable[[str, int, int], None] | None = None,
) -> BacktestResult:
    """Run the scenario's strategies (all, or the named ones) and compare them.

    Args:
        strategies: names to run (default: all in the scenario).
        prices: a price table covering the scenario's funds (default: the embedded prices).
        processes: worker processes (default: min(strategies, CPUs); 1 runs in this process).
        on_done: called as ``on_done(strategy, finished, total)`` when each strategy finishes.

    Adaptive strategies are skipped (listed in ``result.skipped``) until ``engine.Engine`` exists.
    """
    from engine import __version__

    names = list(strategies) if strategies else [s.name for s in scenario.strategies]
    specs = [scenario.strategy(n) for n in names]
    skipped: dict[str, str] = {}
    if not engine_available():
        for s in specs:
            if s.kind is StrategyKind.ADAPTIVE:
                skipped[s.name] = "engine.Engine has not landed yet"
    todo = [s.name for s in specs if s.name not in skipped]
    table = scenario_prices(scenario, prices)
    runs: dict[str, StrategyRun] = {}
    workers = processes or min(len(todo), os.cpu_count() or 1)
    if workers <= 1 or len(todo) <= 1:
        for i, n in enumerate(todo, 1):
            runs[n] = _one(scenario, n, table)
            if on_done:
                on_done(n, i, len(todo))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(_one, scenario, n, table): n for n in todo}
            for i, fut in enumerate(as_completed(futures), 1):
                n = futures[fut]
                runs[n] = fut.result()
                if on_done:
                    on_done(n, i, len(todo))
    runs = {n: runs[n] for n in todo}  # scenario order, whatever finished first
    baselines = {}
    for s in specs:
        base = s.tax_alpha_baseline
        if base is None and s.kind is StrategyKind.ADAPTIVE and s.harvest is not False:
            base = next((x.name for x in scenario.strategies
                         if x.kind is StrategyKind.ADAPTIVE and not x.harvest and x.asset_location), None)
        if base and base != s.name:
            baselines[s.name] = base
    events = sorted({e for r in runs.values() for e in r.events})
    return BacktestResult(
        scenario=scenario.name, scenario_hash=scenario.hash, config=scenario.config,
        version=__version__, seed=scenario.seed, runs=runs, events=events, skipped=skipped,
        baselines=baselines, universe=scenario.universe,
    )


def format_table(result: BacktestResult) -> str:
    """The comparison table as fixed-width text (strategy, then ``TABLE_COLUMNS``), for logs and terminals."""
    from backtests.result import TABLE_COLUMNS

    head = ["Strategy", *[h for _, h, _ in TABLE_COLUMNS], "Approvals", "Plan errors"]
    rows = [[*cells, str(result.runs[cells[0]].approvals_needed), str(len(result.runs[cells[0]].plan_errors))]
            for cells in result.table_rows()]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(r: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))

    return "\n".join([line(head), *(line(r) for r in rows)])


def run_demo(out_dir: Path, *, processes: int | None = None, echo: Callable[[str], None] = print) -> BacktestResult:
    """Run the demo scenario with all its strategies (parallel processes), print the table, write the report.

    Writes ``out_dir/backtest-report.html`` (PNGs beside it) and the CSVs + provenance under
    ``out_dir/backtest/``. Returns the ``BacktestResult``; ``echo`` receives the printed lines.
    """
    from backtests.scenario import load_scenario

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scenario = load_scenario("demo")
    t0 = time.perf_counter()
    result = run_scenario(scenario, processes=processes)
    wall = time.perf_counter() - t0
    first = next(iter(result.runs.values()))
    echo(f"demo backtest {first.days[0]} → {first.days[-1]} (scenario hash {scenario.hash[:12]}), "
         f"{len(result.runs)} strategies in {wall:.0f} s")
    echo(format_table(result))
    result.save(out / "backtest")
    echo(f"report: {result.report(out / 'backtest-report.html').resolve()}")
    return result
