"""Fixtures of the data tests: local Yahoo/Alpaca servers and yfinance's caches kept in a temp folder."""

from __future__ import annotations

import tempfile

import pandas as pd
import pytest

from tests.data._servers import LocalServer, YahooBook

_YF_CACHE = tempfile.mkdtemp(prefix="yf-cache-")


def _yf_cache_in_tmp() -> None:
    import yfinance as yf

    yf.set_tz_cache_location(_YF_CACHE)  # yfinance's tz/cookie sqlite never lands in ~/.cache


_yf_cache_in_tmp()


@pytest.fixture(scope="session")
def embedded_frame() -> pd.DataFrame:
    from engine.data import EmbeddedSource

    frame = EmbeddedSource().prices()
    assert frame.shape == (5933, 26)
    return frame


@pytest.fixture
def yahoo_book(embedded_frame) -> YahooBook:
    """VTI and BND, 2024-01-02..2024-06-28: raw close 3 % above the adjusted close (dividends)."""
    cut = embedded_frame.loc["2024-01-02":"2024-06-28", ["VTI", "BND"]]
    return YahooBook({t: {ts.date(): (round(v * 1.03, 4), float(v)) for ts, v in cut[t].items()} for t in cut})


@pytest.fixture
def yahoo_server(yahoo_book):
    server = LocalServer(yahoo_book.route)
    yield server
    server.close()




@pytest.fixture(autouse=True)
def _fresh_yfinance_memo():
    """yfinance memoises past-range responses in-process; each test starts without them."""
    from yfinance.data import YfData

    YfData.cache_get.cache_clear()
    yield
    YfData.cache_get.cache_clear()
