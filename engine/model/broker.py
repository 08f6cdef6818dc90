"""Broker-facing value types and the ``Broker`` protocol (stdlib only), so the engine can type against them.

    from engine.model.broker import Broker, reconcile
    found = reconcile({"VTI": Decimal("10")}, {"VTI": Decimal("9.5")}, account="brokerage")

Implementations live in ``brokers/`` (``SimulatedBroker``, ``AlpacaBroker``); the engine never imports them.
Money and shares are ``Decimal``; instants are timezone-aware UTC ``datetime``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable

from engine.errors import ValidationError
from engine.model.core import (
    Fill,
    Order,
    OrderSide,
    OrderType,
    TimeInForce,
    _enum,
    _nonempty,
    _require_aware,
    _set_decimal,
    _set_optional_decimal,
)

__all__ = [
    "AccountInfo",
    "AssetInfo",
    "Broker",
    "BrokerOrder",
    "BrokerOrderStatus",
    "BrokerPosition",
    "Discrepancy",
    "DiscrepancyKind",
    "MarketClock",
    "OrderQuery",
    "Rails",
    "reconcile",
    "select_orders",
    "total_by_symbol",
]


class BrokerOrderStatus(StrEnum):
    """An order's state at the broker, in Alpaca's vocabulary; ``final`` ones never change again.

    Source: Alpaca, "Orders at Alpaca" → Order Lifecycle (docs.alpaca.markets/docs/orders-at-alpaca) and
    alpaca-py's ``OrderStatus``. Final (no further updates): ``filled``, ``canceled``, ``expired``,
    ``rejected`` and ``replaced`` (the replacement order carries on). ``done_for_day`` and ``calculated``
    get no more fills until the next trading day but are not final (a GTC order resumes), so
    ``done_today`` covers them. A string Alpaca adds later parses to ``OTHER``, never final.
    """

    NEW = "new"
    PENDING_NEW = "pending_new"
    ACCEPTED = "accepted"
    ACCEPTED_FOR_BIDDING = "accepted_for_bidding"
    PENDING_REVIEW = "pending_review"
    HELD = "held"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    DONE_FOR_DAY = "done_for_day"
    CALCULATED = "calculated"
    PENDING_CANCEL = "pending_cancel"
    PENDING_REPLACE = "pending_replace"
    REPLACED = "replaced"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"
    STOPPED = "stopped"
    SUSPENDED = "suspended"
    OTHER = "other"

    @property
    def final(self) -> bool:
        """True when the order can never change again (filled, canceled, expired, rejected, replaced)."""
        return self in _FINAL

    @property
    def done_today(self) -> bool:
        """True when no fill can come before the next session: final, ``done_for_day`` or ``calculated``."""
        return self in _FINAL or self in _DONE_TODAY

    @classmethod
    def parse(cls, value: str) -> BrokerOrderStatus:
        """The status for a broker's string; unknown strings map to ``OTHER`` (never final)."""
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            return cls.OTHER


_FINAL = frozenset(
    {
        BrokerOrderStatus.FILLED,
        BrokerOrderStatus.CANCELED,
        BrokerOrderStatus.EXPIRED,
        BrokerOrderStatus.REJECTED,
        BrokerOrderStatus.REPLACED,
    }
)
_DONE_TODAY = frozenset({BrokerOrderStatus.DONE_FOR_DAY, BrokerOrderStatus.CALCULATED})


class OrderQuery(StrEnum):
    """Which orders ``Broker.orders`` lists: still working, final, or all."""

    OPEN = "open"
    CLOSED = "closed"
    ALL = "all"


