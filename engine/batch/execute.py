"""Executing a batch's proposals, each household through its own broker, in the process that holds the store.

    result = run_batch(households, as_of, BatchOptions(store=store, execute=True, rails=rails_for(),
                                                       broker_for=lambda h: brokers[h.id]))
    [(e.household, e.status.value, e.fills) for e in result.executions.values()]

Workers only plan. Executing needs the store (proposal transitions, orders, fills) and the household's
broker connection, so it runs where ``run_batch`` was called, after the proposals are saved: household
after household, or ``threads`` at a time for brokers that wait on the network. A proposal that needs
approval is left ``proposed`` for a human (``robo approve``; the scheduler's execute_approved job then
runs it). One household's broker error or unexpected exception is recorded and the batch goes on. What
filled is booked in the household's ledger and, with a store, its lots and cash are saved as they stand
after trading, so the next night plans from the trades.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from engine.model import Household, ProposalStatus

if TYPE_CHECKING:

    from engine.batch.types import HouseholdOutcome
    from engine.model.broker import Broker
    from engine.store import Store

__all__ = ["BrokerFactory", "ExecutionOutcome", "ExecutionStatus", "execute_planned"]

log = logging.getLogger("engine.batch")

BrokerFactory = Callable[[Household], "Broker"]
"""Gives the broker that holds a household's accounts (a ``SimulatedBroker``, a ``GuardedBroker``, ...)."""


class ExecutionStatus(StrEnum):
    """What became of one household's proposal when the batch executed."""

    EXECUTED = "executed"  # every order filled
    PARTIALLY_EXECUTED = "partially_executed"  # some orders filled, some did not (errors or not filled in time)
    FAILED = "failed"  # the broker refused or failed; nothing filled
    AWAITING_APPROVAL = "awaiting_approval"  # left proposed for a human (big change, first run, ...)
    NO_ORDERS = "no_orders"  # nothing to trade
    ERROR = "error"  # an unexpected exception (a bug, or a broker that could not be built): report it


_FROM_PROPOSAL = {
    ProposalStatus.EXECUTED: ExecutionStatus.EXECUTED,
    ProposalStatus.PARTIALLY_EXECUTED: ExecutionStatus.PARTIALLY_EXECUTED,
    ProposalStatus.FAILED: ExecutionStatus.FAILED,
}


@dataclass(frozen=True, slots=True)
class ExecutionOutcome:
    """One household's execution: status, orders placed, fills booked, reconciliation differences, errors."""

    household: str
    proposal: str
    status: ExecutionStatus
    orders: int = 0
    fills: int = 0
    discrepancies: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when nothing went wrong: executed and reconciled, awaiting approval, or nothing to trade."""
        good = (ExecutionStatus.EXECUTED, ExecutionStatus.AWAITING_APPROVAL, ExecutionStatus.NO_ORDERS)
        return self.status in good and not self.discrepancies and not self.errors

    def summary(self) -> dict[str, object]:
        """A JSON-able line for the run record."""
        row: dict[str, object] = {"status": self.status.value, "orders": self.orders, "fills": self.fills,
                                  "seconds": round(self.seconds, 4)}
        if self.discrepancies:
            row["discrepancies"] = list(self.discrepancies)
        if self.errors:
            row["errors"] = list(self.errors)
        return row


def execute_planned(
    outcomes: Sequence[HouseholdOutcome],
    households: Mapping[str, Household],
    engine: Any,
    broker_for: BrokerFactory,
    *,
    store: Store | None = None,
    threads: int = 1,
    on_done: Callable[[ExecutionOutcome], None] | None = None,
) -> dict[str, ExecutionOutcome]:
    """Execute every planned proposal of ``outcomes`` through ``engine`` (the one ``engine.cycle.Cycle``).

    Returns one outcome per household that has a proposal, by household id; ``on_done`` sees each as it ends.
    """
    planned = [o for o in outcomes if o.proposal is not None]
    if planned:
        engine.planner.day(planned[0].proposal.as_of)  # warm the day's cache once, before any thread reads it

    def one(outcome: HouseholdOutcome) -> ExecutionOutcome:
        result = _execute_one(outcome, households[outcome.household], engine, broker_for, store)
        if on_done is not None:
            on_done(result)
        return result

    if threads <= 1:
        done = [one(o) for o in planned]
    else:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="robo-execute") as pool:
            done = list(pool.map(one, planned))
    return {e.household: e for e in done}


def _execute_one(
    outcome: HouseholdOutcome, household: Household, engine: Any, broker_for: BrokerFactory, store: Store | None
) -> ExecutionOutcome:
    proposal = outcome.proposal
    assert proposal is not None
    start = time.perf_counter()
    if proposal.needs_approval:
        return ExecutionOutcome(household.id, proposal.id, ExecutionStatus.AWAITING_APPROVAL)
    if not proposal.orders:
        return ExecutionOutcome(household.id, proposal.id, ExecutionStatus.NO_ORDERS)
    try:
        # the one cycle: rails, routes (held-away accounts advised), fills booked, holdings saved, audit
        report = engine.execute(proposal, brokers=broker_for(household), household=household, actor="batch")
    except Exception as exc:  # one household's failure never stops the batch
        log.error("batch execution of %s failed: %s: %s", proposal.id, type(exc).__name__, exc,
                  extra={"household": household.id, "proposal": proposal.id})
        errors = [f"{type(exc).__name__}: {exc}; run robo sync {household.id} to book what filled"]
        return ExecutionOutcome(household.id, proposal.id, ExecutionStatus.ERROR, errors=tuple(errors),
                                seconds=time.perf_counter() - start)
    errors = list(report.errors)
    return ExecutionOutcome(
        household.id,
        proposal.id,
        _FROM_PROPOSAL.get(report.status, ExecutionStatus.ERROR),
        orders=len(report.submitted),
        fills=len(report.fills),
        discrepancies=tuple(str(d) for d in report.discrepancies),
        errors=tuple(errors),
        seconds=time.perf_counter() - start,
    )
