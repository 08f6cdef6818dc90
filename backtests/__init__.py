"""Backtest harness: replay the very same engine cycle through history, after taxes, with cash flows.

    from backtests import load_scenario, run_scenario
    result = run_scenario(load_scenario("demo")); result.report("demo.html")

Public surface: scenarios (``load_scenario``), the loop (``run_strategy``, ``run_scenario``), the
``Strategy`` protocol and its benchmarks, results (``BacktestResult``), metrics (``summary`` and friends)
and point-in-time prices (``PriceTable``, ``PointInTimeGuard``).
"""

from backtests.harness import StrategyRun, run_strategy
from backtests.market import MarketSnapshot, PointInTimeGuard, PriceTable, check_point_in_time
from backtests.metrics import money_weighted_return, summary, time_weighted_returns
from backtests.result import BacktestResult
from backtests.runner import format_table, run_demo, run_scenario
from backtests.scenario import Scenario, StrategyKind, StrategySpec, list_scenarios, load_scenario
from backtests.strategies import (
    AdaptiveEngine,
    Decision,
    GlidePath,
    PortfolioState,
    StaticMix,
    Strategy,
    StrategyContext,
    ThresholdRebalanced,
    available_mix,
)

__all__ = [
    "AdaptiveEngine",
    "BacktestResult",
    "Decision",
    "GlidePath",
    "MarketSnapshot",
    "PointInTimeGuard",
    "PortfolioState",
    "PriceTable",
    "Scenario",
    "StaticMix",
    "Strategy",
    "StrategyContext",
    "StrategyKind",
    "StrategyRun",
    "StrategySpec",
    "ThresholdRebalanced",
    "available_mix",
    "check_point_in_time",
    "format_table",
    "list_scenarios",
    "load_scenario",
    "money_weighted_return",
    "run_demo",
    "run_scenario",
    "run_strategy",
    "summary",
    "time_weighted_returns",
]
