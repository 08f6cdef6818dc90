"""Stock universes for direct indexing: tickers with GICS sector, sub-industry and share classes, and their prices.

    data = load_sp500("../shared/data/sp500")          # 504 stocks 2000–2021, broken series masked
    demo = embedded_stocks()                             # 20 stocks shipped with the package (skfolio, BSD-3)
    mine = load_stock_universe("my_universe.csv")        # ticker, name, gics_sector[, gics_sub_industry, issuer, ...]

A *share class group* is the set of tickers of one issuer (GOOG and GOOGL): the wash-sale rule treats them as
substantially identical (see docs/direct-indexing.md), so ``StockUniverse.identical`` feeds ``LotLedger``'s
``identical`` groups. The S&P 500 files are read from where they lie and never copied into the package:
their redistribution terms are unsettled (their README).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from engine.errors import ConfigError, DataError, UnknownTicker

__all__ = [
    "SP500_MASKS",
    "PriceMask",
    "Stock",
    "StockData",
    "StockUniverse",
    "embedded_stocks",
    "embedded_stocks_dir",
    "issuer_of",
    "load_sp500",
    "load_stock_universe",
    "stock_universe",
    "universe_weights",
]

_CLASS_SUFFIX = re.compile(r"\s*\((?:Class|Series)\s+[A-Z0-9]+\)\s*$", re.IGNORECASE)


def issuer_of(name: str) -> str:
    """The issuer behind a share-class name: "Alphabet Inc. (Class C)" → "Alphabet Inc." (other names unchanged)."""
    return _CLASS_SUFFIX.sub("", name).strip()


@dataclass(frozen=True, slots=True)
class Stock:
    """One listed stock: ``issuer`` names the company (share classes of one issuer share it).

    ``market_cap`` is in USD (None when the source has none); it sets the cap-weighted benchmark.
    ``esg_score`` is the data's score (higher is better) or None where no score exists.
    """

    ticker: str
    name: str
    sector: str
    sub_industry: str = ""
    issuer: str = ""
    market_cap: float | None = None
    esg_score: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "ticker", self.ticker.strip().upper())
        if not self.issuer:
            object.__setattr__(self, "issuer", issuer_of(self.name) or self.ticker)


@dataclass(frozen=True)
class StockUniverse:
    """An ordered set of stocks with their classification; the order is the column order of every array."""

    stocks: tuple[Stock, ...]
    source: str = ""
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, int] = {}
        for i, s in enumerate(self.stocks):
            if s.ticker in index:
                raise ConfigError("duplicate ticker in the stock universe", file=self.source or None,
                                  field="ticker", value=s.ticker, fix="list each ticker once")
            index[s.ticker] = i
        object.__setattr__(self, "_index", index)

    def __len__(self) -> int:
        return len(self.stocks)

    def __contains__(self, ticker: object) -> bool:
        return isinstance(ticker, str) and ticker.strip().upper() in self._index

    def __getitem__(self, ticker: str) -> Stock:
        try:
            return self.stocks[self._index[ticker.strip().upper()]]
        except KeyError:
            raise UnknownTicker(f"{ticker!r} is not in the stock universe {self.source or ''}".strip(),
                                ticker=ticker) from None

    @property
    def tickers(self) -> list[str]:
        """Tickers in universe order."""
        return [s.ticker for s in self.stocks]

    def position(self, ticker: str) -> int:
        """Column of ``ticker`` in every array over this universe."""
        self[ticker]
        return self._index[ticker.strip().upper()]

    @property
    def sectors(self) -> list[str]:
        """Distinct GICS sectors, sorted."""
        return sorted({s.sector for s in self.stocks})

    @property
    def identical(self) -> list[set[str]]:
        """Share-class groups (tickers of one issuer, two or more): substantially identical for wash sales."""
        groups: dict[str, set[str]] = {}
        for s in self.stocks:
            groups.setdefault(s.issuer.casefold(), set()).add(s.ticker)
        return [g for g in groups.values() if len(g) > 1]

    def share_classes(self, ticker: str) -> frozenset[str]:
        """Every ticker of ``ticker``'s issuer in this universe (itself included)."""
        issuer = self[ticker].issuer.casefold()
        return frozenset(s.ticker for s in self.stocks if s.issuer.casefold() == issuer)

    def select(self, tickers: Iterable[str]) -> StockUniverse:
        """The sub-universe of ``tickers``, in the given order (raises ``UnknownTicker`` for a stranger)."""
        return StockUniverse(tuple(self[t] for t in tickers), source=self.source)

    def market_caps(self) -> np.ndarray | None:
        """Market capitalisations in USD in universe order, or None if any stock lacks one."""
        caps = [s.market_cap for s in self.stocks]
        if any(c is None for c in caps):
            return None
        return np.asarray(caps, dtype=float)

    def to_frame(self) -> pd.DataFrame:
        """One row per stock: ticker, name, gics_sector, gics_sub_industry, issuer, market_cap, esg_score."""
        return pd.DataFrame(
            [(s.ticker, s.name, s.sector, s.sub_industry, s.issuer, s.market_cap, s.esg_score) for s in self.stocks],
            columns=["ticker", "name", "gics_sector", "gics_sub_industry", "issuer", "market_cap", "esg_score"],
        )


