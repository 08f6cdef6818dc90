"""AlpacaSource through the real alpaca-py data client, answered by a local /v2/stocks/bars server."""

from __future__ import annotations

import logging
from datetime import date

import numpy as np
import pandas as pd
import pytest
from pydantic import SecretStr

from engine.data import AlpacaSource
from engine.errors import DataError, UnknownTicker
from tests.data._servers import LocalServer, alpaca_bar

KEY, SECRET = "PKTESTKEY0000000001", "sEcReT-never-printed-42"


@pytest.fixture
def closes(embedded_frame) -> pd.DataFrame:
    return embedded_frame.loc["2024-03-01":"2024-03-28", ["VTI", "BND"]]


@pytest.fixture
def alpaca(closes):
    """Two pages: page 1 holds VTI's first 10 bars, page 2 the rest of VTI and all of BND."""
    vti = [alpaca_bar(ts.date(), float(v)) for ts, v in closes["VTI"].items()]
    bnd = [alpaca_bar(ts.date(), float(v)) for ts, v in closes["BND"].items()]

    def route(path, query, headers):
        if path != "/v2/stocks/bars":
            return 404, {"code": 40410000, "message": "endpoint not found"}
        if headers.get("apca-api-key-id") != KEY or headers.get("apca-api-secret-key") != SECRET:
            return 403, {"code": 40310000, "message": "forbidden"}
        symbols = query["symbols"][0].split(",")
        if "NOPE" in symbols:
            return 200, {"bars": {s: [] for s in symbols if s != "NOPE"} | {"VTI": vti}, "next_page_token": None}
        if query.get("page_token", [""])[0] == "page-2":
            return 200, {"bars": {"VTI": vti[10:], "BND": bnd}, "next_page_token": None}
        return 200, {"bars": {"VTI": vti[:10]}, "next_page_token": "page-2"}

    server = LocalServer(route)
    yield server
    server.close()


def test_two_pages_become_one_wide_frame_of_adjusted_closes(alpaca, closes):
    src = AlpacaSource(KEY, SecretStr(SECRET), url_override=alpaca.url)
    df = src.prices(["VTI", "bnd"], start=date(2024, 3, 1), end=date(2024, 3, 28))
    assert list(df.columns) == ["VTI", "BND"] and df.index.name == "Date"
    assert [d.date() for d in df.index] == [d.date() for d in closes.index]
    np.testing.assert_allclose(df.to_numpy(), closes.to_numpy(), rtol=1e-12)
    calls = [(p, q) for p, q, _ in alpaca.requests]
    assert len(calls) == 2 and "page_token" not in calls[0][1] and calls[1][1]["page_token"] == ["page-2"]
    query = calls[0][1]
    assert query["adjustment"] == ["all"] and query["timeframe"] == ["1Day"] and query["feed"] == ["iex"]
    assert query["symbols"] == ["VTI,BND"]
    assert query["start"][0].startswith("2024-03-01")


def test_keys_are_never_shown(alpaca, caplog):
    caplog.set_level(logging.DEBUG)
    src = AlpacaSource(SecretStr(KEY), SecretStr(SECRET), url_override=alpaca.url)
    src.prices(["VTI"], start=date(2024, 3, 1), end=date(2024, 3, 28))
    assert KEY not in repr(src) and SECRET not in repr(src) and SECRET not in str(vars(src))
    assert SECRET not in caplog.text and KEY not in caplog.text


def test_refusals_are_typed(alpaca):
    with pytest.raises(DataError, match="HTTP 403"):
        AlpacaSource(KEY, "wrong", url_override=alpaca.url).prices(["VTI"], start=date(2024, 3, 1))
    src = AlpacaSource(KEY, SECRET, url_override=alpaca.url)
    with pytest.raises(UnknownTicker, match="NOPE"):
        src.prices(["VTI", "NOPE"], start=date(2024, 3, 1), end=date(2024, 3, 28))
    with pytest.raises(DataError, match="API key"):
        AlpacaSource("", SECRET)
