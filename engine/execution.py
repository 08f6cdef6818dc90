"""Idempotent order submission and waiting for final states, for any ``Broker``.

    placed = submit_all(broker, proposal.orders)                 # sells first; never places an order twice
    states = wait_for_final(broker, [o.client_order_id for o in placed], timeout=60)
    updated = holdings_after(household, ledger, broker, on=day)   # lots, cash and open loss sales after the trades
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

from engine.errors import BrokerError, BrokerUnavailable, ValidationError
from engine.model import Household, Order, OrderSide
from engine.model.broker import Broker, BrokerOrder

if TYPE_CHECKING:
    from engine.tax import LotLedger

__all__ = ["holdings_after", "submit_all", "wait_for_final"]

log = logging.getLogger("engine.execution")


def submit_all(broker: Broker, orders: Iterable[Order]) -> list[BrokerOrder]:
    """Submit ``orders`` sells first, then buys (each group in the given order); returns the broker's orders.

    Every order is looked up by ``client_order_id`` first and only submitted when the broker does not have
    it, so re-running after a crash or an error never places an order twice. When a submit's outcome is
    unknown (``BrokerUnavailable`` after the adapter's own retries) the order is looked up once more.

    Raises:
        ValidationError: two orders share a client order id.
        BrokerError: the first order that failed; ``exc.context["submitted"]`` lists what was placed before it.
    """
    todo = sorted(orders, key=lambda o: o.side is OrderSide.BUY)
    ids = [o.client_order_id for o in todo]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValidationError("duplicate client_order_id in the batch", field="orders", value=dupes)
    placed: list[BrokerOrder] = []
    for order in todo:
        try:
            placed.append(_submit_once(broker, order))
        except BrokerError as exc:
            exc.context["submitted"] = list(placed)
            raise
    return placed


def _submit_once(broker: Broker, order: Order) -> BrokerOrder:
    existing = broker.order(order.client_order_id)
    if existing is not None:
        log.info("order %s already at the broker (%s); not resubmitted", order.client_order_id, existing.status)
        return existing
    try:
        return broker.submit(order)
    except BrokerUnavailable:
        found = broker.order(order.client_order_id)
        if found is None:
            raise
        log.warning("order %s was placed although the submit failed; using the broker's copy", order.client_order_id)
        return found


def wait_for_final(
    broker: Broker,
    client_order_ids: Sequence[str],
    timeout: float,
    poll: float = 1.0,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, BrokerOrder]:
    """Poll the orders every ``poll`` seconds until all are final or ``timeout`` seconds pass; returns the last states.

    Orders still working at the timeout are returned as last seen (check ``.final``). ``clock``/``sleep``
    are injectable: with a ``SimulatedBroker`` pass ``sleep=lambda _: broker.process()`` to advance bars.

    Raises:
        BrokerError: an order id is unknown to the broker (404).
    """
    start = clock()
    while True:
        states: dict[str, BrokerOrder] = {}
        for cid in client_order_ids:
            found = broker.order(cid)
            if found is None:
                raise BrokerError(
                    f"order {cid} is unknown to the broker; it was never placed (submit it first)",
                    status=404,
                    client_order_id=cid,
                )
            states[cid] = found
        if all(o.final for o in states.values()) or clock() - start >= timeout:
            return states
        sleep(poll)


def holdings_after(household: Household, ledger: LotLedger, broker: Broker, *, on: date) -> Household:
    """``household`` as it stands after trading (to store): the ledger's open lots and loss sales, the broker's cash.

    The next plan starts from what was actually bought and sold, not from the lots it was planned on. ``on`` is
    the trading day: the loss sales whose wash-sale window is still open on it are kept, so that a plan from the
    store does not buy back, in any account, what was sold at a loss within the last 30 days.
    """
    accounts = tuple(replace(a, cash=broker.account(a.id).cash) for a in household.accounts)
    return replace(household, accounts=accounts, lots=tuple(ledger.open_lots()),
                   loss_sales=ledger.open_loss_sales(on))
