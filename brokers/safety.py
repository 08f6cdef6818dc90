"""Safety rails checked in one place before every submit, for any broker: kill switch, market hours, stale data,
size, a blocked account or asset, and never selling more than the broker says the account holds (no shorts).

    guarded = GuardedBroker(broker, SafetyPolicy.from_settings(), data_time=lambda: market.last_day, prices=closes)
    guarded.check_all(proposal.orders)   # the whole batch: clock read once, account/positions once per account
    guarded.submit(order)                # raises TradingHalted when a rail says no; the inner broker never sees it

``check_all`` clears the orders it passed for ``clearance`` seconds: their ``submit`` then re-reads only
the kill switch, so a batch of n orders costs a handful of broker reads instead of four or five per order.

The kill switch is read on every submit: ``ROBO_TRADING_DISABLED=1``, the file named by
``ROBO_KILL_SWITCH_FILE`` or the policy's own ``kill_switch_file`` existing, or ``trading_disabled=True``.
"""

from __future__ import annotations

import time as time_module
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from engine.errors import BrokerError, TradingHalted, ValidationError
from engine.model import Fill, Order, OrderSide
from engine.model.broker import (
    AccountInfo,
    AssetInfo,
    Broker,
    BrokerOrder,
    BrokerPosition,
    MarketClock,
    OrderQuery,
)
from engine.settings import Settings

__all__ = ["GuardedBroker", "MarketRule", "SafetyPolicy", "SafetyRails"]

_NY = ZoneInfo("America/New_York")


class MarketRule(StrEnum):
    """What to do when the market is closed: refuse the submit, or let the broker queue it for the open."""

    REQUIRE_OPEN = "require_open"
    QUEUE_FOR_OPEN = "queue_for_open"


@dataclass(frozen=True, slots=True)
class SafetyPolicy:
    """The rails: ``max_order_fraction`` of account equity per order (0.5 = 50 %), market rule, data age.

    The size rail's default, 1.0, refuses any order worth more than the whole account (a unit or sign error, a
    runaway loop): a first funding legitimately puts more than half of a new account into one fund, and orders
    above ``ApprovalRules.max_order_fraction`` (20 %) already wait for a person. ``ROBO_MAX_ORDER_FRACTION``
    tightens it (``from_settings``). ``max_data_age`` is how old the newest price may be at submit time
    (``None`` turns the check off); ``read_environment`` re-reads ``ROBO_TRADING_DISABLED`` /
    ``ROBO_KILL_SWITCH_FILE`` on every check.
    """

    max_order_fraction: float = 1.0
    market: MarketRule = MarketRule.REQUIRE_OPEN
    max_data_age: timedelta | None = timedelta(days=4)
    kill_switch_file: Path | None = None
    trading_disabled: bool = False
    read_environment: bool = True

    def __post_init__(self) -> None:
        f = self.max_order_fraction
        if isinstance(f, bool) or not isinstance(f, int | float) or not 0 < float(f) <= 1:
            raise ValidationError(
                "must lie in (0, 1] (a fraction of account equity)", field="SafetyPolicy.max_order_fraction", value=f
            )
        object.__setattr__(self, "market", MarketRule(self.market))
        if self.max_data_age is not None and self.max_data_age <= timedelta(0):
            raise ValidationError("must be positive or None", field="SafetyPolicy.max_data_age")
        if self.kill_switch_file is not None:
            object.__setattr__(self, "kill_switch_file", Path(self.kill_switch_file))

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> SafetyPolicy:
        """A policy whose kill switch comes from ``Settings`` (``ROBO_TRADING_DISABLED``, ``ROBO_KILL_SWITCH_FILE``)."""
        s = settings or Settings()
        values: dict[str, Any] = {"trading_disabled": s.trading_disabled, "kill_switch_file": s.kill_switch_file,
                                  "max_order_fraction": s.max_order_fraction}
        values.update(overrides)
        return cls(**values)

    def kill_switch(self) -> str | None:
        """Why trading is switched off right now, or ``None`` when it is not."""
        if self.trading_disabled:
            return "the policy has trading_disabled=True"
        if self.kill_switch_file is not None and self.kill_switch_file.exists():
            return f"the kill-switch file {self.kill_switch_file} exists"
        if self.read_environment:
            s = Settings()
            if s.trading_disabled:
                return "ROBO_TRADING_DISABLED is set"
            if s.kill_switch_file is not None and Path(s.kill_switch_file).exists():
                return f"the kill-switch file {s.kill_switch_file} (ROBO_KILL_SWITCH_FILE) exists"
        return None