class DiscrepancyKind(StrEnum):
    """How broker positions and the ledger disagree for one symbol."""

    MISSING_IN_LEDGER = "missing_in_ledger"
    MISSING_AT_BROKER = "missing_at_broker"
    QUANTITY = "quantity"


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """An order as the broker holds it: ids, what was asked, status, and what filled so far.

    ``qty``/``notional`` echo the request (exactly one is set); ``filled_qty`` is shares and
    ``filled_avg_price`` USD per share (``None`` before the first fill).
    """

    id: str
    client_order_id: str
    account: str
    symbol: str
    side: OrderSide
    status: BrokerOrderStatus
    submitted_at: datetime
    qty: Decimal | None = None
    notional: Decimal | None = None
    type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.DAY
    limit_price: Decimal | None = None
    filled_qty: Decimal = Decimal(0)
    filled_avg_price: Decimal | None = None
    updated_at: datetime | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        _nonempty(self, "id")
        _nonempty(self, "client_order_id")
        object.__setattr__(self, "symbol", self.symbol.strip().upper())
        _enum(self, "side", OrderSide)
        object.__setattr__(self, "status", BrokerOrderStatus.parse(self.status))
        _enum(self, "type", OrderType)
        _enum(self, "time_in_force", TimeInForce)
        _set_optional_decimal(self, "qty", minimum=Decimal(0))
        _set_optional_decimal(self, "notional", minimum=Decimal(0))
        _set_optional_decimal(self, "limit_price", minimum=Decimal(0))
        _set_decimal(self, "filled_qty", minimum=Decimal(0))
        _set_optional_decimal(self, "filled_avg_price", minimum=Decimal(0))
        _require_aware(self, "submitted_at")
        if self.updated_at is not None:
            _require_aware(self, "updated_at")

    @property
    def final(self) -> bool:
        """True when the order can no longer fill."""
        return self.status.final

    @classmethod
    def from_order(cls, order: Order, *, id: str, status: BrokerOrderStatus, submitted_at: datetime) -> BrokerOrder:
        """A broker order echoing ``order``'s request fields (used by brokers when they accept it)."""
        return cls(
            id=id,
            client_order_id=order.client_order_id,
            account=order.account,
            symbol=order.symbol,
            side=order.side,
            status=status,
            submitted_at=submitted_at,
            qty=order.qty,
            notional=order.notional,
            type=order.type,
            time_in_force=order.time_in_force,
            limit_price=order.limit_price,
            updated_at=submitted_at,
        )


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """Money in one broker account, USD (``cash``, ``equity`` = cash + positions, ``buying_power``) and its flags.

    The flags are Alpaca's account object and account configuration (docs.alpaca.markets/reference/
    getaccount-1, /reference/account-configurations); the defaults mean "nothing stops trading", so a
    broker without such flags (the simulator) needs none. ``status`` is Alpaca's account status
    (``ACTIVE`` when it can trade); ``shorting_enabled`` is ``shorting_enabled`` and not ``no_shorting``.
    """

    account: str
    cash: Decimal
    equity: Decimal
    buying_power: Decimal
    status: str = "ACTIVE"
    trading_blocked: bool = False
    account_blocked: bool = False
    trade_suspended_by_user: bool = False
    pattern_day_trader: bool = False
    shorting_enabled: bool = False
    fractional_trading: bool = True

    def __post_init__(self) -> None:
        for name in ("cash", "equity", "buying_power"):
            _set_decimal(self, name)
        object.__setattr__(self, "status", str(self.status).strip().upper() or "ACTIVE")

    def blocked_reason(self) -> str | None:
        """Why no order may be placed in this account now (naming the flag), or ``None`` when it can trade.

        ``pattern_day_trader`` does not block: it only limits day trades, which a rebalancer does not make.
        """
        where = f"account {self.account}"
        if self.account_blocked:
            return f"{where}: account_blocked is set (the broker prohibits all activity); contact the broker"
        if self.trading_blocked:
            return f"{where}: trading_blocked is set (the broker accepts no orders); contact the broker"
        if self.trade_suspended_by_user:
            return (f"{where}: trade_suspended_by_user is set (suspend_trade in the account configuration); "
                    "clear it in the broker's dashboard to trade")
        if self.status != "ACTIVE":
            return f"{where}: status is {self.status}, not ACTIVE; the broker accepts orders only from active accounts"
        return None


