"""Domain objects → the API's schemas (shared by the JSON API and the pages, so both show the same numbers).

    household_out(ctx, household)      # HouseholdOut with each account's route
    proposal_detail(ctx, proposal)     # orders with route and status, explanation, binding, tax preview, history
"""

from __future__ import annotations

from decimal import Decimal

from engine.cycle import route_of
from engine.errors import DataError
from engine.model import Household, Proposal, ProposalStatus
from engine.store import AuditEntry, ProposalSummaryRecord
from service.auth import Principal
from service.context import ServiceContext
from service.planning import PlanView, household_plan, prices_on
from service.schemas import (
    AccountOut,
    AuditOut,
    EventOut,
    GoalOut,
    GoalPlanOut,
    HoldingOut,
    HouseholdOut,
    HouseholdSummary,
    LotOut,
    LotsOut,
    MemberOut,
    OrderOut,
    PlanOut,
    ProposalDetail,
    ProposalSummary,
    TargetOut,
    TransitionOut,
    plain,
)

__all__ = [
    "audit_out",
    "holdings_vs_target",
    "household_out",
    "household_summaries",
    "lots_out",
    "plan_out",
    "proposal_detail",
    "proposal_summary",
    "queue",
]

_CENT = Decimal("0.01")


def household_summaries(ctx: ServiceContext, who: Principal, *, limit: int | None = None,
                        offset: int = 0) -> list[HouseholdSummary]:
    """The households ``who`` may see, with firm and the number of proposals awaiting a decision (one query)."""
    return [HouseholdSummary(id=r.id, name=r.name, firm=r.firm, pending_proposals=r.pending)
            for r in ctx.store.summaries.households(who.scope, limit=limit, offset=offset)]


def household_out(ctx: ServiceContext, h: Household) -> HouseholdOut:
    """The household's facts: members, accounts (with route), goals, life events, savings and tax profile."""
    return HouseholdOut(
        id=h.id, name=h.name, firm=ctx.store.users.firm_of(h.id),
        members=[MemberOut(id=m.id, name=m.name, birth_date=m.birth_date, retirement_age=m.retirement_age)
                 for m in h.members],
        accounts=[AccountOut(id=a.id, type=a.type.value, name=a.name or a.id, owner=a.owner, cash=a.cash,
                             broker_account=a.broker_account, route=route_of(a).value) for a in h.accounts],
        goals=[GoalOut(id=g.id, name=g.name or g.id, kind=g.kind.value, target=g.target, target_date=g.target_date,
                       priority=g.priority) for g in h.goals],
        events=[EventOut(id=e.id, kind=e.kind.value, on=e.on, member=e.member, amount=e.amount, applied=e.applied)
                for e in h.events],
        monthly_savings=h.monthly_savings, filing_status=h.tax.filing_status.value, state=h.tax.state,
    )


def lots_out(ctx: ServiceContext, h: Household) -> LotsOut:
    """Open lots at the planning day's prices: market value and unrealized gain per lot (USD, to the cent)."""
    day = ctx.cycle.default_day(h)
    prices = prices_on(ctx.cycle, day)
    lots = []
    for lot in h.lots:
        price = prices.get(lot.symbol)
        value = None if price is None else (lot.shares * price).quantize(_CENT)
        lots.append(LotOut(id=lot.id, account=lot.account, symbol=lot.symbol, shares=lot.shares, basis=lot.basis,
                           acquired=lot.acquired, basis_source=lot.basis_source.value, price=price,
                           market_value=value, unrealized_gain=None if value is None else value - lot.basis))
    return LotsOut(household=h.id, as_of=day, lots=lots)


def plan_out(view: PlanView) -> PlanOut:
    return PlanOut(household=view.household, as_of=view.as_of, paths=view.paths, percentiles=list(view.percentiles),
                   goals=[GoalPlanOut(goal_id=g.goal_id, name=g.name, kind=g.kind, priority=g.priority,
                                      years=round(g.years, 2), wealth=round(g.wealth, 2), target=round(g.target, 2),
                                      funded_ratio=g.funded_ratio, probability=g.probability, gap=round(g.gap, 2),
                                      bands=None if g.bands is None else [list(b) for b in g.bands])
                          for g in view.goals])


def household_plan_out(ctx: ServiceContext, h: Household) -> PlanOut:
    """The household's goal probabilities on the cycle's planning day."""
    return plan_out(household_plan(ctx.cycle, h))


def proposal_summary(p: Proposal | ProposalSummaryRecord) -> ProposalSummary:
    count = p.orders if isinstance(p, ProposalSummaryRecord) else len(p.orders)
    return ProposalSummary(id=p.id, household=p.household, as_of=p.as_of, created=p.created, status=p.status.value,
                           trigger=p.trigger, run_kind=str(getattr(p.run_kind, "value", p.run_kind)),
                           needs_approval=p.needs_approval, approval_reasons=list(p.approval_reasons), orders=count)


