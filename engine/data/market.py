"""Point-in-time market data: adjusted closes that can be cut at a day and never show what came after.

    market = MarketData.embedded().as_of(date(2020, 3, 31))
    snap = market.snapshot(date(2020, 3, 31))        # last closes and the history up to that day, nothing later

Prices are adjusted closes in USD per share (dividends reinvested, splits removed); returns are simple
daily returns (fractions, 0.01 = 1 %). After ``as_of(day)`` every read past ``day`` raises
``LookAheadError``, and so does a frame that holds a row after the cut, however it got there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from engine.data.sources import PriceSource, _norm_tickers, _tidy
from engine.data.validate import validate_prices
from engine.errors import DataError, EmptyRange, LookAheadError, UnknownTicker

if TYPE_CHECKING:
    from engine.data.stocks import StockData

__all__ = ["TRADING_DAYS_PER_YEAR", "MarketData", "MarketSnapshot", "annualized_stats", "load_market_data",
           "with_stock_prices"]

#: Trading days per year used to annualise daily volatility.
TRADING_DAYS_PER_YEAR = 252


def _to_date(value: date | str | pd.Timestamp, name: str = "day") -> date:
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise DataError(f"{name} must be a date (YYYY-MM-DD), got {value!r}") from exc


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """The market as seen at the close of ``day``: last adjusted close per ticker (USD) and the history up to it.

    ``prices`` holds each fund's last close on or before ``day`` (NaN for a fund with no price yet);
    ``history`` is the wide frame of adjusted closes with no row after ``day``.
    """

    day: date
    prices: pd.Series
    history: pd.DataFrame

    def __post_init__(self) -> None:
        if len(self.history) and self.history.index[-1].date() > self.day:
            late = self.history.index[-1].date()
            raise LookAheadError(
                f"snapshot for {self.day} holds a price from {late}, after the point-in-time cut; "
                "build snapshots with MarketData.snapshot(day)",
                day=late,
            )

    @property
    def tickers(self) -> list[str]:
        """Tickers in the snapshot."""
        return [str(c) for c in self.history.columns]

    def price(self, ticker: str) -> float:
        """Last adjusted close of ``ticker`` on or before ``day`` (USD per share)."""
        t = ticker.strip().upper()
        if t not in self.prices.index:
            raise UnknownTicker(f"{ticker} is not in the snapshot; use one of {', '.join(self.tickers)}", ticker=t)
        value = float(self.prices[t])
        if math.isnan(value):
            raise EmptyRange(f"{t} has no price on or before {self.day} (the fund did not exist yet)", ticker=t,
                             day=self.day)
        return value


class MarketData:
    """Wide adjusted closes (USD per share) with an optional point-in-time cut; reads past the cut raise.

    ``prices`` is a wide frame (``DatetimeIndex`` of days, one column per ticker); it is checked on
    entry (sorted unique dates, no gaps inside a fund's life, positive prices). ``source`` names
    where it came from; ``as_of`` cuts it (rows after it are refused with ``LookAheadError``).
    """

    __slots__ = ("_cut", "_frame", "source")

    def __init__(self, prices: pd.DataFrame, source: str = "", *, as_of: date | None = None) -> None:
        frame = _tidy(prices)
        validate_prices(frame, max_daily_move=None, check_calendar=False)
        self._cut: date | None = _to_date(as_of, "as_of") if as_of is not None else None
        self._frame = frame
        self.source = source
        self._guard()

    # -- construction -----------------------------------------------------------------------------

    @classmethod
    def embedded(
        cls, tickers: Sequence[str] | None = None, start: date | None = None, end: date | None = None
    ) -> MarketData:
        """The embedded 26 ETFs (no network), optionally cut to tickers and start ≤ day ≤ end."""
        from engine.data.sources import EmbeddedSource

        return load_market_data(EmbeddedSource(), tickers, start, end)

    # -- the guard ----------------------------------------------------------------------------------

    def _guard(self) -> None:
        """Refuse a frame holding any row after the cut (a planted or leaked future price)."""
        if self._cut is None or self._frame.empty:
            return
        last = self._frame.index[-1].date()
        if last > self._cut:
            later = self._frame.index[self._frame.index > pd.Timestamp(self._cut)]
            row = self._frame.loc[later[0]]
            ticker = str(row.first_valid_index()) if row.notna().any() else None
            raise LookAheadError(
                f"a price from {later[0].date()}{f' ({ticker})' if ticker else ''} is in data cut at {self._cut}: "
                "after the point-in-time cut; slice with MarketData.as_of(day) and never append later rows",
                ticker=ticker,
                day=later[0].date(),
            )

    def _check_day(self, day: date, what: str) -> None:
        if self._cut is not None and day > self._cut:
            raise LookAheadError(
                f"{what} {day} is after the point-in-time cut {self._cut}; "
                "a decision on that day may only read prices up to it",
                day=day,
            )

    # -- properties -------------------------------------------------------------------------------

    @property
    def prices(self) -> pd.DataFrame:
        """The wide adjusted closes (USD per share), never past the cut (a copy: edits do not leak back)."""
        self._guard()
        return self._frame.copy(deep=False)

    @property
    def tickers(self) -> list[str]:
        """Tickers, in column order."""
        return [str(c) for c in self._frame.columns]

    @property
    def cut(self) -> date | None:
        """The point-in-time day (None: no cut)."""
        return self._cut

    @property
    def first_day(self) -> date:
        """First day with a row."""
        return self._frame.index[0].date()

    @property
    def last_day(self) -> date:
        """Last day with a row (on or before the cut)."""
        self._guard()
        return self._frame.index[-1].date()

    def __len__(self) -> int:
        return len(self._frame)

    def __contains__(self, ticker: object) -> bool:
        return isinstance(ticker, str) and ticker.strip().upper() in self._frame.columns

    def __repr__(self) -> str:
        cut = f", as_of={self._cut}" if self._cut else ""
        return (
            f"MarketData({len(self.tickers)} tickers, {self.first_day}..{self._frame.index[-1].date()}"
            f"{cut}, source={self.source!r})"
        )

    # -- point in time ---------------------------------------------------------------------------

    def as_of(self, day: date) -> MarketData:
        """The data as known at the close of ``day``: no row after it; later reads raise ``LookAheadError``.

        Raises:
            LookAheadError: ``day`` is after this data's own cut.
            EmptyRange: ``day`` is before the first row.
        """
        d = _to_date(day)
        self._check_day(d, "as_of")
        self._guard()
        if d < self.first_day:
            raise EmptyRange(f"{d} is before the first price ({self.first_day})", day=d)
        out = MarketData.__new__(MarketData)
        out._frame = self._frame.loc[: pd.Timestamp(d)].copy()
        out._cut = d
        out.source = self.source
        return out

    # -- reads ------------------------------------------------------------------------------------

    def _columns(self, tickers: Sequence[str] | str | None) -> list[str]:
        names = _norm_tickers(tickers)
        if names is None:
            return self.tickers
        missing = [t for t in names if t not in self._frame.columns]
        if missing:
            raise UnknownTicker(
                f"no prices for {', '.join(missing)} in {self.source or 'this market data'}; "
                f"available: {', '.join(self.tickers)}",
                ticker=missing[0],
            )
        return names

    def history(
        self,
        tickers: Sequence[str] | str | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> pd.DataFrame:
        """Adjusted closes (USD per share) for ``tickers`` with start ≤ day ≤ end (default: everything to the cut).

        Raises:
            LookAheadError: ``end`` is after the cut.
            UnknownTicker: a ticker has no column.
            EmptyRange: no row in the range.
        """
        self._guard()
        cols = self._columns(tickers)
        lo = _to_date(start, "start") if start is not None else None
        hi = _to_date(end, "end") if end is not None else None
        if hi is not None:
            self._check_day(hi, "history end")
        if lo is not None and hi is not None and lo > hi:
            raise EmptyRange(f"start {lo} is after end {hi}; swap them", day=lo)
        out = self._frame.loc[
            pd.Timestamp(lo) if lo is not None else None : pd.Timestamp(hi) if hi is not None else None, cols
        ]
        if out.empty:
            raise EmptyRange(f"no prices between {lo or self.first_day} and {hi or self.last_day}", day=lo)
        return out.copy()

    def returns(
        self,
        tickers: Sequence[str] | str | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> pd.DataFrame:
        """Simple daily returns (fractions) for start ≤ day ≤ end; the return on ``start`` uses the day before it.

        A fund's first day and the days before it are NaN.
        """
        hi = _to_date(end, "end") if end is not None else None
        px = self.history(tickers, None, hi)
        rets = px.pct_change(fill_method=None)
        if start is not None:
            rets = rets.loc[pd.Timestamp(_to_date(start, "start")) :]
        else:
            rets = rets.iloc[1:]
        if rets.empty:
            raise EmptyRange(f"no daily return between {start or self.first_day} and {hi or self.last_day}", day=start)
        return rets

    def price(self, ticker: str, day: date) -> float:
        """Adjusted close of ``ticker`` at the close of ``day`` (the last one on or before it), USD per share.

        Raises:
            LookAheadError: ``day`` is after the cut.
            EmptyRange: the fund has no price on or before ``day``.
        """
        d = _to_date(day)
        self._check_day(d, "price day")
        self._guard()
        col = self._columns([ticker])[0]
        s = self._frame[col].loc[: pd.Timestamp(d)].dropna()
        if s.empty:
            raise EmptyRange(f"{col} has no price on or before {d}", ticker=col, day=d)
        return float(s.iloc[-1])

    def latest(self) -> pd.Series:
        """Each fund's last adjusted close (USD per share) up to the cut; the Series is named by the last day."""
        self._guard()
        last = self._frame.ffill().iloc[-1].astype("float64")
        last.name = self.last_day
        return last

    def snapshot(self, day: date) -> MarketSnapshot:
        """The market at the close of ``day``: last close per ticker and the history up to and including it.

        Raises:
            LookAheadError: ``day`` is after the cut.
            EmptyRange: ``day`` is before the first row.
        """
        d = _to_date(day)
        self._check_day(d, "snapshot day")
        self._guard()
        hist = self._frame.loc[: pd.Timestamp(d)]
        if hist.empty:
            raise EmptyRange(f"{d} is before the first price ({self.first_day})", day=d)
        prices = hist.ffill().iloc[-1].astype("float64")
        prices.name = d
        return MarketSnapshot(day=d, prices=prices, history=hist.copy())


def load_market_data(
    source: PriceSource,
    tickers: Sequence[str] | None = None,
    start: date | None = None,
    end: date | None = None,
) -> MarketData:
    """Read ``source`` (validated) into ``MarketData``, named after the source."""
    frame = source.prices(tickers, start, end)
    return MarketData(frame, source=getattr(source, "name", type(source).__name__))


def annualized_stats(prices: pd.DataFrame, years: float = 10, end: date | None = None) -> pd.DataFrame:
    """Per ticker over the last ``years`` to ``end``: CAGR and annualised volatility (fractions per year).

    ``annual_return`` is the compound annual growth rate of the adjusted close between the first and
    last price in the window (calendar days / 365.25). ``annual_volatility`` is the sample standard
    deviation of *simple* daily returns times √252. ``first_day``/``last_day`` are the days used and
    ``observations`` the number of daily returns. A fund younger than the window uses its own life.
    """
    frame = _tidy(prices)
    if frame.empty:
        raise EmptyRange("no prices to summarise")
    hi = pd.Timestamp(_to_date(end, "end")) if end is not None else frame.index[-1]
    lo = hi - pd.DateOffset(days=round(float(years) * 365.25))
    window = frame.loc[lo:hi]
    rows: dict[str, dict[str, object]] = {}
    for ticker in window.columns:
        s = window[ticker].dropna()
        if len(s) < 2:
            continue
        days = (s.index[-1] - s.index[0]).days
        cagr = (float(s.iloc[-1]) / float(s.iloc[0])) ** (365.25 / days) - 1.0 if days > 0 else np.nan
        rets = s.pct_change().iloc[1:]
        rows[str(ticker)] = {
            "annual_return": cagr,
            "annual_volatility": float(rets.std(ddof=1)) * math.sqrt(TRADING_DAYS_PER_YEAR),
            "first_day": s.index[0].date(),
            "last_day": s.index[-1].date(),
            "observations": len(rets),
        }
    out = pd.DataFrame.from_dict(
        rows, orient="index", columns=["annual_return", "annual_volatility", "first_day", "last_day", "observations"]
    )
    out.index.name = "ticker"
    return out


def with_stock_prices(market: MarketData, data: StockData) -> MarketData:
    """``market`` with ``data``'s stock closes as more columns, on the market's own days, up to the stocks' last
    day (so a direct-index sleeve and the simulated broker price stocks and funds from one frame).

    Raises:
        DataError: the stock set and the market share no days.
    """
    frame = market.prices
    last = data.prices.index.max()
    frame = frame.loc[frame.index <= last]
    stocks = data.prices.reindex(frame.index)
    stocks = stocks.loc[:, [t for t in stocks.columns if t not in frame.columns]]
    if frame.empty or stocks.notna().sum().sum() == 0:
        raise DataError(f"the stock set ({data.description or 'stocks'}) and the market data ({market.source}) "
                        "share no days; use market data that covers the stocks' dates")
    return MarketData(pd.concat([frame, stocks], axis=1), source=f"{market.source} + {len(stocks.columns)} stocks",
                      as_of=market.cut)