@dataclass(frozen=True, slots=True)
class PriceMask:
    """A stretch of a price series that is known broken: ``before`` masks every day before it, ``day`` one day."""

    ticker: str
    reason: str
    before: date | None = None
    day: date | None = None

    def apply(self, prices: pd.DataFrame) -> int:
        """Blank the masked cells of ``prices`` in place (if the ticker is there); returns how many were non-empty."""
        if self.ticker not in prices.columns:
            return 0
        if self.before is not None:
            rows = prices.index < pd.Timestamp(self.before)
        else:
            rows = prices.index == pd.Timestamp(self.day)
        n = int(prices.loc[rows, self.ticker].notna().sum())
        prices.loc[rows, self.ticker] = np.nan
        return n


# The sp500 README's section "Broken or suspect adjusted series": "Tickers whose adjusted series is unusable
# before a date" and "single bad days". Without these masks a harvester "finds" fake losses (README).
SP500_MASKS: tuple[PriceMask, ...] = (
    PriceMask("ANTM", "another security spliced in front, a bogus 2:1 split and an unadjusted 2005 split",
              before=date(2005, 6, 2)),
    PriceMask("ZBRA", "3:2 splits of 2003 and 2004 applied twice", before=date(2004, 8, 25)),
    PriceMask("WST", "unrecorded 2:1 split on 2004-09-30", before=date(2004, 9, 30)),
    PriceMask("KSU", "Stilwell spin-off recorded as a 181.00 dividend", before=date(2000, 7, 13)),
    PriceMask("SO", "Mirant spin-off recorded as split and dividend", before=date(2001, 4, 3)),
    PriceMask("MSI", "Motorola Mobility distribution not recorded: a fake -37.6 % loss", before=date(2011, 1, 4)),
    PriceMask("TRMB", "stale bar already halved for an unrecorded split", day=date(2007, 2, 23)),
    PriceMask("CMCSA", "bad print at 2/3 of its neighbours", day=date(2004, 8, 2)),
    PriceMask("IRM", "bad print at 2/3 of the next day's prices", day=date(2006, 2, 2)),
    PriceMask("GNRC", "bogus IPO-day row (adjusted 28.86 vs close 12.84)", day=date(2010, 2, 11)),
)


@dataclass(frozen=True)
class StockData:
    """A stock universe with its adjusted daily closes (USD/share; Date index, one column per ticker).

    ``actions`` holds dividends and splits when the source has them (columns date, ticker, dividend_amount,
    split_coefficient, flag); ``masked`` lists the masks applied and how many cells each blanked.
    """

    universe: StockUniverse
    prices: pd.DataFrame
    actions: pd.DataFrame | None = None
    masked: tuple[tuple[PriceMask, int], ...] = ()
    description: str = ""

    def returns(self, start: date | None = None, end: date | None = None) -> pd.DataFrame:
        """Simple daily returns (fractions) between start and end; a return next to a masked or empty cell is NaN."""
        frame = self.prices
        if start is not None or end is not None:
            frame = frame.loc[pd.Timestamp(start) if start else None : pd.Timestamp(end) if end else None]
        return frame.pct_change(fill_method=None).iloc[1:]


# ------------------------------------------------------------------------------------------------
# Loaders
# ------------------------------------------------------------------------------------------------


def embedded_stocks_dir() -> Path:
    """Folder of the shipped 20-stock demo set (prices from skfolio's wheel, BSD-3; see its PROVENANCE.md)."""
    return Path(__file__).with_name("embedded") / "stocks"


