"""The REST API's request and response bodies (pydantic); money and shares are exact decimal strings in JSON.

    ProposalDetail.model_validate(...)         # what GET /api/v1/proposals/{id} returns
    LifeEventIn(kind="child", on="2026-09-01")  # what POST /api/v1/households/{id}/events takes

Schemas describe shapes only; every number comes from the engine (cycle, planner, store) unchanged.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.model import LifeEventKind

__all__ = [
    "AccountOut",
    "AuditOut",
    "DecisionIn",
    "ErrorBody",
    "ErrorOut",
    "EventOut",
    "GoalOut",
    "GoalPlanOut",
    "HoldingOut",
    "HouseholdOut",
    "HouseholdSummary",
    "LifeEventIn",
    "LotOut",
    "LotsOut",
    "MeOut",
    "MemberOut",
    "OrderOut",
    "PlanOut",
    "ProposalDetail",
    "ProposalSummary",
    "SchedulerStatusOut",
    "TargetOut",
    "TransitionOut",
    "WhatIfIn",
    "WhatIfOut",
    "plain",
]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ErrorBody(_Out):
    """An engine error as JSON: its class, message and, where the engine knows them, field, value and fix."""

    type: str = Field(description="the engine error class, e.g. Conflict, NotFound, ValidationError")
    message: str
    field: str | None = None
    value: Any = None
    fix: str | None = None


class ErrorOut(_Out):
    error: ErrorBody


class MeOut(_Out):
    id: str
    name: str
    role: str
    firm: str | None
    households: list[str] | None = Field(
        description="a client's own households (null for advisors and admins: GET /households lists theirs)")


class HouseholdSummary(_Out):
    id: str
    name: str
    firm: str | None
    pending_proposals: int


class MemberOut(_Out):
    id: str
    name: str
    birth_date: date
    retirement_age: int


class AccountOut(_Out):
    id: str
    type: str
    name: str
    owner: str | None
    cash: Decimal = Field(description="USD")
    broker_account: str | None
    route: str = Field(description="broker: the engine trades it; advice: held away, a person places the trades")


class GoalOut(_Out):
    id: str
    name: str
    kind: str
    target: Decimal = Field(description="USD")
    target_date: date
    priority: int


class EventOut(_Out):
    id: str
    kind: str
    on: date
    member: str | None
    amount: Decimal | None
    applied: bool


class HouseholdOut(_Out):
    id: str
    name: str
    firm: str | None
    members: list[MemberOut]
    accounts: list[AccountOut]
    goals: list[GoalOut]
    events: list[EventOut]
    monthly_savings: Decimal
    filing_status: str
    state: str


class LotOut(_Out):
    id: str
    account: str
    symbol: str
    shares: Decimal
    basis: Decimal = Field(description="USD, the whole lot")
    acquired: date
    basis_source: str
    price: Decimal | None = Field(description="USD per share on as_of (null: no price)")
    market_value: Decimal | None = Field(description="USD")
    unrealized_gain: Decimal | None = Field(description="USD; negative: a loss")


class LotsOut(_Out):
    household: str
    as_of: date
    lots: list[LotOut]


class GoalPlanOut(_Out):
    goal_id: str
    name: str
    kind: str
    priority: int
    years: float
    wealth: float = Field(description="USD today assigned to the goal")
    target: float = Field(description="USD today the goal needs")
    funded_ratio: float = Field(description="fraction")
    probability: float = Field(description="fraction of simulated paths meeting the goal")
    gap: float = Field(description="USD today still missing (0 when funded)")
    bands: list[list[float]] | None = Field(
        default=None, description="USD today at each whole year from as_of, at the plan's percentiles (fan chart)")


class PlanOut(_Out):
    household: str
    as_of: date
    paths: int
    percentiles: list[float] = Field(default=[5.0, 25.0, 50.0, 75.0, 95.0], description="of each goal's bands")
    goals: list[GoalPlanOut]


class WhatIfIn(BaseModel):
    changes: list[str] = Field(min_length=1, description="e.g. retire-at=67, part-time=30000, save-more=500:college")
    target_probability: float | None = Field(default=None, gt=0, lt=1)


class WhatIfOut(_Out):
    changes: list[str]
    before: PlanOut
    after: PlanOut
    focus: str
    target_probability: float
    savings_needed: Decimal | None = Field(description="USD/month more for the focus goal to reach the target")
    lines: list[str]


class ProposalSummary(_Out):
    id: str
    household: str
    as_of: date
    created: datetime
    status: str
    trigger: str
    run_kind: str
    needs_approval: bool
    approval_reasons: list[str]
    orders: int


class OrderOut(_Out):
    client_order_id: str
    account: str
    symbol: str
    side: str
    qty: Decimal | None
    notional: Decimal | None = Field(description="USD")
    type: str
    route: str
    status: str | None = Field(description="the stored order's status (new, advised, submitted, filled, ...)")


class HoldingOut(_Out):
    account: str
    symbol: str
    value: Decimal = Field(description="USD held now at the proposal day's prices")
    weight: float = Field(description="held now, fraction of household value")
    target: float = Field(description="the proposal's target, fraction of household value")


class TargetOut(_Out):
    account: str
    symbol: str
    weight: float = Field(description="fraction of household value")


class TransitionOut(_Out):
    from_status: str
    to_status: str
    actor: str
    reason: str
    at: datetime


class ProposalDetail(ProposalSummary):
    explanation: list[str]
    binding: list[str] = Field(description="constraints binding at the optimum, e.g. 'class_bounds:bonds'")
    order_list: list[OrderOut]
    targets: list[TargetOut]
    holdings: list[HoldingOut] = Field(
        description="per account and fund: held now vs the target (the household as stored, at as_of's prices; "
                    "empty when there are no prices for as_of)")
    tax_preview: Any = Field(description="the tax engine's preview of the sells (USD as strings)")
    history: list[TransitionOut]


class DecisionIn(BaseModel):
    reason: str = Field(default="", max_length=2000, description="why (required to reject)")


class LifeEventIn(BaseModel):
    kind: LifeEventKind
    on: date
    member: str | None = None
    amount: Decimal | None = Field(default=None, description="USD (inheritance, new salary, home price, ...)")
    details: dict[str, Any] = Field(default_factory=dict)
    id: str | None = Field(default=None, description="the event's id (default: generated)")


class AuditOut(_Out):
    seq: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    household: str | None
    before: Any
    after: Any


class UpcomingJobOut(_Out):
    job: str
    trading_day: date
    due: datetime = Field(description="when the job is due (aware UTC)")
    until: datetime = Field(description="last start time of the job's window (aware UTC)")


class JobRunOut(_Out):
    job: str
    household: str = Field(description="a household id, or * for a job over every household (market data, ...)")
    trading_day: date
    status: str = Field(description="running, succeeded, failed (retried after a back-off) or gave_up")
    attempt: int
    started: datetime
    error: str | None


class PausedOut(_Out):
    household: str
    at: datetime
    actor: str
    reason: str


class WakeupOut(_Out):
    household: str
    reason: str
    ref: str


class AlertOut(_Out):
    at: datetime
    job: str
    household: str
    trading_day: date
    message: str


class SchedulerStatusOut(_Out):
    """What ``robo schedule status --json`` prints, limited to the households the caller may see."""

    now: datetime
    upcoming: list[UpcomingJobOut]
    recent: list[JobRunOut]
    paused: list[PausedOut]
    wakeups: list[WakeupOut]
    alerts: list[AlertOut]


def plain(value: Any) -> Any:
    """JSON-ready data: Decimal → exact string, date/datetime → ISO 8601, tuples and sets → lists, dataclasses and
    enums → their fields and values (as the store keeps them)."""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}" if value == value.to_integral_value() else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((plain(v) for v in value), key=repr)
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, float) and value != value:
        return None
    return value
