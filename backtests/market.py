"""Prices for the harness as dense numpy arrays, and the point-in-time guard the engine plans behind.

    table = PriceTable.embedded(["VTI", "BND"])          # adjusted closes, NaN before a fund's first day
    snap = table.snapshot(table.index_of(date(2020, 3, 23)))
    snap.history(60)                                     # the last 60 closes, never a day after the cut

Prices are adjusted closes in USD (dividends reinvested). A fund is *tradable* on a day once it has a
price; before its first price it does not exist. Anything that reads past the cut raises
``LookAheadError`` — that is how the harness proves the engine only sees the past.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import DataError, EmptyRange, LookAheadError, UnknownTicker

__all__ = [
    "EMBEDDED_PRICES",
    "MarketSnapshot",
    "PointInTimeGuard",
    "PriceTable",
    "SteppedMarket",
    "check_point_in_time",
]

EMBEDDED_PRICES = Path(__file__).resolve().parent.parent / "engine" / "data" / "embedded" / "etfs_adj_close.csv.gz"


@dataclass(frozen=True, slots=True)
class PriceTable:
    """Adjusted closes ``prices[t, i]`` (USD) for ``days[t]`` × ``tickers[i]``; NaN before a fund's first day."""

    days: tuple[date, ...]
    tickers: tuple[str, ...]
    prices: np.ndarray
    ordinals: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        p = np.ascontiguousarray(np.asarray(self.prices, dtype="float64"))
        if p.shape != (len(self.days), len(self.tickers)):
            raise DataError(f"price array shape {p.shape} does not match days × tickers")
        if len(self.days) == 0:
            raise EmptyRange("the price table holds no trading day")
        if any(b <= a for a, b in zip(self.days, self.days[1:], strict=False)):
            from engine.errors import CalendarError

            raise CalendarError("trading days must be strictly increasing")
        finite = p[np.isfinite(p)]
        if finite.size and finite.min() <= 0:
            from engine.errors import BadPrice

            raise BadPrice("non-positive adjusted close in the price table")
        p.setflags(write=False)
        object.__setattr__(self, "prices", p)
        ords = np.fromiter((d.toordinal() for d in self.days), dtype="int64", count=len(self.days))
        object.__setattr__(self, "ordinals", ords)
        object.__setattr__(self, "tickers", tuple(t.upper() for t in self.tickers))

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> PriceTable:
        """From a wide frame indexed by day (date, Timestamp or ISO string) with one column per ticker."""
        idx = [_as_date(d) for d in frame.index]
        if any(d is None for d in idx):
            raise DataError("the price frame's index holds values that are not dates")
        return cls(tuple(idx), tuple(str(c) for c in frame.columns), frame.to_numpy(dtype="float64"))

    @classmethod
    def embedded(cls, tickers: Iterable[str] | None = None, start: date | None = None,
                 end: date | None = None) -> PriceTable:
        """The embedded ETF adjusted closes (no network), optionally cut to tickers and [start, end].

        Raises:
            UnknownTicker: a ticker is not in the embedded file.
            EmptyRange: no trading day in [start, end].
        """
        frame = _embedded_frame()
        if tickers is not None:
            wanted = [t.upper() for t in tickers]
            missing = [t for t in wanted if t not in frame.columns]
            if missing:
                raise UnknownTicker(
                    f"not in the embedded prices: {', '.join(missing)}; use one of {', '.join(frame.columns)}",
                    ticker=missing[0],
                )
            frame = frame[wanted]
        table = cls.from_frame(frame)
        return table.between(start, end)

    @classmethod
    def from_source(cls, source: Any, tickers: Sequence[str], start: date, end: date) -> PriceTable:
        """From any engine ``PriceSource``-like object with ``history(tickers, start, end) -> DataFrame``."""
        for name in ("history", "adjusted_close", "prices", "load"):
            fn = getattr(source, name, None)
            if callable(fn):
                return cls.from_frame(fn(list(tickers), start, end))
        raise DataError(
            f"{type(source).__name__} has no history(tickers, start, end) method",
            fix="pass a PriceSource from engine.data or a PriceTable",
        )

    def between(self, start: date | None, end: date | None) -> PriceTable:
        """The rows with start ≤ day ≤ end."""
        lo = 0 if start is None else int(np.searchsorted(self.ordinals, start.toordinal(), "left"))
        hi = len(self.days) if end is None else int(np.searchsorted(self.ordinals, end.toordinal(), "right"))
        if hi <= lo:
            raise EmptyRange(f"no trading day between {start} and {end}", day=start)
        if lo == 0 and hi == len(self.days):
            return self
        return PriceTable(self.days[lo:hi], self.tickers, self.prices[lo:hi])

    # -- lookups ------------------------------------------------------------------------------

    def index_of(self, day: date) -> int:
        """Row of the last trading day on or before ``day``."""
        i = int(np.searchsorted(self.ordinals, day.toordinal(), "right")) - 1
        if i < 0:
            raise EmptyRange(f"{day} is before the first price ({self.days[0]})", day=day)
        return i

    def column(self, ticker: str) -> int:
        """Column of a ticker (raises ``UnknownTicker``)."""
        try:
            return self.tickers.index(ticker.upper())
        except ValueError:
            raise UnknownTicker(f"{ticker} is not in the price table", ticker=ticker) from None

    def first_days(self) -> dict[str, date | None]:
        """Each fund's first trading day with a price (None if it never trades in the table)."""
        ok = np.isfinite(self.prices)
        out: dict[str, date | None] = {}
        for j, t in enumerate(self.tickers):
            rows = np.flatnonzero(ok[:, j])
            out[t] = self.days[int(rows[0])] if rows.size else None
        return out

    def snapshot(self, t: int) -> MarketSnapshot:
        """The market as seen at the close of row ``t``: nothing after it."""
        return MarketSnapshot(self, t)

    def frame(self) -> pd.DataFrame:
        """The table as a wide DataFrame indexed by ``datetime.date``."""
        return pd.DataFrame(self.prices, index=pd.Index(self.days, name="Date"), columns=list(self.tickers))