def embedded_stocks() -> StockData:
    """The shipped demo set: 20 large US stocks, daily adjusted closes 1990-01-02 to 2022-12-28.

    Prices come verbatim from skfolio 1.12.2's ``sp500_dataset.csv.gz`` (BSD-3-Clause, licence beside it);
    sectors from datasets/s-and-p-500-companies (ODC-PDDL). No market caps: the benchmark is equal-weighted
    unless you pass weights.
    """
    folder = embedded_stocks_dir()
    universe = load_stock_universe(folder / "sectors.csv")
    prices = _read_prices(str(folder / "prices.csv.gz"), (folder / "prices.csv.gz").stat().st_mtime).copy()
    return StockData(
        universe=universe.select([t for t in prices.columns if t in universe]),
        prices=prices[[t for t in prices.columns if t in universe]],
        description="20 US stocks, adjusted closes from skfolio 1.12.2 (BSD-3-Clause); demo and tests only",
    )


def load_sp500(folder: str | Path, *, mask: bool = True) -> StockData:
    """The S&P 500 research set (504 stocks, 2000-01-03..2021-04-21) read in place from ``folder``.

    ``mask`` blanks the series the set's README calls broken (``SP500_MASKS``). The 31 tickers that left the
    index before 2023 have no sub-industry (empty string). Share classes come from the names
    ("Alphabet Inc. (Class A)" and "(Class C)" → one issuer).

    Raises:
        DataError: the folder or one of its files is missing (the message says which and where to get it).
    """
    root = Path(folder).expanduser()
    names = ("sp500_adj_close.csv.gz", "sp500_sectors.csv", "sp500_dividends_splits.csv.gz")
    missing = [n for n in names if not (root / n).is_file()]
    if missing:
        raise DataError(
            f"the S&P 500 set at {root} lacks {', '.join(missing)}; point to the folder holding the files its "
            "README lists (rebuild them with its build.py)"
        )
    universe = _read_universe(root / "sp500_sectors.csv", optional_sub_industry=True)
    path = root / "sp500_adj_close.csv.gz"
    prices = _read_prices(str(path), path.stat().st_mtime).copy()
    strangers = sorted(set(prices.columns) - set(universe.tickers))
    if strangers:
        raise DataError(f"{path}: tickers {strangers[:5]} have prices but no row in sp500_sectors.csv; rebuild the set")
    applied: list[tuple[PriceMask, int]] = []
    if mask:
        applied = [(m, m.apply(prices)) for m in SP500_MASKS]
    actions = pd.read_csv(root / "sp500_dividends_splits.csv.gz", parse_dates=["date"])
    return StockData(
        universe=universe.select(prices.columns),
        prices=prices,
        actions=actions,
        masked=tuple(applied),
        description=f"S&P 500 constituents of March 2021 (AlphaVantage adjusted closes) read from {root}; "
        "research use, redistribution unsettled",
    )


def load_stock_universe(path: str | Path) -> StockUniverse:
    """A user's stock universe from CSV: ``ticker, name, gics_sector`` and optionally ``gics_sub_industry``,
    ``issuer`` (share classes of one company share it), ``market_cap`` (USD) and ``esg_score``.

    Raises:
        ConfigError: a missing file or column, an empty ticker or sector, a duplicate ticker, or a market cap
            or score that is not a finite number (≥ 0 for caps); names the file, row, value and fix.
    """
    return _read_universe(Path(path).expanduser(), optional_sub_industry=True)


