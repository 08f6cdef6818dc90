"""Alpaca through alpaca-py's ``TradingClient`` — the only file that imports it; paper trading unless told otherwise.

    broker = AlpacaBroker.from_settings(account="brokerage")   # APCA_API_KEY_ID / APCA_API_SECRET_KEY, paper
    joint = AlpacaBroker.from_env_or_file(None, account="joint", prefix="APCA_JOINT")  # APCA_JOINT_API_KEY_ID, …
    placed = broker.submit(order)                               # never placed twice, whatever the network does

Guide: docs/brokers-alpaca.md.

**Retries are ours.** alpaca-py's REST client retries 429 and 504 three times with a blocking 3 s sleep,
ignores ``X-RateLimit-Reset``, re-POSTs orders on a 504 and sets no timeout; ``TradingClient`` exposes
none of that. The adapter switches that retry off and gives the session a timeout, then: 429 → waits until
``X-RateLimit-Reset`` and retries; 5xx, timeouts and dropped connections → backs off and retries reads;
for a submit whose outcome is unknown it first looks the order up by ``client_order_id`` and resubmits
(with the same id) only if Alpaca does not have it. Alpaca refuses a reused ``client_order_id``
("client_order_id must be unique"); that answer is also resolved by a lookup. Either way an order is
never placed twice.

**Errors.** 403 insufficient buying power / qty → ``InsufficientFunds``; 422 → ``OrderRejected`` with
Alpaca's message; 429 after the retries → ``RateLimited``; 5xx / network after the retries →
``BrokerUnavailable``; other refusals → ``BrokerError``. Each keeps the HTTP status and the client order id.

**Rate limit.** Alpaca allows 200 requests a minute per API key and answers 429 beyond it, with
``X-RateLimit-Limit``/``-Remaining``/``-Reset`` on every response (Alpaca support, "usage limit API calls";
forum.alpaca.markets/t/executing-orders/12029). Every HTTP attempt — retries and lookups included — first
takes a slot from one sliding 61 s window (a second of slack for network jitter) shared by all
``AlpacaBroker`` objects of the process with the same key; a ``Remaining: 0`` or a 429 holds every user
of the key until ``X-RateLimit-Reset``.

**Reads are raw JSON.** The client runs with ``raw_data=True`` and the adapter reads Alpaca's JSON itself,
so an order status or a field that the installed alpaca-py does not know (its pydantic models reject
unknown enum values) can never crash a read after an order was placed: an unknown status is ``OTHER``.

**Endpoint.** ``url_override``, else ``APCA_API_BASE_URL`` (``Settings.alpaca_base_url``), else Alpaca's
paper or live host; a known Alpaca host that contradicts ``paper`` is refused.

**Secrets.** Keys come as arguments (``str`` or ``SecretStr``), from ``Settings`` (the environment) or a key
file; they are handed to the client and never kept, logged, printed or put in an exception's text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide as AlpacaSide
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.enums import TimeInForce as AlpacaTIF
from alpaca.trading.requests import GetOrdersRequest, LimitOrderRequest, MarketOrderRequest
from pydantic import SecretStr

from engine.errors import (
    BrokerError,
    BrokerUnavailable,
    ConfigError,
    InsufficientFunds,
    OrderRejected,
    RateLimited,
    TradingHalted,
    ValidationError,
)
from engine.model import Fill, Order, OrderSide, OrderType, TimeInForce
from engine.model.broker import (
    AccountInfo,
    AssetInfo,
    BrokerOrder,
    BrokerOrderStatus,
    BrokerPosition,
    MarketClock,
    OrderQuery,
)
from engine.settings import Settings

__all__ = ["AlpacaBroker", "RateLimiter", "TradingMode"]

log = logging.getLogger("brokers.alpaca")

T = TypeVar("T")

_RETRY_STATUSES = frozenset({500, 502, 503, 504})
_MAX_CLIENT_ORDER_ID = 128  # Alpaca's limit on client_order_id length
_KEY_NAMES = ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY")
_RATE_LIMIT = 200  # requests per minute per API key (Alpaca support: "usage limit API calls")
_RATE_WINDOW = 61.0  # Alpaca counts per minute; one second of slack for the network's jitter
_PAGE = 500  # GET /v2/orders: "limit … max is 500"
_PAPER_HOST = "paper-api.alpaca.markets"
_LIVE_HOST = "api.alpaca.markets"
_PREFIX = re.compile(r"^[A-Z][A-Z0-9_]*$")


class TradingMode(StrEnum):
    """Paper or live; checked before every submit."""

    PAPER = "paper"
    LIVE = "live"


class RateLimiter:
    """A sliding window of ``limit`` requests per ``window`` seconds for one API key, shared across threads.

    ``acquire`` blocks (through the caller's ``sleep``) until a request may go; ``hold_until`` makes every
    user wait for an epoch instant (Alpaca's ``X-RateLimit-Reset``). Get the process-wide one for a key
    with ``RateLimiter.for_key`` — the key itself is only hashed, never kept.
    """

    _shared: ClassVar[dict[tuple[str, int], RateLimiter]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, limit: int = _RATE_LIMIT, window: float = _RATE_WINDOW) -> None:
        if limit < 1 or window <= 0:
            raise ValidationError("need limit ≥ 1 and window > 0", field="RateLimiter", value=(limit, window))
        self.limit = limit
        self.window = window
        self._sent: deque[float] = deque()
        self._held_until = 0.0
        self._lock = threading.Lock()
        self._owner: object = None
        self.waits: deque[float] = deque(maxlen=1000)  # the latest seconds waited, newest last (for measurement)

    def __repr__(self) -> str:
        return f"RateLimiter(limit={self.limit}, window={self.window}, in_window={len(self._sent)})"

    @classmethod
    def for_key(cls, key: str, clock: Callable[[], float], limit: int = _RATE_LIMIT) -> RateLimiter:
        """The limiter every ``AlpacaBroker`` with this API key (and time source) in the process shares.

        Brokers that ask for different limits share the smallest one (the stricter budget holds for all).
        """
        digest = hashlib.sha256(key.encode()).hexdigest()
        owner = getattr(clock, "__self__", clock)  # a bound method of a test clock: one limiter per clock object
        with cls._shared_lock:
            found = cls._shared.get((digest, id(owner)))
            if found is None:
                found = cls._shared[(digest, id(owner))] = cls(limit)
                found._owner = owner  # keeps id(owner) from being reused while the limiter lives
            elif limit < found.limit:
                found.limit = limit
            return found

    def acquire(self, now: Callable[[], float], sleep: Callable[[float], None]) -> None:
        """Wait until a request may be sent, then count it."""
        while True:
            with self._lock:
                t = now()
                while self._sent and self._sent[0] <= t - self.window:
                    self._sent.popleft()
                wait = max(self._held_until - t, 0.0)
                if not wait and len(self._sent) >= self.limit:
                    wait = self._sent[0] + self.window - t
                if wait <= 0:
                    self._sent.append(t)
                    return
            self.waits.append(wait)
            log.info("Alpaca rate limit: waiting %.2f s before the next request", wait)
            sleep(wait)

    def hold_until(self, epoch: float) -> None:
        """No request before ``epoch`` (seconds) for any user of this key."""
        with self._lock:
            self._held_until = max(self._held_until, epoch)

    def observe(self, status: int, headers: Mapping[str, str], now: float) -> None:
        """Read Alpaca's rate headers: ``Remaining: 0`` or a 429 holds the key until ``X-RateLimit-Reset``."""
        remaining = headers.get("X-RateLimit-Remaining")
        reset = headers.get("X-RateLimit-Reset")
        try:
            reset_at = float(reset) if reset is not None else None
        except ValueError:
            reset_at = None
        if reset_at is None or reset_at > now + 3600:  # absent, or not epoch seconds (an hour away): ignore
            return
        if status == 429 or (remaining is not None and remaining.strip() == "0"):
            self.hold_until(reset_at)


class _Transport(requests.Session):
    """alpaca-py's HTTP session, with a default timeout (alpaca-py sets none) and the key's rate limiter."""

    def __init__(self, timeout: float, limiter: RateLimiter, now: Callable[[], float],
                 sleep: Callable[[float], None]) -> None:
        super().__init__()
        self.timeout = timeout
        self.limiter = limiter
        self._now = now
        self._sleep = sleep

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        self.limiter.acquire(self._now, self._sleep)
        response = super().request(method, url, *args, **kwargs)
        self.limiter.observe(response.status_code, response.headers, self._now())
        return response


class AlpacaBroker:
    """One Alpaca account (``account`` names it in the household) through alpaca-py's ``TradingClient``.

    Args:
        api_key, secret_key: the keys (``str`` or ``SecretStr``); both ``None`` reads them from ``Settings``.
        paper: paper trading (the default); ``paper=False`` also needs ``confirm_live=True``.
        url_override: another base URL (a proxy, or a local test server); default ``APCA_API_BASE_URL``.
        account: the household account id this Alpaca account is (fills and positions carry it).
        confirm_live: the explicit confirmation live trading needs (the CLI's confirmation flag).
        timeout: seconds before a request counts as failed (outcome unknown for a submit).
        max_attempts: tries per call, the first included, before ``RateLimited`` / ``BrokerUnavailable``.
        backoff, max_backoff: seconds of the first back-off after a failure, doubling up to ``max_backoff``.
        max_rate_wait: the longest wait in seconds for a rate-limit reset.
        rate_limit: requests per minute for this key (Alpaca: 200), shared by every broker with the key.
        cache_ttl: seconds an asset's flags and the account configuration are reused before re-reading.
        sleep, wall: injectable ``time.sleep`` and ``time.time`` (epoch seconds, for ``X-RateLimit-Reset``).
    """

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        secret_key: str | SecretStr | None = None,
        paper: bool = True,
        url_override: str | None = None,
        *,
        account: str = "alpaca",
        confirm_live: bool = False,
        timeout: float = 10.0,
        max_attempts: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        max_rate_wait: float = 60.0,
        rate_limit: int = _RATE_LIMIT,
        cache_ttl: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], float] = time.time,
    ) -> None:
        settings: Settings | None = None
        if api_key is None and secret_key is None:
            settings = Settings()
            api_key, secret_key = settings.alpaca_api_key, settings.alpaca_secret_key
        key, secret = _reveal(api_key), _reveal(secret_key)
        if not key or not secret:
            raise ConfigError(
                "Alpaca keys are missing",
                field="APCA_API_KEY_ID / APCA_API_SECRET_KEY",
                fix="export APCA_API_KEY_ID and APCA_API_SECRET_KEY (paper keys from app.alpaca.markets), "
                "or use AlpacaBroker.from_key_file(path)",
            )
        if not paper and not confirm_live:
            raise ConfigError(
                "live trading needs an explicit confirmation",
                field="confirm_live",
                value=False,
                fix="pass paper=False together with confirm_live=True (robo: --live --yes-trade-real-money); "
                "leave paper=True to paper trade",
            )
        if max_attempts < 1:
            raise ValidationError("must be ≥ 1", field="max_attempts", value=max_attempts)
        if url_override is None:
            url_override = (settings or Settings()).alpaca_base_url
        base = _base_url(url_override, paper)
        self.mode = TradingMode.PAPER if paper else TradingMode.LIVE
        self._live_confirmed = bool(confirm_live)
        self.account_id = account
        self.url = base or (_PAPER_HOST if paper else _LIVE_HOST)
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_rate_wait = max_rate_wait
        self.cache_ttl = cache_ttl
        self._sleep = sleep
        self._wall = wall
        self.limiter = RateLimiter.for_key(key, wall, rate_limit)
        self._client = TradingClient(api_key=key, secret_key=secret, paper=paper, url_override=base, raw_data=True)
        # Own the transport: alpaca-py's fixed 429/504 retry (3 × blocking 3 s, re-POSTing orders) is switched
        # off so the retries below decide, and the session gets a timeout and the key's rate limiter.
        self._client._retry = 0
        self._client._session = _Transport(timeout, self.limiter, wall, sleep)
        self._cids: dict[str, str] = {}  # broker order id → client order id, for fills
        self._assets: dict[str, tuple[float, AssetInfo]] = {}
        self._config: tuple[float, dict[str, Any]] | None = None

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **kwargs: Any) -> AlpacaBroker:
        """Keys and endpoint from ``Settings`` (``APCA_API_KEY_ID``, ``APCA_API_SECRET_KEY``, ``APCA_API_BASE_URL``)."""
        s = settings or Settings()
        kwargs.setdefault("paper", s.alpaca_paper)
        kwargs.setdefault("url_override", s.alpaca_base_url)
        if s.alpaca_api_key is None or s.alpaca_secret_key is None:
            raise ConfigError(
                "Alpaca keys are missing from the environment",
                field="APCA_API_KEY_ID / APCA_API_SECRET_KEY",
                fix="export both variables, or use AlpacaBroker.from_key_file(path)",
            )
        return cls(s.alpaca_api_key, s.alpaca_secret_key, **kwargs)

    @classmethod
    def from_key_file(cls, path: str | Path, *, prefix: str | None = None, **kwargs: Any) -> AlpacaBroker:
        """Keys from a file of ``APCA_API_KEY_ID=…`` and ``APCA_API_SECRET_KEY=…`` lines (``export``, quotes ok).

        With ``prefix`` (e.g. ``APCA_IRA``) the lines are ``APCA_IRA_API_KEY_ID=…`` / ``APCA_IRA_API_SECRET_KEY=…``.
        """
        names = _key_names(prefix)
        p = Path(path).expanduser()
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot read the key file ({exc.strerror})", file=str(p), fix="check the path and its permissions"
            ) from None
        found: dict[str, SecretStr] = {}
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            name, _, value = line.removeprefix("export ").partition("=")
            name = name.strip()
            if name in names:
                found[name] = SecretStr(value.strip().strip("'\""))
        missing = [n for n in names if not found.get(n) or not found[n].get_secret_value()]
        if missing:
            raise ConfigError(
                f"the key file lacks {', '.join(missing)}",
                file=str(p),
                fix=f"write one NAME=value line for {names[0]} and {names[1]}",
            )
        return cls(found[names[0]], found[names[1]], **kwargs)

    @classmethod
    def from_env_or_file(
        cls, key_file: str | Path | None, *, account: str, prefix: str | None = None, paper: bool = True,
        **kwargs: Any,
    ) -> AlpacaBroker:
        """The broker for one household account: keys from ``key_file`` if given, else from the environment.

        Without ``prefix`` the keys are ``APCA_API_KEY_ID``/``APCA_API_SECRET_KEY``; with ``prefix="APCA_IRA"``
        they are ``APCA_IRA_API_KEY_ID``/``APCA_IRA_API_SECRET_KEY`` (one Alpaca account per key pair), in
        the file or the environment alike. ``APCA_API_BASE_URL`` applies either way.
        """
        if key_file is not None:
            return cls.from_key_file(key_file, prefix=prefix, account=account, paper=paper, **kwargs)
        if prefix is None:
            return cls.from_settings(account=account, paper=paper, **kwargs)
        key_name, secret_name = _key_names(prefix)
        key, secret = os.environ.get(key_name, "").strip(), os.environ.get(secret_name, "").strip()
        if not key or not secret:
            missing = [n for n, v in ((key_name, key), (secret_name, secret)) if not v]
            raise ConfigError(
                f"Alpaca keys for account {account!r} are missing: {', '.join(missing)} not set",
                field=" / ".join(missing),
                fix=f"export {key_name} and {secret_name} (that account's paper keys), or pass a key file",
            )
        return cls(SecretStr(key), SecretStr(secret), paper=paper, account=account, **kwargs)

    def __repr__(self) -> str:
        return f"AlpacaBroker(mode={self.mode.value}, url={self.url!r}, account={self.account_id!r})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("AlpacaBroker holds credentials and cannot be pickled; build one per process")

    # ------------------------------------------------------------------------------------------
    # Reads
    # ------------------------------------------------------------------------------------------

    def account(self, account: str | None = None) -> AccountInfo:
        """Cash, equity and buying power in USD (exact) and the account's flags (account + its configuration).

        The configuration (``no_shorting``, ``fractional_trading``, ``suspend_trade``) is re-read at most every
        ``cache_ttl`` seconds; the account itself on every call.
        """
        self._check_account(account)
        a = self._call("get account", self._client.get_account)
        config = self._configuration()
        return AccountInfo(
            self.account_id,
            _dec(a.get("cash")),
            _dec(a.get("equity")),
            _dec(a.get("buying_power")),
            status=str(a.get("status") or "ACTIVE"),
            trading_blocked=bool(a.get("trading_blocked")),
            account_blocked=bool(a.get("account_blocked")),
            trade_suspended_by_user=bool(a.get("trade_suspended_by_user")) or bool(config.get("suspend_trade")),
            pattern_day_trader=bool(a.get("pattern_day_trader")),
            shorting_enabled=bool(a.get("shorting_enabled")) and not bool(config.get("no_shorting")),
            fractional_trading=bool(config.get("fractional_trading", True)),
        )

    def positions(self, account: str | None = None) -> list[BrokerPosition]:
        """Open positions, sorted by symbol (shares are negative for a short)."""
        self._check_account(account)
        rows = self._call("get positions", self._client.get_all_positions)
        out = [
            BrokerPosition(self.account_id, p["symbol"], _dec(p.get("qty")), _opt(p.get("avg_entry_price")),
                           _opt(p.get("market_value")))
            for p in rows or []
        ]
        return sorted(out, key=lambda p: p.symbol)

    def asset(self, symbol: str) -> AssetInfo:
        """Status, tradable, fractionable, shortable for ``symbol``; raises ``BrokerError`` (404) for an unknown one."""
        sym = symbol.strip().upper()
        a = self._call(f"get asset {sym}", lambda: self._client.get_asset(sym))
        info = AssetInfo(
            str(a.get("symbol") or sym),
            tradable=bool(a.get("tradable")),
            fractionable=bool(a.get("fractionable")),
            name=str(a.get("name") or ""),
            status=str(a.get("status") or "active"),
            shortable=bool(a.get("shortable")),
        )
        self._assets[sym] = (self._wall(), info)
        return info

    def clock(self) -> MarketClock:
        """Alpaca's market clock, in UTC."""
        c = self._call("get clock", self._client.get_clock)
        return MarketClock(_parse_time(c["timestamp"]), bool(c.get("is_open")), _parse_time(c["next_open"]),
                           _parse_time(c["next_close"]))

    def order(self, client_order_id: str) -> BrokerOrder | None:
        """The order with this client order id, or ``None`` when Alpaca has none (404)."""
        try:
            o = self._call(
                f"look up order {client_order_id}",
                lambda: self._client.get_order_by_client_id(client_order_id),
                client_order_id=client_order_id,
            )
        except BrokerError as exc:
            if exc.status == 404:
                return None
            raise
        return self._order(o)

    def orders(
        self,
        status: OrderQuery = OrderQuery.OPEN,
        account: str | None = None,
        *,
        after: datetime | None = None,
        symbols: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[BrokerOrder]:
        """Orders by status, oldest first: with ``after``, all submitted after it (pages of 500, asc); else the
        newest ``limit`` (default and at most 500) in one request. ``symbols`` filters at Alpaca."""
        self._check_account(account)
        if after is not None and after.tzinfo is None:
            raise ValidationError("naive datetime", field="after", fix="pass an aware datetime, e.g. UTC")
        if limit is not None and limit < 1:
            raise ValidationError("must be ≥ 1", field="limit", value=limit)
        query = QueryOrderStatus(OrderQuery(status).value)
        syms = [s.strip().upper() for s in symbols] if symbols is not None else None
        if after is None:
            req = GetOrdersRequest(status=query, limit=min(limit or _PAGE, _PAGE), direction="desc", symbols=syms,
                                   nested=False)
            rows = self._call("list orders", lambda: self._client.get_orders(filter=req))
            return [self._order(o) for o in reversed(rows or [])]
        out: dict[str, BrokerOrder] = {}
        cursor = after.astimezone(UTC)
        while True:
            size = _PAGE if limit is None else min(_PAGE, limit - len(out))
            req = GetOrdersRequest(status=query, limit=size, after=cursor, direction="asc", symbols=syms,
                                   nested=False)
            rows = self._call("list orders", lambda r=req: self._client.get_orders(filter=r)) or []
            fresh = 0
            for row in rows:
                o = self._order(row)
                if o.id not in out:
                    out[o.id] = o
                    fresh += 1
            if len(rows) < size or not fresh or (limit is not None and len(out) >= limit):
                return sorted(out.values(), key=lambda o: o.submitted_at)
            # Alpaca's list has no page token: the next page starts just before the last submit time
            # ("after" is exclusive), and orders already seen are dropped by id.
            cursor = max(o.submitted_at for o in out.values()) - timedelta(microseconds=1)

    def fills(self, since: datetime, account: str | None = None) -> list[Fill]:
        """Executions at or after ``since`` from Alpaca's FILL activities (paged), oldest first; fees are 0."""
        self._check_account(account)
        if since.tzinfo is None:
            raise ValidationError("naive datetime", field="since", fix="pass an aware datetime, e.g. UTC")
        since = since.astimezone(UTC)
        out: list[Fill] = []
        token: str | None = None
        page_size = 100
        while True:
            params: dict[str, Any] = {"after": since.isoformat(), "direction": "asc", "page_size": page_size}
            if token:
                params["page_token"] = token
            # TradingClient 0.44 has no activities method: the client's own transport reads the endpoint.
            page = self._call("list fills", lambda p=params: self._client.get("/account/activities/FILL", p))
            for row in page or []:
                at = _parse_time(row["transaction_time"])
                if at < since:
                    continue
                out.append(
                    Fill(
                        client_order_id=self._cid_for(str(row["order_id"])),
                        account=self.account_id,
                        symbol=row["symbol"],
                        side=OrderSide(str(row["side"]).lower()),
                        qty=Decimal(str(row["qty"])),
                        price=Decimal(str(row["price"])),
                        at=at,
                        id=str(row["id"]),
                    )
                )
            if not page or len(page) < page_size:
                return out
            token = str(page[-1]["id"])

    # ------------------------------------------------------------------------------------------
    # Writes
    # ------------------------------------------------------------------------------------------

    def submit(self, order: Order) -> BrokerOrder:
        """Place ``order`` exactly once; an unknown outcome is resolved by a lookup before any resubmit.

        A ``notional`` order goes as a notional market DAY order; fractional and notional orders are checked
        before sending: Alpaca takes them only as market DAY orders, on fractionable assets, in accounts with
        ``fractional_trading`` (Alpaca, "Fractional Trading": docs.alpaca.markets/docs/fractional-trading).

        Raises:
            TradingHalted: live mode without confirmation.
            OrderRejected: the wrong account, a too-long id, or a fractional/notional order Alpaca would refuse.
            InsufficientFunds, RateLimited, BrokerUnavailable, BrokerError: see the module docstring.
        """
        cid = order.client_order_id
        if self.mode is TradingMode.LIVE and not self._live_confirmed:
            raise TradingHalted("live trading is not confirmed", client_order_id=cid, rail="mode")
        if order.account != self.account_id:
            raise OrderRejected(
                f"this AlpacaBroker trades account {self.account_id!r}, not {order.account!r}; "
                "use one AlpacaBroker per account",
                client_order_id=cid,
            )
        if len(cid) > _MAX_CLIENT_ORDER_ID:
            raise OrderRejected(
                f"client_order_id is {len(cid)} characters; Alpaca allows {_MAX_CLIENT_ORDER_ID}",
                client_order_id=cid,
            )
        self._check_fractional(order)
        request = _request(order)
        attempt = 0
        while True:
            attempt += 1
            try:
                placed = self._order(self._client.submit_order(request))
                log.info("submitted %s (%s %s %s)", cid, order.side.value, order.symbol, placed.status.value)
                return placed
            except APIError as exc:
                status = exc.status_code
                text = _message(exc)
                if status == 422 and "client_order_id must be unique" in text:
                    found = self.order(cid)
                    if found is not None:
                        log.warning("order %s already existed at Alpaca; using it", cid)
                        return found
                    raise self._translate(exc, cid) from exc
                if status == 429:
                    self._give_up_or_wait(attempt, exc, cid, rate_limited=True)
                    continue
                if status not in _RETRY_STATUSES:
                    raise self._translate(exc, cid) from exc
                failure: Exception = exc
            except requests.exceptions.RequestException as exc:
                failure = exc
            # The request may have reached Alpaca: look before resubmitting.
            log.warning("submit of %s: outcome unknown (%s); looking it up", cid, _describe(failure))
            found = self.order(cid)
            if found is not None:
                return found
            self._give_up_or_wait(attempt, failure, cid, rate_limited=False)

    def cancel(self, order_id: str) -> None:
        """Cancel a working order by Alpaca's order id; a final one raises ``OrderRejected`` (422)."""
        self._call(f"cancel order {order_id}", lambda: self._client.cancel_order_by_id(order_id),
                   client_order_id=self._cids.get(order_id))

    # ------------------------------------------------------------------------------------------
    # Internals
    # ------------------------------------------------------------------------------------------

    def _check_account(self, account: str | None) -> None:
        if account is not None and account != self.account_id:
            raise ValidationError(
                f"this AlpacaBroker is account {self.account_id!r}",
                field="account",
                value=account,
                fix="use one AlpacaBroker per account",
            )

    def _call(self, what: str, fn: Callable[[], T], *, client_order_id: str | None = None) -> T:
        """Run one idempotent request with the retry policy; translate what is left into ``BrokerError``s."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except APIError as exc:
                status = exc.status_code
                if status == 429:
                    self._give_up_or_wait(attempt, exc, client_order_id, rate_limited=True, what=what)
                elif status in _RETRY_STATUSES:
                    self._give_up_or_wait(attempt, exc, client_order_id, rate_limited=False, what=what)
                else:
                    raise self._translate(exc, client_order_id, what=what) from exc
            except requests.exceptions.RequestException as exc:
                self._give_up_or_wait(attempt, exc, client_order_id, rate_limited=False, what=what)

    def _give_up_or_wait(
        self, attempt: int, exc: Exception, cid: str | None, *, rate_limited: bool, what: str = "submit"
    ) -> None:
        status = exc.status_code if isinstance(exc, APIError) else None
        if attempt >= self.max_attempts:
            unknown = " The order's outcome is unknown: look it up by client_order_id before resubmitting." if (
                what == "submit") else ""
            if rate_limited:
                raise RateLimited(
                    f"Alpaca kept rate-limiting {what} after {attempt} tries; slow down and retry later.",
                    status=429,
                    client_order_id=cid,
                ) from exc
            raise BrokerUnavailable(
                f"Alpaca did not answer {what} after {attempt} tries ({_describe(exc)}).{unknown}",
                status=status,
                client_order_id=cid,
            ) from exc
        wait = self._rate_wait(exc, attempt) if rate_limited else self._backoff(attempt)
        log.info("%s: %s; retry %d/%d in %.2f s", what, _describe(exc), attempt, self.max_attempts - 1, wait)
        self._sleep(wait)

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff * 2 ** (attempt - 1), self.max_backoff)

    def _rate_wait(self, exc: Exception, attempt: int) -> float:
        """Seconds until ``X-RateLimit-Reset`` (epoch seconds), capped; back-off when the header is absent."""
        response = getattr(exc, "response", None)
        reset = response.headers.get("X-RateLimit-Reset") if response is not None else None
        try:
            wait = float(reset) - self._wall()
        except (TypeError, ValueError):
            return self._backoff(attempt)
        return min(max(wait, 0.0), self.max_rate_wait)

    def _translate(self, exc: APIError, cid: str | None, what: str = "submit") -> BrokerError:
        status = exc.status_code
        text = _message(exc)
        if status == 403 and "insufficient" in text.lower():
            return InsufficientFunds(f"Alpaca refused {what}: {text}", status=403, client_order_id=cid)
        if status == 422:
            return OrderRejected(f"Alpaca rejected {what}: {text}", status=422, client_order_id=cid)
        if status == 401:
            return BrokerError(
                "Alpaca refused the keys (401): check APCA_API_KEY_ID / APCA_API_SECRET_KEY and that they are "
                f"{self.mode.value} keys",
                status=401,
                client_order_id=cid,
            )
        if status == 403:
            return BrokerError(f"Alpaca refused {what} (403): {text}", status=403, client_order_id=cid)
        if status == 404:
            return BrokerError(f"not found at Alpaca: {what} ({text})", status=404, client_order_id=cid)
        return BrokerError(f"Alpaca refused {what} ({status}): {text}", status=status, client_order_id=cid)

    def _check_fractional(self, order: Order) -> None:
        """Refuse, before sending, a fractional or notional order that Alpaca would answer with 422."""
        cid = order.client_order_id
        whole = order.qty is not None and order.qty == order.qty.to_integral_value()
        if whole:
            return
        what = f"notional {order.notional} USD" if order.notional is not None else f"fractional qty {order.qty}"
        if order.notional is not None and order.notional < 1:
            raise OrderRejected(
                f"order {cid}: Alpaca refuses orders under 1 USD (cost basis must be >= 1); {what} is too small",
                status=403,
                client_order_id=cid,
            )
        if order.type is not OrderType.MARKET or order.time_in_force is not TimeInForce.DAY:
            raise OrderRejected(
                f"order {cid}: Alpaca takes a {what} order only as a market DAY order, not "
                f"{order.type.value} {order.time_in_force.value}; send whole shares or make it market/day",
                status=422,
                client_order_id=cid,
            )
        info = self._cached_asset(order.symbol)
        if not info.fractionable:
            raise OrderRejected(
                f"order {cid}: {order.symbol} is not fractionable at Alpaca, so a {what} order is refused; "
                "send a whole number of shares",
                status=422,
                client_order_id=cid,
            )
        if not bool(self._configuration().get("fractional_trading", True)):
            raise OrderRejected(
                f"order {cid}: fractional_trading is off in account {self.account_id}'s configuration, so a "
                f"{what} order is refused; turn it on at Alpaca or send whole shares",
                status=422,
                client_order_id=cid,
            )

    def _cached_asset(self, symbol: str) -> AssetInfo:
        hit = self._assets.get(symbol.upper())
        if hit is not None and self._wall() - hit[0] < self.cache_ttl:
            return hit[1]
        return self.asset(symbol)

    def _configuration(self) -> dict[str, Any]:
        """``GET /v2/account/configurations`` (raw), re-read at most every ``cache_ttl`` seconds."""
        if self._config is not None and self._wall() - self._config[0] < self.cache_ttl:
            return self._config[1]
        raw = self._call("get account configuration", self._client.get_account_configurations)
        config = raw if isinstance(raw, dict) else {}
        self._config = (self._wall(), config)
        return config

    def _order(self, o: Mapping[str, Any]) -> BrokerOrder:
        """A ``BrokerOrder`` from Alpaca's raw order JSON; unknown statuses and types never raise."""
        oid = str(o["id"])
        cid = str(o.get("client_order_id") or oid)
        self._cids[oid] = cid
        kind = str(o.get("order_type") or o.get("type") or OrderType.MARKET.value)
        tif = str(o.get("time_in_force") or TimeInForce.DAY.value)
        raw_status = str(o.get("status") or "")
        status = BrokerOrderStatus.parse(raw_status)
        notes = []
        if kind not in (OrderType.MARKET.value, OrderType.LIMIT.value) or tif not in (TimeInForce.DAY.value,
                                                                                      TimeInForce.GTC.value):
            notes.append(f"alpaca type {kind}, time in force {tif}")
        if status is BrokerOrderStatus.OTHER:
            notes.append(f"alpaca status {raw_status!r} is not known to this version")
            log.warning("order %s has status %r, unknown to this version; treated as working", cid, raw_status)
        side = str(o.get("side") or "").lower()
        return BrokerOrder(
            id=oid,
            client_order_id=cid,
            account=self.account_id,
            symbol=str(o.get("symbol") or ""),
            side=side,
            status=status,
            submitted_at=_parse_time(o.get("submitted_at") or o.get("created_at") or o.get("updated_at")
                                     or datetime.fromtimestamp(self._wall(), UTC)),
            qty=_opt(o.get("qty")),
            notional=_opt(o.get("notional")),
            type=kind if kind in (OrderType.MARKET.value, OrderType.LIMIT.value) else OrderType.MARKET,
            time_in_force=tif if tif in (TimeInForce.DAY.value, TimeInForce.GTC.value) else TimeInForce.DAY,
            limit_price=_opt(o.get("limit_price")),
            filled_qty=_opt(o.get("filled_qty")) or Decimal(0),
            filled_avg_price=_opt(o.get("filled_avg_price")),
            updated_at=_parse_time(o["updated_at"]) if o.get("updated_at") else None,
            reason="; ".join(notes),
        )

    def _cid_for(self, order_id: str) -> str:
        if order_id not in self._cids:
            self._order(self._call(f"get order {order_id}", lambda: self._client.get_order_by_id(order_id)))
        return self._cids[order_id]


def _key_names(prefix: str | None) -> tuple[str, str]:
    """The key variable names: ``APCA_API_KEY_ID``/``APCA_API_SECRET_KEY`` or ``<prefix>_API_KEY_ID``/…"""
    if prefix is None:
        return _KEY_NAMES
    p = prefix.strip().upper().rstrip("_")
    if not _PREFIX.match(p):
        raise ConfigError(
            "a key prefix is letters, digits and underscores, starting with a letter",
            field="prefix",
            value=prefix,
            fix="e.g. APCA_IRA for APCA_IRA_API_KEY_ID / APCA_IRA_API_SECRET_KEY",
        )
    return f"{p}_API_KEY_ID", f"{p}_API_SECRET_KEY"


def _base_url(url: str | None, paper: bool) -> str | None:
    """``url`` as alpaca-py wants it (no trailing ``/`` or ``/v2``); a known Alpaca host must match the mode."""
    if url is None or not str(url).strip():
        return None
    base = str(url).strip().rstrip("/")
    base = base.removesuffix("/v2")
    host = re.sub(r"^[a-z]+://", "", base).split("/")[0].split(":")[0].lower()
    if (paper and host == _LIVE_HOST) or (not paper and host == _PAPER_HOST):
        raise ConfigError(
            f"the endpoint {base} is Alpaca's {'live' if paper else 'paper'} API but the broker is in "
            f"{'paper' if paper else 'live'} mode",
            field="APCA_API_BASE_URL",
            value=base,
            fix=f"use https://{_PAPER_HOST if paper else _LIVE_HOST} or unset APCA_API_BASE_URL",
        )
    return base


def _request(order: Order) -> MarketOrderRequest | LimitOrderRequest:
    """alpaca-py's request model for ``order`` (its fields are floats: Decimals go through their exact text)."""
    fields: dict[str, Any] = {
        "symbol": order.symbol,
        "side": AlpacaSide(order.side.value),
        "time_in_force": AlpacaTIF(order.time_in_force.value),
        "client_order_id": order.client_order_id,
    }
    if order.qty is not None:
        fields["qty"] = float(str(order.qty))
    else:  # a notional order: market, DAY (checked before, in AlpacaBroker._check_fractional)
        fields["notional"] = float(str(order.notional))
    if order.type is OrderType.LIMIT:
        return LimitOrderRequest(limit_price=float(str(order.limit_price)), **fields)
    return MarketOrderRequest(**fields)


def _reveal(value: str | SecretStr | None) -> str | None:
    if value is None:
        return None
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


def _value(x: Any) -> str:
    return str(getattr(x, "value", x))


def _dec(x: Any) -> Decimal:
    return Decimal(str(x)) if x is not None else Decimal(0)


def _opt(x: Any) -> Decimal | None:
    return None if x is None or x == "" else Decimal(str(x))


def _utc(x: datetime) -> datetime:
    if x.tzinfo is None:  # Alpaca always sends an offset; a naive time would be UTC by its convention
        return x.replace(tzinfo=UTC)
    return x.astimezone(UTC)


_FRACTION = re.compile(r"(\.\d{6})\d+")


def _parse_time(text: Any) -> datetime:
    """An RFC 3339 time as Alpaca writes it (``Z`` or an offset, up to nanoseconds) as aware UTC."""
    if isinstance(text, datetime):
        return _utc(text)
    raw = _FRACTION.sub(r"\1", str(text).strip().replace("Z", "+00:00"))
    return _utc(datetime.fromisoformat(raw))


def _message(exc: APIError) -> str:
    """Alpaca's ``message`` (alpaca-py's ``.message`` raises on a non-JSON body, e.g. a proxy's HTML page)."""
    raw = str(exc)
    try:
        body = json.loads(raw)
    except ValueError:
        return raw.strip()[:200] or "no message"
    if isinstance(body, dict) and "message" in body:
        return str(body["message"])
    return raw.strip()[:200]


def _describe(exc: Exception) -> str:
    if isinstance(exc, APIError):
        return f"HTTP {exc.status_code}"
    return type(exc).__name__
