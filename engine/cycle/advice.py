"""Held-away accounts: the trades a person placed by hand are booked, and a custodian's statement replaces lots.

    household = confirm_fills(planner, store, household, proposal, fills, actor="alex")
    household = import_positions(planner, store, household, "alex_401k", positions, on=day, actor="alex")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

from engine.cycle.execute import book_fills, keep_realizations
from engine.cycle.routes import Route, route_of
from engine.cycle.sync import adopt_positions
from engine.errors import Conflict
from engine.model import Fill, Household, OrderSide, Proposal
from engine.model.broker import BrokerPosition

if TYPE_CHECKING:
    from engine.planner import Planner
    from engine.store import Store

__all__ = ["confirm_fills", "import_positions"]


def confirm_fills(planner: Planner, store: Store | None, household: Household, proposal: Proposal,
                  fills: Sequence[Fill], *, actor: str) -> Household:
    """Book hand-placed trades of ``proposal``'s advised orders: lots, the account's cash, order status, audit.

    Raises:
        Conflict: a fill names no advised order of the proposal, or would leave the account's cash negative.
    """
    from engine.store import OrderStatus

    advice = {o.client_order_id: o for o in proposal.orders
              if route_of(household.account(o.account)) is Route.ADVICE}
    for f in fills:
        order = advice.get(f.client_order_id)
        if order is None or (order.account, order.symbol, order.side) != (f.account, f.symbol, f.side):
            raise Conflict(f"fill {f.id} does not match an advised order of proposal {proposal.id}",
                           proposal=proposal.id, fix=f"name one of: {', '.join(sorted(advice)) or 'none'}")
    ledger = planner.ledger(household)
    book_fills(ledger, fills, advice)
    cash = {a.id: a.cash for a in household.accounts}
    for f in fills:
        gross = f.qty * f.price
        cash[f.account] += (-gross - f.fees) if f.side is OrderSide.BUY else (gross - f.fees)
        if cash[f.account] < 0:
            raise Conflict(f"confirming {f.id} leaves account {f.account} with ${cash[f.account]:,.2f}",
                           fix="check the quantity and price you entered (sells first, then buys)")
    updated = replace(household, accounts=tuple(replace(a, cash=cash[a.id]) for a in household.accounts),
                      lots=tuple(ledger.open_lots()), loss_sales=ledger.open_loss_sales(proposal.as_of))
    if store is not None:
        for f in fills:
            store.fills.add(f, household=household.id)
            store.orders.update_status(f.client_order_id, OrderStatus.FILLED, actor=actor, reason="confirmed by hand")
        store.households.update(updated, actor=actor)
        keep_realizations(store, household.id, ledger)
    return updated


def import_positions(planner: Planner, store: Store | None, household: Household, account: str,
                     positions: Sequence[BrokerPosition], *, on: date, actor: str) -> Household:
    """Replace a held-away account's lots with a statement's positions (basis from the average cost, marked as
    reported), audited and saved.

    Raises:
        Conflict: the account is held at a broker (sync it instead).
    """
    if route_of(household.account(account)) is not Route.ADVICE:
        raise Conflict(f"account {account} is held at a broker: sync it instead (robo sync {household.id})",
                       fix="import positions only for accounts held away")
    ledger = adopt_positions(planner, planner.ledger(household), household, account, list(positions), on)
    updated = replace(household, lots=tuple(ledger.open_lots()), loss_sales=ledger.open_loss_sales(on))
    if store is not None:
        store.households.update(updated, actor=actor)
        store.audit.append(actor=actor, action="household.import_positions", entity="account", entity_id=account,
                           household=household.id, after={p.symbol: str(p.qty) for p in positions})
    return updated
