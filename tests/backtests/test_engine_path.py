"""The adaptive strategy drives the live engine cycle: check → plan → approve → execute, on guarded data."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from backtests import load_scenario, run_strategy
from backtests.harness import scenario_prices
from backtests.market import SteppedMarket, _MarketView
from engine.errors import LookAheadError


@pytest.fixture(scope="module")
def short_demo():
    """The demo household over its first ten months (the 2008 fall included), pinned shape."""
    sc = replace(load_scenario("demo"), end=date(2008, 5, 30))
    table = scenario_prices(sc)
    assert table.prices.shape == (210, 21)
    return sc, table


@pytest.fixture(scope="module")
def adaptive_run(short_demo):
    sc, table = short_demo
    return run_strategy(sc, "adaptive", table)


def test_adaptive_trades_through_engine_execute_and_reconciles(adaptive_run):
    run = adaptive_run
    assert run.executions >= 3 and any(t[8] == "engine" for t in run.trades)
    assert run.approvals_needed >= 1  # the first run's turnover would have needed a human
    assert not [n for n in run.notes if "discrepancies" in n]  # after every execution the ledger == the broker
    assert run.value[-1] > 0 and run.flows.sum() > 0
    held = run.weights[-1].sum()
    assert 0.8 < held <= 1.0  # invested, a cash reserve aside


def test_a_future_row_leaked_into_the_engine_data_is_caught(short_demo):
    sc, table = short_demo

    class Leaky(SteppedMarket):
        def as_of(self, day):  # hands the engine one trading day too many
            view = super().as_of(day)
            return _MarketView(self, min(view._t + 1, len(self.table.days) - 1), day)

    with pytest.raises(LookAheadError, match="from the future"):
        run_strategy(sc, "adaptive", table, market=Leaky(table))


def test_the_engine_cannot_ask_for_a_day_after_the_backtest_day(short_demo):
    _, table = short_demo
    market = SteppedMarket(table)
    market.advance(date(2007, 9, 4))
    market.as_of(date(2007, 9, 4)).history()
    with pytest.raises(LookAheadError, match="point-in-time"):
        market.as_of(date(2007, 9, 5))
