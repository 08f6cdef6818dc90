"""YahooSource through the real yfinance, answered by a local chart-API server; the on-disk cache."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from engine.data import YahooSource
from engine.errors import DataError, UnknownTicker
from tests.data._servers import yahoo_session

AFTER_JUNE = lambda: datetime(2024, 7, 1, 12, tzinfo=UTC)  # noqa: E731  a Monday before the open


def _source(tmp_path, server, **kw) -> YahooSource:
    return YahooSource(cache_dir=tmp_path / "yahoo", session=yahoo_session(server), now=AFTER_JUNE, **kw)


def _adjusted(book, ticker: str, lo: str, hi: str) -> pd.Series:
    s = pd.Series({pd.Timestamp(d): adj for d, (_, adj) in book.bars[ticker].items()}).sort_index()
    return s.loc[lo:hi]


def test_prices_are_the_adjusted_closes_yahoo_sent(tmp_path, yahoo_server, yahoo_book):
    src = _source(tmp_path, yahoo_server)
    df = src.prices(["vti", "BND"], start=date(2024, 1, 2), end=date(2024, 2, 29))
    assert list(df.columns) == ["VTI", "BND"] and df.index.name == "Date"
    assert df.index[0] == pd.Timestamp("2024-01-02") and df.index[-1] == pd.Timestamp("2024-02-29")
    assert len(df) == 41  # 21 trading days in January 2024 (New Year, MLK day) + 20 in February (Presidents Day)
    want = _adjusted(yahoo_book, "VTI", "2024-01-02", "2024-02-29")
    np.testing.assert_allclose(df["VTI"].to_numpy(), want.to_numpy(), rtol=1e-9)
    raw_close = yahoo_book.bars["VTI"][date(2024, 1, 2)][0]
    assert df["VTI"].iloc[0] != pytest.approx(raw_close)  # auto_adjust: the adjusted close, not the raw one
    chart_calls = [q for p, q, _ in yahoo_server.requests if p == "/v8/finance/chart/VTI" and "period1" in q]
    assert chart_calls and chart_calls[0]["interval"] == ["1d"]


def test_second_run_needs_no_network(tmp_path, yahoo_server):
    src = _source(tmp_path, yahoo_server)
    first = src.prices(["VTI", "BND"], start=date(2024, 1, 2), end=date(2024, 3, 28))
    assert len(src.fetches) == 2
    yahoo_server.fail = True
    n_requests = len(yahoo_server.requests)
    again = _source(tmp_path, yahoo_server)  # a new process would build a new source
    second = again.prices(["VTI", "BND"], start=date(2024, 2, 1), end=date(2024, 3, 28))
    assert again.fetches == [] and len(yahoo_server.requests) == n_requests
    pd.testing.assert_frame_equal(second, first.loc["2024-02-01":])
    offline = YahooSource(cache_dir=tmp_path / "yahoo", offline=True, now=AFTER_JUNE)
    pd.testing.assert_frame_equal(offline.prices(["VTI"], start=date(2024, 1, 2), end=date(2024, 3, 28)),
                                  first[["VTI"]])
    assert offline.cached_tickers() == ["BND", "VTI"]


def test_only_missing_dates_are_fetched(tmp_path, yahoo_server):
    src = _source(tmp_path, yahoo_server)
    src.prices(["VTI"], start=date(2024, 2, 1), end=date(2024, 3, 28))
    src.prices(["VTI"], start=date(2024, 1, 2), end=date(2024, 5, 31))
    assert src.fetches == [
        ("VTI", date(2024, 2, 1), date(2024, 3, 28)),
        ("VTI", date(2024, 1, 2), date(2024, 2, 1)),     # older part, through the first cached day
        ("VTI", date(2024, 3, 28), date(2024, 5, 31)),   # newer part, from the last cached day
    ]
    src.prices(["VTI"], start=date(2024, 1, 10), end=date(2024, 5, 1))
    assert len(src.fetches) == 3


def test_extension_rescales_the_cache_to_yahoos_new_adjustment(tmp_path, yahoo_server, yahoo_book):
    src = _source(tmp_path, yahoo_server)
    src.prices(["VTI"], start=date(2024, 1, 2), end=date(2024, 3, 28))
    # A 1 % distribution goes ex on 2024-04-01: Yahoo now scales every earlier adjusted close by 0.99.
    for d, (close, adj) in list(yahoo_book.bars["VTI"].items()):
        if d < date(2024, 4, 1):
            yahoo_book.bars["VTI"][d] = (close, adj * 0.99)
    df = src.prices(["VTI"], start=date(2024, 1, 2), end=date(2024, 6, 28))
    want = _adjusted(yahoo_book, "VTI", "2024-01-02", "2024-06-28")
    np.testing.assert_allclose(df["VTI"].to_numpy(), want.to_numpy(), rtol=1e-6)
    # The return across the ex-date is the true total return, not a fake 1 % jump at the seam.
    r = df["VTI"].pct_change()
    np.testing.assert_allclose(r.to_numpy()[1:], want.pct_change().to_numpy()[1:], atol=1e-6)


def test_cache_files_are_csv_gz_with_their_span(tmp_path, yahoo_server):
    src = _source(tmp_path, yahoo_server)
    src.prices(["BND"], start=date(2024, 1, 2), end=date(2024, 1, 31))
    data = tmp_path / "yahoo" / "BND.csv.gz"
    with gzip.open(data, "rt") as fh:
        assert fh.readline().strip() == "Date,close"
    meta = (tmp_path / "yahoo" / "BND.json").read_text()
    assert '"start": "2024-01-02"' in meta and '"end": "2024-01-31"' in meta


def test_todays_unfinished_session_is_never_cached(tmp_path, yahoo_server):
    during = lambda: datetime(2024, 6, 28, 15, tzinfo=UTC)  # noqa: E731  11:00 New York: market open
    src = YahooSource(cache_dir=tmp_path / "y", session=yahoo_session(yahoo_server), now=during)
    df = src.prices(["VTI"], start=date(2024, 6, 3))
    assert df.index[-1] == pd.Timestamp("2024-06-27")


def test_unknown_ticker_and_outage_are_typed(tmp_path, yahoo_server):
    src = _source(tmp_path, yahoo_server)
    with pytest.raises(UnknownTicker, match="NOPE"):
        src.prices(["NOPE"], start=date(2024, 1, 2), end=date(2024, 1, 31))
    yahoo_server.fail = True
    with pytest.raises(DataError, match="VTI") as info:
        src.prices(["VTI"], start=date(2024, 1, 2), end=date(2024, 1, 31))
    assert not isinstance(info.value, UnknownTicker)
    with pytest.raises(DataError, match="offline"):
        YahooSource(cache_dir=tmp_path / "empty", offline=True, now=AFTER_JUNE).prices(["VTI"], start=date(2024, 1, 2))
