"""Local HTTP servers that answer like Yahoo's chart API and Alpaca's bars endpoint (127.0.0.1 only).

The real yfinance and alpaca-py code runs against them: yfinance through a ``requests`` session whose
transport routes Yahoo's hosts to the local server (any other host is refused: no network in tests),
alpaca-py through ``url_override``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import requests
from requests.adapters import HTTPAdapter

NY = ZoneInfo("America/New_York")

Route = Callable[[str, dict[str, list[str]], dict[str, str]], tuple[int, Any]]


@dataclass
class LocalServer:
    """A threaded HTTP server on 127.0.0.1 whose answers come from ``route``; records every request."""

    route: Route
    requests: list[tuple[str, dict[str, list[str]], dict[str, str]]] = field(default_factory=list)
    fail: bool = False

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.requests.append((parts.path, query, headers))
                if server.fail:
                    status, body = 503, "<html>Will be right back...</html>"  # what an outage looks like
                else:
                    status, body = server.route(parts.path, query, headers)
                raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ------------------------------------------------------------------------------------------------
# Yahoo
# ------------------------------------------------------------------------------------------------


class YahooToLocal(HTTPAdapter):
    """Transport that sends requests for *.yahoo.com to the local server; every other host is refused."""

    def __init__(self, base: str) -> None:
        super().__init__(max_retries=0)
        self.base = base

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        parts = urlsplit(request.url)
        host = parts.hostname or ""
        if not host.endswith("yahoo.com"):
            raise requests.ConnectionError(f"tests never touch the network: refused {host}")
        local = request.copy()
        local.url = f"{self.base}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        local.headers["X-Yahoo-Host"] = host
        response = super().send(local, **kwargs)
        response.url = request.url
        return response


def yahoo_session(server: LocalServer) -> requests.Session:
    s = requests.Session()
    adapter = YahooToLocal(server.url)
    s.mount("https://", adapter)
    s.mount("http://", adapter)
    return s


def _open_ts(d: date) -> int:
    return int(datetime.combine(d, time(9, 30), tzinfo=NY).timestamp())


@dataclass
class YahooBook:
    """Recorded daily bars per symbol: {symbol: {day: (close, adjclose)}}; edit it to change the answers."""

    bars: dict[str, dict[date, tuple[float, float]]] = field(default_factory=dict)

    def route(self, path: str, query: dict[str, list[str]], headers: dict[str, str]) -> tuple[int, Any]:
        if path == "/v1/test/getcrumb":
            return 200, "test-crumb"
        if "/finance/" in path and not path.startswith("/v8/finance/chart/"):  # quoteSummary and friends
            return 404, {"quoteSummary": {"result": None, "error": {
                "code": "Not Found", "description": "Quote not found for symbol"}}}
        if not path.startswith("/v8/finance/chart/"):
            return 200, "<html>ok</html>"  # fc.yahoo.com cookie page
        symbol = path.rsplit("/", 1)[-1]
        book = self.bars.get(symbol)
        if book is None:
            return 404, {"chart": {"result": None, "error": {
                "code": "Not Found", "description": "No data found, symbol may be delisted"}}}
        days = sorted(book)
        if "period1" in query:
            p1, p2 = int(query["period1"][0]), int(query["period2"][0])
            days = [d for d in days if p1 <= _open_ts(d) < p2]
        else:  # range=1d: the last bar (yfinance asks this for the exchange time zone)
            days = days[-1:]
        return 200, chart_json(symbol, days, book)


def chart_json(symbol: str, days: list[date], book: dict[date, tuple[float, float]]) -> dict[str, Any]:
    """The chart API's JSON for these days (shape of query2.finance.yahoo.com/v8/finance/chart)."""
    closes = [book[d][0] for d in days]
    last = max(book)
    meta = {
        "currency": "USD", "symbol": symbol, "exchangeName": "PCX", "fullExchangeName": "NYSEArca",
        "instrumentType": "ETF", "firstTradeDate": _open_ts(min(book)), "regularMarketTime": _open_ts(last) + 23400,
        "hasPrePostMarketData": True, "gmtoffset": -18000, "timezone": "EST",
        "exchangeTimezoneName": "America/New_York", "regularMarketPrice": book[last][0],
        "chartPreviousClose": closes[0] if closes else book[last][0], "priceHint": 2,
        "currentTradingPeriod": {
            "pre": {"timezone": "EST", "start": _open_ts(last) - 19800, "end": _open_ts(last), "gmtoffset": -18000},
            "regular": {"timezone": "EST", "start": _open_ts(last), "end": _open_ts(last) + 23400,
                        "gmtoffset": -18000},
            "post": {"timezone": "EST", "start": _open_ts(last) + 23400, "end": _open_ts(last) + 37800,
                     "gmtoffset": -18000},
        },
        "dataGranularity": "1d", "range": "",
        "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"],
    }
    result: dict[str, Any] = {"meta": meta}
    if days:
        result["timestamp"] = [_open_ts(d) for d in days]
        result["indicators"] = {
            "quote": [{
                "open": closes, "high": [c * 1.005 for c in closes], "low": [c * 0.995 for c in closes],
                "close": closes, "volume": [1_000_000 + i for i in range(len(days))],
            }],
            "adjclose": [{"adjclose": [book[d][1] for d in days]}],
        }
    else:
        result["indicators"] = {"quote": [{}], "adjclose": [{}]}
    return {"chart": {"result": [result], "error": None}}


# ------------------------------------------------------------------------------------------------
# Alpaca
# ------------------------------------------------------------------------------------------------


def alpaca_bar(d: date, close: float) -> dict[str, Any]:
    """One daily bar as Alpaca documents it: t is RFC 3339 (midnight New York, in UTC)."""
    t = datetime.combine(d, time(0), tzinfo=NY).astimezone(UTC)
    return {"t": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "o": close * 0.998, "h": close * 1.004, "l": close * 0.995,
            "c": close, "v": 1_234_567, "n": 4321, "vw": close * 1.0001}


def next_day(d: date) -> date:
    return d + timedelta(days=1)
