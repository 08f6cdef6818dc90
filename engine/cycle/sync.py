"""Syncing a household with the brokers that hold its accounts: new fills booked, lots compared with positions,
and — on request — a broker account's positions adopted as the household's lots.

    report = cycle.sync("rivera")                  # differences reported; nothing trades until they are resolved
    report = cycle.sync("rivera", adopt=True)      # the broker's positions become the account's lots (audited)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from engine.cycle.execute import book_fills, keep_realizations, ledger_positions
from engine.cycle.reports import SyncReport
from engine.cycle.routes import Routes
from engine.model import BasisSource, Fill, Household, Lot, reconcile
from engine.model.broker import Broker, BrokerPosition

if TYPE_CHECKING:
    from engine.planner import Planner
    from engine.store import Store
    from engine.tax import LotLedger

__all__ = ["adopt_positions", "sync_household"]


def sync_household(planner: Planner, store: Store | None, household: Household, routes: Routes, *, adopt: bool,
                   as_of: date, actor: str) -> SyncReport:
    """Book each broker account's new fills of our orders, reconcile, adopt if asked, save the household."""
    ledger = planner.ledger(household)
    groups = routes.groups(routes.traded())
    windows = {id(broker): _window_start(broker) for broker, _ in groups}
    known: set[str] = set()
    if store is not None and windows:
        known = {f.id for f in store.fills.for_household(household.id, since=min(windows.values()))}
    ours = _our_order_ids(store, household.id)
    positions: dict[str, Decimal] = {}
    cash: dict[str, Decimal] = {}
    new = []
    diffs = []
    adopted: list[str] = []
    current = household
    for broker, accounts in groups:
        since = windows[id(broker)]
        for acct in accounts:
            fills = [f for f in broker.fills(since, acct)
                     if f.id not in known and (not ours or f.client_order_id in ours)]
            book_fills(ledger, fills)
            new += fills
            held = {p.symbol: p for p in broker.positions(acct)}
            positions.update({f"{acct}:{s}": p.qty for s, p in held.items()})
            cash[acct] = broker.account(acct).cash
            found = reconcile({s: p.qty for s, p in held.items()}, ledger_positions(ledger, acct), account=acct)
            if found and adopt:
                ledger = adopt_positions(planner, ledger, current, acct, list(held.values()), as_of)
                adopted.append(acct)
                if store is not None:
                    store.audit.append(actor=actor, action="household.adopt_broker", entity="account",
                                       entity_id=acct, household=household.id,
                                       before={d.symbol: str(d.ledger_qty) for d in found},
                                       after={s: str(p.qty) for s, p in held.items()})
            else:
                diffs += found
    with_cash = tuple(replace(a, cash=cash[a.id]) if a.id in cash else a for a in current.accounts)
    updated = replace(current, accounts=with_cash, lots=tuple(ledger.open_lots()),
                      loss_sales=ledger.open_loss_sales(as_of))
    if store is not None:
        for f in new:
            store.fills.add(f, household=household.id)
        _settle_orders(store, new, actor)
        if new:
            keep_realizations(store, household.id, ledger)
        if updated != household:
            store.households.update(updated, actor=actor)
    return SyncReport(household.id, positions, sum(cash.values(), Decimal(0)), tuple(new), tuple(diffs),
                      tuple(adopted), cash)


def adopt_positions(planner: Planner, ledger: LotLedger, household: Household, account: str,
                    positions: Sequence[BrokerPosition], on: date) -> LotLedger:
    """A ledger whose ``account`` holds the broker's positions as lots: one lot per symbol, basis = shares ×
    ``avg_entry_price`` (``basis_source: broker``), acquired ``on`` (the broker reports no per-lot history)."""
    lots = [lot for lot in ledger.open_lots() if lot.account != account]
    for p in positions:
        if p.qty <= 0:
            continue  # a short is never adopted: it stays a difference a person must resolve
        basis = (p.qty * (p.avg_entry_price or Decimal(0))).quantize(Decimal("0.01"))
        lots.append(Lot(id=f"{account}-{p.symbol}-broker-{on:%Y%m%d}", account=account, symbol=p.symbol,
                        shares=p.qty, basis=basis, acquired=on, basis_source=BasisSource.BROKER))
    return planner.ledger(replace(household, lots=tuple(lots)))


def _window_start(broker: Broker) -> datetime:
    """A week back on the broker's own clock (fills are stamped by the broker's time, not this machine's)."""
    try:
        now = broker.clock().timestamp
    except Exception:  # a broker without a clock: this machine's time
        now = datetime.now(UTC)
    return now - timedelta(days=7)


def _our_order_ids(store: Store | None, household: str) -> set[str]:
    """Client order ids of the household's stored orders (a broker account may hold other trades too)."""
    if store is None:
        return set()
    return {r.order.client_order_id for p in store.proposals.list(household=household)
            for r in store.orders.for_proposal(p.id)}


def _settle_orders(store: Store, fills: Sequence[Fill], actor: str) -> None:
    """Orders whose fills arrived after their run's wait ended move on in the store (working → filled)."""
    from engine.errors import Conflict, NotFound
    from engine.store import OrderStatus

    for cid in sorted({f.client_order_id for f in fills}):
        try:
            rec = store.orders.get(cid)
            if rec.status is OrderStatus.SUBMITTED or rec.status is OrderStatus.PARTIALLY_FILLED:
                store.orders.update_status(cid, OrderStatus.FILLED, actor=actor, reason="booked by sync")
        except (NotFound, Conflict):
            continue
