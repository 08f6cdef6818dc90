"""A local Alpaca trading API (127.0.0.1 only) that the real alpaca-py ``TradingClient`` talks to via ``url_override``.

Implements /v2/account, /v2/positions, /v2/assets/{symbol}, /v2/clock, /v2/orders (POST, GET list,
GET by id, GET :by_client_order_id, DELETE) and /v2/account/activities/FILL with Alpaca's JSON shapes:
money as strings, RFC 3339 times with nanoseconds and offsets, orders with ``qty`` or ``notional``.
Faults are injected on command (a queue) or at random (``chaos``); orders fill when ``tick()`` runs.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

NY = ZoneInfo("America/New_York")
KEY_ID = "PKTESTKEYID0000000001"
SECRET = "sEcReT-do-not-leak-0123456789abcdefghij"

TRANSPORT_FAULTS = ("429", "500", "503", "504", "drop_before", "drop_after", "slow_after")


class FakeClock:
    """Epoch seconds that move only when something sleeps: rate-limit resets and back-offs cost no real time."""

    def __init__(self, start: datetime = datetime(2026, 8, 4, 14, 0, tzinfo=UTC)) -> None:
        self.t = start.timestamp()
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self.t

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.t += max(seconds, 0.0)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)


def rfc3339(at: datetime, *, ny: bool = False) -> str:
    """Alpaca-style time with nanoseconds: ``…T14:00:00.123456789Z`` or with a New York offset."""
    t = at.astimezone(NY) if ny else at.astimezone(UTC)
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f".{t.microsecond:06d}789"
    if ny:
        off = t.strftime("%z")
        return f"{base}{frac}{off[:3]}:{off[3:]}"
    return f"{base}{frac}Z"


@dataclass
class SrvOrder:
    id: str
    client_order_id: str
    symbol: str
    side: str
    type: str
    tif: str
    qty: Decimal | None
    notional: Decimal | None
    limit_price: Decimal | None
    created: datetime
    status: str = "accepted"
    filled_qty: Decimal = Decimal(0)
    filled_value: Decimal = Decimal(0)
    updated: datetime | None = None
    partial: bool = False


@dataclass
class AlpacaState:
    cash: Decimal = Decimal("10000")
    prices: dict[str, Decimal] = field(default_factory=dict)
    positions: dict[str, Decimal] = field(default_factory=dict)
    fractionable: dict[str, bool] = field(default_factory=dict)
    is_open: bool = True
    orders: list[SrvOrder] = field(default_factory=list)
    activities: list[dict[str, Any]] = field(default_factory=list)


class LocalAlpaca:
    """The server: ``state`` is the account, ``faults`` a queue of (method, path prefix, kind), ``chaos`` at random."""

    def __init__(self, clock: FakeClock | None = None, *, stall: float = 1.0) -> None:
        self.clock = clock or FakeClock()
        self.state = AlpacaState()
        self.faults: list[tuple[str, str, str]] = []
        self.chaos_rate = 0.0
        self.chaos_rng = random.Random(0)
        self.chaos_kinds: tuple[tuple[str, float], ...] = ()
        self.partial_rate = 0.0
        self.unique_client_order_ids = True  # Alpaca's rule; the fault test switches it off to see duplicates
        self.stall = stall
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.injected: list[str] = []
        self._lock = threading.RLock()
        self._n = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall

            def _any(self) -> None:
                server._handle(self)

            do_GET = do_POST = do_DELETE = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    # -- control -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset(self, *, cash: Any, prices: dict[str, Any], positions: dict[str, Any] | None = None,
              fractionable: dict[str, bool] | None = None, is_open: bool = True) -> None:
        with self._lock:
            self.state = AlpacaState(
                cash=Decimal(str(cash)),
                prices={k: Decimal(str(v)) for k, v in prices.items()},
                positions={k: Decimal(str(v)) for k, v in (positions or {}).items()},
                fractionable=dict(fractionable or {}),
                is_open=is_open,
            )
            self.faults.clear()
            self.requests.clear()
            self.injected.clear()

    def inject(self, method: str, path: str, kind: str, times: int = 1) -> None:
        """Queue ``kind`` for the next ``times`` requests whose method and path prefix match."""
        with self._lock:
            self.faults += [(method.upper(), path, kind)] * times

    def chaos(self, rate: float, kinds: tuple[tuple[str, float], ...], seed: int) -> None:
        """From now on each request fails with probability ``rate``, the kind drawn by weight."""
        with self._lock:
            self.chaos_rate = rate
            self.chaos_kinds = kinds
            self.chaos_rng = random.Random(seed)

    def by_cid(self, cid: str) -> list[SrvOrder]:
        with self._lock:
            return [o for o in self.state.orders if o.client_order_id == cid]

    def tick(self) -> None:
        """The market moves on: every working order fills (a partial one half now, the rest next tick)."""
        with self._lock:
            for o in self.state.orders:
                if o.status in ("accepted", "new", "partially_filled"):
                    self._fill(o)

    # -- fills ---------------------------------------------------------------------------------

    def _fill(self, o: SrvOrder) -> None:
        s = self.state
        price = s.prices[o.symbol]
        if o.qty is not None:
            remaining = o.qty - o.filled_qty
        else:
            remaining = ((o.notional - o.filled_value) / price).quantize(Decimal("1e-9"), ROUND_DOWN)
        qty = remaining
        if o.partial and o.filled_qty == 0:
            half = remaining / 2
            qty = half.quantize(Decimal("1e-9"), ROUND_DOWN) if s.fractionable.get(o.symbol, True) else Decimal(
                int(half))
            if qty <= 0:
                qty = remaining
        if qty <= 0:
            o.status = "filled"
            return
        value = qty * price
        if o.side == "buy":
            s.cash -= value
            s.positions[o.symbol] = s.positions.get(o.symbol, Decimal(0)) + qty
        else:
            s.cash += value
            s.positions[o.symbol] = s.positions.get(o.symbol, Decimal(0)) - qty
            if s.positions[o.symbol] == 0:
                del s.positions[o.symbol]
        o.filled_qty += qty
        o.filled_value += value
        done = qty == remaining
        o.status = "filled" if done else "partially_filled"
        now = self.clock.now() + timedelta(microseconds=len(s.activities))
        o.updated = now
        self._n += 1
        s.activities.append({
            "id": f"{now.strftime('%Y%m%d%H%M%S%f')[:17]}::{uuid.UUID(int=self._n)}",
            "activity_type": "FILL",
            "transaction_time": rfc3339(now),
            "type": "fill" if done else "partial_fill",
            "price": str(price),
            "qty": str(qty),
            "side": o.side,
            "symbol": o.symbol,
            "leaves_qty": str((o.qty - o.filled_qty) if o.qty is not None else Decimal(0) if done else qty),
            "order_id": o.id,
            "cum_qty": str(o.filled_qty),
            "order_status": o.status,
        })

    # -- HTTP ----------------------------------------------------------------------------------

    def _fault_for(self, method: str, path: str) -> str | None:
        with self._lock:
            for i, (m, prefix, kind) in enumerate(self.faults):
                if m == method and path.startswith(prefix):
                    del self.faults[i]
                    return kind
            if self.chaos_rate and self.chaos_rng.random() < self.chaos_rate:
                kinds = [k for k, _ in self.chaos_kinds if k != "403" or (method == "POST")]
                weights = [w for k, w in self.chaos_kinds if k != "403" or (method == "POST")]
                return self.chaos_rng.choices(kinds, weights)[0]
        return None

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        path, query = parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in h.headers.items()}
        with self._lock:
            self.requests.append((h.command, path, headers))
        if headers.get("apca-api-key-id") != KEY_ID or headers.get("apca-api-secret-key") != SECRET:
            return _send(h, 401, {"code": 40110000, "message": "request is not authorized"})
        fault = self._fault_for(h.command, path)
        if fault:
            with self._lock:
                self.injected.append(fault)
        if fault == "drop_before":
            return _drop(h)
        if fault == "429":
            reset = int(self.clock.time()) + 2
            return _send(h, 429, {"code": 42910000, "message": "rate limit exceeded"},
                         {"X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)})
        if fault == "500":
            return _send(h, 500, {"code": 50010000, "message": "internal server error occurred"})
        if fault in ("503", "504"):
            return _send(h, int(fault), f"<html><body><h1>{fault} Service Unavailable</h1></body></html>")
        if fault == "403" and h.command == "POST":
            return _send(h, 403, {"buying_power": str(self.state.cash), "code": 40310000,
                                  "cost_basis": "1000000", "message": "insufficient buying power"})
        body = json.loads(raw, parse_float=Decimal) if raw else None
        with self._lock:
            status, payload = self._route(h.command, path, query, body)
        if fault == "drop_after":
            return _drop(h)
        if fault == "slow_after":
            threading.Event().wait(self.stall)
        try:
            _send(h, status, payload)
        except OSError:
            pass  # the client gave up waiting

    def _route(self, method: str, path: str, q: dict[str, str], body: Any) -> tuple[int, Any]:
        s = self.state
        if method == "GET" and path == "/v2/account":
            return 200, self._account_json()
        if method == "GET" and path == "/v2/positions":
            return 200, [self._position_json(sym, qty) for sym, qty in sorted(s.positions.items())]
        if method == "GET" and path.startswith("/v2/assets/"):
            sym = path.rsplit("/", 1)[-1].upper()
            if sym not in s.prices:
                return 404, {"code": 40410000, "message": "asset not found"}
            return 200, self._asset_json(sym)
        if method == "GET" and path == "/v2/clock":
            now = self.clock.now()
            day = now.astimezone(NY).date()
            nxt = datetime.combine(day + timedelta(days=1), datetime.min.time(), NY).replace(hour=9, minute=30)
            close = datetime.combine(day, datetime.min.time(), NY).replace(hour=16)
            return 200, {"timestamp": rfc3339(now, ny=True), "is_open": s.is_open,
                         "next_open": rfc3339(nxt, ny=True), "next_close": rfc3339(close, ny=True)}
        if method == "POST" and path == "/v2/orders":
            return self._create(body)
        if method == "GET" and path == "/v2/orders:by_client_order_id":
            found = [o for o in s.orders if o.client_order_id == q.get("client_order_id")]
            if not found:
                return 404, {"code": 40410000, "message": "order not found"}
            return 200, self._order_json(found[0])
        if method == "GET" and path == "/v2/orders":
            want = q.get("status", "open")
            rows = [o for o in s.orders if want == "all" or (want == "closed") == (o.status in _FINAL)]
            return 200, [self._order_json(o) for o in rows[: int(q.get("limit", 50))]]
        if path.startswith("/v2/orders/"):
            oid = path.rsplit("/", 1)[-1]
            found = [o for o in s.orders if o.id == oid]
            if not found:
                return 404, {"code": 40410000, "message": "order not found"}
            o = found[0]
            if method == "GET":
                return 200, self._order_json(o)
            if method == "DELETE":
                if o.status in _FINAL:
                    return 422, {"code": 42210000, "message": "order is not cancelable"}
                o.status = "canceled"
                return 204, ""
        if method == "GET" and path == "/v2/account/activities/FILL":
            rows = list(s.activities)
            if "after" in q:
                after = datetime.fromisoformat(q["after"])
                rows = [a for a in rows if datetime.fromisoformat(a["transaction_time"].replace("Z", "+00:00"))
                        > after - timedelta(microseconds=1)]
            if "page_token" in q:
                ids = [a["id"] for a in rows]
                rows = rows[ids.index(q["page_token"]) + 1:] if q["page_token"] in ids else []
            return 200, rows[: int(q.get("page_size", 100))]
        return 404, {"code": 40410000, "message": f"endpoint not found: {method} {path}"}

    def _create(self, body: dict[str, Any]) -> tuple[int, Any]:
        s = self.state
        cid = body.get("client_order_id") or str(uuid.uuid4())
        sym = str(body.get("symbol", "")).upper()
        if self.unique_client_order_ids and any(o.client_order_id == cid for o in s.orders):
            return 422, {"code": 40010001, "message": "client_order_id must be unique"}
        if sym not in s.prices:
            return 422, {"code": 40010001, "message": f'asset "{sym}" not found'}
        qty = Decimal(str(body["qty"])) if "qty" in body else None
        notional = Decimal(str(body["notional"])) if "notional" in body else None
        if (qty is None) == (notional is None):
            return 422, {"code": 40010001, "message": "qty or notional is required"}
        frac = s.fractionable.get(sym, True)
        if not frac and (notional is not None or qty != qty.to_integral_value()):
            return 422, {"code": 40010001, "message": "requested asset is not fractionable"}
        price = s.prices[sym]
        side = body["side"]
        if side == "buy":
            need = notional if notional is not None else qty * price
            reserved = sum(((o.notional or o.qty * s.prices[o.symbol]) - o.filled_value for o in s.orders
                            if o.side == "buy" and o.status not in _FINAL), Decimal(0))
            if need > s.cash - reserved:
                return 403, {"buying_power": str(s.cash - reserved), "code": 40310000, "cost_basis": str(need),
                             "message": "insufficient buying power"}
        else:
            want = qty if qty is not None else notional / price
            held = s.positions.get(sym, Decimal(0)) - sum(
                ((o.qty or Decimal(0)) - o.filled_qty for o in s.orders
                 if o.side == "sell" and o.symbol == sym and o.status not in _FINAL), Decimal(0))
            if want > held:
                return 403, {"available": str(held), "code": 40310000, "existing_qty": str(s.positions.get(sym, 0)),
                             "held_for_orders": "0", "symbol": sym,
                             "message": f"insufficient qty available for order (requested: {want}, available: {held})"}
        self._n += 1
        o = SrvOrder(
            id=str(uuid.UUID(int=(1 << 100) + self._n)), client_order_id=cid, symbol=sym, side=side,
            type=body.get("type", "market"), tif=body.get("time_in_force", "day"), qty=qty, notional=notional,
            limit_price=Decimal(str(body["limit_price"])) if "limit_price" in body else None,
            created=self.clock.now(), partial=self.chaos_rng.random() < self.partial_rate,
        )
        s.orders.append(o)
        return 200, self._order_json(o)

    # -- JSON shapes -----------------------------------------------------------------------------

    def _order_json(self, o: SrvOrder) -> dict[str, Any]:
        t = rfc3339(o.created)
        return {
            "id": o.id, "client_order_id": o.client_order_id, "created_at": t,
            "updated_at": rfc3339(o.updated or o.created), "submitted_at": t,
            "filled_at": rfc3339(o.updated) if o.status == "filled" and o.updated else None,
            "expired_at": None, "canceled_at": None, "failed_at": None, "replaced_at": None, "replaced_by": None,
            "replaces": None, "asset_id": _asset_id(o.symbol),
            "symbol": o.symbol, "asset_class": "us_equity",
            "notional": None if o.notional is None else str(o.notional),
            "qty": None if o.qty is None else str(o.qty), "filled_qty": str(o.filled_qty),
            "filled_avg_price": None if not o.filled_qty else str((o.filled_value / o.filled_qty).quantize(
                Decimal("1e-6"))),
            "order_class": "", "order_type": o.type, "type": o.type, "side": o.side,
            "position_intent": "buy_to_open" if o.side == "buy" else "sell_to_close",
            "time_in_force": o.tif, "limit_price": None if o.limit_price is None else str(o.limit_price),
            "stop_price": None, "status": o.status, "extended_hours": False, "legs": None,
            "trail_percent": None, "trail_price": None, "hwm": None, "subtag": None, "source": None,
            "expires_at": rfc3339(o.created + timedelta(hours=8)),
        }

    def _account_json(self) -> dict[str, Any]:
        s = self.state
        value = sum((q * s.prices[sym] for sym, q in s.positions.items()), Decimal(0))
        return {
            "id": "904837e3-3b76-47ec-b432-046db621571b", "account_number": "PA3TESTACCT", "status": "ACTIVE",
            "crypto_status": "ACTIVE", "currency": "USD", "buying_power": str(s.cash),
            "regt_buying_power": str(s.cash), "daytrading_buying_power": "0", "non_marginable_buying_power": str(
                s.cash), "cash": str(s.cash), "accrued_fees": "0", "pending_transfer_in": "0",
            "portfolio_value": str(s.cash + value), "pattern_day_trader": False, "trading_blocked": False,
            "transfers_blocked": False, "account_blocked": False, "created_at": "2024-01-02T15:04:05.123456789Z",
            "trade_suspended_by_user": False, "multiplier": "1", "shorting_enabled": False,
            "equity": str(s.cash + value), "last_equity": str(s.cash + value), "long_market_value": str(value),
            "short_market_value": "0", "initial_margin": "0", "maintenance_margin": "0",
            "last_maintenance_margin": "0", "sma": "0", "daytrade_count": 0, "options_buying_power": str(s.cash),
            "options_approved_level": 0, "options_trading_level": 0,
        }

    def _position_json(self, sym: str, qty: Decimal) -> dict[str, Any]:
        price = self.state.prices[sym]
        return {
            "asset_id": _asset_id(sym), "symbol": sym, "exchange": "ARCA",
            "asset_class": "us_equity", "asset_marginable": True, "qty": str(qty), "qty_available": str(qty),
            "avg_entry_price": str(price), "side": "long" if qty >= 0 else "short",
            "market_value": str(qty * price), "cost_basis": str(qty * price), "unrealized_pl": "0",
            "unrealized_plpc": "0", "unrealized_intraday_pl": "0", "unrealized_intraday_plpc": "0",
            "current_price": str(price), "lastday_price": str(price), "change_today": "0",
        }

    def _asset_json(self, sym: str) -> dict[str, Any]:
        return {
            "id": _asset_id(sym), "class": "us_equity", "exchange": "ARCA",
            "symbol": sym, "name": f"{sym} ETF", "status": "active", "tradable": True, "marginable": True,
            "shortable": True, "easy_to_borrow": True, "fractionable": self.state.fractionable.get(sym, True),
            "maintenance_margin_requirement": 30, "attributes": [],
        }


def _asset_id(symbol: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"alpaca-asset:{symbol}"))


_FINAL = ("filled", "canceled", "expired", "rejected", "done_for_day")


def _send(h: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    raw = body.encode() if isinstance(body, str) else json.dumps(body, default=str).encode()
    h.send_response(status)
    h.send_header("Content-Type", "text/html" if isinstance(body, str) else "application/json")
    h.send_header("Content-Length", str(len(raw)))
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(raw)


def _drop(h: BaseHTTPRequestHandler) -> None:
    """Close the socket without an answer: the client sees a dropped connection."""
    h.close_connection = True
    try:
        h.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
