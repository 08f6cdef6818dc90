"""Every validation error, with the ticker, the day and a fix in its message."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from engine.data import validate_prices
from engine.errors import BadPrice, CalendarError, DataError, EmptyRange, StaleData, UnknownTicker

DAYS = pd.DatetimeIndex(["2024-07-01", "2024-07-02", "2024-07-03", "2024-07-05", "2024-07-08"], name="Date")


def frame(**cols) -> pd.DataFrame:
    return pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in cols.items()}, index=DAYS)


def good() -> pd.DataFrame:
    return frame(VTI=[100, 101, 102, 101.5, 103], ESGV=[np.nan, np.nan, 50, 51, 50.5])


def test_a_good_frame_passes_unchanged():
    df = good()
    assert validate_prices(df) is df
    validate_prices(df, stale_after_days=0, as_of=date(2024, 7, 8), tickers=["VTI", "ESGV"])


def test_unknown_ticker():
    with pytest.raises(UnknownTicker, match="BND") as info:
        validate_prices(good(), tickers=["VTI", "BND"])
    assert info.value.ticker == "BND"


def test_empty_range():
    with pytest.raises(EmptyRange, match="no rows"):
        validate_prices(good().iloc[:0])
    with pytest.raises(EmptyRange, match="no ticker"):
        validate_prices(good()[[]])
    with pytest.raises(EmptyRange, match="ESGV: no price"):
        validate_prices(frame(VTI=[10, 10.1, 10.2, 10.3, 10.4], ESGV=[np.nan] * 5))


@pytest.mark.parametrize(
    ("ticker", "values", "pattern", "day"),
    [
        ("VTI", [100, 101, np.nan, 101, 102], "VTI: missing price on 2024-07-03 inside the fund's life", "2024-07-03"),
        ("VTI", [100, 101, 0.0, 101, 102], "VTI: non-positive price 0 on 2024-07-03", "2024-07-03"),
        ("VTI", [100, -1, 100, 101, 102], "VTI: non-positive price -1 on 2024-07-02", "2024-07-02"),
        ("VTI", [100, 101, np.inf, 101, 102], "VTI: infinite price on 2024-07-03", "2024-07-03"),
        ("VTI", [2e6, 2e6, 2e6, 2e6, 2e6], "VTI: absurd price", "2024-07-01"),
        ("VTI", [100, 101, 250, 251, 252], r"VTI: one-day move of \+147.5% from 2024-07-02 .* to 2024-07-03",
         "2024-07-03"),
        ("VTI", [100, 101, 35, 36, 37], r"one-day move of -65.3%.*raise max_daily_move", "2024-07-03"),
    ],
)
def test_bad_prices(ticker, values, pattern, day):
    with pytest.raises(BadPrice, match=pattern) as info:
        validate_prices(frame(**{ticker: values}))
    assert info.value.ticker == ticker and str(info.value.day) == day


def test_move_limit_is_a_parameter():
    split = frame(VTI=[100, 101, 50.5, 51, 52])  # an unadjusted 2-for-1 split: -50 %
    validate_prices(split)                          # under the 60 % default
    with pytest.raises(BadPrice, match="2024-07-03"):
        validate_prices(split, max_daily_move=0.25)
    validate_prices(frame(VTI=[100, 101, 250, 251, 252]), max_daily_move=None)


def test_calendar_errors():
    df = good()
    with pytest.raises(CalendarError, match="duplicate date 2024-07-02"):
        validate_prices(pd.concat([df.iloc[:2], df.iloc[1:]]))
    with pytest.raises(CalendarError, match="not in increasing order: 2024-07-02 comes after 2024-07-05"):
        validate_prices(df.iloc[[0, 3, 1, 2, 4]])
    holiday = df.rename(index={pd.Timestamp("2024-07-05"): pd.Timestamp("2024-07-04")})
    with pytest.raises(CalendarError, match="2024-07-04 is not an NYSE trading day"):
        validate_prices(holiday)
    validate_prices(holiday, check_calendar=False)
    with pytest.raises(CalendarError, match="DatetimeIndex"):
        validate_prices(df.reset_index(drop=True))
    with pytest.raises(CalendarError, match="time of day"):
        validate_prices(df.set_axis(df.index + pd.Timedelta(hours=16)))


def test_stale_data_counts_trading_days():
    df = good()  # newest price 2024-07-08 (Monday)
    validate_prices(df, stale_after_days=1, as_of=date(2024, 7, 9))
    with pytest.raises(StaleData, match=r"VTI: newest price is from 2024-07-08, 2 trading days before 2024-07-10"):
        validate_prices(df, stale_after_days=1, as_of=date(2024, 7, 10))
    friday = df.iloc[:4]  # newest 2024-07-05; the weekend does not count
    validate_prices(friday, stale_after_days=1, as_of=date(2024, 7, 8))


def test_not_a_frame_and_duplicate_columns():
    with pytest.raises(DataError):
        validate_prices([1, 2, 3])  # type: ignore[arg-type]
    df = good()
    with pytest.raises(DataError, match="more than one column"):
        validate_prices(pd.concat([df, df[["VTI"]]], axis=1))
