"""Price sources: the embedded ETF file, your CSV, Yahoo Finance (yfinance) and Alpaca market data.

    from engine.data.sources import EmbeddedSource, YahooSource
    prices = EmbeddedSource().prices(["VTI", "BND"], start=date(2015, 1, 2))   # wide, adjusted closes

Every source returns the same shape: a wide ``DataFrame`` of split- and dividend-adjusted closes in
USD per share, a ``DatetimeIndex`` named ``Date`` of NYSE trading days, one float column per ticker
(empty before a fund's first day), validated by ``validate_prices`` before it is returned. This is
the only module that imports yfinance and alpaca-py's data client; their errors become ``DataError``.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from engine.data.validate import validate_prices
from engine.errors import DataError, EmptyRange, UnknownTicker

__all__ = [
    "AlpacaSource",
    "CsvSource",
    "EmbeddedSource",
    "PriceSource",
    "YahooSource",
    "embedded_path",
]

log = logging.getLogger(__name__)

_EMBEDDED = Path(__file__).resolve().parent / "embedded" / "etfs_adj_close.csv.gz"

_EMBEDDED_DESCRIPTION = (
    "Embedded: Yahoo Finance daily adjusted closes of 26 US-listed ETFs, 2003-01-02..2026-08-03, "
    "via the public repository dsturdy/Factor_Attribution (commit 096a2ae0), rounded to 4 decimals; "
    "refresh or extend with yfinance (robo data update) under Yahoo's terms."
)


def embedded_path() -> Path:
    """Path of the embedded ``etfs_adj_close.csv.gz`` shipped inside the package."""
    return _EMBEDDED


@runtime_checkable
class PriceSource(Protocol):
    """Anything that returns wide adjusted closes (USD per share) for tickers between two trading days."""

    name: str

    def prices(
        self,
        tickers: Sequence[str] | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> pd.DataFrame:
        """Adjusted closes for ``tickers`` (None: all the source holds) with start ≤ day ≤ end."""
        ...

    def description(self) -> str:
        """Where the numbers come from (provenance), in one line."""
        ...


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


def _norm_tickers(tickers: Sequence[str] | str | None) -> list[str] | None:
    if tickers is None:
        return None
    if isinstance(tickers, str):
        tickers = [tickers]
    out: list[str] = []
    for t in tickers:
        if not isinstance(t, str) or not t.strip():
            raise UnknownTicker(f"a ticker must be a non-empty string, got {t!r}", ticker=str(t))
        u = t.strip().upper()
        if u not in out:
            out.append(u)
    if not out:
        raise UnknownTicker("no ticker requested; pass at least one ticker or None for all")
    return out


def _as_date(value: date | str | None, name: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise DataError(f"{name} must be a date (YYYY-MM-DD), got {value!r}") from exc


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """Normalise a wide frame: Date index (midnight, no tz, datetime64[ns]), upper-case float columns."""
    out = frame.copy()
    idx = pd.DatetimeIndex(out.index)
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    out.index = idx.normalize().astype("datetime64[ns]")
    out.index.name = "Date"
    out.columns = [str(c).strip().upper() for c in out.columns]
    out.columns.name = None
    return out.astype("float64")


def _select(
    frame: pd.DataFrame,
    tickers: list[str] | None,
    start: date | None,
    end: date | None,
    source: str,
) -> pd.DataFrame:
    """Cut a tidy wide frame to tickers and [start, end]; rows before every selected fund existed are dropped."""
    if tickers is not None:
        missing = [t for t in tickers if t not in frame.columns]
        if missing:
            raise UnknownTicker(
                f"{source} has no prices for {', '.join(missing)}; available: {', '.join(frame.columns)}",
                ticker=missing[0],
            )
        frame = frame[tickers]
    if start is not None and end is not None and start > end:
        raise EmptyRange(f"start {start} is after end {end}; swap them", day=start)
    lo = pd.Timestamp(start) if start is not None else None
    hi = pd.Timestamp(end) if end is not None else None
    cut = frame.loc[lo:hi]
    has_any = cut.notna().any(axis=1).to_numpy()
    if not has_any.any():
        raise EmptyRange(
            f"{source}: no price for {', '.join(map(str, frame.columns))} between {start or 'the start'} "
            f"and {end or 'the end'}; the data covers {_span(frame)}",
            ticker=str(frame.columns[0]) if len(frame.columns) == 1 else None,
            day=start,
        )
    first = int(np.argmax(has_any))
    return cut.iloc[first:].copy()


def _span(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "nothing"
    return f"{frame.index[0].date()}..{frame.index[-1].date()}"


# ---------------------------------------------------------------------------------------------
# Embedded and CSV
# ---------------------------------------------------------------------------------------------


#: A price CSV larger than this is refused (the embedded 26-fund, 23-year file is ~1.5 MB unpacked).
MAX_CSV_BYTES = 500_000_000


def _read_csv(path: str, **kwargs: Any) -> pd.DataFrame:
    """``pd.read_csv`` with every failure a ``DataError`` naming the file: empty, not text, unparseable, too big."""
    try:
        size = Path(path).stat().st_size
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc.strerror or exc}); check the path", file=path) from exc
    if size == 0:
        raise DataError(f"{path}: the file is empty; expected a header (Date,VTI,...) and one row per day", file=path)
    if size > MAX_CSV_BYTES:
        raise DataError(f"{path}: the file is {size:,} bytes, more than a price file can be ({MAX_CSV_BYTES:,})",
                        file=path)
    try:
        raw = pd.read_csv(path, **kwargs)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path}: the file holds no columns; expected a header (Date,VTI,...)", file=path) from exc
    except pd.errors.ParserError as exc:
        raise DataError(f"{path}: not a well-formed CSV ({str(exc).strip()[:160]}); check the separators and quotes",
                        file=path) from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8 CSV", file=path) from exc
    except (ValueError, OSError, EOFError) as exc:  # EOFError: a truncated .gz
        raise DataError(f"{path}: cannot read the CSV ({str(exc)[:160]})", file=path) from exc
    if kwargs.get("nrows") == 0:
        return raw
    headers = [str(c).strip().upper() for c in raw.columns]
    for c in raw.columns:
        name = str(c)
        if name.startswith("Unnamed:") or not name.strip():
            raise DataError(f"{path}: a column has no name in the header; name every column", file=path)
    dup = next((h for i, h in enumerate(headers) if h in headers[:i]), None)
    if dup is None:
        import re

        dup = next((str(c) for c in raw.columns if re.fullmatch(r".+\.\d+", str(c))
                    and str(c).rsplit(".", 1)[0].strip().upper() in headers), None)  # pandas renames VTI → VTI.1
        if dup is not None:
            dup = dup.rsplit(".", 1)[0]
    if dup is not None:
        raise DataError(f"{path}: column {dup} appears twice in the header; keep one column per ticker",
                        ticker=dup.upper(), file=path)
    if raw.shape[0] == 0:
        raise EmptyRange(f"{path}: the file has a header but no rows; add one row per trading day", file=path)
    return raw


def _numeric(path: str, frame: pd.DataFrame, dates: pd.Series | pd.Index) -> None:
    """Refuse a cell that is neither empty nor a number, naming the ticker and the day."""
    for c in frame.columns:
        col = frame[c]
        if pd.api.types.is_numeric_dtype(col):
            continue
        parsed = pd.to_numeric(col, errors="coerce")
        bad = parsed.isna() & col.notna() & (col.astype(str).str.strip() != "")
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            when = dates.iloc[i] if isinstance(dates, pd.Series) else dates[i]  # by position, whatever the index
            try:
                day = None if pd.isna(when) else pd.Timestamp(when).date()
            except (ValueError, OverflowError, NotImplementedError):  # a "date" no calendar holds: name the row
                day = None
            from engine.errors import BadPrice

            raise BadPrice(
                f"{path}: {str(c).strip().upper()} on {day} is {str(col.iloc[i])[:40]!r}, not a number; "
                "write the adjusted close as a plain number or leave the cell empty",
                ticker=str(c).strip().upper(), day=day, file=path,
            )


@functools.lru_cache(maxsize=8)
def _read_wide_csv(path: str, mtime: float) -> pd.DataFrame:
    raw = _read_csv(path)
    if raw.shape[1] < 2:
        raise DataError(f"{path}: expected a date column and at least one ticker column", file=path)
    date_col = next((c for c in raw.columns if str(c).strip().lower() in ("date", "day", "timestamp")), raw.columns[0])
    try:
        idx = pd.to_datetime(raw[date_col], format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path}: column {date_col!r} holds values that are not dates (YYYY-MM-DD)") from exc
    frame = raw.drop(columns=[date_col])
    _numeric(path, frame, idx)
    frame.index = idx
    for c in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[c]):
            frame[c] = pd.to_numeric(frame[c], errors="coerce")
    return _tidy(frame)


def _read_long_csv(path: str) -> pd.DataFrame:
    raw = _read_csv(path)
    cols = {str(c).strip().lower().replace(" ", "_"): c for c in raw.columns}
    date_col = next((cols[k] for k in ("date", "day", "timestamp") if k in cols), None)
    tick_col = next((cols[k] for k in ("ticker", "symbol") if k in cols), None)
    px_col = next((cols[k] for k in ("close", "adj_close", "adjclose", "price") if k in cols), None)
    if date_col is None or tick_col is None or px_col is None:
        raise DataError(
            f"{path}: a long CSV needs the columns date, ticker and close (got {', '.join(map(str, raw.columns))})"
        )
    raw = raw.assign(**{tick_col: raw[tick_col].astype(str).str.strip().str.upper()})
    dup = raw.duplicated([date_col, tick_col])
    if dup.any():
        from engine.errors import CalendarError

        row = raw[dup].iloc[0]
        raise CalendarError(
            f"{path}: {row[tick_col]} has two rows for {row[date_col]}; keep one close per ticker and day",
            ticker=row[tick_col],
            day=row[date_col],
        )
    try:
        days = pd.to_datetime(raw[date_col], format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path}: column {date_col!r} holds values that are not dates (YYYY-MM-DD)") from exc
    _numeric(path, raw[[px_col]], days)
    wide = (
        raw.assign(**{date_col: days})
        .pivot(index=date_col, columns=tick_col, values=px_col)
        .sort_index()
    )
    return _tidy(wide.apply(pd.to_numeric, errors="coerce"))


class EmbeddedSource:
    """The 26 ETFs shipped with the package (no network): daily adjusted closes, 2003-01-02..2026-08-03."""

    name = "embedded"

    def __init__(self) -> None:
        self.path = _EMBEDDED

    def prices(
        self,
        tickers: Sequence[str] | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> pd.DataFrame:
        """Adjusted closes (USD per share) for ``tickers`` (None: all 26) with start ≤ day ≤ end.

        Raises:
            UnknownTicker: a ticker is not in the embedded file.
            EmptyRange: no price in the range.
        """
        frame = _read_wide_csv(str(self.path), self.path.stat().st_mtime)
        out = _select(frame, _norm_tickers(tickers), _as_date(start, "start"), _as_date(end, "end"), self.name)
        return validate_prices(out)

    def description(self) -> str:
        """Provenance of the embedded file."""
        return _EMBEDDED_DESCRIPTION


class CsvSource:
    """Adjusted closes from your CSV: wide (``Date`` + one column per ticker) or long (date, ticker, close)."""

    def __init__(
        self,
        path: str | Path,
        layout: Literal["wide", "long", "auto"] = "auto",
        *,
        max_daily_move: float | None = 0.60,
        check_calendar: bool = True,
    ) -> None:
        """``max_daily_move`` / ``check_calendar`` go to ``validate_prices``: the largest one-day move allowed
        (fraction; None: no limit — a genuine crash or a merger premium loads) and whether every row must be
        an NYSE trading day."""
        self.path = Path(path).expanduser()
        if max_daily_move is not None and not max_daily_move > 0:
            raise DataError(f"max_daily_move must be a positive fraction or None, got {max_daily_move!r}")
        self.max_daily_move = max_daily_move
        self.check_calendar = check_calendar
        if layout not in ("wide", "long", "auto"):
            raise DataError(f"layout must be 'wide', 'long' or 'auto', got {layout!r}")
        if not self.path.exists():
            raise DataError(f"{self.path}: file not found; check the path")
        if self.path.is_dir():
            raise DataError(f"{self.path}: is a folder, not a CSV file; name the file itself")
        self.layout = layout
        self.name = f"csv:{self.path.name}"

    def _layout(self) -> str:
        if self.layout != "auto":
            return self.layout
        header = _read_csv(str(self.path), nrows=0).columns
        names = {str(c).strip().lower().replace(" ", "_") for c in header}
        is_long = bool(names & {"ticker", "symbol"})  # a long file without a close column: the long reader says so
        return "long" if is_long else "wide"

    def prices(
        self,
        tickers: Sequence[str] | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> pd.DataFrame:
        """Adjusted closes (USD per share) from the file, cut to ``tickers`` and start ≤ day ≤ end.

        Raises:
            DataError: the file lacks the needed columns or holds bad dates; and every ``validate_prices`` error.
        """
        try:
            if self._layout() == "long":
                frame = _read_long_csv(str(self.path))
            else:
                frame = _read_wide_csv(str(self.path), self.path.stat().st_mtime)
            out = _select(frame, _norm_tickers(tickers), _as_date(start, "start"), _as_date(end, "end"), self.name)
            return validate_prices(out, max_daily_move=self.max_daily_move,
                                   check_calendar=self.check_calendar)
        except DataError as exc:
            if str(self.path) in exc.message:
                raise
            # Same error type, with the file named first: the user must know which file to fix.
            raise type(exc)(f"{self.path}: {exc.message}", ticker=exc.ticker, day=exc.day,
                            file=str(self.path)) from exc

    def description(self) -> str:
        """Provenance: the file path and layout."""
        return f"CSV file {self.path} ({self._layout()} layout), adjusted closes as provided by you"


# ---------------------------------------------------------------------------------------------
# Yahoo Finance with an on-disk cache
# ---------------------------------------------------------------------------------------------

_YF_LOCK = threading.Lock()

#: First day fetched for a ticker that is not cached yet and no start is given.
DEFAULT_START = date(2003, 1, 2)


class YahooSource:
    """Yahoo Finance daily adjusted closes via yfinance (``auto_adjust=True``), cached on disk per ticker.

    The cache (``cache_dir``, default ``Settings().cache_dir / "yahoo"``) holds one ``<TICKER>.csv.gz``
    and a ``<TICKER>.json`` with the covered date span; only days outside that span are fetched, so a
    second run over the same range needs no network. Because Yahoo re-adjusts all history after each
    dividend, an extension re-fetches the boundary day and rescales the older segment to the newer
    basis, which keeps every daily return exact. ``offline=True`` never touches the network.
    """

    name = "yahoo"

    def __init__(
        self,
        cache_dir: str | Path | None = None,
        session: Any = None,
        *,
        offline: bool = False,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        if cache_dir is None:
            from engine.settings import Settings

            cache_dir = Settings().cache_dir / "yahoo"
        self.cache_dir = Path(cache_dir).expanduser()
        self.session = session
        self.offline = offline
        self._now = now or (lambda: datetime.now(UTC))
        self.fetches: list[tuple[str, date, date]] = []  # (ticker, start, end) of every network fetch

    def description(self) -> str:
        """Provenance of these prices."""
        return (
            f"Yahoo Finance daily adjusted closes via yfinance (auto_adjust=True), cached in {self.cache_dir}; "
            "use under Yahoo's terms of service"
        )

    # -- public ---------------------------------------------------------------------------------

    def prices(
        self,
        tickers: Sequence[str] | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> pd.DataFrame:
        """Adjusted closes (USD per share) for ``tickers`` with start ≤ day ≤ end.

        Defaults: from the cache's first day (2003-01-02 for a ticker not cached yet) to today.

        ``tickers=None`` means every ticker already in the cache. Only the last *completed* session
        is ever returned: today's row appears after the NYSE close.

        Raises:
            UnknownTicker: Yahoo has no prices for a ticker.
            EmptyRange: no price in the range.
            DataError: Yahoo could not be reached (offline, rate limit) and the cache does not cover the range.
        """
        names = _norm_tickers(tickers) if tickers is not None else self.cached_tickers()
        if not names:
            raise UnknownTicker(f"no ticker requested and the cache {self.cache_dir} is empty; name the tickers")
        first = _as_date(start, "start")
        hi = min(_as_date(end, "end") or date.max, self._last_complete_day())
        columns = {}
        for t in names:
            lo_t = first or self._default_start(t)
            if lo_t > hi:
                raise EmptyRange(f"start {lo_t} is after the last completed session {hi}", day=lo_t)
            columns[t] = self._series(t, lo_t, hi)
        lo = first or min(s.index[0].date() for s in columns.values())
        frame = pd.DataFrame(columns)
        frame = _tidy(frame.sort_index())
        return validate_prices(_select(frame, names, lo, hi, self.name))

    def update(
        self,
        tickers: Sequence[str],
        start: date | None = None,
        end: date | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> dict[str, tuple[date, date]]:
        """Fetch what the cache lacks for ``tickers`` up to ``end`` (default: today); returns each cached span.

        ``progress`` is called with each ticker after it is done (for progress bars).
        """
        names = _norm_tickers(tickers) or []
        first = _as_date(start, "start")
        hi = min(_as_date(end, "end") or date.max, self._last_complete_day())
        spans: dict[str, tuple[date, date]] = {}
        for t in names:
            lo = first or self._default_start(t)
            s = self._series(t, lo, hi)
            spans[t] = (s.index[0].date(), s.index[-1].date()) if len(s) else (lo, lo)
            if progress is not None:
                progress(t)
        return spans

    def cached_tickers(self) -> list[str]:
        """Tickers with prices in the cache, sorted."""
        if not self.cache_dir.exists():
            return []
        return sorted(p.name.removesuffix(".json") for p in self.cache_dir.glob("*.json"))

    # -- cache ----------------------------------------------------------------------------------

    def _default_start(self, ticker: str) -> date:
        """The cache's first covered day for ``ticker``, else 2003-01-02 (the embedded data's first day)."""
        _, span = self._load(ticker)
        return span[0] if span is not None else DEFAULT_START

    def _last_complete_day(self) -> date:
        from engine.data.calendar import is_trading_day, previous_trading_day, session_close

        now = self._now()
        today = now.astimezone(UTC).date()
        if is_trading_day(today) and session_close(today) <= now:
            return today
        return previous_trading_day(today)

    def _paths(self, ticker: str) -> tuple[Path, Path]:
        safe = ticker.replace("/", "_")
        return self.cache_dir / f"{safe}.csv.gz", self.cache_dir / f"{safe}.json"

    def _load(self, ticker: str) -> tuple[pd.Series, tuple[date, date] | None]:
        data, meta = self._paths(ticker)
        if not meta.exists() or not data.exists():
            return pd.Series(dtype="float64", name=ticker), None
        fix = f"delete {data.name} and {meta.name} in {self.cache_dir} and run `robo data update {ticker}`"
        try:
            info = json.loads(meta.read_text(encoding="utf-8"))
            span = (date.fromisoformat(info["start"]), date.fromisoformat(info["end"]))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise DataError(f"{meta}: the cache's span file is damaged ({exc}); {fix}", ticker=ticker,
                            file=str(meta)) from exc
        frame = _read_csv(str(data))
        if "Date" not in frame.columns or "close" not in frame.columns:
            raise DataError(f"{data}: the cache file lacks the Date or close column; {fix}", ticker=ticker,
                            file=str(data))
        try:
            index = pd.DatetimeIndex(pd.to_datetime(frame["Date"], format="ISO8601"))
        except (ValueError, TypeError) as exc:
            raise DataError(f"{data}: the cache holds values that are not dates; {fix}", ticker=ticker,
                            file=str(data)) from exc
        _numeric(str(data), frame[["close"]].rename(columns={"close": ticker}), index)
        s = pd.to_numeric(frame["close"], errors="coerce").astype("float64").rename(ticker)
        s.index = index.astype("datetime64[ns]")
        s.index.name = "Date"
        return s, span

    def _save(self, ticker: str, s: pd.Series, span: tuple[date, date]) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        data, meta = self._paths(ticker)
        tmp = data.with_name(data.name + ".tmp")
        s.rename("close").rename_axis("Date").to_frame().to_csv(
            tmp, compression="gzip", date_format="%Y-%m-%d", float_format="%.6f"
        )
        tmp.replace(data)
        meta.write_text(
            json.dumps(
                {
                    "ticker": ticker,
                    "start": span[0].isoformat(),
                    "end": span[1].isoformat(),
                    "fetched_at": self._now().astimezone(UTC).isoformat(timespec="seconds"),
                    "source": "yahoo finance via yfinance, auto_adjust=True",
                }
            ),
            encoding="utf-8",
        )

    def _series(self, ticker: str, lo: date, hi: date) -> pd.Series:
        cached, span = self._load(ticker)
        if span is not None and span[0] <= lo and hi <= span[1]:
            return cached
        if self.offline:
            have = f"the cache covers {span[0]}..{span[1]}" if span else "nothing is cached"
            raise DataError(
                f"{ticker}: offline and {have}, but {lo}..{hi} was asked; "
                "go online and run `robo data update` or narrow the range",
                ticker=ticker,
            )
        if span is None:
            series = self._fetch(ticker, lo, hi)
            new_span = (lo, hi)
        else:
            series, new_span = cached, span
            if lo < span[0]:
                # Older segment: fetched through the cache's first day, rescaled to the cache's basis.
                through = cached.index[0].date() if len(cached) else span[0]
                older = self._fetch(ticker, lo, through)
                series = _splice(older, series, keep="new")
                new_span = (lo, new_span[1])
            if hi > span[1]:
                # Newer segment: fetched from the cache's last day; the cache is rescaled to the new basis.
                since = cached.index[-1].date() if len(cached) else span[1]
                newer = self._fetch(ticker, since, hi)
                series = _splice(series, newer, keep="old")
                new_span = (new_span[0], hi)
        if series.empty:
            raise EmptyRange(f"{ticker}: Yahoo has no price between {lo} and {hi}", ticker=ticker, day=lo)
        self._save(ticker, series, new_span)
        return series

    # -- network --------------------------------------------------------------------------------

    def _fetch(self, ticker: str, lo: date, hi: date) -> pd.Series:
        """Adjusted closes for lo ≤ day ≤ hi straight from Yahoo (yfinance's ``end`` is exclusive)."""
        import yfinance as yf
        from yfinance.config import YfConfig
        from yfinance.exceptions import YFException, YFTickerMissingError

        self.fetches.append((ticker, lo, hi))
        log.info("yahoo: fetching %s %s..%s", ticker, lo, hi)
        with _YF_LOCK, warnings.catch_warnings():
            # yfinance's own pandas deprecations are not ours to show.
            warnings.simplefilter("ignore", DeprecationWarning)
            hide = YfConfig.debug.hide_exceptions
            YfConfig.debug.hide_exceptions = False  # we translate yfinance's errors ourselves
            try:
                t = yf.Ticker(ticker, session=self.session) if self.session is not None else yf.Ticker(ticker)
                hist = t.history(
                    start=lo.isoformat(),
                    end=(hi + timedelta(days=1)).isoformat(),
                    interval="1d",
                    auto_adjust=True,
                    actions=False,
                    repair=False,
                )
            except YFTickerMissingError as exc:
                raise UnknownTicker(
                    f"Yahoo has no prices for {ticker} between {lo} and {hi} ({exc}); check the symbol",
                    ticker=ticker,
                ) from exc
            except YFException as exc:
                raise DataError(
                    f"Yahoo refused the request for {ticker}: {exc}; wait and retry, or use the cache (offline=True)",
                    ticker=ticker,
                ) from exc
            except Exception as exc:  # transport errors of curl_cffi / requests
                status = getattr(getattr(exc, "response", None), "status_code", None)
                if status == 404:
                    raise UnknownTicker(
                        f"Yahoo does not know {ticker} (HTTP 404); check the symbol", ticker=ticker
                    ) from exc
                raise DataError(
                    f"could not fetch {ticker} from Yahoo ({type(exc).__name__}: {exc}); "
                    "check the network, or use the cache (offline=True)",
                    ticker=ticker,
                ) from exc
            finally:
                YfConfig.debug.hide_exceptions = hide
        if hist is None or hist.empty or "Close" not in hist.columns:
            return pd.Series(dtype="float64", name=ticker)
        s = hist["Close"].astype("float64")
        idx = pd.DatetimeIndex(s.index)
        if idx.tz is not None:
            idx = idx.tz_localize(None)
        s.index = idx.normalize().astype("datetime64[ns]")
        s = s[~s.index.duplicated(keep="last")].dropna().sort_index()
        return s.loc[pd.Timestamp(lo) : pd.Timestamp(hi)].rename(ticker)


def _splice(old: pd.Series, new: pd.Series, *, keep: Literal["old", "new"]) -> pd.Series:
    """Join two adjusted-close segments that overlap on at least one day, on one adjustment basis.

    ``keep="old"``: ``old`` is earlier and is rescaled to ``new``'s basis (new data is the fresher basis).
    ``keep="new"``: ``new`` is earlier and is rescaled to ``old``'s basis (the cached, later segment).
    """
    if old.empty:
        return new
    if new.empty:
        return old
    common = old.index.intersection(new.index)
    early, late = (old, new) if keep == "old" else (new, old)
    if len(common):
        day = common[-1] if keep == "old" else common[0]
        factor = float(late.loc[day] / early.loc[day])
    else:
        log.warning("no overlapping day to chain %s segments; joined without rescaling", old.name)
        factor = 1.0
    scaled = early * factor
    joined = pd.concat([scaled[~scaled.index.isin(late.index)], late]).sort_index()
    return joined.rename(old.name)


# ---------------------------------------------------------------------------------------------
# Alpaca market data
# ---------------------------------------------------------------------------------------------


def _secret(value: Any) -> str:
    getter = getattr(value, "get_secret_value", None)
    return getter() if callable(getter) else str(value)


class AlpacaSource:
    """Alpaca daily bars (``adjustment=ALL``: split- and dividend-adjusted closes) via alpaca-py's data client.

    Keys are secrets: pass ``str`` or pydantic ``SecretStr``; they are held privately and never
    logged, printed or included in ``repr``. ``feed`` is "iex" (free plan) or "sip".
    """

    name = "alpaca"

    def __init__(
        self,
        api_key: Any,
        secret_key: Any,
        url_override: str | None = None,
        *,
        feed: str = "iex",
    ) -> None:
        if not api_key or not secret_key:
            raise DataError(
                "Alpaca needs an API key and a secret key; set APCA_API_KEY_ID and APCA_API_SECRET_KEY"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # alpaca-py imports websockets.legacy
            from alpaca.data.historical import StockHistoricalDataClient

        self.url_override = url_override
        self.feed = feed
        self._client = StockHistoricalDataClient(
            api_key=_secret(api_key), secret_key=_secret(secret_key), url_override=url_override
        )

    def __repr__(self) -> str:
        return f"AlpacaSource(url={self.url_override or 'https://data.alpaca.markets'}, feed={self.feed}, keys=***)"

    def description(self) -> str:
        """Provenance of these prices."""
        return f"Alpaca market data ({self.feed} feed), daily bars adjusted for splits and dividends (adjustment=all)"

    def prices(
        self,
        tickers: Sequence[str] | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> pd.DataFrame:
        """Adjusted closes (USD per share) for ``tickers`` with start ≤ day ≤ end (default: 2016-01-04..today).

        Raises:
            UnknownTicker: no ticker given, or Alpaca returned no bars for one.
            EmptyRange: no bar in the range.
            DataError: Alpaca refused the request (bad keys, rate limit) or could not be reached.
        """
        from alpaca.common.exceptions import APIError
        from alpaca.data.enums import Adjustment, DataFeed
        from alpaca.data.requests import StockBarsRequest
        from alpaca.data.timeframe import TimeFrame

        names = _norm_tickers(tickers)
        if not names:
            raise UnknownTicker("Alpaca needs the tickers to fetch; pass a list such as ['VTI', 'BND']")
        lo = _as_date(start, "start") or date(2016, 1, 4)
        hi = _as_date(end, "end") or datetime.now(UTC).date()
        request = StockBarsRequest(
            symbol_or_symbols=names,
            timeframe=TimeFrame.Day,
            start=datetime.combine(lo, time(0), tzinfo=UTC),
            end=datetime.combine(hi, time(23, 59, 59), tzinfo=UTC),
            adjustment=Adjustment.ALL,
            feed=DataFeed(self.feed),
        )
        try:
            barset = self._client.get_stock_bars(request)
        except APIError as exc:
            raise DataError(
                f"Alpaca refused the bars request (HTTP {exc.status_code}): {_api_message(exc)}; "
                "check the keys and the plan's feed, or retry later",
                status=exc.status_code,
            ) from exc
        except Exception as exc:
            raise DataError(
                f"could not reach Alpaca market data ({type(exc).__name__}); check the network and url_override"
            ) from exc
        columns: dict[str, pd.Series] = {}
        for t in names:
            bars = barset.data.get(t, [])
            if not bars:
                raise UnknownTicker(f"Alpaca returned no daily bars for {t} between {lo} and {hi}", ticker=t)
            idx = pd.DatetimeIndex([b.timestamp for b in bars])
            idx = idx.tz_convert("America/New_York").tz_localize(None).normalize()
            columns[t] = pd.Series([float(b.close) for b in bars], index=idx, name=t)
        frame = _tidy(pd.DataFrame(columns).sort_index())
        return validate_prices(_select(frame, names, lo, hi, self.name))


def _api_message(exc: Exception) -> str:
    try:
        return str(exc.message)  # type: ignore[attr-defined]
    except Exception:
        return str(exc)[:200]