class MarketSnapshot:
    """The market at the close of one trading day; every read is cut there (``LookAheadError`` past it)."""

    __slots__ = ("_t", "_table")

    def __init__(self, table: PriceTable, t: int) -> None:
        self._table = table
        self._t = int(t)

    @property
    def day(self) -> date:
        """The trading day of the cut."""
        return self._table.days[self._t]

    @property
    def row(self) -> int:
        """Row index of the cut in the table."""
        return self._t

    @property
    def tickers(self) -> tuple[str, ...]:
        return self._table.tickers

    @property
    def prices(self) -> np.ndarray:
        """Closes (USD) on the cut day; NaN for funds that do not exist yet (read-only view)."""
        return self._table.prices[self._t]

    @property
    def tradable(self) -> np.ndarray:
        """Boolean mask of funds with a price on the cut day."""
        return np.isfinite(self._table.prices[self._t])

    def history(self, lookback: int | None = None) -> np.ndarray:
        """The last ``lookback`` rows of closes up to and including the cut (all of them if None)."""
        lo = 0 if lookback is None else max(0, self._t + 1 - int(lookback))
        return self._table.prices[lo : self._t + 1]

    def price_on(self, day: date, ticker: str) -> float:
        """Close of ``ticker`` on ``day``; raises ``LookAheadError`` for a day after the cut."""
        if day > self.day:
            raise LookAheadError(
                f"asked for {ticker} on {day}, after the point-in-time cut {self.day}",
                ticker=ticker,
                day=day,
                fix="estimates may only read prices up to the planning day",
            )
        return float(self._table.prices[self._table.index_of(day), self._table.column(ticker)])

    def frame(self, lookback: int | None = None) -> pd.DataFrame:
        """The history as a wide DataFrame (for engine components that want pandas)."""
        lo = 0 if lookback is None else max(0, self._t + 1 - int(lookback))
        return pd.DataFrame(
            self._table.prices[lo : self._t + 1],
            index=pd.Index(self._table.days[lo : self._t + 1], name="Date"),
            columns=list(self._table.tickers),
        )


class SteppedMarket:
    """The Engine's market data in a backtest: the price table behind a cut the harness moves day by day.

    It speaks the part of ``engine.data.MarketData`` the Engine reads (``as_of(day)`` → a view with
    ``latest()``, ``last_day``, ``history(tickers)``) without copying the table each day. ``as_of`` a day
    after the harness's current day raises ``LookAheadError``, and every frame a view hands out is checked
    against its own cut (a leaked later row raises too) — the guard sits on the real Engine path.
    """

    def __init__(self, table: PriceTable) -> None:
        self.table = table
        self.cut: date = table.days[0]
        self._frame = pd.DataFrame(table.prices, index=pd.DatetimeIndex(pd.to_datetime(table.days), name="Date"),
                                   columns=list(table.tickers))
        self._filled = pd.DataFrame(table.prices).ffill().to_numpy()
        self.source = "backtest"

    def advance(self, day: date) -> None:
        """Move the cut to ``day`` (the harness calls this once per trading day, never backwards)."""
        self.cut = day

    def view_row(self, day: date) -> int:
        """The table row the view for ``day`` reads up to (the last trading day on or before it)."""
        return self.table.index_of(day)

    def as_of(self, day: date) -> _MarketView:
        """The market as known at the close of ``day``; raises ``LookAheadError`` after the harness's day."""
        if day > self.cut:
            raise LookAheadError(
                f"as_of({day}) requested while the backtest stands on {self.cut}: after the point-in-time cut",
                day=day, fix="plan with data as of the planning day only",
            )
        return _MarketView(self, self.view_row(day), day)