@dataclass(frozen=True, slots=True)
class BrokerPosition:
    """Shares of one symbol the broker reports for one account; ``market_value`` USD when known."""

    account: str
    symbol: str
    qty: Decimal
    avg_entry_price: Decimal | None = None
    market_value: Decimal | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbol", self.symbol.strip().upper())
        _set_decimal(self, "qty")
        _set_optional_decimal(self, "avg_entry_price")
        _set_optional_decimal(self, "market_value")


@dataclass(frozen=True, slots=True)
class AssetInfo:
    """What the broker says about a symbol: active or not, tradable, in fractional shares, shortable.

    Alpaca's asset object (docs.alpaca.markets/reference/assets): ``status`` is ``active`` or ``inactive``.
    """

    symbol: str
    tradable: bool
    fractionable: bool
    name: str = ""
    status: str = "active"
    shortable: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbol", self.symbol.strip().upper())
        object.__setattr__(self, "status", str(self.status).strip().lower() or "active")

    def blocked_reason(self) -> str | None:
        """Why ``symbol`` cannot be ordered (inactive or not tradable at the broker), or ``None``."""
        if self.status == "unknown":
            return f"asset {self.symbol} is unknown to the broker; it cannot be traded"
        if self.status != "active":
            return f"asset {self.symbol} is {self.status} at the broker; it cannot be traded"
        if not self.tradable:
            return f"asset {self.symbol} is not tradable at the broker (tradable=false)"
        return None


@dataclass(frozen=True, slots=True)
class MarketClock:
    """The broker's market clock: its current time, whether the market is open, next open and close (UTC)."""

    timestamp: datetime
    is_open: bool
    next_open: datetime
    next_close: datetime

    def __post_init__(self) -> None:
        for name in ("timestamp", "next_open", "next_close"):
            _require_aware(self, name)


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """Broker and ledger disagree on one symbol's shares in one account; a human must look, nothing is overwritten."""

    account: str | None
    symbol: str
    broker_qty: Decimal
    ledger_qty: Decimal
    kind: DiscrepancyKind

    @property
    def difference(self) -> Decimal:
        """Broker shares minus ledger shares."""
        return self.broker_qty - self.ledger_qty

    def __str__(self) -> str:
        where = f"account {self.account}, " if self.account else ""
        return (
            f"{where}{self.symbol}: broker holds {self.broker_qty} shares, ledger {self.ledger_qty} "
            f"({self.kind.value}, difference {self.difference}); check the broker's activity and book the "
            "missing fill or correct the ledger by hand"
        )


def reconcile(
    broker_positions: Mapping[str, Decimal],
    ledger_positions: Mapping[str, Decimal],
    tolerance: Decimal = Decimal("1e-9"),
    *,
    account: str | None = None,
) -> list[Discrepancy]:
    """Compare shares per symbol (broker vs ledger); every difference above ``tolerance`` shares is reported.

    Zero quantities count as absent. Pure: nothing is corrected, the caller flags the list for a human.
    """
    tol = Decimal(tolerance)
    broker = {s.upper(): Decimal(q) for s, q in broker_positions.items()}
    ledger = {s.upper(): Decimal(q) for s, q in ledger_positions.items()}
    found: list[Discrepancy] = []
    for symbol in sorted(broker.keys() | ledger.keys()):
        b = broker.get(symbol, Decimal(0))
        m = ledger.get(symbol, Decimal(0))
        if abs(b - m) <= tol:
            continue
        if abs(m) <= tol:
            kind = DiscrepancyKind.MISSING_IN_LEDGER
        elif abs(b) <= tol:
            kind = DiscrepancyKind.MISSING_AT_BROKER
        else:
            kind = DiscrepancyKind.QUANTITY
        found.append(Discrepancy(account, symbol, b, m, kind))
    return found


