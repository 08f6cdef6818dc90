"""Checks on a wide frame of adjusted closes; every failure names the ticker, the day and a fix.

    from engine.data.validate import validate_prices
    validate_prices(frame, max_daily_move=0.60, stale_after_days=3)   # raises BadPrice, CalendarError, ...

A valid frame has a ``DatetimeIndex`` of distinct, increasing NYSE trading days (midnight, no time
zone) and one float column per ticker; a cell may be empty only before a fund's first price or after
its last one (never inside its life); prices are positive, finite and below 1,000,000 USD.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd

from engine.errors import BadPrice, CalendarError, DataError, EmptyRange, StaleData, UnknownTicker

__all__ = ["MAX_PRICE", "validate_prices"]

#: Prices at or above this (USD per share) are treated as absurd (a unit or parsing error).
MAX_PRICE = 1_000_000.0


def _day(ts: pd.Timestamp) -> date:
    return ts.date()


def validate_prices(
    df: pd.DataFrame,
    *,
    max_daily_move: float | None = 0.60,
    stale_after_days: int | None = None,
    as_of: date | None = None,
    tickers: Sequence[str] | None = None,
    check_calendar: bool = True,
) -> pd.DataFrame:
    """Check a wide frame of adjusted closes (USD per share) and return it unchanged.

    ``max_daily_move`` is the largest allowed one-day simple return in absolute value (0.60 = 60 %;
    None turns the check off). ``stale_after_days`` is the number of NYSE trading days after a
    fund's last price, up to ``as_of`` (default: today, UTC), beyond which the data is stale.
    ``tickers`` are the columns that must be present. ``check_calendar`` refuses rows on days
    that are not NYSE trading days.

    Raises:
        UnknownTicker: a requested ticker has no column.
        EmptyRange: no rows, no columns, or a column without a single price.
        CalendarError: a duplicate, unsorted or non-trading day, or an index that is not dates.
        BadPrice: NaN inside a fund's life, a non-positive, infinite or absurd price, an outsized move.
        StaleData: a fund's newest price is older than ``stale_after_days`` trading days.
    """
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame of prices, got {type(df).__name__}")
    if tickers is not None:
        missing = [t for t in tickers if t not in df.columns]
        if missing:
            raise UnknownTicker(
                f"no prices for {', '.join(missing)}; available: {', '.join(map(str, df.columns)) or 'none'}",
                ticker=missing[0],
            )
    if df.shape[1] == 0:
        raise EmptyRange("the price frame has no ticker columns; request at least one ticker")
    if df.shape[0] == 0:
        raise EmptyRange(
            "the price frame has no rows; widen the date range or check the source", ticker=str(df.columns[0])
        )
    dup_cols = df.columns[df.columns.duplicated()]
    if len(dup_cols):
        raise DataError(
            f"ticker {dup_cols[0]} appears in more than one column; keep one column per ticker",
            ticker=str(dup_cols[0]),
        )
    _check_index(df.index, check_calendar)

    try:
        values = df.to_numpy(dtype="float64", na_value=np.nan)
    except (TypeError, ValueError) as exc:
        bad = next((c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])), df.columns[0])
        raise BadPrice(
            f"{bad}: the column holds values that are not numbers; clean the source file", ticker=str(bad)
        ) from exc

    finite = np.isfinite(values)
    present = ~np.isnan(values)
    for j, ticker in enumerate(map(str, df.columns)):
        col = values[:, j]
        rows = np.flatnonzero(present[:, j])
        if rows.size == 0:
            raise EmptyRange(
                f"{ticker}: no price between {_day(df.index[0])} and {_day(df.index[-1])}; "
                "the fund may not have existed yet — widen the range or drop the ticker",
                ticker=ticker,
            )
        first, last = int(rows[0]), int(rows[-1])
        life = col[first : last + 1]
        gaps = np.flatnonzero(np.isnan(life))
        if gaps.size:
            day = _day(df.index[first + int(gaps[0])])
            raise BadPrice(
                f"{ticker}: missing price on {day} inside the fund's life "
                f"({_day(df.index[first])}..{_day(df.index[last])}); refetch the range or fill it from another source",
                ticker=ticker,
                day=day,
            )
        bad = np.flatnonzero(present[:, j] & ~finite[:, j])
        if bad.size:
            day = _day(df.index[int(bad[0])])
            raise BadPrice(f"{ticker}: infinite price on {day}; refetch this day", ticker=ticker, day=day)
        bad = np.flatnonzero(present[:, j] & (col <= 0))
        if bad.size:
            i = int(bad[0])
            raise BadPrice(
                f"{ticker}: non-positive price {col[i]:g} on {_day(df.index[i])}; "
                "adjusted closes must be > 0 — refetch or drop this day",
                ticker=ticker,
                day=_day(df.index[i]),
            )
        bad = np.flatnonzero(present[:, j] & (col >= MAX_PRICE))
        if bad.size:
            i = int(bad[0])
            raise BadPrice(
                f"{ticker}: absurd price {col[i]:g} USD on {_day(df.index[i])} (≥ {MAX_PRICE:,.0f}); "
                "check the units (cents?) and the column",
                ticker=ticker,
                day=_day(df.index[i]),
            )
        if max_daily_move is not None and life.size > 1:
            moves = life[1:] / life[:-1] - 1.0
            big = np.flatnonzero(np.abs(moves) > max_daily_move)
            if big.size:
                k = int(big[0])
                prev, day = _day(df.index[first + k]), _day(df.index[first + k + 1])
                raise BadPrice(
                    f"{ticker}: one-day move of {moves[k]:+.1%} from {prev} ({life[k]:g}) to {day} "
                    f"({life[k + 1]:g}) exceeds {max_daily_move:.0%}; an unadjusted split or a bad print — "
                    "use split-adjusted prices or raise max_daily_move",
                    ticker=ticker,
                    day=day,
                    move=float(moves[k]),
                )
        if stale_after_days is not None:
            _check_stale(ticker, _day(df.index[last]), stale_after_days, as_of)
    return df


def _check_index(index: pd.Index, check_calendar: bool) -> None:
    if not isinstance(index, pd.DatetimeIndex):
        raise CalendarError(
            f"the price index must be a DatetimeIndex of trading days, got {type(index).__name__}; "
            "parse the date column (pd.to_datetime) and set it as the index"
        )
    if index.tz is not None:
        raise CalendarError(
            f"the price index carries a time zone ({index.tz}); use plain dates: index.tz_localize(None).normalize()"
        )
    if index.hasnans:
        raise CalendarError("the price index holds a missing date (NaT); drop that row")
    if not (index == index.normalize()).all():
        at = index[index != index.normalize()][0]
        raise CalendarError(
            f"the price index has a time of day ({at}); index daily closes by date: index.normalize()",
            day=at.date(),
        )
    dup = index.duplicated()
    if dup.any():
        day = _day(index[dup][0])
        raise CalendarError(f"duplicate date {day} in the prices; keep one row per trading day", day=day)
    if not index.is_monotonic_increasing:
        pos = int(np.flatnonzero(np.diff(index.asi8) < 0)[0]) + 1
        day = _day(index[pos])
        raise CalendarError(
            f"dates are not in increasing order: {day} comes after {_day(index[pos - 1])}; sort the frame by date",
            day=day,
        )
    if check_calendar:
        from engine.data.calendar import trading_days

        lo, hi = _day(index[0]), _day(index[-1])
        try:
            sessions = trading_days(lo, hi)
        except CalendarError as exc:
            # A day outside the calendar's span cannot be checked as a trading day: refuse it, naming the day.
            bad = lo if exc.day == lo else hi
            raise CalendarError(
                f"{bad} is outside the NYSE calendar's span ({exc.message}); prices can only be checked "
                "against trading days inside it — drop the rows outside it or fix the dates",
                day=bad,
            ) from exc
        ordinals = {d.toordinal() for d in sessions}
        for ts in index:
            d = _day(ts)
            if d.toordinal() not in ordinals:
                raise CalendarError(
                    f"{d} is not an NYSE trading day (weekend or holiday) but has a row; drop it",
                    day=d,
                )


def _check_stale(ticker: str, last: date, stale_after_days: int, as_of: date | None) -> None:
    from engine.data.calendar import trading_days

    ref = as_of or datetime.now(UTC).date()
    if ref <= last:
        return
    try:
        lag = len(trading_days(last, ref)) - 1
    except CalendarError:
        lag = (ref - last).days
    if lag > stale_after_days:
        raise StaleData(
            f"{ticker}: newest price is from {last}, {lag} trading days before {ref} "
            f"(allowed: {stale_after_days}); refresh the data (robo data update {ticker})",
            ticker=ticker,
            day=last,
        )
