"""Trading one broker's share of a proposal: pre-flight checks, sells capped by what the broker holds, buys sized
to the cash really there (notional where the asset is fractionable), fills booked in the ledger, reconciliation.

    run = trade(broker, ["brokerage"], proposal.orders, ledger, prices=day.prices, assets=universe.assets,
                rules=OrderRules(), timeout=60)

Nothing here decides what to trade: the proposal did. This only refuses what must not happen — an order into a
blocked account, a sell of shares the broker does not hold (it would open a short), a second order beside one of
an earlier run still working, trading an account whose ledger and broker disagree.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from engine.errors import BrokerError, TradingHalted
from engine.execution import submit_all, wait_for_final
from engine.model import Asset, Fill, Order, OrderSide
from engine.model.broker import Broker, BrokerOrder, Discrepancy, OrderQuery, reconcile
from engine.rebalancer import OrderRules, SkippedTrade, resize_buys

if TYPE_CHECKING:
    from engine.store import Store
    from engine.tax import LotLedger

__all__ = ["BrokerRun", "book_fills", "fills_for", "keep_realizations", "ledger_positions", "reconcile_accounts",
           "trade"]

log = logging.getLogger("engine.cycle")

_NEW_YORK = ZoneInfo("America/New_York")
_CENT = Decimal("0.01")


@dataclass
class BrokerRun:
    """What one broker did with its share of a proposal: orders placed (as last seen), fills, what was skipped."""

    submitted: list[BrokerOrder] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    skipped: list[SkippedTrade] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    discrepancies: list[Discrepancy] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # accounts not traded, each with its error in ``errors``

    @property
    def working(self) -> list[BrokerOrder]:
        """Placed orders not final when the wait ended (recorded; the next sync books what they fill)."""
        return [o for o in self.submitted if not o.final]


def ledger_positions(ledger: LotLedger, account: str) -> dict[str, Decimal]:
    """Shares per symbol the ledger holds in ``account``."""
    mine: dict[str, Decimal] = {}
    for lot in ledger.open_lots(account=account):
        mine[lot.symbol] = mine.get(lot.symbol, Decimal(0)) + lot.shares
    return mine


def reconcile_accounts(broker: Broker, ledger: LotLedger, accounts: Iterable[str]) -> list[Discrepancy]:
    """Broker positions vs ledger lots per account and symbol; differences are reported, never overwritten."""
    found: list[Discrepancy] = []
    for acct in sorted(set(accounts)):
        broker_pos = {p.symbol: p.qty for p in broker.positions(acct)}
        found += reconcile(broker_pos, ledger_positions(ledger, acct), account=acct)
    return found


def book_fills(ledger: LotLedger, fills: Iterable[Fill], orders: Mapping[str, Order] | None = None) -> list[Fill]:
    """Book fills in the lot ledger (sells first); a sell relieves the lots its order named, else TAX_MIN."""
    from engine.tax import LotMethod

    orders = orders or {}
    booked = []
    for f in sorted(fills, key=lambda f: (f.side is OrderSide.BUY, f.at, f.id)):
        day = f.at.astimezone(_NEW_YORK).date()
        if f.side is OrderSide.SELL:
            order = orders.get(f.client_order_id)
            held = {lot.id for lot in ledger.open_lots(f.account, f.symbol)}
            lots = [lot for lot in (order.lots if order else ()) if lot in held]
            if lots and sum(ledger.lot(i).shares for i in lots) >= f.qty:
                ledger.sell(f.account, f.symbol, f.qty, f.price, day, method=LotMethod.SPECIFIC, lots=lots,
                            fees=f.fees)
            else:
                ledger.sell(f.account, f.symbol, f.qty, f.price, day, method=LotMethod.TAX_MIN, fees=f.fees)
        else:
            ledger.buy(f.account, f.symbol, f.qty, f.price, day, fees=f.fees)
        booked.append(f)
    return booked


def keep_realizations(store: Store, household: str, ledger: LotLedger) -> None:
    """Store every realization and wash-sale amendment the ledger holds (idempotent): a year's Form 8949 comes from
    the store across days and runs (``store.realizations.form_8949``)."""
    store.realizations.add_many(household, ledger.realized(include_sheltered=True), ledger.amendments())


def trade(
    broker: Broker,
    accounts: Sequence[str],
    orders: Sequence[Order],
    ledger: LotLedger,
    *,
    prices: Mapping[str, Decimal],
    assets: Mapping[str, Asset],
    rules: OrderRules,
    timeout: float,
    notional_buys: bool = True,
    sleep: Callable[[float], None] | None = None,
) -> BrokerRun:
    """Place ``orders`` (of ``accounts``, all held at ``broker``): sells, then buys; book every fill in ``ledger``.

    A broker error stops this broker's run with what filled booked; the caller decides the proposal's status.
    """
    run = BrokerRun()
    wanted = {o.client_order_id for o in orders}
    ok = [a for a in accounts if _preflight(broker, a, ledger, wanted, run)]
    mine = [o for o in orders if o.account in ok]
    by_id = {o.client_order_id: o for o in orders}
    advance = getattr(broker, "process", None)  # a simulated broker fills when its clock moves
    pause = sleep or ((lambda _s: advance()) if callable(advance) else time.sleep)
    try:
        sells = _capped_sells(broker, [o for o in mine if o.side is OrderSide.SELL], run)
        _place(broker, sells, run, timeout, pause, ledger, by_id)
        buys = [o for o in mine if o.side is OrderSide.BUY]
        if buys:
            available = {}
            buffer = Decimal(str(rules.cash_buffer))
            for acct in sorted({o.account for o in buys}):
                info = broker.account(acct)
                available[acct] = max(info.cash - info.equity * buffer, Decimal(0))
            quotes = _quotes(broker, buys, prices)
            sized, skipped = resize_buys(buys, available, quotes, assets, rules=rules)
            run.skipped += skipped
            if notional_buys:
                sized = [_as_notional(o, quotes, assets) for o in sized]
            _place(broker, sized, run, timeout, pause, ledger, by_id)
    except (BrokerError, TradingHalted) as exc:
        run.errors.append(f"{type(exc).__name__}: {exc}")
        log.error("trading stopped: %s", exc)
    run.discrepancies = reconcile_accounts(broker, ledger, ok)
    return run


def _preflight(broker: Broker, account: str, ledger: LotLedger, wanted: set[str], run: BrokerRun) -> bool:
    """May ``account`` trade now? Not when blocked, when an earlier run's orders still work, or when the ledger
    and the broker disagree (nothing trades until ``robo sync --adopt-broker`` or a booked fill resolves it)."""
    try:
        info = broker.account(account)
        why = info.blocked_reason()
        if why:
            return _block(run, account, f"account {account} cannot trade: {why}")
        foreign = [o for o in broker.orders(OrderQuery.OPEN, account=account)
                   if o.account == account and o.client_order_id not in wanted]
        if foreign:
            ids = ", ".join(sorted(o.client_order_id for o in foreign)[:5])
            return _block(run, account, f"account {account} has orders of an earlier run still working ({ids}); "
                                        "wait for them (robo sync books their fills) or cancel them, then re-plan")
        diffs = reconcile_accounts(broker, ledger, [account])
    except BrokerError as exc:
        return _block(run, account, f"account {account}: {type(exc).__name__}: {exc}")
    if diffs:
        run.discrepancies += diffs
        return _block(run, account, f"account {account}: the ledger and the broker disagree on "
                                    f"{', '.join(d.symbol for d in diffs)}; nothing trades until resolved "
                                    "(robo sync HOUSEHOLD --adopt-broker takes the broker's positions)")
    return True


def _block(run: BrokerRun, account: str, message: str) -> bool:
    run.errors.append(message)
    run.blocked.append(account)
    log.warning(message)
    return False


def _capped_sells(broker: Broker, sells: Sequence[Order], run: BrokerRun) -> list[Order]:
    """Each sell capped by the shares the broker reports for its account: the engine never opens a short."""
    held: dict[tuple[str, str], Decimal] = {}
    for acct in sorted({o.account for o in sells}):
        for p in broker.positions(acct):
            held[(acct, p.symbol)] = held.get((acct, p.symbol), Decimal(0)) + p.qty
    out = []
    for o in sells:
        have = held.get((o.account, o.symbol), Decimal(0))
        qty = o.qty if o.qty is not None else Decimal(0)
        if have <= 0:
            run.skipped.append(SkippedTrade(o.account, o.symbol, o.side, Decimal(0),
                                            "the broker holds none of it (a sell would open a short)"))
            continue
        if qty > have:
            log.warning("sell %s %s in %s capped at the broker's %s shares", qty, o.symbol, o.account, have)
            o = replace(o, qty=have)
        out.append(o)
    return out


def _as_notional(order: Order, prices: Mapping[str, Decimal], assets: Mapping[str, Asset]) -> Order:
    """A buy of a fractionable asset as a notional (USD) order: cash-true, no stale-price rejection."""
    asset = assets.get(order.symbol)
    if order.qty is None or (asset is not None and not asset.fractionable) or order.symbol not in prices:
        return order
    notional = (order.qty * prices[order.symbol]).quantize(_CENT, rounding=ROUND_DOWN)
    if notional <= 0:
        return order
    return replace(order, qty=None, notional=notional)


def _quotes(broker: Broker, buys: Sequence[Order], prices: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """USD per share to size buys with: the broker's own quote where it gives one (a simulator checks buying power
    at it), else the planning day's price."""
    quote = getattr(broker, "last_price", None)
    out = dict(prices)
    if callable(quote):
        for symbol in {o.symbol for o in buys}:
            try:
                out[symbol] = Decimal(str(quote(symbol)))
            except Exception:  # no quote: the planning day's price stands
                continue
    return out


