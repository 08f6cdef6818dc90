"""A local Alpaca Trading API (127.0.0.1 only) that the real alpaca-py ``TradingClient`` talks to via ``url_override``.

Implements /v2/account, /v2/account/configurations, /v2/positions, /v2/assets/{symbol}, /v2/clock,
/v2/orders (POST, GET list with status/after/until/limit/direction/symbols/side/nested, GET by id,
GET :by_client_order_id, DELETE) and /v2/account/activities/FILL with Alpaca's JSON shapes: money as
strings, RFC 3339 times with nanoseconds and offsets, orders with ``qty`` or ``notional``.

Each behaviour names its source beside it. The main ones:

* Orders live over time: ``accepted`` → ``new`` (routed) → ``partially_filled`` → ``filled``, one step per
  ``tick()`` (or per ``fill_every`` seconds of the clock). Orders placed while the market is closed are
  accepted and wait for the open; DAY orders still working at the session's close expire.
* A sell beyond the position opens a short when shorting is on (paper default: accounts with ≥ 2,000 USD
  equity), else 403 "insufficient qty available"; fractional/notional orders must be market DAY orders on
  fractionable assets (422 otherwise); blocked accounts get 403; inactive or non-tradable assets 422.
* 200 requests per rolling minute per API key, then 429; every answer carries ``X-RateLimit-Limit``,
  ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (epoch seconds).
* Every request is logged (method, path, clock time, key, status) for request-count assertions.

Faults are injected on command (a queue) or at random (``chaos``). Several accounts can be served, one per
API key (``add_account``); prices are one market shared by all of them.
"""

from __future__ import annotations

import json
import math
import random
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

NY = ZoneInfo("America/New_York")
KEY_ID = "PKTESTKEYID0000000001"
SECRET = "sEcReT-do-not-leak-0123456789abcdefghij"

TRANSPORT_FAULTS = ("429", "500", "503", "504", "drop_before", "drop_after", "slow_after")

# Alpaca, Orders at Alpaca → Order Lifecycle: these get no further updates.
FINAL = frozenset({"filled", "canceled", "expired", "rejected", "replaced"})
# Statuses the simulated market moves on by itself; any other status (held, pending_review, suspended,
# stopped, done_for_day, …) is left as set by ``set_status`` until a test changes it.
_MOVING = ("accepted", "pending_new", "new", "partially_filled")
_SESSION_OPEN = (9, 30)  # Alpaca: regular trading hours 9:30am – 4:00pm ET (Orders at Alpaca)
_SESSION_CLOSE = (16, 0)


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

    def advance(self, seconds: float) -> None:
        """Move time on without counting it as a sleep (the test's own passage of time)."""
        with self._lock:
            self.t += max(seconds, 0.0)

    def set(self, at: datetime) -> None:
        """Jump to ``at`` (aware); never backwards."""
        with self._lock:
            self.t = max(self.t, at.timestamp())

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)


class WallClock:
    """Real time, for tests that drive code which sleeps for real (a CLI run): same interface as ``FakeClock``."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        time.sleep(max(seconds, 0.0))

    def now(self) -> datetime:
        return datetime.fromtimestamp(time.time(), UTC)


def rfc3339(at: datetime, *, ny: bool = False) -> str:
    """Alpaca-style time with nanoseconds: ``…T14:00:00.123456789Z`` or with a New York offset."""
    t = at.astimezone(NY) if ny else at.astimezone(UTC)
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f".{t.microsecond:06d}789"
    if ny:
        off = t.strftime("%z")
        return f"{base}{frac}{off[:3]}:{off[3:]}"
    return f"{base}{frac}Z"


class Request(NamedTuple):
    """One logged request: ``method``, ``path``, clock time ``at`` (epoch s), ``key`` id, answered ``status``."""

    method: str
    path: str
    at: float
    key: str
    status: int
    query: dict[str, str]


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
    session_close: datetime | None = None  # when a DAY order expires (clock-driven market only)
    ended_at: datetime | None = None


@dataclass
class AlpacaState:
    """One Alpaca account: money, positions, orders, fills, the account's flags and configuration."""

    cash: Decimal = Decimal("10000")
    prices: dict[str, Decimal] = field(default_factory=dict)
    positions: dict[str, Decimal] = field(default_factory=dict)
    fractionable: dict[str, bool] = field(default_factory=dict)
    is_open: bool | None = True  # None: open in regular hours of the clock; True/False: forced
    orders: list[SrvOrder] = field(default_factory=list)
    activities: list[dict[str, Any]] = field(default_factory=list)
    # Account object flags (Alpaca, Account: docs.alpaca.markets/reference/getaccount-1).
    status: str = "ACTIVE"
    trading_blocked: bool = False
    account_blocked: bool = False
    trade_suspended_by_user: bool = False
    pattern_day_trader: bool = False
    shorting_enabled: bool | None = None  # None: Alpaca's rule, on from 2,000 USD equity
    # Account configuration (Alpaca, Account Configurations: docs.alpaca.markets/reference/account-configurations).
    no_shorting: bool = False
    fractional_trading: bool = True
    suspend_trade: bool = False
    # Per-symbol asset overrides: status, tradable, fractionable, shortable, easy_to_borrow.
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)