class _MarketView:
    """One day's cut of a ``SteppedMarket`` (read-only; frames are checked against the cut)."""

    __slots__ = ("_day", "_m", "_t")

    def __init__(self, market: SteppedMarket, t: int, day: date) -> None:
        self._m, self._t, self._day = market, t, day

    @property
    def cut(self) -> date:
        return self._day

    @property
    def last_day(self) -> date:
        return self._m.table.days[self._t]

    @property
    def tickers(self) -> list[str]:
        return list(self._m.table.tickers)

    def latest(self) -> pd.Series:
        """Each fund's last close (USD) on or before the cut; NaN before a fund's first price."""
        return pd.Series(self._m._filled[self._t], index=self.tickers, name=self.last_day)

    def history(self, tickers: Sequence[str] | None = None, start: date | None = None,
                end: date | None = None) -> pd.DataFrame:
        """Adjusted closes (USD) up to the cut (``end`` after it raises ``LookAheadError``)."""
        if end is not None and end > self._day:
            raise LookAheadError(f"history up to {end} requested on {self._day}", day=end)
        hi = self._t if end is None else self._m.table.index_of(end)
        frame = self._m._frame.iloc[: hi + 1]
        if tickers is not None:
            frame = frame[[t.upper() for t in tickers]]
        if start is not None:
            frame = frame.loc[pd.Timestamp(start):]
        check_point_in_time(frame.iloc[-1:], self._day, what="history()")
        return frame.copy()

    def as_of(self, day: date) -> _MarketView:
        if day > self._day:
            raise LookAheadError(f"as_of({day}) requested from data cut at {self._day}", day=day)
        return self._m.as_of(day)


def check_point_in_time(data: Any, cut: date, *, what: str = "market data") -> None:
    """Fail loudly if ``data`` (a DataFrame/Series indexed by day) holds any row after ``cut``.

    Raises:
        LookAheadError: the last index label is after ``cut``; names the first offending day.
    """
    index = getattr(data, "index", None)
    if index is None or len(index) == 0:
        return
    days = [_as_date(x) for x in index]
    late = [d for d in days if d is not None and d > cut]
    if late:
        raise LookAheadError(
            f"{what} handed to the engine on {cut} holds {len(late)} row(s) from the future, first {min(late)}",
            day=min(late),
            fix="the data source must be sliced at the planning day (MarketData.as_of(day))",
        )


class PointInTimeGuard:
    """Wraps a market-data object so every frame it returns is checked against the cut day.

    Methods returning a DataFrame/Series are checked with ``check_point_in_time``; ``as_of(day)`` for a
    day after the cut raises ``LookAheadError`` at once.
    """

    def __init__(self, inner: Any, cut: date) -> None:
        self._inner = inner
        self._cut = cut

    @property
    def cut(self) -> date:
        return self._cut

    def as_of(self, day: date) -> Any:
        if day > self._cut:
            raise LookAheadError(
                f"as_of({day}) requested while planning on {self._cut}", day=day,
                fix="plan with data as of the planning day only",
            )
        inner = getattr(self._inner, "as_of", None)
        return PointInTimeGuard(inner(day) if callable(inner) else self._inner, day)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            check_point_in_time(attr, self._cut, what=name)
            return attr

        def guarded(*args: Any, **kwargs: Any) -> Any:
            out = attr(*args, **kwargs)
            check_point_in_time(out, self._cut, what=f"{name}()")
            return out

        return guarded


def _as_date(x: Any) -> date | None:
    if isinstance(x, pd.Timestamp):
        return x.date()
    if isinstance(x, date):
        return x if type(x) is date else x.date()  # type: ignore[attr-defined]
    try:
        return pd.Timestamp(x).date()
    except (ValueError, TypeError):
        return None


_FRAME_CACHE: dict[str, pd.DataFrame] = {}


def _embedded_frame() -> pd.DataFrame:
    if "embedded" not in _FRAME_CACHE:
        frame = pd.read_csv(EMBEDDED_PRICES, index_col="Date")
        frame.index = pd.Index([date.fromisoformat(str(d)) for d in frame.index], name="Date")
        _FRAME_CACHE["embedded"] = frame.astype("float64")
    return _FRAME_CACHE["embedded"]
