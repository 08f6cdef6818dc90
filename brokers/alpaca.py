"""Alpaca through alpaca-py's ``TradingClient`` — the only file that imports it; paper trading unless told otherwise.

    broker = AlpacaBroker.from_settings(account="brokerage")   # APCA_API_KEY_ID / APCA_API_SECRET_KEY, paper
    placed = broker.submit(order)                               # never placed twice, whatever the network does

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

**Secrets.** Keys come as arguments (``str`` or ``SecretStr``), from ``Settings`` (the environment) or a key
file; they are handed to the client and never kept, logged, printed or put in an exception's text.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

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

__all__ = ["AlpacaBroker", "TradingMode"]

log = logging.getLogger("brokers.alpaca")

T = TypeVar("T")

_RETRY_STATUSES = frozenset({500, 502, 503, 504})
_MAX_CLIENT_ORDER_ID = 128  # Alpaca's limit on client_order_id length
_KEY_NAMES = ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY")


class TradingMode(StrEnum):
    """Paper or live; checked before every submit."""

    PAPER = "paper"
    LIVE = "live"


class _TimeoutSession(requests.Session):
    """A requests session that applies a default timeout (alpaca-py sets none: a hung socket would block forever)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


class AlpacaBroker:
    """One Alpaca account (``account`` names it in the household) through alpaca-py's ``TradingClient``.

    Args:
        api_key, secret_key: the keys (``str`` or ``SecretStr``); both ``None`` reads them from ``Settings``.
        paper: paper trading (the default); ``paper=False`` also needs ``confirm_live=True``.
        url_override: another base URL (a proxy, or a local test server).
        account: the household account id this Alpaca account is (fills and positions carry it).
        confirm_live: the explicit confirmation live trading needs (the CLI's confirmation flag).
        timeout: seconds before a request counts as failed (outcome unknown for a submit).
        max_attempts: tries per call, the first included, before ``RateLimited`` / ``BrokerUnavailable``.
        backoff, max_backoff: seconds of the first back-off after a failure, doubling up to ``max_backoff``.
        max_rate_wait: the longest wait in seconds for a rate-limit reset.
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
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if api_key is None and secret_key is None:
            s = Settings()
            api_key, secret_key = s.alpaca_api_key, s.alpaca_secret_key
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
        self.mode = TradingMode.PAPER if paper else TradingMode.LIVE
        self._live_confirmed = bool(confirm_live)
        self.account_id = account
        self.url = url_override or ("paper-api.alpaca.markets" if paper else "api.alpaca.markets")
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_rate_wait = max_rate_wait
        self._sleep = sleep
        self._wall = wall
        self._client = TradingClient(api_key=key, secret_key=secret, paper=paper, url_override=url_override)
        # Own the transport: alpaca-py's fixed 429/504 retry (3 × blocking 3 s, re-POSTing orders) is switched
        # off so the retries below decide, and the session gets a timeout. TradingClient exposes neither knob.
        self._client._retry = 0
        self._client._session = _TimeoutSession(timeout)
        self._cids: dict[str, str] = {}  # broker order id → client order id, for fills

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **kwargs: Any) -> AlpacaBroker:
        """Keys from ``Settings`` (``APCA_API_KEY_ID``, ``APCA_API_SECRET_KEY``); paper unless told otherwise."""
        s = settings or Settings()
        kwargs.setdefault("paper", s.alpaca_paper)
        if s.alpaca_api_key is None or s.alpaca_secret_key is None:
            raise ConfigError(
                "Alpaca keys are missing from the environment",
                field="APCA_API_KEY_ID / APCA_API_SECRET_KEY",
                fix="export both variables, or use AlpacaBroker.from_key_file(path)",
            )
        return cls(s.alpaca_api_key, s.alpaca_secret_key, **kwargs)

    @classmethod
    def from_key_file(cls, path: str | Path, **kwargs: Any) -> AlpacaBroker:
        """Keys from a file of ``APCA_API_KEY_ID=…`` and ``APCA_API_SECRET_KEY=…`` lines (``export``, quotes ok)."""
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
            if name in _KEY_NAMES:
                found[name] = SecretStr(value.strip().strip("'\""))
        missing = [n for n in _KEY_NAMES if not found.get(n) or not found[n].get_secret_value()]
        if missing:
            raise ConfigError(
                f"the key file lacks {', '.join(missing)}",
                file=str(p),
                fix="write one NAME=value line for APCA_API_KEY_ID and APCA_API_SECRET_KEY",
            )
        return cls(found["APCA_API_KEY_ID"], found["APCA_API_SECRET_KEY"], **kwargs)

    def __repr__(self) -> str:
        return f"AlpacaBroker(mode={self.mode.value}, url={self.url!r}, account={self.account_id!r})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("AlpacaBroker holds credentials and cannot be pickled; build one per process")

    # ------------------------------------------------------------------------------------------
    # Reads
    # ------------------------------------------------------------------------------------------

    def account(self, account: str | None = None) -> AccountInfo:
        """Cash, equity and buying power in USD (Alpaca's money strings, read exactly)."""
        self._check_account(account)
        a = self._call("get account", self._client.get_account)
        return AccountInfo(self.account_id, _dec(a.cash), _dec(a.equity), _dec(a.buying_power))

    def positions(self, account: str | None = None) -> list[BrokerPosition]:
        """Open positions, sorted by symbol (shares are negative for a short)."""
        self._check_account(account)
        rows = self._call("get positions", self._client.get_all_positions)
        out = [
            BrokerPosition(self.account_id, p.symbol, _dec(p.qty), _dec(p.avg_entry_price), _opt(p.market_value))
            for p in rows
        ]
        return sorted(out, key=lambda p: p.symbol)

    def asset(self, symbol: str) -> AssetInfo:
        """Tradable / fractionable for ``symbol``; raises ``BrokerError`` (404) for an unknown one."""
        a = self._call(f"get asset {symbol}", lambda: self._client.get_asset(symbol.strip().upper()))
        return AssetInfo(a.symbol, tradable=bool(a.tradable), fractionable=bool(a.fractionable), name=a.name or "")

    def clock(self) -> MarketClock:
        """Alpaca's market clock, in UTC."""
        c = self._call("get clock", self._client.get_clock)
        return MarketClock(_utc(c.timestamp), bool(c.is_open), _utc(c.next_open), _utc(c.next_close))

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

    def orders(self, status: OrderQuery = OrderQuery.OPEN, account: str | None = None) -> list[BrokerOrder]:
        """Up to 500 orders by status (open, closed, all), oldest first."""
        self._check_account(account)
        req = GetOrdersRequest(status=QueryOrderStatus(OrderQuery(status).value), limit=500, direction="asc")
        rows = self._call("list orders", lambda: self._client.get_orders(filter=req))
        return [self._order(o) for o in rows]

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

        Raises:
            TradingHalted: live mode without confirmation.
            InsufficientFunds, OrderRejected, RateLimited, BrokerUnavailable, BrokerError: see the module docstring.
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

    def _order(self, o: Any) -> BrokerOrder:
        oid = str(o.id)
        self._cids[oid] = o.client_order_id
        kind = _value(o.order_type or o.type)
        tif = _value(o.time_in_force)
        note = ""
        if kind not in (OrderType.MARKET.value, OrderType.LIMIT.value) or tif not in (TimeInForce.DAY.value,
                                                                                      TimeInForce.GTC.value):
            note = f"alpaca type {kind}, time in force {tif}"
        return BrokerOrder(
            id=oid,
            client_order_id=o.client_order_id,
            account=self.account_id,
            symbol=o.symbol or "",
            side=_value(o.side),
            status=BrokerOrderStatus.parse(_value(o.status)),
            submitted_at=_utc(o.submitted_at or o.created_at),
            qty=_opt(o.qty),
            notional=_opt(o.notional),
            type=kind if kind in (OrderType.MARKET.value, OrderType.LIMIT.value) else OrderType.MARKET,
            time_in_force=tif if tif in (TimeInForce.DAY.value, TimeInForce.GTC.value) else TimeInForce.DAY,
            limit_price=_opt(o.limit_price),
            filled_qty=_opt(o.filled_qty) or Decimal(0),
            filled_avg_price=_opt(o.filled_avg_price),
            updated_at=_utc(o.updated_at) if o.updated_at else None,
            reason=note,
        )

    def _cid_for(self, order_id: str) -> str:
        if order_id not in self._cids:
            self._order(self._call(f"get order {order_id}", lambda: self._client.get_order_by_id(order_id)))
        return self._cids[order_id]


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
    else:
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


def _parse_time(text: str) -> datetime:
    """An RFC 3339 time as Alpaca writes it (``Z`` or an offset, up to nanoseconds) as aware UTC."""
    return _utc(datetime.fromisoformat(str(text).replace("Z", "+00:00")))


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