class LocalAlpaca:
    """The server: ``state`` is the default key's account, ``faults`` a queue of (method, path prefix, kind)."""

    def __init__(self, clock: FakeClock | WallClock | None = None, *, stall: float = 1.0) -> None:
        self.clock = clock or FakeClock()
        self._keys: dict[str, str] = {KEY_ID: SECRET}
        self._states: dict[str, AlpacaState] = {KEY_ID: AlpacaState()}
        self.faults: list[tuple[str, str, str]] = []
        self.chaos_rate = 0.0
        self.chaos_rng = random.Random(0)
        self.chaos_kinds: tuple[tuple[str, float], ...] = ()
        self.partial_rate = 0.0
        self.unique_client_order_ids = True  # Alpaca's rule; the fault test switches it off to see duplicates
        self.stall = stall
        # Alpaca: 200 requests per minute per API key, then 429 (support: "usage limit API calls").
        self.rate_limit = 200
        self.rate_window = 60.0
        self.fill_every: float | None = None  # seconds of clock time per market step; None: only tick()
        self.extra_order_fields: dict[str, Any] = {}  # merged into every order's JSON (a newer API's fields)
        self.requests: list[Request] = []
        self.injected: list[str] = []
        self._windows: dict[str, deque[float]] = {}
        self._last_step = self.clock.time()
        self._lock = threading.RLock()
        self._n = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall

            def _any(self) -> None:
                server._handle(self)

            do_GET = do_POST = do_DELETE = do_PATCH = _any

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

    @property
    def state(self) -> AlpacaState:
        """The account of the default key (``KEY_ID``)."""
        return self._states[KEY_ID]

    @state.setter
    def state(self, value: AlpacaState) -> None:
        self._states[KEY_ID] = value

    def account_state(self, key: str = KEY_ID) -> AlpacaState:
        """The account served to API key ``key``."""
        return self._states[key]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset(self, *, cash: Any, prices: dict[str, Any], positions: dict[str, Any] | None = None,
              fractionable: dict[str, bool] | None = None, is_open: bool | None = True,
              shorting: bool | None = None) -> None:
        """A fresh default account (other keys' accounts are dropped), empty logs, no faults, no rate history.

        ``is_open=None`` makes the market follow the clock (9:30–16:00 New York, weekdays); ``shorting``
        forces the account's ``shorting_enabled`` (default: Alpaca's 2,000 USD equity rule).
        """
        with self._lock:
            self._keys = {KEY_ID: SECRET}
            self._states = {KEY_ID: AlpacaState(
                cash=Decimal(str(cash)),
                prices={k: Decimal(str(v)) for k, v in prices.items()},
                positions={k: Decimal(str(v)) for k, v in (positions or {}).items()},
                fractionable=dict(fractionable or {}),
                is_open=is_open,
                shorting_enabled=shorting,
            )}
            self.faults.clear()
            self.requests.clear()
            self.injected.clear()
            self._windows.clear()
            self.extra_order_fields = {}
            self._last_step = self.clock.time()

    def fresh_paper_account(self, cash: Any = "100000", prices: dict[str, Any] | None = None) -> None:
        """A new paper account as Alpaca opens one: cash only, no positions, shorting by the equity rule."""
        self.reset(cash=cash, prices=prices or dict(self.state.prices), positions={})

    def add_account(self, key_id: str, secret: str, *, cash: Any, positions: dict[str, Any] | None = None,
                    shorting: bool | None = None) -> AlpacaState:
        """Serve another Alpaca account under its own key pair (one account per key, as at Alpaca)."""
        with self._lock:
            st = AlpacaState(cash=Decimal(str(cash)), prices=self.state.prices,
                             positions={k: Decimal(str(v)) for k, v in (positions or {}).items()},
                             fractionable=self.state.fractionable, is_open=self.state.is_open,
                             shorting_enabled=shorting)
            self._keys[key_id] = secret
            self._states[key_id] = st
            return st

    def set_price(self, symbol: str, price: Any) -> None:
        """The market price of ``symbol`` for every account (orders fill at the price of their step)."""
        with self._lock:
            self.state.prices[symbol.upper()] = Decimal(str(price))

    def set_account(self, key: str = KEY_ID, **flags: Any) -> None:
        """Set account flags or configuration: status, trading_blocked, account_blocked, trade_suspended_by_user,
        pattern_day_trader, shorting_enabled, no_shorting, fractional_trading, suspend_trade."""
        with self._lock:
            st = self._states[key]
            for name, value in flags.items():
                if not hasattr(st, name) or name in ("cash", "prices", "positions", "orders", "activities"):
                    raise AttributeError(f"not an account flag: {name}")
                setattr(st, name, value)

    def set_asset(self, symbol: str, **attrs: Any) -> None:
        """Set an asset's status ("active"/"inactive"), tradable, fractionable, shortable, easy_to_borrow."""
        allowed = {"status", "tradable", "fractionable", "shortable", "easy_to_borrow"}
        if set(attrs) - allowed:
            raise AttributeError(f"not an asset attribute: {sorted(set(attrs) - allowed)}")
        with self._lock:
            for st in self._states.values():
                st.assets.setdefault(symbol.upper(), {}).update(attrs)
                if "fractionable" in attrs:
                    st.fractionable[symbol.upper()] = bool(attrs["fractionable"])

    def set_status(self, client_order_id: str, status: str) -> None:
        """Put an order in any status string (``held``, ``pending_review``, a made-up future one …)."""
        with self._lock:
            (o,) = self.by_cid(client_order_id)
            o.status = status
            o.updated = self.clock.now()

    def open_market(self) -> None:
        with self._lock:
            for st in self._states.values():
                st.is_open = True

    def close_market(self) -> None:
        """The session ends: working DAY orders expire (Alpaca, Time in force "day"), the market is closed."""
        with self._lock:
            for st in self._states.values():
                st.is_open = False
                for o in st.orders:
                    if o.tif == "day" and o.status not in FINAL:
                        self._end(o, "expired")

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
            return [o for st in self._states.values() for o in st.orders if o.client_order_id == cid]

    def tick(self) -> None:
        """The market moves one step: sessions roll, then every working order advances once (see ``_step``)."""
        with self._lock:
            self._roll()
            for st in self._states.values():
                if self._open(st):
                    for o in st.orders:
                        self._step(st, o)

    # -- the request log -------------------------------------------------------------------------

    def peak_per_minute(self, key: str | None = None, window: float = 60.0, *, served: bool = False) -> int:
        """The most requests (of ``key``, or all) within any ``window`` seconds of the log; ``served`` leaves
        out those refused with 429 by the rate limit."""
        times = sorted(r.at for r in self.requests
                       if (key is None or r.key == key) and not (served and r.status == 429))
        best, lo = 0, 0
        for hi, t in enumerate(times):
            while times[lo] <= t - window:
                lo += 1
            best = max(best, hi - lo + 1)
        return best

    # -- the market ------------------------------------------------------------------------------

    def _open(self, st: AlpacaState) -> bool:
        if st.is_open is not None:
            return st.is_open
        now = self.clock.now().astimezone(NY)
        hm = (now.hour, now.minute)
        return now.weekday() < 5 and _SESSION_OPEN <= hm < _SESSION_CLOSE

    def _session_close(self, at: datetime) -> datetime:
        """The close of the session an order placed at ``at`` trades in (today's, or the next weekday's)."""
        local = at.astimezone(NY)
        day = local.date()
        if local.weekday() >= 5 or (local.hour, local.minute) >= _SESSION_CLOSE:
            day = _next_weekday(day)
        return datetime(day.year, day.month, day.day, *_SESSION_CLOSE, tzinfo=NY).astimezone(UTC)

    def _roll(self) -> None:
        """Expire DAY orders whose session closed (clock-driven markets), then take due ``fill_every`` steps."""
        now = self.clock.now()
        for st in self._states.values():
            for o in st.orders:
                ends = o.session_close
                if ends is not None and o.tif == "day" and o.status not in FINAL and now >= ends:
                    self._end(o, "expired", at=o.session_close)
        if self.fill_every:
            steps = min(int((self.clock.time() - self._last_step) // self.fill_every), 4)
            if steps > 0:
                self._last_step = self.clock.time()
                for _ in range(steps):
                    for st in self._states.values():
                        if self._open(st):
                            for o in st.orders:
                                self._step(st, o)

    def _step(self, st: AlpacaState, o: SrvOrder) -> None:
        """One market step of a working order: accepted → new (routed), new → (partial) fill, partial → filled.

        Alpaca, Order Lifecycle: "accepted — received by Alpaca but not yet routed … often outside trading
        hours"; "new — routed to exchanges for execution"; then partially_filled / filled.
        """
        if o.status in ("accepted", "pending_new"):
            o.status = "new"
            o.updated = self.clock.now()
            return
        if o.status in ("new", "partially_filled"):
            self._fill(st, o)

    def _end(self, o: SrvOrder, status: str, at: datetime | None = None) -> None:
        o.status = status
        o.updated = o.ended_at = at or self.clock.now()

    def _fill(self, s: AlpacaState, o: SrvOrder) -> None:
        price = s.prices[o.symbol]
        if o.type == "limit" and o.limit_price is not None and (
                (o.side == "buy" and price > o.limit_price) or (o.side == "sell" and price < o.limit_price)):
            return  # a limit order fills only at its price or better
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
            self._end(o, "filled")
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
        now = self.clock.now() + timedelta(microseconds=len(s.activities))
        o.status = "filled" if done else "partially_filled"
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

    def _rate(self, key: str) -> tuple[bool, dict[str, str]]:
        """Count a request of ``key`` in its rolling minute; False when over the limit (then not counted).

        Alpaca: "200 requests per minute per account … a 429 … will be returned"; every response carries
        X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset, the reset in epoch seconds
        (forum.alpaca.markets/t/executing-orders/12029).
        """
        now = self.clock.time()
        window = self._windows.setdefault(key, deque())
        while window and window[0] <= now - self.rate_window:
            window.popleft()
        allowed = len(window) < self.rate_limit
        if allowed:
            window.append(now)
        reset = math.ceil(window[0] + self.rate_window) if window else math.ceil(now + self.rate_window)
        return allowed, {"X-RateLimit-Limit": str(self.rate_limit),
                         "X-RateLimit-Remaining": str(max(self.rate_limit - len(window), 0)),
                         "X-RateLimit-Reset": str(reset)}

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        path, query = parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in h.headers.items()}
        key = headers.get("apca-api-key-id", "")
        entry = Request(h.command, path, self.clock.time(), key, 0, query)  # logged on arrival, status on answer
        with self._lock:
            self.requests.append(entry)

        def send(status: int, body: Any, extra: dict[str, str] | None = None) -> None:
            with self._lock:
                for i in range(len(self.requests) - 1, -1, -1):
                    if self.requests[i] is entry:
                        self.requests[i] = entry._replace(status=status)
                        break
            try:
                _send(h, status, body, {**rate, **(extra or {})})
            except OSError:
                pass  # the client gave up waiting

        rate: dict[str, str] = {}
        # Alpaca, Authentication: APCA-API-KEY-ID / APCA-API-SECRET-KEY headers; wrong keys → 401.
        if key not in self._keys or headers.get("apca-api-secret-key") != self._keys[key]:
            return send(401, {"code": 40110000, "message": "request is not authorized"})
        with self._lock:
            allowed, rate = self._rate(key)
        if not allowed:
            return send(429, {"code": 42910000, "message": "rate limit exceeded"})
        fault = self._fault_for(h.command, path)
        if fault:
            with self._lock:
                self.injected.append(fault)
        if fault == "drop_before":
            return _drop(h)
        if fault == "429":
            reset = int(self.clock.time()) + 2
            return send(429, {"code": 42910000, "message": "rate limit exceeded"},
                        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)})
        if fault == "500":
            return send(500, {"code": 50010000, "message": "internal server error occurred"})
        if fault in ("503", "504"):
            return send(int(fault), f"<html><body><h1>{fault} Service Unavailable</h1></body></html>")
        if fault == "403" and h.command == "POST":
            return send(403, {"buying_power": str(self.state.cash), "code": 40310000,
                              "cost_basis": "1000000", "message": "insufficient buying power"})
        body = json.loads(raw, parse_float=Decimal) if raw else None
        with self._lock:
            self._roll()
            status, payload = self._route(self._states[key], h.command, path, query, body)
        if fault == "drop_after":
            return _drop(h)
        if fault == "slow_after":
            threading.Event().wait(self.stall)
        send(status, payload)

    def _route(self, s: AlpacaState, method: str, path: str, q: dict[str, str], body: Any) -> tuple[int, Any]:
        if method == "GET" and path == "/v2/account":  # Alpaca, Account: docs.alpaca.markets/reference/getaccount-1
            return 200, self._account_json(s)
        if method == "GET" and path == "/v2/account/configurations":
            return 200, {"dtbp_check": "entry", "no_shorting": s.no_shorting, "suspend_trade": s.suspend_trade,
                         "fractional_trading": s.fractional_trading, "max_margin_multiplier": "1",
                         "pdt_check": "entry", "trade_confirm_email": "all", "ptp_no_exception_entry": False}
        # Alpaca, Positions: docs.alpaca.markets/reference/getallopenpositions (qty negative for a short).
        if method == "GET" and path == "/v2/positions":
            return 200, [self._position_json(s, sym, qty) for sym, qty in sorted(s.positions.items())]
        # Alpaca, Assets: GET /v2/assets/{symbol}, "404 Not found: Asset is not found".
        if method == "GET" and path.startswith("/v2/assets/"):
            sym = path.rsplit("/", 1)[-1].upper()
            if sym not in s.prices:
                return 404, {"code": 40410000, "message": "asset not found"}
            return 200, self._asset_json(s, sym)
        # Alpaca, Clock: timestamp, is_open, next_open, next_close with the New York offset.
        if method == "GET" and path == "/v2/clock":
            return 200, self._clock_json(s)
        if method == "POST" and path == "/v2/orders":
            return self._create(s, body)
        # Alpaca, Get order by client order id: GET /v2/orders:by_client_order_id?client_order_id=…, 404 if none.
        if method == "GET" and path == "/v2/orders:by_client_order_id":
            found = [o for o in s.orders if o.client_order_id == q.get("client_order_id")]
            if not found:
                return 404, {"code": 40410000, "message": "order not found"}
            return 200, self._order_json(found[0])
        if method == "GET" and path == "/v2/orders":
            return self._list(s, q)
        if path.startswith("/v2/orders/"):
            oid = path.rsplit("/", 1)[-1]
            found = [o for o in s.orders if o.id == oid]
            if not found:
                return 404, {"code": 40410000, "message": "order not found"}
            o = found[0]
            if method == "GET":
                return 200, self._order_json(o)
            if method == "DELETE":
                # Alpaca, Cancel an order: 204 on success, 422 "order is not cancelable" once final.
                if o.status in FINAL:
                    return 422, {"code": 42210000, "message": "order is not cancelable"}
                self._end(o, "canceled")
                return 204, ""
        # Alpaca, Account activities: FILL entries, after/direction/page_size/page_token (the last id of a page).
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

    def _list(self, s: AlpacaState, q: dict[str, str]) -> tuple[int, Any]:
        """GET /v2/orders (Alpaca, Get all orders: docs.alpaca.markets/reference/getallorders).

        status open|closed|all (default open); limit default 50, max 500; after/until exclusive bounds on the
        submission time; direction asc|desc (default desc); symbols comma-separated; side; nested (no legs here).
        """
        want = q.get("status", "open")
        if want not in ("open", "closed", "all"):
            return 422, {"code": 40010001, "message": "invalid status"}
        try:
            limit = int(q.get("limit", 50))
        except ValueError:
            return 422, {"code": 40010001, "message": "invalid limit"}
        if not 1 <= limit <= 500:
            return 422, {"code": 40010001, "message": "limit must be between 1 and 500"}
        after = _query_time(q.get("after"))
        until = _query_time(q.get("until"))
        symbols = {x.strip().upper() for x in q["symbols"].split(",")} if q.get("symbols") else None
        rows = [o for o in s.orders
                if (want == "all" or (want == "closed") == (o.status in FINAL))
                and (after is None or o.created > after) and (until is None or o.created < until)
                and (symbols is None or o.symbol in symbols) and (not q.get("side") or o.side == q["side"])]
        rows.sort(key=lambda o: o.created, reverse=q.get("direction", "desc") != "asc")
        return 200, [self._order_json(o) for o in rows[:limit]]

    def _create(self, s: AlpacaState, body: dict[str, Any]) -> tuple[int, Any]:
        cid = body.get("client_order_id") or str(uuid.uuid4())
        sym = str(body.get("symbol", "")).upper()
        # Alpaca, Create an order: client_order_id must be unique (422), up to 128 characters.
        if self.unique_client_order_ids and any(o.client_order_id == cid for o in s.orders):
            return 422, {"code": 40010001, "message": "client_order_id must be unique"}
        # Alpaca API v2: "Orders that encounter account permissioning … will return a 403".
        if s.account_blocked or s.trading_blocked or s.trade_suspended_by_user or s.suspend_trade or (
                s.status != "ACTIVE"):
            return 403, {"code": 40310000, "message": "account is not authorized to trade"}
        if sym not in s.prices:
            return 422, {"code": 40010001, "message": f'asset "{sym}" not found'}
        asset = self._asset_json(s, sym)
        if asset["status"] != "active" or not asset["tradable"]:
            why = "active" if asset["status"] != "active" else "tradable"
            return 422, {"code": 40010001, "message": f"asset {sym} is not {why}"}
        if "qty" in body and "notional" in body:
            # Alpaca support, "how can I pass a fractional order": both qty and notional → 400.
            return 400, {"code": 40010001, "message": "only one of qty or notional can be provided"}
        qty = Decimal(str(body["qty"])) if "qty" in body else None
        notional = Decimal(str(body["notional"])) if "notional" in body else None
        if qty is None and notional is None:
            return 422, {"code": 40010001, "message": "qty or notional is required"}
        if any(v is not None and -v.as_tuple().exponent > 9 for v in (qty, notional)):
            # Alpaca support, "how can I pass a fractional order": qty and notional take up to 9 decimals.
            return 422, {"code": 40010001, "message": "qty and notional take at most 9 decimal places"}
        cost = notional if notional is not None else qty * s.prices[sym]
        if cost < 1:
            # Alpaca forum, "cost basis must be >= minimal amount of order 1": orders under $1 are refused.
            return 403, {"code": 40310000, "message": "cost basis must be >= minimal amount of order 1"}
        kind, tif = body.get("type", "market"), body.get("time_in_force", "day")
        fractional = notional is not None or qty != qty.to_integral_value()
        if fractional:
            # Alpaca, Fractional Trading: "supported only for market day orders and any other type of orders
            # will result in API error"; "fractionable" on the asset; fractional_trading in the configuration.
            if kind != "market" or tif != "day":
                return 422, {"code": 40010001,
                             "message": "fractional orders must be market orders with time_in_force day"}
            if not asset["fractionable"]:
                return 422, {"code": 40010001, "message": "requested asset is not fractionable"}
            if not s.fractional_trading:
                return 422, {"code": 40010001, "message": "fractional trading is not enabled for this account"}
        price = s.prices[sym]
        side = body["side"]
        free = s.cash - sum(((o.notional or o.qty * s.prices[o.symbol]) - o.filled_value for o in s.orders
                             if o.side == "buy" and o.status not in FINAL), Decimal(0))
        if side == "buy":  # Alpaca, Orders at Alpaca → Buying Power: open buys reserve buying power (403 beyond)
            need = notional if notional is not None else qty * price
            if need > free:
                return 403, {"buying_power": str(free), "code": 40310000, "cost_basis": str(need),
                             "message": "insufficient buying power"}
        else:
            want = qty if qty is not None else notional / price
            held = s.positions.get(sym, Decimal(0)) - sum(
                ((o.qty or Decimal(0)) - o.filled_qty for o in s.orders
                 if o.side == "sell" and o.symbol == sym and o.status not in FINAL), Decimal(0))
            if want > held:
                short = want - max(held, Decimal(0))
                # Alpaca, Account plans: "Accounts with $2,000 or more equity will have access to margin
                # trading and short selling"; configuration no_shorting makes the account long-only; the asset
                # must be shortable and easy to borrow; fractional shares cannot be sold short.
                if not self._shorting(s) or not asset["shortable"] or not asset["easy_to_borrow"]:
                    return 403, {"available": str(max(held, Decimal(0))), "code": 40310000,
                                 "existing_qty": str(s.positions.get(sym, 0)), "held_for_orders": "0",
                                 "symbol": sym, "message": f"insufficient qty available for order "
                                 f"(requested: {want}, available: {max(held, Decimal(0))})"}
                if fractional:
                    return 403, {"code": 40310000, "message": "fractional orders cannot be sold short"}
                # Alpaca, Orders at Alpaca → Buying Power: a short's value is checked against buying power.
                if short * price * Decimal("1.03") > free:
                    return 403, {"buying_power": str(free), "code": 40310000, "message": "insufficient buying power"}
        self._n += 1
        now = self.clock.now()
        o = SrvOrder(
            id=str(uuid.UUID(int=(1 << 100) + self._n)), client_order_id=cid, symbol=sym, side=side,
            type=kind, tif=tif, qty=qty, notional=notional,
            limit_price=Decimal(str(body["limit_price"])) if "limit_price" in body else None,
            created=now, partial=self.chaos_rng.random() < self.partial_rate,
            # Alpaca, Orders at Alpaca: orders outside regular hours "will be queued and eligible for execution
            # at the time of the next market open"; a DAY order lives for that session only.
            session_close=self._session_close(now) if s.is_open is None else None,
        )
        s.orders.append(o)
        return 200, self._order_json(o)

    def _shorting(self, s: AlpacaState) -> bool:
        enabled = s.shorting_enabled if s.shorting_enabled is not None else self._equity(s) >= 2000
        return enabled and not s.no_shorting

    def _equity(self, s: AlpacaState) -> Decimal:
        return s.cash + sum((q * s.prices[sym] for sym, q in s.positions.items()), Decimal(0))

    # -- JSON shapes -----------------------------------------------------------------------------

    def _order_json(self, o: SrvOrder) -> dict[str, Any]:
        t = rfc3339(o.created)
        return {
            "id": o.id, "client_order_id": o.client_order_id, "created_at": t,
            "updated_at": rfc3339(o.updated or o.created), "submitted_at": t,
            "filled_at": rfc3339(o.updated) if o.status == "filled" and o.updated else None,
            "expired_at": rfc3339(o.ended_at) if o.status == "expired" and o.ended_at else None,
            "canceled_at": rfc3339(o.ended_at) if o.status == "canceled" and o.ended_at else None,
            "failed_at": None, "replaced_at": None, "replaced_by": None,
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
            "expires_at": rfc3339(o.session_close or o.created + timedelta(hours=8)),
            **self.extra_order_fields,
        }

    def _account_json(self, s: AlpacaState) -> dict[str, Any]:
        long_value = sum((q * s.prices[sym] for sym, q in s.positions.items() if q > 0), Decimal(0))
        short_value = sum((q * s.prices[sym] for sym, q in s.positions.items() if q < 0), Decimal(0))
        equity = s.cash + long_value + short_value
        # Buying power is modelled as cash (multiplier 1, no margin): the engine never borrows.
        return {
            "id": "904837e3-3b76-47ec-b432-046db621571b", "account_number": "PA3TESTACCT", "status": s.status,
            "crypto_status": "ACTIVE", "currency": "USD", "buying_power": str(s.cash),
            "regt_buying_power": str(s.cash), "daytrading_buying_power": "0", "non_marginable_buying_power": str(
                s.cash), "cash": str(s.cash), "accrued_fees": "0", "pending_transfer_in": "0",
            "portfolio_value": str(equity), "pattern_day_trader": s.pattern_day_trader,
            "trading_blocked": s.trading_blocked, "transfers_blocked": False, "account_blocked": s.account_blocked,
            "created_at": "2024-01-02T15:04:05.123456789Z", "trade_suspended_by_user": s.trade_suspended_by_user,
            "multiplier": "1",
            "shorting_enabled": s.shorting_enabled if s.shorting_enabled is not None else equity >= 2000,
            "equity": str(equity), "last_equity": str(equity), "long_market_value": str(long_value),
            "short_market_value": str(short_value), "initial_margin": "0", "maintenance_margin": "0",
            "last_maintenance_margin": "0", "sma": "0", "daytrade_count": 0, "options_buying_power": str(s.cash),
            "options_approved_level": 0, "options_trading_level": 0,
        }

    def _position_json(self, s: AlpacaState, sym: str, qty: Decimal) -> dict[str, Any]:
        price = s.prices[sym]
        return {
            "asset_id": _asset_id(sym), "symbol": sym, "exchange": "ARCA",
            "asset_class": "us_equity", "asset_marginable": True, "qty": str(qty), "qty_available": str(qty),
            "avg_entry_price": str(price), "side": "long" if qty >= 0 else "short",
            "market_value": str(qty * price), "cost_basis": str(qty * price), "unrealized_pl": "0",
            "unrealized_plpc": "0", "unrealized_intraday_pl": "0", "unrealized_intraday_plpc": "0",
            "current_price": str(price), "lastday_price": str(price), "change_today": "0",
        }

    def _asset_json(self, s: AlpacaState, sym: str) -> dict[str, Any]:
        over = s.assets.get(sym, {})
        return {
            "id": _asset_id(sym), "class": "us_equity", "exchange": "ARCA",
            "symbol": sym, "name": f"{sym} ETF", "status": over.get("status", "active"),
            "tradable": over.get("tradable", True), "marginable": True,
            "shortable": over.get("shortable", True), "easy_to_borrow": over.get("easy_to_borrow", True),
            "fractionable": over.get("fractionable", s.fractionable.get(sym, True)),
            "maintenance_margin_requirement": 30, "attributes": [],
        }

    def _clock_json(self, s: AlpacaState) -> dict[str, Any]:
        now = self.clock.now()
        local = now.astimezone(NY)
        day = local.date()
        if s.is_open is None:
            opens = datetime(day.year, day.month, day.day, *_SESSION_OPEN, tzinfo=NY)
            if local.weekday() >= 5 or local >= opens:
                d = _next_weekday(day)
                opens = datetime(d.year, d.month, d.day, *_SESSION_OPEN, tzinfo=NY)
            closes = self._session_close(now).astimezone(NY)
        else:
            nxt = _next_weekday(day)
            opens = datetime(nxt.year, nxt.month, nxt.day, *_SESSION_OPEN, tzinfo=NY)
            closes = datetime(day.year, day.month, day.day, *_SESSION_CLOSE, tzinfo=NY)
        return {"timestamp": rfc3339(now, ny=True), "is_open": self._open(s),
                "next_open": rfc3339(opens, ny=True), "next_close": rfc3339(closes, ny=True)}


def _next_weekday(day: date) -> date:
    nxt = day + timedelta(days=1)
    while nxt.weekday() >= 5:
        nxt += timedelta(days=1)
    return nxt


def _query_time(text: str | None) -> datetime | None:
    if not text:
        return None
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _asset_id(symbol: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"alpaca-asset:{symbol}"))


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