class GuardedBroker:
    """Wraps any ``Broker``: every ``submit`` passes the policy's rails first; everything else is delegated.

    Args:
        inner: the broker that places orders.
        policy: the rails.
        data_time: the newest market data's day or instant (required when ``policy.max_data_age`` is set).
        prices: USD per share for qty orders (the size cap); default: the inner broker's ``last_price``.
        clearance: seconds an order cleared by ``check_all`` may be submitted without re-reading the broker.
        monotonic: the clock of ``clearance`` (injectable for tests).
    """

    def __init__(
        self,
        inner: Broker,
        policy: SafetyPolicy,
        *,
        data_time: Callable[[], date | datetime | None] | None = None,
        prices: Callable[[str], Any] | Mapping[str, Any] | None = None,
        clearance: float = 60.0,
        monotonic: Callable[[], float] = time_module.monotonic,
    ) -> None:
        if policy.max_data_age is not None and data_time is None:
            raise ValidationError(
                "the policy checks data age but no data_time was given",
                field="data_time",
                fix="pass data_time=lambda: <newest price day> or use SafetyPolicy(max_data_age=None)",
            )
        self.inner = inner
        self.policy = policy
        self.clearance = clearance
        self._data_time = data_time
        self._prices = prices
        self._monotonic = monotonic
        self._cleared: dict[str, tuple[Order, float]] = {}

    def __repr__(self) -> str:
        return f"GuardedBroker({self.inner!r}, {self.policy!r})"

    def __getattr__(self, name: str) -> Any:  # extras of the inner broker: process, last_price, advance_to, ...
        return getattr(self.inner, name)

    # The guarded call ---------------------------------------------------------------------------

    def check(self, order: Order) -> None:
        """Raise ``TradingHalted`` if any rail refuses ``order``; do nothing otherwise."""
        self._check_batch([order])

    def check_all(self, orders: Sequence[Order]) -> None:
        """Every rail for a batch, with one clock read, one account/positions/open-orders read per account and one
        asset read per symbol; sells are counted together against what each account holds. The orders that
        pass are cleared: their ``submit`` within ``clearance`` seconds re-checks only the kill switch.

        Raises:
            TradingHalted: the kill switch, a closed market, stale data or a blocked account (the whole batch),
                or one message naming every refused order (``context["refused"]``: (client_order_id, rail, why)).
        """
        self._check_batch(list(orders))
        now = self._monotonic()
        for order in orders:
            self._cleared[order.client_order_id] = (order, now)

    def submit(self, order: Order) -> BrokerOrder:
        """Check every rail (only the kill switch for an order ``check_all`` cleared), then submit it."""
        cleared = self._cleared.pop(order.client_order_id, None)
        if cleared is not None and cleared[0] == order and self._monotonic() - cleared[1] <= self.clearance:
            self._kill(order.client_order_id)
        else:
            self.check(order)
        return self.inner.submit(order)

    def _kill(self, cid: str | None) -> None:
        why = self.policy.kill_switch()
        if why:
            raise TradingHalted(
                f"kill switch: {why}; no order is submitted until it is cleared", client_order_id=cid, rail="kill"
            )

    def _check_batch(self, orders: list[Order]) -> None:
        if not orders:
            return
        first = orders[0].client_order_id
        self._kill(first)
        clock = self.inner.clock()
        if not clock.is_open and self.policy.market is MarketRule.REQUIRE_OPEN:
            raise TradingHalted(
                f"the market is closed (next open {clock.next_open.isoformat()}); submit then, or use "
                "MarketRule.QUEUE_FOR_OPEN to queue orders for the open",
                client_order_id=first,
                rail="market",
            )
        if self.policy.max_data_age is not None and self._data_time is not None:
            seen = self._data_time()
            if seen is None:
                raise TradingHalted("no market data time is known", client_order_id=first, rail="data")
            seen_at = _instant(seen)
            age = clock.timestamp - seen_at
            if age > self.policy.max_data_age:
                raise TradingHalted(
                    f"market data is stale: newest {seen_at.isoformat()} is {age} old at "
                    f"{clock.timestamp.isoformat()} (allowed {self.policy.max_data_age}); refresh prices first",
                    client_order_id=first,
                    rail="data",
                )
        accounts: dict[str, AccountInfo] = {}
        for name in dict.fromkeys(o.account for o in orders):
            cid = next(o.client_order_id for o in orders if o.account == name)
            try:
                info = accounts[name] = self.inner.account(name)
            except ValidationError as exc:  # e.g. an AlpacaBroker asked for another account
                raise TradingHalted(f"the broker does not hold account {name}: {exc}", client_order_id=cid,
                                    rail="account") from exc
            why = info.blocked_reason()
            if why:
                raise TradingHalted(f"{why}; nothing is submitted", client_order_id=cid, rail="account")
        refused: list[tuple[str, str, str]] = []
        assets: dict[str, AssetInfo] = {}
        held: dict[tuple[str, str], Decimal] = {}
        loaded: set[str] = set()
        for order in orders:
            cid = order.client_order_id
            if order.symbol not in assets:
                try:
                    assets[order.symbol] = self.inner.asset(order.symbol)
                except BrokerError as exc:
                    if exc.status != 404:
                        raise
                    assets[order.symbol] = AssetInfo(order.symbol, tradable=False, fractionable=False,
                                                     status="unknown")
            why = assets[order.symbol].blocked_reason()
            if why:
                refused.append((cid, "asset", f"order {cid}: {why}"))
                continue
            try:
                notional = self._notional(order)
            except TradingHalted as exc:
                refused.append((cid, "size", str(exc)))
                continue
            equity = accounts[order.account].equity
            cap = equity * Decimal(str(self.policy.max_order_fraction))
            if notional > cap:
                refused.append((cid, "size", (
                    f"order {cid} ({order.side.value} {order.symbol}, about {notional:.2f} USD) is over the cap of "
                    f"{cap:.2f} USD ({self.policy.max_order_fraction:.0%} of {equity:.2f} USD equity in "
                    f"{order.account}); split it or raise max_order_fraction")))
                continue
            if order.side is OrderSide.SELL:
                key = (order.account, order.symbol)
                if order.account not in loaded:
                    loaded.add(order.account)
                    self._load_holdings(order.account, held, {o.client_order_id for o in orders})
                available = held.get(key, Decimal(0))
                shares = order.qty if order.qty is not None else notional / self._price(order)
                if shares > available:
                    refused.append((cid, "position", (
                        f"order {cid} sells {shares.normalize():f} {order.symbol} but the broker reports "
                        f"{max(available, Decimal(0)).normalize():f} available in {order.account} (after working "
                        "sells); selling more would open a short — sync the account first")))
                    continue
                held[key] = available - shares
        if refused:
            cid, rail, why = refused[0]
            more = f" (and {len(refused) - 1} more: " + "; ".join(r[2] for r in refused[1:]) + ")" if (
                len(refused) > 1) else ""
            raise TradingHalted(f"{why}{more}", client_order_id=cid, rail=rail, refused=refused)

    def _load_holdings(self, account: str, held: dict[tuple[str, str], Decimal], batch: set[str]) -> None:
        """Shares per symbol the broker reports for ``account``, less what its working sells already reserve
        (a working order of ``batch`` itself is not counted twice)."""
        for p in self.inner.positions(account):
            if p.account == account:
                held[(account, p.symbol)] = held.get((account, p.symbol), Decimal(0)) + p.qty
        for o in self.inner.orders(OrderQuery.OPEN, account):
            if o.side is OrderSide.SELL and o.account == account and o.qty is not None and (
                    o.client_order_id not in batch):
                key = (account, o.symbol)
                held[key] = held.get(key, Decimal(0)) - (o.qty - o.filled_qty)

    def _notional(self, order: Order) -> Decimal:
        if order.notional is not None:
            return order.notional
        price = order.limit_price if order.limit_price is not None and order.side is OrderSide.BUY else None
        if price is None:
            price = self._price(order)
        return order.qty * price

    def _price(self, order: Order) -> Decimal:
        source = self._prices
        try:
            if isinstance(source, Mapping):
                value = source.get(order.symbol)
            elif source is not None:
                value = source(order.symbol)
            else:
                quote = getattr(self.inner, "last_price", None)
                value = quote(order.symbol) if callable(quote) else None
        except Exception as exc:  # any failure to price means the cap cannot be checked: refuse
            raise TradingHalted(
                f"cannot check the size cap: no price for {order.symbol} ({exc})",
                client_order_id=order.client_order_id,
                rail="size",
            ) from exc
        if value is None:
            raise TradingHalted(
                f"cannot check the size cap: no price for {order.symbol}; pass prices= to GuardedBroker",
                client_order_id=order.client_order_id,
                rail="size",
            )
        return Decimal(str(value))

    # Delegated reads ----------------------------------------------------------------------------

    def account(self, account: str | None = None) -> AccountInfo:
        """The inner broker's account."""
        return self.inner.account(account)

    def positions(self, account: str | None = None) -> list[BrokerPosition]:
        """The inner broker's positions."""
        return self.inner.positions(account)

    def asset(self, symbol: str) -> AssetInfo:
        """The inner broker's asset."""
        return self.inner.asset(symbol)

    def clock(self) -> MarketClock:
        """The inner broker's clock."""
        return self.inner.clock()

    def order(self, client_order_id: str) -> BrokerOrder | None:
        """The inner broker's order."""
        return self.inner.order(client_order_id)

    def orders(
        self,
        status: OrderQuery = OrderQuery.OPEN,
        account: str | None = None,
        *,
        after: datetime | None = None,
        symbols: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[BrokerOrder]:
        """The inner broker's orders."""
        return self.inner.orders(status, account, after=after, symbols=symbols, limit=limit)

    def cancel(self, order_id: str) -> None:
        """Cancels are never blocked: stopping orders is always safe."""
        self.inner.cancel(order_id)

    def fills(self, since: datetime, account: str | None = None) -> list[Fill]:
        """The inner broker's fills."""
        return self.inner.fills(since, account)


def _instant(value: date | datetime) -> datetime:
    """A data day counts as of its New York close (16:00); a datetime must be aware."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValidationError("naive datetime", field="data_time", fix="return an aware datetime or a date")
        return value.astimezone(UTC)
    return datetime.combine(value, time(16, 0), tzinfo=_NY).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class SafetyRails:
    """The ``engine.model.Rails`` the cycle wraps every broker in: a ``GuardedBroker`` with this policy, priced
    from the cycle's market data (the size cap) and dated by its newest price day (the data-age rail).

        cycle = Cycle(planner, store=store, rails=SafetyRails.from_settings())
    """

    policy: SafetyPolicy = field(default_factory=SafetyPolicy)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> SafetyRails:
        """Rails whose kill switch comes from ``ROBO_TRADING_DISABLED`` / ``ROBO_KILL_SWITCH_FILE``."""
        return cls(SafetyPolicy.from_settings(settings, **overrides))

    def guard(self, broker: Broker, *, prices: Mapping[str, Any], data_time: date | datetime) -> Broker:
        """``broker`` behind the rails (an already guarded broker is re-guarded around its inner broker)."""
        inner = broker.inner if isinstance(broker, GuardedBroker) else broker
        return GuardedBroker(inner, self.policy, data_time=lambda: data_time, prices=dict(prices))
