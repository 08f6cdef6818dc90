"""Metrics agree with empyrical on its own published test series, and cash-flow returns are exact."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from backtests.metrics import money_weighted_return, summary, time_weighted_returns
from engine.errors import ConfigError

DECIMALS = 8
IDX = pd.date_range("2000-1-30", periods=9, freq="D")
MIXED = pd.Series(np.array([np.nan, 1.0, 10.0, -4.0, 2.0, 3.0, 2.0, 1.0, -10.0]) / 100, index=IDX)
POSITIVE = pd.Series(np.array([1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]) / 100, index=IDX)
NEGATIVE = pd.Series(np.array([0.0, -6.0, -7.0, -1.0, -9.0, -2.0, -6.0, -8.0, -5.0]) / 100, index=IDX)
ALL_NEGATIVE = pd.Series(np.array([-2.0, -6.0, -7.0, -1.0, -9.0, -2.0, -6.0, -8.0, -5.0]) / 100, index=IDX)
WEEKLY = pd.Series(np.array([0.0, 1.0, 10.0, -4.0, 2.0, 3.0, 2.0, 1.0, -10.0]) / 100,
                   index=pd.date_range("2000-1-30", periods=9, freq="W"))
MONTHLY = pd.Series(WEEKLY.values, index=pd.date_range("2000-1-30", periods=9, freq="ME"))
ONE = pd.Series([0.01], index=pd.date_range("2000-1-30", periods=1, freq="D"))
EMPTY = pd.Series([], dtype=float, index=pd.date_range("2000-1-30", periods=0, freq="D"))


# Expected values published in empyrical-reloaded's tests/test_stats.py.
@pytest.mark.parametrize(
    "returns, ppy, key, expected",
    [
        (MIXED, 252, "annual_return", 1.9135925373194231),
        (WEEKLY, 52, "annual_return", 0.24690830513998208),
        (MONTHLY, 12, "annual_return", 0.052242061386048144),
        (MIXED, 252, "annual_volatility", 0.9136465399704637),
        (WEEKLY, 52, "annual_volatility", 0.38851569394870583),
        (MONTHLY, 12, "annual_volatility", 0.18663690238892558),
        (MIXED, 252, "calmar_ratio", 19.135925373194233),
        (WEEKLY, 52, "calmar_ratio", 2.4690830513998208),
        (MONTHLY, 12, "calmar_ratio", 0.52242061386048144),
        (MIXED, 252, "sharpe_ratio", 1.7238613961706866),
        (POSITIVE, 252, "sharpe_ratio", 52.915026221291804),
        (NEGATIVE, 252, "sharpe_ratio", -24.406808633910085),
        (MIXED, 252, "sortino_ratio", 2.605531251673693),
        (NEGATIVE, 252, "sortino_ratio", -13.532743075043401),
        (WEEKLY, 52, "sortino_ratio", 1.1158901056866439),
        (MONTHLY, 12, "sortino_ratio", 0.53605626741889756),
        (MIXED, 252, "max_drawdown", -0.1),
        (NEGATIVE, 252, "max_drawdown", -0.36590730),
        (ALL_NEGATIVE, 252, "max_drawdown", -0.378589157),
        (POSITIVE, 252, "max_drawdown", 0.0),
        (MIXED, 252, "cumulative_return", 0.03893),
        (NEGATIVE, 252, "cumulative_return", -0.36590),
    ],
)
def test_summary_matches_empyrical_published_values(returns, ppy, key, expected):
    got = summary(returns, periods_per_year=ppy)[key]
    places = 4 if key == "cumulative_return" else DECIMALS
    np.testing.assert_almost_equal(got, expected, places)


def test_summary_edge_cases_follow_empyrical():
    assert math.isnan(summary(EMPTY)["annual_return"]) and math.isnan(summary(EMPTY)["max_drawdown"])
    assert math.isnan(summary(ONE)["sharpe_ratio"]) and summary(ONE)["max_drawdown"] == 0.0
    assert summary(POSITIVE)["sortino_ratio"] == np.inf
    assert set(summary(MIXED)) == {"cumulative_return", "annual_return", "annual_volatility", "sharpe_ratio",
                                   "sortino_ratio", "max_drawdown", "calmar_ratio"}


def test_summary_passes_risk_free_and_required_return():
    # empyrical's published: sharpe(mixed, risk_free=simple_benchmark) needs a series; a scalar shifts.
    s0 = summary(MIXED)["sharpe_ratio"]
    s1 = summary(MIXED, risk_free=0.005)["sharpe_ratio"]
    assert s1 < s0
    assert summary(MIXED, required_return=0.01)["sortino_ratio"] < summary(MIXED)["sortino_ratio"]


def test_bad_periods_per_year_is_a_config_error():
    with pytest.raises(ConfigError, match="periods_per_year"):
        summary(MIXED, periods_per_year=0)


def test_twr_and_mwr_by_hand():
    """$100 doubles, $200 more goes in, then everything halves: TWR 0 %, MWR −26.79 % a year.

    Dates are exactly 365 days apart, so the IRR solves 100·x² + 200·x = 200 → x = √3 − 1.
    """
    days = [date(2021, 1, 4), date(2022, 1, 4), date(2023, 1, 4)]
    values = np.array([100.0, 400.0, 200.0])
    flows = np.array([0.0, 200.0, 0.0])
    r = time_weighted_returns(values, flows)
    np.testing.assert_allclose(r, [1.0, -0.5])
    assert (1 + r).prod() - 1 == pytest.approx(0.0, abs=1e-12)
    mwr = money_weighted_return(days, flows, values[0], values[-1])
    assert mwr == pytest.approx(math.sqrt(3) - 2, abs=1e-9)  # x − 1 = √3 − 2 ≈ −0.2679


def test_mwr_equals_twr_without_flows():
    days = [date(2020, 1, 1), date(2021, 1, 1)]  # 366 days: Actual/365
    mwr = money_weighted_return(days, [0.0, 0.0], 100.0, 110.0)
    assert mwr == pytest.approx(1.1 ** (365 / 366) - 1, abs=1e-10)
