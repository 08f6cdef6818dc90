"""Idempotent order submission and waiting for final states, for any ``Broker``.

    placed = submit_all(broker, proposal.orders)                 # sells first; never places an order twice
    states = wait_for_final(broker, [o.client_order_id for o in placed], timeout=60, since=placed[0].submitted_at)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from engine.errors import BrokerError, BrokerUnavailable, ValidationError
from engine.model import Order, OrderSide
from engine.model.broker import Broker, BrokerOrder, OrderQuery

if TYPE_CHECKING:
    pass

__all__ = ["submit_all", "wait_for_final"]

log = logging.getLogger("engine.execution")


def submit_all(broker: Broker, orders: Iterable[Order]) -> list[BrokerOrder]:
    """Submit ``orders`` sells first, then buys (each group in the given order); returns the broker's orders.

    Every order is looked up by ``client_order_id`` first and only submitted when the broker does not have
    it, so re-running after a crash or an error never places an order twice. When the broker offers a batch
    check (``GuardedBroker.check_all``), the orders not yet at the broker pass it together before the first
    is sent: a refused batch places nothing, and the rails read the broker once per batch, not per order.
    When a submit's outcome is unknown (``BrokerUnavailable`` after the adapter's own retries) the order is
    looked up once more.

    Raises:
        ValidationError: two orders share a client order id.
        BrokerError: the first order that failed (or the batch check); ``exc.context["submitted"]`` lists the
            orders at the broker before it.
    """
    todo = sorted(orders, key=lambda o: o.side is OrderSide.BUY)
    ids = [o.client_order_id for o in todo]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValidationError("duplicate client_order_id in the batch", field="orders", value=dupes)
    found: dict[str, BrokerOrder] = {}
    placed: list[BrokerOrder] = []
    try:
        for order in todo:
            existing = broker.order(order.client_order_id)
            if existing is not None:
                log.info("order %s already at the broker (%s); not resubmitted", order.client_order_id,
                         existing.status)
                found[order.client_order_id] = existing
        missing = [o for o in todo if o.client_order_id not in found]
        check_all = getattr(broker, "check_all", None)
        if missing and callable(check_all):
            check_all(missing)
        for order in todo:
            placed.append(found.get(order.client_order_id) or _submit_new(broker, order))
    except BrokerError as exc:
        exc.context["submitted"] = placed or list(found.values())
        raise
    return placed


def _submit_new(broker: Broker, order: Order) -> BrokerOrder:
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
    since: datetime | None = None,
    max_poll: float = 10.0,
    backoff: float = 1.5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, BrokerOrder]:
    """Poll until every order is done for the day (final, or no fill before the next session) or ``timeout`` s pass.

    Each poll is **one** list request (``broker.orders(ALL, after=…)``) whatever the number of orders, so
    waiting stays far inside a rate limit such as Alpaca's 200 requests a minute. The list asks for orders
    submitted after ``since`` (the earliest submit time, broker clock) less a minute; without ``since`` the
    first poll reads the newest 500 orders and later polls start from the earliest one found. An id
    missing from a list is looked up by itself once (it may be older); the wait sleeps ``poll`` seconds,
    growing ``backoff``-fold up to ``max_poll``. Returns every order as last seen: check ``.final``
    (those still working must be recorded, then cancelled or picked up by the next run).
    ``clock``/``sleep`` are injectable: with a ``SimulatedBroker`` pass ``sleep=lambda _: broker.process()``.

    Raises:
        BrokerError: an order id is unknown to the broker (404).
        ValidationError: ``poll``/``max_poll``/``backoff`` out of range, or ``since`` naive.
    """
    if poll <= 0 or max_poll < poll or backoff < 1:
        raise ValidationError("need 0 < poll ≤ max_poll and backoff ≥ 1", field="poll",
                              value=(poll, max_poll, backoff))
    if since is not None and since.tzinfo is None:
        raise ValidationError("naive datetime", field="since", fix="pass the earliest submitted_at (aware)")
    wanted = list(dict.fromkeys(client_order_ids))
    if not wanted:
        return {}
    start = clock()
    states: dict[str, BrokerOrder] = {}
    looked_up: set[str] = set()
    after = since - _LIST_MARGIN if since is not None else None
    interval = poll
    while True:
        working = [cid for cid in wanted if cid not in states or not states[cid].status.done_today]
        if after is None:
            rows = broker.orders(OrderQuery.ALL, limit=_NEWEST)
        else:
            rows = broker.orders(OrderQuery.ALL, after=after)
        seen = {o.client_order_id: o for o in rows}
        for cid in working:
            found = seen.get(cid)
            if found is None:
                found = _look_up_once(broker, cid, looked_up, states)
            states[cid] = found
        earliest = min(o.submitted_at for o in states.values())
        if after is None or earliest - _LIST_MARGIN < after:
            after = earliest - _LIST_MARGIN
        if all(o.status.done_today for o in states.values()):
            return {cid: states[cid] for cid in wanted}
        left = timeout - (clock() - start)
        if left <= 0:
            return {cid: states[cid] for cid in wanted}
        sleep(min(interval, left))
        interval = min(interval * backoff, max_poll)


_LIST_MARGIN = timedelta(minutes=1)  # the list starts this long before the earliest submit (clock rounding)
_NEWEST = 500  # Alpaca's largest page: the first poll without ``since`` reads the newest 500 orders


def _look_up_once(broker: Broker, cid: str, looked_up: set[str], states: dict[str, BrokerOrder]) -> BrokerOrder:
    """The order ``cid`` missing from a list: one individual lookup per id, then it counts as unknown (404)."""
    if cid in looked_up:
        raise BrokerError(
            f"order {cid} vanished from the broker's order list after it was found; check it at the broker",
            status=404,
            client_order_id=cid,
        )
    looked_up.add(cid)
    found = broker.order(cid)
    if found is None:
        raise BrokerError(
            f"order {cid} is unknown to the broker; it was never placed (submit it first)",
            status=404,
            client_order_id=cid,
        )
    return found