def _place(broker: Broker, orders: Sequence[Order], run: BrokerRun, timeout: float,
           pause: Callable[[float], None], ledger: LotLedger, by_id: Mapping[str, Order]) -> None:
    """Place each order once (``submit_all`` looks each client id up first), wait for final states, book the fills.

    When a submit fails part-way, the orders placed before it are still waited for and their fills booked before
    the error goes on: the ledger never misses a trade the broker made.
    """
    if not orders:
        return
    failure: BrokerError | None = None
    try:
        placed = submit_all(broker, orders)
    except BrokerError as exc:
        placed = list(exc.context.get("submitted", []))  # what reached the broker before the failure
        failure = exc
    if placed:
        since = min(p.submitted_at for p in placed)
        states = wait_for_final(broker, [p.client_order_id for p in placed], timeout=timeout, poll=1.0,
                                sleep=pause, since=since)
        run.submitted += [states.get(p.client_order_id, p) for p in placed]  # as last seen: final, or working
        run.fills += book_fills(ledger, fills_for(broker, placed), by_id)
    if failure is not None:
        raise failure


def fills_for(broker: Broker, placed: Sequence[BrokerOrder]) -> list[Fill]:
    """The broker's fills of ``placed`` orders (matched by client order id, each fill once)."""
    if not placed:
        return []
    ids = {p.client_order_id for p in placed}
    since = min(p.submitted_at for p in placed) - timedelta(seconds=1)
    seen: set[str] = set()
    out = []
    for acct in sorted({p.account for p in placed}):
        for f in broker.fills(since, acct):
            if f.client_order_id in ids and f.id not in seen:
                seen.add(f.id)
                out.append(f)
    return out