def _read_universe(path: Path, *, optional_sub_industry: bool) -> StockUniverse:
    if not path.is_file():
        raise ConfigError("no such stock universe file", file=str(path),
                          fix="give a CSV with columns ticker, name, gics_sector[, gics_sub_industry, issuer]")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        cols = [c.strip() for c in (reader.fieldnames or [])]
        need = ["ticker", "name", "gics_sector"]
        lacking = [c for c in need if c not in cols]
        if lacking:
            raise ConfigError(f"missing column(s) {', '.join(lacking)}", file=str(path), field="header",
                              value=cols, fix="the header needs ticker, name, gics_sector")
        stocks = []
        for n, raw in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
            where = f"row {n}"
            if not row["ticker"]:
                raise ConfigError("empty ticker", file=str(path), field=f"{where}.ticker", value=row["ticker"],
                                  fix="fill in the ticker or delete the row")
            if not row["gics_sector"]:
                raise ConfigError("empty GICS sector", file=str(path), field=f"{where}.gics_sector",
                                  value=row["ticker"], fix="give the stock's GICS sector (exclusions need it)")
            sub = row.get("gics_sub_industry", "")
            stocks.append(Stock(
                ticker=row["ticker"],
                name=row["name"] or row["ticker"],
                sector=row["gics_sector"],
                sub_industry=sub,
                issuer=row.get("issuer", ""),
                market_cap=_number(row.get("market_cap", ""), path, f"{where}.market_cap", minimum=0.0),
                esg_score=_number(row.get("esg_score", ""), path, f"{where}.esg_score", minimum=None),
            ))
    if not stocks:
        raise ConfigError("the stock universe is empty", file=str(path), fix="add one row per stock")
    return StockUniverse(tuple(stocks), source=str(path))


def _number(text: str, path: Path, where: str, *, minimum: float | None) -> float | None:
    if text == "":
        return None
    try:
        x = float(text)
    except ValueError:
        x = math.nan
    if not math.isfinite(x) or (minimum is not None and x < minimum):
        bound = f" ≥ {minimum:g}" if minimum is not None else ""
        raise ConfigError(f"not a finite number{bound}", file=str(path), field=where, value=text,
                          fix="write a plain number (USD for market_cap) or leave the cell empty")
    return x


@lru_cache(maxsize=4)
def _read_prices(path: str, mtime: float) -> pd.DataFrame:
    """A wide adjusted-close CSV (``Date`` + one column per ticker), cached per file version."""
    frame = pd.read_csv(path, index_col="Date", parse_dates=["Date"], engine="c")
    frame.index = pd.DatetimeIndex(frame.index).astype("datetime64[ns]")
    if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
        raise DataError(f"{path}: dates are unsorted or repeated; sort them and keep one row per day")
    frame.columns = [str(c).strip().upper() for c in frame.columns]
    bad = (frame <= 0).sum()
    if int(bad.sum()):
        t = str(bad[bad > 0].index[0])
        raise DataError(f"{path}: non-positive prices in {t}; blank them or fix the source", ticker=t)
    return frame.astype("float64")


def universe_weights(universe: StockUniverse, weights: Mapping[str, float] | None = None) -> np.ndarray:
    """Benchmark weights (fractions summing to 1) in universe order: ``weights`` if given, else cap weights
    when every stock has a market cap, else equal weights.

    Raises:
        ConfigError: a weight for a ticker outside the universe, a negative weight or weights summing to 0.
    """
    if weights is not None:
        out = np.zeros(len(universe))
        for t, w in weights.items():
            if t.strip().upper() not in universe:
                raise ConfigError("benchmark weight for a ticker outside the universe", field="weights",
                                  value=t, fix="add the stock to the universe or drop its weight")
            if not (w >= 0 and math.isfinite(w)):
                raise ConfigError("benchmark weight must be ≥ 0", field=f"weights.{t}", value=w)
            out[universe.position(t)] = w
    else:
        caps = universe.market_caps()
        out = caps if caps is not None else np.ones(len(universe))
    total = float(out.sum())
    if total <= 0:
        raise ConfigError("benchmark weights sum to 0", field="weights", fix="give at least one positive weight")
    return out / total


def stock_universe(spec: str, *, base: str | Path | None = None) -> StockUniverse:
    """The stock universe a household's direct-index sleeve names: ``embedded`` (the shipped demo set), a folder
    holding the S&P 500 set (its ``sp500_sectors.csv``), or a universe CSV; a relative path is read from ``base``.

    Raises:
        ConfigError: the folder or file does not exist or is not a valid universe (the message names it).
    """
    if spec.strip().lower() == "embedded":
        return _embedded_universe()
    path = Path(spec).expanduser()
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    if path.is_dir():
        path = path / "sp500_sectors.csv"
    return _cached_universe(str(path.resolve()), path.stat().st_mtime if path.is_file() else 0.0)


@lru_cache(maxsize=1)
def _embedded_universe() -> StockUniverse:
    return embedded_stocks().universe


@lru_cache(maxsize=8)
def _cached_universe(path: str, mtime: float) -> StockUniverse:
    return load_stock_universe(path)

