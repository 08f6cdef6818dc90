"""Frozen records the store hands out besides the domain objects: audit entries, runs, order states.

    entry = store.audit.list(household="rivera")[-1]
    entry.action, entry.actor, entry.at          # 'proposal.transition', 'alex', aware UTC datetime
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from engine.model import PROPOSAL_TRANSITIONS, Order, ProposalStatus

__all__ = [
    "ORDER_TRANSITIONS",
    "PROPOSAL_TRANSITIONS",
    "AuditEntry",
    "OrderRecord",
    "OrderStatus",
    "ProposalTransition",
    "RunRecord",
    "RunStatus",
]


class OrderStatus(StrEnum):
    """Life cycle of a stored order: new → submitted → partially_filled → filled (or canceled/rejected/expired)."""

    NEW = "new"
    ADVISED = "advised"  # a held-away account's order, shown to the person who places it by hand
    SUBMITTED = "submitted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def terminal(self) -> bool:
        """No further change is allowed from this status."""
        return not ORDER_TRANSITIONS[self]


ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.NEW: frozenset({OrderStatus.SUBMITTED, OrderStatus.ADVISED, OrderStatus.CANCELED,
                                OrderStatus.REJECTED}),
    OrderStatus.ADVISED: frozenset({OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELED}),
    OrderStatus.SUBMITTED: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.REJECTED,
            OrderStatus.EXPIRED,
        }
    ),
    OrderStatus.PARTIALLY_FILLED: frozenset(
        {OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED}
    ),
    OrderStatus.FILLED: frozenset(),
    OrderStatus.CANCELED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
}

class RunStatus(StrEnum):
    """Life cycle of a run record."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """A stored order with its proposal and current status; ``updated`` is aware UTC."""

    order: Order
    proposal_id: str
    status: OrderStatus
    updated: datetime


@dataclass(frozen=True, slots=True)
class ProposalTransition:
    """One status change of a proposal: who moved it, why and when (aware UTC)."""

    proposal_id: str
    from_status: ProposalStatus
    to_status: ProposalStatus
    actor: str
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A run and its provenance: ``config`` with its SHA-256 ``config_hash`` and the ``package_version``."""

    id: str
    kind: str
    household: str | None
    config: dict[str, Any]
    config_hash: str
    package_version: str
    started: datetime
    finished: datetime | None
    status: RunStatus
    summary: Any


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One append-only audit entry: who did what to which entity, when, with the JSON before and after."""

    seq: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    household: str | None
    before: Any
    after: Any
