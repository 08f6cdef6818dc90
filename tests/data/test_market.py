"""MarketData: point-in-time cuts that cannot leak the future, reads, returns and annualised stats."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from engine.data import EmbeddedSource, MarketData, MarketSnapshot, annualized_stats, load_market_data
from engine.errors import EmptyRange, LookAheadError, UnknownTicker

CUT = date(2020, 3, 31)


@pytest.fixture(scope="module")
def market() -> MarketData:
    m = MarketData.embedded()
    assert len(m.tickers) == 26 and m.source == "embedded"
    return m


def test_as_of_shows_nothing_after_the_cut(market):
    past = market.as_of(CUT)
    assert past.last_day == CUT and past.cut == CUT and past.prices.index[-1] == pd.Timestamp(CUT)
    assert past.latest()["VTI"] == market.price("VTI", CUT)
    for read in (
        lambda: past.price("VTI", date(2020, 4, 1)),
        lambda: past.history(end=date(2020, 4, 1)),
        lambda: past.returns(["VTI"], end=date(2020, 4, 1)),
        lambda: past.snapshot(date(2020, 4, 1)),
        lambda: past.as_of(date(2020, 4, 1)),
    ):
        with pytest.raises(LookAheadError, match="2020-04-01 is after the point-in-time cut 2020-03-31"):
            read()
    # cutting on a weekend keeps Friday's close as the last one
    assert market.as_of(date(2020, 4, 5)).last_day == date(2020, 4, 3)


def test_a_planted_future_price_is_caught(market):
    past = market.as_of(CUT)
    past._frame.loc[pd.Timestamp("2020-04-01")] = past._frame.iloc[-1] * 2  # someone appends tomorrow
    with pytest.raises(LookAheadError, match="2020-04-01") as info:
        past.latest()
    assert info.value.day == date(2020, 4, 1)
    for read in (lambda: past.prices, lambda: past.history(), lambda: past.snapshot(CUT), lambda: past.last_day):
        with pytest.raises(LookAheadError):
            read()
    leaky = market.prices.loc[:"2020-04-02"]
    with pytest.raises(LookAheadError, match=r"2020-04-01 \(VTI\).*after the point-in-time cut"):
        MarketData(leaky, as_of=CUT)
    hist = market.history(end=date(2020, 4, 1))
    with pytest.raises(LookAheadError):
        MarketSnapshot(day=CUT, prices=hist.iloc[-1], history=hist)


def test_prices_are_a_copy(market):
    past = market.as_of(CUT)
    px = past.prices
    px.loc[pd.Timestamp(CUT), "VTI"] = -1.0
    assert past.price("VTI", CUT) > 0


def test_snapshot(market):
    snap = market.snapshot(date(2018, 9, 19))
    assert snap.day == date(2018, 9, 19) and snap.history.index[-1] == pd.Timestamp("2018-09-19")
    assert math.isnan(snap.prices["ESGV"])  # not launched yet
    with pytest.raises(EmptyRange, match="ESGV"):
        snap.price("ESGV")
    assert snap.price("vti") == market.price("VTI", date(2018, 9, 19))
    holiday = market.snapshot(date(2024, 7, 4))
    assert holiday.history.index[-1] == pd.Timestamp("2024-07-03")
    assert holiday.price("VTI") == market.price("VTI", date(2024, 7, 3))
    with pytest.raises(UnknownTicker):
        snap.price("QQQ")


def test_history_and_returns(market):
    h = market.history(["VTI", "BND"], start=date(2024, 7, 1), end=date(2024, 7, 8))
    assert list(h.columns) == ["VTI", "BND"] and len(h) == 5
    r = market.returns(["VTI"], start=date(2024, 7, 1), end=date(2024, 7, 8))
    assert len(r) == 5  # the return on 2024-07-01 uses 2024-06-28's close
    prev = market.price("VTI", date(2024, 6, 28))
    assert r["VTI"].iloc[0] == pytest.approx(h["VTI"].iloc[0] / prev - 1)
    assert r["VTI"].iloc[-1] == pytest.approx(h["VTI"].iloc[-1] / h["VTI"].iloc[-2] - 1)
    with pytest.raises(UnknownTicker, match="QQQ"):
        market.history(["QQQ"])
    with pytest.raises(EmptyRange):
        market.history(start=date(2024, 7, 6), end=date(2024, 7, 7))


def test_load_market_data_from_a_source():
    m = load_market_data(EmbeddedSource(), ["VTI", "BND"], date(2010, 1, 4), date(2010, 12, 31))
    assert m.tickers == ["VTI", "BND"] and m.first_day == date(2010, 1, 4) and m.last_day == date(2010, 12, 31)
    assert "VTI" in m and "QQQ" not in m and len(m) == 252


def test_annualized_stats_against_a_hand_computation(market):
    stats = annualized_stats(market.prices, years=10, end=date(2026, 8, 3))
    assert set(stats.columns) == {"annual_return", "annual_volatility", "first_day", "last_day", "observations"}
    vti = market.history(["VTI"], start=date(2016, 8, 3), end=date(2026, 8, 3))["VTI"]
    years = (date(2026, 8, 3) - date(2016, 8, 3)).days / 365.25
    assert stats.loc["VTI", "annual_return"] == pytest.approx((vti.iloc[-1] / vti.iloc[0]) ** (1 / years) - 1)
    daily = np.diff(vti.to_numpy()) / vti.to_numpy()[:-1]
    assert stats.loc["VTI", "annual_volatility"] == pytest.approx(np.std(daily, ddof=1) * np.sqrt(252))
    assert stats.loc["VTI", "observations"] == len(vti) - 1
    assert stats.loc["ESGV", "first_day"] == date(2018, 9, 20)  # younger than the window: its own life
    assert 0.10 < stats.loc["VTI", "annual_return"] < 0.20 and 0.0 < stats.loc["BIL", "annual_volatility"] < 0.01