def queue(ctx: ServiceContext, who: Principal, status: ProposalStatus | None, household: str | None = None, *,
          limit: int | None = None, offset: int = 0, newest_first: bool = False) -> tuple[list[ProposalSummary], int]:
    """A page of the proposals of the households ``who`` may see (optionally one household, one status) and the
    total count; read from the store's summaries, so no order is loaded."""
    if household is not None:
        ctx.household(who, household)  # 404 for a household not visible
    rows = ctx.store.summaries.proposals(who.scope, status=status, household=household, limit=limit, offset=offset,
                                         newest_first=newest_first)
    total = ctx.store.summaries.count_proposals(who.scope, status=status, household=household)
    return [proposal_summary(p) for p in rows], total


_SHOWN = 0.0005
"""A fund is charted when held or targeted at ≥ 0.05% of the household (the optimizer leaves 1e-13 dust)."""


def holdings_vs_target(ctx: ServiceContext, h: Household, p: Proposal) -> list[HoldingOut]:
    """Per account and fund: the value held now (the household as stored, at the prices of the proposal's day)
    and its share of the household's value, beside the proposal's target share; by account order, then fund.

    Empty when the market data has no prices for the proposal's day (the page then says so).
    """
    try:
        prices = prices_on(ctx.cycle, p.as_of)
    except DataError:
        return []
    held: dict[tuple[str, str], Decimal] = {}
    for lot in h.lots:
        price = prices.get(lot.symbol)
        if price is not None:
            key = (lot.account, lot.symbol)
            held[key] = held.get(key, Decimal(0)) + lot.shares * price
    total = sum(held.values(), Decimal(0)) + sum((a.cash for a in h.accounts), Decimal(0))
    if total <= 0:
        return []
    order = {a.id: i for i, a in enumerate(h.accounts)}
    keys = sorted(set(held) | set(p.targets), key=lambda k: (order.get(k[0], len(order)), k[0], k[1]))
    rows = []
    for account, symbol in keys:
        value = held.get((account, symbol), Decimal(0))
        weight, target = float(value / total), float(p.targets.get((account, symbol), 0.0))
        if weight >= _SHOWN or target >= _SHOWN:
            rows.append(HoldingOut(account=account, symbol=symbol, value=value.quantize(_CENT), weight=weight,
                                   target=target))
    return rows


def proposal_detail(ctx: ServiceContext, p: Proposal) -> ProposalDetail:
    """The proposal with orders (route from the household's account, status from the store), targets,
    explanation, the binding constraints, the tax preview and every status change."""
    h = ctx.store.households.get(p.household)
    accounts = {a.id: a for a in h.accounts}
    status = {r.order.client_order_id: r.status.value for r in ctx.store.orders.for_proposal(p.id)}
    orders = [OrderOut(client_order_id=o.client_order_id, account=o.account, symbol=o.symbol, side=o.side.value,
                       qty=o.qty, notional=o.notional, type=o.type.value,
                       route=route_of(accounts[o.account]).value if o.account in accounts else "unknown",
                       status=status.get(o.client_order_id)) for o in p.orders]
    base = proposal_summary(p).model_dump()
    return ProposalDetail(
        **base,
        explanation=list(p.explanation),
        binding=[str(b) for b in p.details.get("binding", [])],
        order_list=orders,
        targets=[TargetOut(account=a, symbol=s, weight=w) for (a, s), w in sorted(p.targets.items())],
        holdings=holdings_vs_target(ctx, h, p),
        tax_preview=plain(p.tax_preview),
        history=[TransitionOut(from_status=t.from_status.value, to_status=t.to_status.value, actor=t.actor,
                               reason=t.reason, at=t.at) for t in ctx.store.proposals.history(p.id)],
    )


def audit_out(e: AuditEntry) -> AuditOut:
    return AuditOut(seq=e.seq, at=e.at, actor=e.actor, action=e.action, entity=e.entity, entity_id=e.entity_id,
                    household=e.household, before=plain(e.before), after=plain(e.after))


def audit_for(ctx: ServiceContext, who: Principal, household: str | None, limit: int) -> list[AuditOut]:
    """The newest ``limit`` audit entries ``who`` may see (one household, or every visible one), oldest first.
    Entries about no household (users, firms, tokens) are an admin's only."""
    if household is not None:
        ctx.household(who, household)
    return [audit_out(e) for e in ctx.store.summaries.audit(who.scope, household=household, limit=limit)]
