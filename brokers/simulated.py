"""A deterministic broker for backtests and tests: orders fill on the next bar, with spread, commission and volume caps.

    broker = SimulatedBroker(closes_frame, accounts={"brokerage": 10_000, "ira": 5_000}, start=date(2024, 1, 2))
    broker.submit(order); broker.advance_to(date(2024, 1, 3)); broker.fills(since)

**Accounts.** One instance holds every account of a household, keyed by account id (the engine trades
per account, a household has several, and one clock and one price feed serve them all). Each order goes
to ``order.account``; ``account(None)`` / ``positions(None)`` cover the only account, or all of them.

**Time.** The broker sits at a bar (``today``), after its close. Orders submitted now fill at the *next* bar:
``advance_to(day)`` processes every bar up to ``day`` (bars come from the price frame's index, an explicit
``calendar``, or weekdays), ``process()`` advances one bar. Fills use that bar's open or close (``FillAt``).
Within a bar sells fill before buys, each in submission order. Day orders not (fully) filled on their
bar expire; GTC orders keep working.

**Costs.** A buy pays ``price × (1 + half_spread)``, a sell receives ``price × (1 − half_spread)``;
``fees = per_order + per_share × qty + rate × gross`` (USD, rounded to cents), recorded on the ``Fill``; cash
moves by the gross amount rounded half-even to the cent, as a broker settles it.
With ``max_participation`` and known volume a bar fills at most that fraction of its volume (partial fills).

**Rejections** (raised at submit, like Alpaca's HTTP errors): unknown account, duplicate client order id,
unknown / untradable symbol, fractional or notional orders on a non-fractionable asset (``OrderRejected``);
not enough cash or shares after what open orders already reserve (``InsufficientFunds``). A buy that the
cash no longer covers when the bar's price arrives is marked ``rejected``.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from engine.errors import BrokerError, InsufficientFunds, OrderRejected, ValidationError
from engine.model import Fill, Order, OrderSide, OrderType, TimeInForce, to_decimal
from engine.model.broker import (
    AccountInfo,
    AssetInfo,
    BrokerOrder,
    BrokerOrderStatus,
    BrokerPosition,
    MarketClock,
    OrderQuery,
    select_orders,
)

__all__ = ["CostModel", "FillAt", "SimulatedBroker"]

_NY = ZoneInfo("America/New_York")
_OPEN = time(9, 30)
_CLOSE = time(16, 0)
_CENT = Decimal("0.01")
_SHARE_STEP = Decimal("1e-9")
_PRICE_STEP = Decimal("1e-6")
_ZERO = Decimal(0)

PriceFn = Callable[[str, date], Any]


class FillAt(StrEnum):
    """Which price of the next bar an order fills at."""

    NEXT_OPEN = "next_open"
    NEXT_CLOSE = "next_close"


@dataclass(frozen=True, slots=True)
class CostModel:
    """Trading costs: ``half_spread`` a fraction of price (0.0005 = 5 bp); commissions in USD (rate a fraction)."""

    half_spread: Decimal = Decimal("0.0005")
    per_order: Decimal = Decimal(0)
    per_share: Decimal = Decimal(0)
    rate: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        for name in ("half_spread", "per_order", "per_share", "rate"):
            value = to_decimal(getattr(self, name), f"CostModel.{name}")
            if value < 0:
                raise ValidationError("must be ≥ 0", field=f"CostModel.{name}", value=str(value))
            object.__setattr__(self, name, value)
        if self.half_spread >= 1:
            raise ValidationError("must be < 1 (a fraction of price)", field="CostModel.half_spread")

    def fill_price(self, price: Decimal, side: OrderSide) -> Decimal:
        """Execution price in USD/share: the bar price moved by the half-spread against the trader."""
        factor = 1 + self.half_spread if side is OrderSide.BUY else 1 - self.half_spread
        return (price * factor).quantize(_PRICE_STEP, rounding=ROUND_HALF_EVEN)

    def fees(self, qty: Decimal, price: Decimal) -> Decimal:
        """Commission in USD for one execution of ``qty`` shares at ``price``, rounded to cents."""
        raw = self.per_order + self.per_share * qty + self.rate * qty * price
        return raw.quantize(_CENT, rounding=ROUND_HALF_EVEN)


class _FrameView:
    """A wide DataFrame read by (symbol, day): dates and float values extracted once, Decimals made on demand.

    Shared by every broker over the same frame (a batch builds one broker per household), so the frame's
    thousands of rows are not re-read per instance.
    """

    def __init__(self, frame: Any) -> None:
        self.frame = frame  # kept so that the cache key (its id) stays valid
        rows = [_as_date(ix) for ix in frame.index]
        order = np.argsort(np.array([d.toordinal() for d in rows]), kind="stable")
        self.dates = [rows[i] for i in order]
        self.pos = {d: i for i, d in enumerate(self.dates)}  # a repeated day: its last row wins
        self.values = np.asarray(frame.to_numpy(dtype=float, na_value=np.nan))[order]
        self.cols = {str(c): j for j, c in enumerate(frame.columns)}
        self._last_valid: dict[int, np.ndarray] = {}

    def last_valid(self, j: int) -> np.ndarray:
        """Per row, the newest row at or before it with a value in column ``j`` (−1: none yet)."""
        if j not in self._last_valid:
            valid = ~np.isnan(self.values[:, j])
            self._last_valid[j] = np.maximum.accumulate(np.where(valid, np.arange(valid.size), -1))
        return self._last_valid[j]


_VIEWS: dict[int, _FrameView] = {}


def _view(frame: Any) -> _FrameView:
    view = _VIEWS.get(id(frame))
    if view is None or view.frame is not frame or view.values.shape != frame.shape:
        while len(_VIEWS) >= 8:
            _VIEWS.pop(next(iter(_VIEWS)))
        view = _VIEWS[id(frame)] = _FrameView(frame)
    return view


class _Table:
    """One price/volume source read as ``get(symbol, day) -> Decimal | None``: a callable or a wide DataFrame."""

    def __init__(self, source: Any, what: str) -> None:
        self.what = what
        self._fn: PriceFn | None = None
        self._view: _FrameView | None = None
        self._decimals: dict[tuple[int, int], Decimal] = {}
        self.days: list[date] | None = None
        if source is None:
            return
        if hasattr(source, "columns") and hasattr(source, "index"):
            self._view = _view(source)
            self.days = sorted(set(self._view.dates))
        elif callable(source):
            self._fn = source
        else:
            raise ValidationError(
                f"{what} must be a callable (symbol, day) -> price or a DataFrame indexed by day",
                field=what,
                value=type(source).__name__,
            )

    def _at(self, symbol: str, row: int, j: int) -> Decimal:
        key = (row, j)
        if key not in self._decimals:
            value = float(self._view.values[row, j])  # type: ignore[union-attr]
            self._decimals[key] = to_decimal(value, f"{self.what}[{symbol}]")
        return self._decimals[key]

    def get(self, symbol: str, day: date) -> Decimal | None:
        if self._fn is not None:
            value = self._fn(symbol, day)
            return None if value is None else to_decimal(value, f"{self.what}({symbol}, {day})")
        view = self._view
        if view is None or symbol not in view.cols or day not in view.pos:
            return None
        row, j = view.pos[day], view.cols[symbol]
        return None if np.isnan(view.values[row, j]) else self._at(symbol, row, j)

    def last(self, symbol: str, day: date) -> Decimal | None:
        """The newest value on or before ``day`` (frames), or the value on ``day`` (callables)."""
        view = self._view
        if view is None:
            return self.get(symbol, day)
        if symbol not in view.cols:
            return None
        j = view.cols[symbol]
        row = bisect.bisect_right(view.dates, day) - 1
        if row < 0:
            return None
        found = int(view.last_valid(j)[row])
        return None if found < 0 else self._at(symbol, found, j)


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if hasattr(value, "date"):
        return value.date()
    return date.fromisoformat(str(value)[:10])


@dataclass
class _Working:
    """Mutable book-keeping of one order inside the simulator."""

    order: Order
    view: BrokerOrder
    seq: int
    reserved_cash: Decimal
    reserved_qty: Decimal
    filled_notional: Decimal = _ZERO
    fills: int = 0


@dataclass
class _Book:
    cash: Decimal
    shares: dict[str, Decimal]


class SimulatedBroker:
    """A deterministic multi-account broker over daily bars (see the module docstring for the rules).

    Args:
        prices: closes, USD/share: a callable ``(symbol, day) -> number | None`` or a DataFrame (index days,
            one column per symbol).
        accounts: starting cash per account id, USD.
        start: the first bar (the broker's ``today``).
        positions: starting shares per account id and symbol.
        opens: opening prices (same kinds as ``prices``); without them ``NEXT_OPEN`` uses the closes.
        volumes: shares traded per bar, for ``max_participation``; unknown volume means no cap.
        fill_at: fill at the next bar's open or close.
        costs: half-spread and commissions.
        max_participation: fraction of a bar's volume one order may take (0.1 = 10 %), or ``None``.
        assets: tradable / fractionable per symbol (``AssetInfo``, ``engine.model.Asset`` or a ``Universe``);
            ``None`` treats every priced symbol as tradable and fractionable.
        calendar: the bars, when ``prices`` is a callable (default: the frame's index, else weekdays).
        name: prefix of the broker's order and fill ids (default: ``sim-`` and a digest of the start day and
            the starting books, so replays give the same ids and brokers of different households or days do
            not share fill ids in a store).
    """

    def __init__(
        self,
        prices: Any,
        *,
        accounts: Mapping[str, Any],
        start: date,
        positions: Mapping[str, Mapping[str, Any]] | None = None,
        opens: Any = None,
        volumes: Any = None,
        fill_at: FillAt = FillAt.NEXT_CLOSE,
        costs: CostModel | None = None,
        max_participation: float | None = None,
        assets: Any = None,
        calendar: Iterable[date] | None = None,
        name: str | None = None,
    ) -> None:
        if not accounts:
            raise ValidationError("a simulated broker needs at least one account", field="accounts")
        self._closes = _Table(prices, "prices")
        self._opens = _Table(opens, "opens")
        self._volumes = _Table(volumes, "volumes")
        self.fill_at = FillAt(fill_at)
        has_opens = opens is not None
        self._fill_table = self._opens if self.fill_at is FillAt.NEXT_OPEN and has_opens else self._closes
        self.costs = costs or CostModel()
        if max_participation is not None and not 0 < float(max_participation) <= 1:
            raise ValidationError(
                "must lie in (0, 1] (a fraction of bar volume)", field="max_participation", value=max_participation
            )
        self.max_participation = None if max_participation is None else to_decimal(float(max_participation))
        days = sorted(set(calendar)) if calendar is not None else self._closes.days
        self._calendar: list[date] | None = list(days) if days else None
        if isinstance(start, datetime) or not isinstance(start, date):
            raise ValidationError("must be a datetime.date (a trading day)", field="start", value=start)
        self.today: date = start
        self._books: dict[str, _Book] = {}
        for acct, cash in accounts.items():
            amount = to_decimal(cash, f"accounts[{acct}]")
            if amount < 0:
                raise ValidationError("starting cash must be ≥ 0", field=f"accounts[{acct}]", value=str(amount))
            self._books[acct] = _Book(amount, {})
        for acct, held in (positions or {}).items():
            book = self._book(acct)
            for symbol, qty in held.items():
                shares = to_decimal(qty, f"positions[{acct}][{symbol}]")
                if shares < 0:
                    raise ValidationError("short positions are not simulated", field=f"positions[{acct}][{symbol}]")
                if shares:
                    book.shares[symbol.upper()] = shares
        self._assets = _asset_map(assets)
        self._orders: dict[str, _Working] = {}
        self._by_id: dict[str, str] = {}
        self._fills: list[Fill] = []
        self._seq = 0
        self.name = name if name is not None else self._default_name()

    def _default_name(self) -> str:
        books = sorted((a, str(b.cash), sorted((k, str(v)) for k, v in b.shares.items()))
                       for a, b in self._books.items())
        digest = hashlib.sha256(repr((self.today.isoformat(), books)).encode()).hexdigest()[:10]
        return f"sim-{digest}"

    # ------------------------------------------------------------------------------------------
    # Reading
    # ------------------------------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"SimulatedBroker(accounts={sorted(self._books)}, today={self.today}, fill_at={self.fill_at.value})"

    @property
    def accounts(self) -> list[str]:
        """Account ids, sorted."""
        return sorted(self._books)

    def last_price(self, symbol: str) -> Decimal:
        """The newest close on or before ``today`` (USD/share); raises ``BrokerError`` if there is none."""
        price = self._closes.last(symbol.upper(), self.today)
        if price is None:
            raise BrokerError(f"no price for {symbol.upper()} on or before {self.today}", status=404)
        return price

    def account(self, account: str | None = None) -> AccountInfo:
        """Cash, equity (cash + shares at the last close) and buying power (cash not reserved by open buys), USD."""
        names = self._select(account)
        cash = sum((self._books[a].cash for a in names), _ZERO)
        value = sum(
            (q * self._value_price(s) for a in names for s, q in self._books[a].shares.items()), _ZERO
        )
        reserved = sum((w.reserved_cash for w in self._open() if w.order.account in names), _ZERO)
        label = names[0] if len(names) == 1 else "all"
        return AccountInfo(label, cash, cash + value, cash - reserved)

    def positions(self, account: str | None = None) -> list[BrokerPosition]:
        """Shares held per symbol (sorted by account, symbol); ``None`` means the only account, or all of them."""
        out = []
        for acct in self._select(account):
            for symbol, qty in sorted(self._books[acct].shares.items()):
                if qty:
                    out.append(BrokerPosition(acct, symbol, qty, market_value=qty * self._value_price(symbol)))
        return out

    def asset(self, symbol: str) -> AssetInfo:
        """Tradable / fractionable for ``symbol``; raises ``BrokerError`` (404) for a symbol without asset or price."""
        sym = symbol.strip().upper()
        if self._assets is not None:
            if sym not in self._assets:
                raise BrokerError(f"asset {sym} not found; add it to the simulator's assets", status=404)
            return self._assets[sym]
        if self._closes.last(sym, self.today) is None:
            raise BrokerError(f"asset {sym} not found: no price on or before {self.today}", status=404)
        return AssetInfo(sym, tradable=True, fractionable=True)

    def clock(self) -> MarketClock:
        """The simulated clock: after ``today``'s close (closed); the next bar opens and closes next."""
        nxt = self.next_bar()
        return MarketClock(
            timestamp=_at(self.today, _CLOSE),
            is_open=False,
            next_open=_at(nxt, _OPEN),
            next_close=_at(nxt, _CLOSE),
        )

    def order(self, client_order_id: str) -> BrokerOrder | None:
        """The order with this client order id, or ``None``."""
        w = self._orders.get(client_order_id)
        return None if w is None else w.view

    def orders(
        self,
        status: OrderQuery = OrderQuery.OPEN,
        account: str | None = None,
        *,
        after: datetime | None = None,
        symbols: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[BrokerOrder]:
        """Orders in submission order, filtered by open / closed / all, account, ``after``, ``symbols``, ``limit``."""
        names = set(self._select(account))
        mine = [w.view for w in sorted(self._orders.values(), key=lambda w: w.seq) if w.order.account in names]
        return select_orders(mine, status, after=after, symbols=symbols, limit=limit)

    def fills(self, since: datetime, account: str | None = None) -> list[Fill]:
        """Executions at or after ``since`` (aware), oldest first."""
        if since.tzinfo is None:
            raise ValidationError("naive datetime", field="since", fix="pass an aware datetime, e.g. UTC")
        names = set(self._select(account))
        return [f for f in self._fills if f.at >= since and f.account in names]

    # ------------------------------------------------------------------------------------------
    # Trading
    # ------------------------------------------------------------------------------------------

    def submit(self, order: Order) -> BrokerOrder:
        """Accept ``order`` for the next bar; raises ``OrderRejected`` / ``InsufficientFunds`` like a real broker."""
        cid = order.client_order_id
        if order.account not in self._books:
            raise OrderRejected(
                f"unknown account {order.account!r}; the simulator holds {', '.join(self.accounts)}",
                status=422,
                client_order_id=cid,
            )
        if cid in self._orders:
            raise OrderRejected("client_order_id must be unique", status=422, client_order_id=cid)
        info = self._asset_for(order)
        if not info.tradable:
            raise OrderRejected(f"asset {order.symbol} is not tradable", status=422, client_order_id=cid)
        if not info.fractionable:
            if order.notional is not None:
                raise OrderRejected(
                    f"{order.symbol} is not fractionable: notional orders are not allowed; send a whole qty",
                    status=422,
                    client_order_id=cid,
                )
            if order.qty is not None and order.qty != order.qty.to_integral_value():
                raise OrderRejected(
                    f"{order.symbol} is not fractionable: qty {order.qty} must be whole shares",
                    status=422,
                    client_order_id=cid,
                )
        price = self._closes.last(order.symbol, self.today)
        if price is None:
            raise OrderRejected(
                f"no price for {order.symbol} on or before {self.today}", status=422, client_order_id=cid
            )
        book = self._books[order.account]
        reserved_cash = _ZERO
        reserved_qty = _ZERO
        if order.side is OrderSide.BUY:
            est = self.costs.fill_price(price if order.limit_price is None else max(price, order.limit_price),
                                        OrderSide.BUY)
            gross = order.notional if order.notional is not None else order.qty * est
            qty_est = order.qty if order.qty is not None else gross / est
            reserved_cash = gross + self.costs.fees(qty_est, est)
            free = book.cash - sum(
                (w.reserved_cash for w in self._open() if w.order.account == order.account), _ZERO
            )
            if reserved_cash > free:
                raise InsufficientFunds(
                    f"insufficient buying power in {order.account}: {order.symbol} needs about "
                    f"{reserved_cash.quantize(_CENT)} USD, {free.quantize(_CENT)} USD free",
                    status=403,
                    client_order_id=cid,
                )
        else:
            qty = order.qty if order.qty is not None else order.notional / price
            held = book.shares.get(order.symbol, _ZERO) - sum(
                (w.reserved_qty for w in self._open()
                 if w.order.account == order.account and w.order.symbol == order.symbol),
                _ZERO,
            )
            if qty > held:
                raise InsufficientFunds(
                    f"insufficient qty available for order in {order.account} "
                    f"(requested: {qty.normalize()}, available: {held.normalize()}) {order.symbol}",
                    status=403,
                    client_order_id=cid,
                )
            reserved_qty = qty
        self._seq += 1
        view = BrokerOrder.from_order(
            order,
            id=f"{self.name}-{self._seq:06d}",
            status=BrokerOrderStatus.ACCEPTED,
            submitted_at=_at(self.today, _CLOSE),
        )
        self._orders[cid] = _Working(order, view, self._seq, reserved_cash, reserved_qty)
        self._by_id[view.id] = cid
        return view

    def cancel(self, order_id: str) -> None:
        """Cancel a working order by broker id (``sim-…``) or client order id; a final one raises ``OrderRejected``."""
        cid = self._by_id.get(order_id, order_id)
        w = self._orders.get(cid)
        if w is None:
            raise BrokerError(f"order {order_id} not found", status=404, client_order_id=None)
        if w.view.final:
            raise OrderRejected(
                f"order {order_id} is not cancelable: it is {w.view.status.value}", status=422, client_order_id=cid
            )
        self._finish(w, BrokerOrderStatus.CANCELED, "canceled by request")

    def deposit(self, account: str, amount: Any) -> Decimal:
        """Add (or with a negative amount withdraw) cash in USD; returns the new cash balance."""
        book = self._book(account)
        value = to_decimal(amount, "amount")
        if book.cash + value < 0:
            raise InsufficientFunds(f"cannot withdraw {-value} USD from {account}: only {book.cash} USD cash")
        book.cash += value
        return book.cash

    # ------------------------------------------------------------------------------------------
    # The clock
    # ------------------------------------------------------------------------------------------

    def next_bar(self, after: date | None = None) -> date:
        """The bar after ``after`` (default ``today``): from the calendar, else the next weekday."""
        day = after or self.today
        if self._calendar is not None:
            for d in self._calendar:
                if d > day:
                    return d
            raise ValidationError(
                f"no bar after {day} in the simulator's calendar", field="calendar", fix="extend the price data"
            )
        nxt = day + timedelta(days=1)
        while nxt.weekday() >= 5:
            nxt += timedelta(days=1)
        return nxt

    def advance_to(self, day: date) -> list[Fill]:
        """Move the clock to ``day``, filling working orders bar by bar; returns the new fills."""
        if isinstance(day, datetime) or not isinstance(day, date):
            raise ValidationError("must be a datetime.date", field="day", value=day)
        if day < self.today:
            raise ValidationError(
                f"the simulator cannot go back in time from {self.today} to {day}", field="day", value=day
            )
        new: list[Fill] = []
        while self.today < day:
            try:
                bar = self.next_bar()
            except ValidationError:
                bar = day
            if bar > day:  # the target is not a bar of the calendar: treat it as one
                bar = day
            self.today = bar
            new += self._run_bar(bar)
        return new

    def process(self) -> list[Fill]:
        """Advance one bar (the engine calls this while it waits for fills); returns the new fills."""
        return self.advance_to(self.next_bar())

    # ------------------------------------------------------------------------------------------
    # Internals
    # ------------------------------------------------------------------------------------------

    def _book(self, account: str) -> _Book:
        try:
            return self._books[account]
        except KeyError:
            raise ValidationError(
                f"unknown account {account!r}", field="account", value=account, fix=f"use one of {self.accounts}"
            ) from None

    def _select(self, account: str | None) -> list[str]:
        if account is None:
            return self.accounts
        self._book(account)
        return [account]

    def _open(self) -> Iterable[_Working]:
        return (w for w in self._orders.values() if not w.view.final)

    def _value_price(self, symbol: str) -> Decimal:
        price = self._closes.last(symbol, self.today)
        return price if price is not None else _ZERO

    def _asset_for(self, order: Order) -> AssetInfo:
        try:
            return self.asset(order.symbol)
        except BrokerError as exc:
            raise OrderRejected(str(exc), status=422, client_order_id=order.client_order_id) from exc

    def _run_bar(self, bar: date) -> list[Fill]:
        working = sorted(self._open(), key=lambda w: (w.order.side is OrderSide.BUY, w.seq))
        new: list[Fill] = []
        for w in working:
            if _at(bar, _CLOSE) <= w.view.submitted_at:
                continue  # submitted on this very bar: it waits for the next one
            fill = self._fill_one(w, bar)
            if fill is not None:
                new.append(fill)
            if not w.view.final and w.order.time_in_force is TimeInForce.DAY:
                filled = w.view.filled_qty > 0
                self._finish(w, BrokerOrderStatus.EXPIRED, "day order ended partly filled" if filled else
                             "day order ended unfilled")
        self._fills += new
        return new

    def _fill_one(self, w: _Working, bar: date) -> Fill | None:
        order = w.order
        price = self._fill_table.get(order.symbol, bar)
        if price is None:
            return None
        if order.type is OrderType.LIMIT:
            if order.side is OrderSide.BUY and price > order.limit_price:
                return None
            if order.side is OrderSide.SELL and price < order.limit_price:
                return None
        exec_price = self.costs.fill_price(price, order.side)
        if order.type is OrderType.LIMIT:
            exec_price = min(exec_price, order.limit_price) if order.side is OrderSide.BUY else max(
                exec_price, order.limit_price)
        fractionable = self._asset_for(order).fractionable
        if order.qty is not None:
            remaining = order.qty - w.view.filled_qty
        else:
            remaining = ((order.notional - w.filled_notional) / exec_price).quantize(_SHARE_STEP, ROUND_DOWN)
        qty = remaining
        volume = self._volumes.get(order.symbol, bar) if self.max_participation is not None else None
        if volume is not None:
            cap = volume * self.max_participation
            cap = cap.quantize(_SHARE_STEP, ROUND_DOWN) if fractionable else cap.to_integral_value(ROUND_DOWN)
            qty = min(qty, cap)
        if qty <= 0:
            return None
        gross = (qty * exec_price).quantize(_CENT, rounding=ROUND_HALF_EVEN)  # cash settles in cents
        fees = self.costs.fees(qty, exec_price)
        book = self._books[order.account]
        if order.side is OrderSide.BUY:
            if gross + fees > book.cash:
                self._finish(w, BrokerOrderStatus.REJECTED, f"insufficient cash at fill on {bar}")
                return None
            book.cash -= gross + fees
            book.shares[order.symbol] = book.shares.get(order.symbol, _ZERO) + qty
        else:
            held = book.shares.get(order.symbol, _ZERO)
            if qty > held:
                self._finish(w, BrokerOrderStatus.REJECTED, f"insufficient shares at fill on {bar}")
                return None
            book.cash += gross - fees
            left = held - qty
            if left:
                book.shares[order.symbol] = left
            else:
                book.shares.pop(order.symbol, None)
        w.fills += 1
        w.filled_notional += gross
        filled = w.view.filled_qty + qty
        avg = (w.filled_notional / filled).quantize(_PRICE_STEP, rounding=ROUND_HALF_EVEN)
        at = _at(bar, _OPEN if self.fill_at is FillAt.NEXT_OPEN else _CLOSE)
        done = remaining - qty <= 0
        if order.qty is None:  # a notional order is done when what is left buys less than one step
            done = done or (order.notional - w.filled_notional) < exec_price * _SHARE_STEP
        status = BrokerOrderStatus.FILLED if done else BrokerOrderStatus.PARTIALLY_FILLED
        w.view = replace(w.view, status=status, filled_qty=filled, filled_avg_price=avg, updated_at=at)
        if order.side is OrderSide.SELL:
            w.reserved_qty = max(w.reserved_qty - qty, _ZERO)
        else:
            w.reserved_cash = max(w.reserved_cash - gross - fees, _ZERO)
        if done:
            w.reserved_cash = w.reserved_qty = _ZERO
        return Fill(
            client_order_id=order.client_order_id,
            account=order.account,
            symbol=order.symbol,
            side=order.side,
            qty=qty,
            price=exec_price,
            at=at,
            fees=fees,
            id=f"{w.view.id}-{w.fills}",
        )

    def _finish(self, w: _Working, status: BrokerOrderStatus, reason: str) -> None:
        w.view = replace(w.view, status=status, reason=reason, updated_at=_at(self.today, _CLOSE))
        w.reserved_cash = w.reserved_qty = _ZERO


def _at(day: date, clock: time) -> datetime:
    """``day`` at New York wall-clock ``clock``, as an aware UTC instant."""
    return datetime.combine(day, clock, tzinfo=_NY).astimezone(UTC)


def _asset_map(assets: Any) -> dict[str, AssetInfo] | None:
    if assets is None:
        return None
    if hasattr(assets, "assets") and isinstance(assets.assets, Mapping):  # a Universe
        assets = assets.assets
    items: Iterable[Any] = assets.values() if isinstance(assets, Mapping) else assets
    out: dict[str, AssetInfo] = {}
    for a in items:
        if isinstance(a, AssetInfo):
            out[a.symbol] = a
        elif hasattr(a, "ticker") and hasattr(a, "fractionable"):
            out[a.ticker.upper()] = AssetInfo(a.ticker, tradable=True, fractionable=bool(a.fractionable),
                                              name=getattr(a, "name", ""))
        else:
            raise ValidationError(
                "assets must be AssetInfo or engine.model.Asset values (or a Universe)",
                field="assets",
                value=type(a).__name__,
            )
    return out