@runtime_checkable
class Broker(Protocol):
    """What the engine needs from a broker; ``account=None`` means the broker's only (or default) account.

    ``order`` returns ``None`` for an unknown client order id (never raises for "not found"), so callers
    can always look an order up before (re)submitting it. Errors are ``engine.errors.BrokerError`` subclasses.
    """

    def account(self, account: str | None = None) -> AccountInfo:
        """Cash, equity and buying power (USD)."""
        ...

    def positions(self, account: str | None = None) -> list[BrokerPosition]:
        """Open positions (shares per symbol)."""
        ...

    def asset(self, symbol: str) -> AssetInfo:
        """Whether ``symbol`` is tradable and fractionable."""
        ...

    def clock(self) -> MarketClock:
        """Is the market open; next open and close."""
        ...

    def submit(self, order: Order) -> BrokerOrder:
        """Place ``order`` once (idempotent on ``client_order_id``)."""
        ...

    def order(self, client_order_id: str) -> BrokerOrder | None:
        """The order with this client order id, or ``None`` if the broker has none."""
        ...

    def orders(
        self,
        status: OrderQuery = OrderQuery.OPEN,
        account: str | None = None,
        *,
        after: datetime | None = None,
        symbols: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[BrokerOrder]:
        """Orders by status (open, closed or all), oldest first.

        ``after`` keeps orders submitted strictly after that instant (aware) — all of them, however many;
        ``symbols`` keeps those symbols; ``limit`` keeps at most that many (without ``after``: the newest).
        One call answers for many orders, so callers poll many orders' states with one request.
        """
        ...

    def cancel(self, order_id: str) -> None:
        """Cancel the working order with this broker order id."""
        ...

    def fills(self, since: datetime, account: str | None = None) -> list[Fill]:
        """Executions at or after ``since`` (aware), oldest first."""
        ...


@runtime_checkable
class Rails(Protocol):
    """The safety rails every trading path goes through: they wrap a broker so each submit is checked first.

    ``brokers.SafetyRails`` implements it (kill switch, market hours, size cap, no shorts); the cycle calls
    ``guard`` for every broker it trades through, with the planning day's prices (USD) and data day.
    """

    def guard(self, broker: Broker, *, prices: Mapping[str, Decimal], data_time: date | datetime) -> Broker:
        """``broker`` behind the rails (submits checked; reads delegated)."""
        ...


def select_orders(
    orders: Sequence[BrokerOrder],
    status: OrderQuery | str = OrderQuery.OPEN,
    *,
    after: datetime | None = None,
    symbols: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[BrokerOrder]:
    """``Broker.orders``' filters applied to ``orders`` (sorted oldest first), for brokers that hold their orders.

    Raises:
        ValidationError: ``after`` is naive, or ``limit`` is below 1.
    """
    query = OrderQuery(status)
    if after is not None and (after.tzinfo is None or after.utcoffset() is None):
        raise ValidationError("naive datetime", field="after", fix="pass an aware datetime, e.g. UTC")
    if limit is not None and limit < 1:
        raise ValidationError("must be ≥ 1", field="limit", value=limit)
    wanted = None if symbols is None else {s.strip().upper() for s in symbols}
    out = [
        o for o in sorted(orders, key=lambda o: o.submitted_at)
        if (query is OrderQuery.ALL or (query is OrderQuery.CLOSED) == o.final)
        and (after is None or o.submitted_at > after)
        and (wanted is None or o.symbol in wanted)
    ]
    if limit is not None and len(out) > limit:
        out = out[:limit] if after is not None else out[-limit:]
    return out


def total_by_symbol(positions: Sequence[BrokerPosition]) -> dict[str, Decimal]:
    """Shares per symbol summed over positions (for ``reconcile``)."""
    out: dict[str, Decimal] = {}
    for p in positions:
        out[p.symbol] = out.get(p.symbol, Decimal(0)) + p.qty
    return out

