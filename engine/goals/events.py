"""Life events → a new household, a new mandate, and an explanation in plain words and numbers.

    outcome = apply_event(household, LifeEvent(LifeEventKind.CHILD, date(2026, 3, 1)), as_of=date(2026, 3, 2))
    outcome.household, outcome.mandate, outcome.explanation, outcome.needs_approval

Each kind maps through a rule (``config/life_events.yaml``, overridable with ``rules=``) to changes in
goals, cash flows, reserves, accounts, tax profile and risk capacity. Invalid events raise
``PlanningError`` before anything is built, so the household is never half-changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from engine.errors import PlanningError, ValidationError
from engine.goals.config import CapitalMarket, EventRules, GlidePaths, load_event_rules
from engine.goals.mandate import Mandate, build_mandate
from engine.goals.planning import goal_wealth, present_target
from engine.model import (
    AccountType,
    FilingStatus,
    Goal,
    GoalKind,
    Household,
    IncomeStability,
    LifeEvent,
    LifeEventKind,
    Member,
)

__all__ = ["EventOutcome", "apply_event"]


@dataclass(frozen=True, slots=True)
class EventOutcome:
    """The household after the event, its mandate before and after, what changed, and whether a human must approve."""

    event: LifeEvent
    household: Household
    mandate: Mandate
    previous: Mandate
    changes: tuple[str, ...]
    explanation: tuple[str, ...]
    needs_approval: bool
    approval_reasons: tuple[str, ...]


def _m(x: float | Decimal) -> str:
    return f"${float(x):,.0f}"


def _num(details: Mapping[str, Any], key: str, default: Any = None) -> Decimal | None:
    if key not in details or details[key] is None:
        return None if default is None else Decimal(str(default))
    try:
        value = Decimal(str(details[key]))
    except Exception as exc:
        raise PlanningError(f"event detail {key!r} must be a number", value=details[key]) from exc
    if not value.is_finite() or value < 0:
        raise PlanningError(
            f"event detail {key!r} must be a number ≥ 0",
            value=details[key],
            fix="amounts are positive USD; the event kind says the direction",
        )
    return value


def _member(h: Household, ev: LifeEvent, required: bool) -> Member | None:
    if ev.member is None:
        if required:
            raise PlanningError(
                f"a {ev.kind.value} event needs the member it concerns",
                fix=f"pass member= one of: {', '.join(m.id for m in h.members)}",
            )
        return None
    for m in h.members:
        if m.id == ev.member:
            return m
    raise PlanningError(
        f"{ev.kind.value} on {ev.on}: household {h.id} has no member {ev.member!r}",
        fix=f"use one of: {', '.join(m.id for m in h.members)}",
    )


def _set_emergency(h: Household, months: Any, notes: list[str]) -> Household:
    """Raise the reserve to ``months`` (never lower it) and re-base the emergency goal on today's expenses."""
    if months is not None and float(months) > h.emergency_months:
        notes.append(f"emergency reserve raised from {h.emergency_months:g} to {float(months):g} months")
        h = replace(h, emergency_months=float(months))
    goals = []
    for g in h.goals:
        if g.kind is GoalKind.EMERGENCY:
            target = (h.monthly_expenses * Decimal(str(h.emergency_months))).quantize(Decimal(1))
            if target > g.target:
                notes.append(f"emergency fund target {_m(g.target)} → {_m(target)}")
                g = replace(g, target=target)
        goals.append(g)
    return replace(h, goals=tuple(goals))


def _expenses(h: Household, change: Decimal | None, notes: list[str], factor: Decimal | None = None) -> Household:
    new = h.monthly_expenses
    if factor is not None:
        new = (new * factor).quantize(Decimal(1))
    if change:
        new += change
    if new != h.monthly_expenses:
        notes.append(f"monthly expenses {_m(h.monthly_expenses)} → {_m(new)}")
        h = replace(h, monthly_expenses=new)
    return h


def _filing(h: Household, status: Any, notes: list[str]) -> Household:
    if status is None or FilingStatus(status) is h.tax.filing_status:
        return h
    notes.append(f"filing status {h.tax.filing_status.value} → {FilingStatus(status).value}")
    return replace(h, tax=replace(h.tax, filing_status=FilingStatus(status)))


def _set_member(h: Household, member: Member, **changes: Any) -> Household:
    return replace(h, members=tuple(replace(m, **changes) if m.id == member.id else m for m in h.members))


def _income_changed(h: Household, old: Decimal, new: Decimal) -> Household:
    income = max(h.tax.ordinary_income - old + new, Decimal(0))
    return replace(h, tax=replace(h.tax, ordinary_income=income))


def _pick_account(h: Household, details: Mapping[str, Any], types: tuple[AccountType, ...]) -> str:
    if details.get("account"):
        acct = str(details["account"])
        if acct not in {a.id for a in h.accounts}:
            raise PlanningError(
                f"no account {acct!r} in household {h.id}", fix=f"use one of: {', '.join(a.id for a in h.accounts)}"
            )
        return acct
    for t in types:
        for a in h.accounts:
            if a.type is t:
                return a.id
    return h.accounts[0].id


# --- one function per kind: (household, event, rule, as_of, notes) → household ------------------------------

Rule = Mapping[str, Any]


def _marriage(h: Household, ev: LifeEvent, r: Rule, as_of: date, notes: list[str]) -> Household:
    spouse = ev.details.get("spouse")
    if isinstance(spouse, Mapping):
        try:
            m = Member(
                id=str(spouse["id"]),
                name=str(spouse.get("name", spouse["id"])),
                birth_date=_date(spouse["birth_date"]),
                income=spouse.get("income", 0),
                income_stability=spouse.get("income_stability", IncomeStability.STABLE),
            )
        except (KeyError, ValidationError) as exc:
            raise PlanningError(
                f"marriage: invalid spouse details ({exc})", fix="give spouse: {id, name, birth_date, income}"
            ) from exc
        if m.id in {x.id for x in h.members}:
            raise PlanningError(f"marriage: member {m.id!r} already exists", fix="use a new member id")
        h = replace(h, members=(*h.members, m))
        h = _income_changed(h, Decimal(0), m.income)
        notes.append(f"added {m.name} (income {_m(m.income)})")
    h = _filing(h, r.get("filing_status"), notes)
    h = _expenses(h, _num(r, "expenses_change"), notes)
    return _set_emergency(h, r.get("emergency_months"), notes)


def _divorce(h: Household, ev: LifeEvent, r: Rule, as_of: date, notes: list[str]) -> Household:
    leaving = _member(h, ev, required=True)
    if len(h.members) < 2:
        raise PlanningError("divorce: the household has a single member", fix="name the member who leaves")
    keep = Decimal(str(r.get("keep_fraction", 0.5)))
    gone = {a.id for a in h.accounts if a.owner == leaving.id}
    accounts = tuple(a for a in h.accounts if a.id not in gone)
    if not accounts:
        raise PlanningError("divorce: no account would remain", fix="assign an account to the remaining member")
    goals = []
    for g in h.goals:
        accts = tuple(a for a in g.accounts if a not in gone)
        if g.accounts and not accts:
            notes.append(f"goal {g.id} leaves with {leaving.name}'s accounts")
            continue
        goals.append(
            replace(
                g,
                accounts=accts,
                current_savings=(g.current_savings * keep).quantize(Decimal(1)),
                monthly_contribution=(g.monthly_contribution * keep).quantize(Decimal(1)),
            )
        )
    notes.append(f"{leaving.name} leaves with {len(gone)} account(s); shared goal savings and contributions × {keep}")
    h = replace(
        h,
        members=tuple(m for m in h.members if m.id != leaving.id),
        accounts=accounts,
        lots=tuple(lot for lot in h.lots if lot.account not in gone),
        goals=tuple(goals),
        monthly_savings=(h.monthly_savings * keep).quantize(Decimal(1)),
    )
    h = _income_changed(h, leaving.income, Decimal(0))
    h = _filing(h, r.get("filing_status"), notes)
    return _set_emergency(h, r.get("emergency_months"), notes)


def _fund_new_goal(h: Household, goal: Goal, notes: list[str]) -> Household:
    """Add ``goal``; its monthly savings come out of the household's planned savings, not on top of them.

    First the savings no goal uses yet (``monthly_savings`` − contributions); then the goals of lower
    priority (larger number), least important first; then the rest pro rata to their contributions.
    """
    need = goal.monthly_contribution
    used = sum((g.monthly_contribution for g in h.goals), Decimal(0))
    free = max(h.monthly_savings - used, Decimal(0))
    need -= min(free, need)
    goals = list(h.goals)
    if need > 0:
        order = sorted(
            (i for i, g in enumerate(goals) if g.monthly_contribution > 0 and g.priority > goal.priority),
            key=lambda i: (-goals[i].priority, goals[i].target_date),
        )
        for i in order:
            if need <= 0:
                break
            g = goals[i]
            take = min(g.monthly_contribution, need)
            goals[i] = replace(g, monthly_contribution=g.monthly_contribution - take)
            need -= take
            notes.append(f"{g.name or g.id} contributions {_m(g.monthly_contribution)} → "
                         f"{_m(g.monthly_contribution - take)}/month (moved to {goal.name or goal.id})")
    if need > 0:
        rest = [i for i, g in enumerate(goals) if goals[i].monthly_contribution > 0]
        pool = sum((goals[i].monthly_contribution for i in rest), Decimal(0))
        if pool > 0:
            left = need
            for k, i in enumerate(rest):
                g = goals[i]
                take = left if k == len(rest) - 1 else min(
                    (need * g.monthly_contribution / pool).quantize(Decimal(1)), left
                )
                take = min(take, g.monthly_contribution)
                goals[i] = replace(g, monthly_contribution=g.monthly_contribution - take)
                left -= take
                notes.append(f"{g.name or g.id} contributions {_m(g.monthly_contribution)} → "
                             f"{_m(g.monthly_contribution - take)}/month (moved to {goal.name or goal.id})")
            need = left
    if need > 0:
        notes.append(f"{_m(need)}/month of {goal.name or goal.id} is new saving beyond the planned savings")
        h = replace(h, monthly_savings=h.monthly_savings + need)
    return replace(h, goals=(*goals, goal))


def _child(h: Household, ev: LifeEvent, r: Rule, as_of: date, notes: list[str]) -> Household:
    if ev.member is not None:
        _member(h, ev, required=False)
    target = _num(ev.details, "education_target") or _num(r, "education_target", 120000)
    years = int(ev.details.get("education_years", r.get("education_years", 18)))
    due = date(ev.on.year + years, 9, 1)
    monthly = _num(ev.details, "education_contribution") or _num(r, "education_contribution", 0)
    account = _pick_account(h, ev.details, (AccountType.PLAN_529, AccountType.TAXABLE))
    n = 1 + sum(g.kind is GoalKind.EDUCATION for g in h.goals)
    gid = str(ev.details.get("goal_id", f"education_{ev.on.year}" if n > 1 else "education"))
    while gid in {g.id for g in h.goals}:
        gid += "_b"
    goal = Goal(
        id=gid,
        kind=GoalKind.EDUCATION,
        target=target,
        target_date=due,
        name=f"Education (child born {ev.on})",
        priority=int(r.get("education_priority", 3)),
        accounts=(account,),
        monthly_contribution=monthly,
        flexibility=float(r.get("education_flexibility", 0.7)),
    )
    acct = next(a for a in h.accounts if a.id == account)
    notes.append(
        f"added Education goal {_m(target)} (today's dollars) for {due.year}, funded from the "
        f"{acct.type.value} account {account} at {_m(monthly)}/month"
    )
    h = _fund_new_goal(h, goal, notes)
    if h.tax.filing_status is FilingStatus.SINGLE and r.get("filing_status_if_single"):
        h = _filing(h, r["filing_status_if_single"], notes)
    h = _expenses(h, _num(r, "expenses_change"), notes)
    return _set_emergency(h, r.get("emergency_months"), notes)


def _new_job(h: Household, ev: LifeEvent, r: Rule, as_of: date, notes: list[str]) -> Household:
    m = _member(h, ev, required=True)
    if ev.amount is None:
        raise PlanningError("new_job needs amount= the new gross annual salary (USD)")
    raise_ = ev.amount - m.income
    stability = ev.details.get("income_stability", IncomeStability.STABLE)
    h = _set_member(h, m, income=ev.amount, income_stability=IncomeStability(stability))
    h = _income_changed(h, m.income, ev.amount)
    notes.append(f"{m.name}'s income {_m(m.income)} → {_m(ev.amount)}")
    if raise_ > 0:
        extra = (raise_ / 12 * Decimal(str(r.get("savings_share_of_raise", 0.25)))).quantize(Decimal(1))
        if extra > 0:
            h = _add_retirement_savings(h, extra, notes)
    return h


def _add_retirement_savings(h: Household, extra: Decimal, notes: list[str]) -> Household:
    goals = list(h.goals)
    target = next(
        (i for i, g in sorted(enumerate(goals), key=lambda x: x[1].priority) if g.kind is GoalKind.RETIREMENT), None
    )
    if target is not None:
        g = goals[target]
        goals[target] = replace(g, monthly_contribution=g.monthly_contribution + extra)
        notes.append(
            f"{g.name or g.id} contributions {_m(g.monthly_contribution)} → {_m(g.monthly_contribution + extra)}/month"
        )
    notes.append(f"planned savings {_m(h.monthly_savings)} → {_m(h.monthly_savings + extra)}/month")
    return replace(h, goals=tuple(goals), monthly_savings=h.monthly_savings + extra)


def _job_loss(h: Household, ev: LifeEvent, r: Rule, as_of: date, notes: list[str]) -> Household:
    m = _member(h, ev, required=True)
    h = _set_member(h, m, income=Decimal(0), income_stability=IncomeStability(r.get("income_stability", "none")))
    h = _income_changed(h, m.income, Decimal(0))
    notes.append(f"{m.name}'s income {_m(m.income)} → $0")
    if r.get("pause_contributions", True):
        owned = {a.id for a in h.accounts if a.owner == m.id}
        shared = len(h.members) > 1
        goals = []
        stopped = Decimal(0)
        for g in h.goals:
            # A sole earner (or a household left without income) pauses every goal; otherwise the share of
            # each goal's contribution that goes into this member's own accounts (contributions are split
            # evenly over a goal's accounts, as the mandate's cash flows are) stops.
            if g.monthly_contribution > 0:
                if not shared or sum(x.income for x in h.members) == 0:
                    cut = g.monthly_contribution
                elif g.accounts:
                    mine = sum(a in owned for a in g.accounts)
                    cut = (g.monthly_contribution * mine / len(g.accounts)).quantize(Decimal("0.01"))
                else:
                    cut = Decimal(0)
                if cut > 0:
                    what = "paused" if cut == g.monthly_contribution else f"{m.name}'s share stops"
                    notes.append(
                        f"contributions to {g.name or g.id} {_m(g.monthly_contribution)} → "
                        f"{_m(g.monthly_contribution - cut)}/month ({what})"
                    )
                    g = replace(g, monthly_contribution=g.monthly_contribution - cut)
                    stopped += cut
            goals.append(g)
        h = replace(h, goals=tuple(goals), monthly_savings=max(h.monthly_savings - stopped, Decimal(0)))
    return _set_emergency(h, r.get("emergency_months"), notes)


def _inheritance(h: Household, ev: LifeEvent, r: Rule, as_of: date, notes: list[str]) -> Household:
    if ev.amount is None or ev.amount <= 0:
        raise PlanningError("inheritance needs amount= the USD received (> 0)")
    default = AccountType(r.get("default_account", "taxable"))
    account = _pick_account(h, ev.details, (default, AccountType.TAXABLE))
    wealth = goal_wealth(h)  # before the deposit: the new cash must not count as every goal's wealth already
    h = replace(h, accounts=tuple(replace(a, cash=a.cash + ev.amount) if a.id == account else a for a in h.accounts))
    notes.append(f"{_m(ev.amount)} deposited in {account}")
    left = ev.amount
    goals = list(h.goals)
    if r.get("top_up_goals", True):
        for i, g in sorted(enumerate(goals), key=lambda x: (x[1].priority, x[1].target_date)):
            if account not in g.accounts or left <= 0:
                continue
            gap = Decimal(str(round(max(present_target(g) - wealth[g.id], 0.0))))
            give = min(gap, left)
            if give > 0:
                goals[i] = replace(g, current_savings=Decimal(str(round(wealth[g.id]))) + give)
                left -= give
                notes.append(f"{_m(give)} toward {g.name or g.id}")
    if left > 0:
        existing = next((i for i, g in enumerate(goals) if g.kind is GoalKind.WEALTH), None)
        if existing is not None:
            g = goals[existing]
            goals[existing] = replace(g, current_savings=g.current_savings + left, accounts=g.accounts or (account,))
        else:
            goals.append(
                Goal(
                    id="wealth",
                    kind=GoalKind.WEALTH,
                    name="General wealth",
                    target=left,
                    target_date=date(as_of.year + 10, as_of.month, 1),
                    priority=5,
                    accounts=(account,),
                    current_savings=left,
                    flexibility=0.5,
                )
            )
        notes.append(f"{_m(left)} to general wealth")
    return replace(h, goals=tuple(goals))


def _home_purchase(h: Household, ev: LifeEvent, r: Rule, as_of: date, notes: list[str]) -> Household:
    home = [g for g in h.goals if g.kind is GoalKind.HOME]
    if home:
        g = home[0]
        down = _num(ev.details, "down_payment") or Decimal(str(round(goal_wealth(h)[g.id])))
        notes.append(f"{g.name or g.id} reached: {_m(down)} down payment withdrawn; goal closed")
        h = replace(h, goals=tuple(x for x in h.goals if x.id != g.id))
        if g.monthly_contribution > 0:
            notes.append(f"its {_m(g.monthly_contribution)}/month now goes to the mortgage")
    pay = _num(ev.details, "monthly_payment")
    h = _expenses(h, pay if pay is not None else _num(r, "expenses_change"), notes)
    return _set_emergency(h, r.get("emergency_months"), notes)


def _retirement(h: Household, ev: LifeEvent, r: Rule, as_of: date, notes: list[str]) -> Household:
    m = _member(h, ev, required=True)
    h = _set_member(h, m, income=Decimal(0), income_stability=IncomeStability(r.get("income_stability", "none")))
    h = _income_changed(h, m.income, Decimal(0))
    notes.append(f"{m.name} retires; income {_m(m.income)} → $0")
    goals = []
    owned = {a.id for a in h.accounts if a.owner == m.id}
    for g in h.goals:
        if g.kind is GoalKind.RETIREMENT and (not g.accounts or set(g.accounts) & owned):
            years = g.years or 30
            if ev.on < g.target_date:
                years = min(60, years + round((g.target_date - ev.on).days / 365.25))
            notes.append(f"{g.name or g.id}: withdrawals start {ev.on} (was {g.target_date}), contributions stop")
            g = replace(g, target_date=ev.on, years=years, monthly_contribution=Decimal(0))
        goals.append(g)
    h = replace(h, goals=tuple(goals))
    return _set_emergency(h, r.get("emergency_months"), notes)


def _relocation(h: Household, ev: LifeEvent, r: Rule, as_of: date, notes: list[str]) -> Household:
    if "state" not in ev.details or "state_rate" not in ev.details:
        raise PlanningError(
            "relocation needs details state and state_rate", fix='details={"state": "TX", "state_rate": 0}'
        )
    rate = _num(ev.details, "state_rate")
    if rate is None or rate > Decimal("0.2"):
        raise PlanningError("state_rate must be a fraction in [0, 0.2]", value=ev.details["state_rate"])
    state = str(ev.details["state"]).upper()
    notes.append(f"state {h.tax.state or '—'} {h.tax.state_rate:.2%} → {state} {float(rate):.2%}")
    return replace(h, tax=replace(h.tax, state=state, state_rate=float(rate)))


def _death_of_spouse(h: Household, ev: LifeEvent, r: Rule, as_of: date, notes: list[str]) -> Household:
    m = _member(h, ev, required=True)
    if len(h.members) < 2:
        raise PlanningError(
            "death_of_spouse: the household has a single member", fix="record the estate outside this household"
        )
    heir = next(x for x in h.members if x.id != m.id)
    accounts = tuple(replace(a, owner=heir.id) if a.owner == m.id else a for a in h.accounts)
    moved = sum(a.owner == m.id for a in h.accounts)
    notes.append(f"{m.name} died; {moved} account(s) pass to {heir.name} (spousal rollover)")
    h = replace(h, members=tuple(x for x in h.members if x.id != m.id), accounts=accounts)
    h = _income_changed(h, m.income, Decimal(0))
    insurance = ev.amount or _num(ev.details, "life_insurance")
    h = _filing(h, r.get("filing_status"), notes)
    h = _expenses(h, None, notes, factor=Decimal(str(r.get("expenses_factor", 1.0))))
    h = _set_emergency(h, r.get("emergency_months"), notes)
    if insurance:
        h = _inheritance(h, replace(ev, amount=insurance), {"top_up_goals": True}, as_of, notes)
    return h


def _disability(h: Household, ev: LifeEvent, r: Rule, as_of: date, notes: list[str]) -> Household:
    m = _member(h, ev, required=True)
    new = (m.income * Decimal(str(r.get("income_replacement", 0.6)))).quantize(Decimal(1))
    h = _set_member(h, m, income=new, income_stability=IncomeStability(r.get("income_stability", "unstable")))
    h = _income_changed(h, m.income, new)
    notes.append(f"{m.name}'s income {_m(m.income)} → {_m(new)} (disability insurance)")
    h = _expenses(h, _num(r, "expenses_change"), notes)
    return _set_emergency(h, r.get("emergency_months"), notes)


_RULES: dict[LifeEventKind, Callable[[Household, LifeEvent, Rule, date, list[str]], Household]] = {
    LifeEventKind.MARRIAGE: _marriage,
    LifeEventKind.DIVORCE: _divorce,
    LifeEventKind.CHILD: _child,
    LifeEventKind.NEW_JOB: _new_job,
    LifeEventKind.JOB_LOSS: _job_loss,
    LifeEventKind.INHERITANCE: _inheritance,
    LifeEventKind.HOME_PURCHASE: _home_purchase,
    LifeEventKind.RETIREMENT: _retirement,
    LifeEventKind.RELOCATION: _relocation,
    LifeEventKind.DEATH_OF_SPOUSE: _death_of_spouse,
    LifeEventKind.DISABILITY: _disability,
}

_TITLE = {
    LifeEventKind.CHILD: "Birth",
    LifeEventKind.NEW_JOB: "New job",
    LifeEventKind.JOB_LOSS: "Job loss",
    LifeEventKind.HOME_PURCHASE: "Home purchase",
    LifeEventKind.DEATH_OF_SPOUSE: "Death of a spouse",
}


def _date(value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise PlanningError("dates must be YYYY-MM-DD", value=value) from exc


def _validate(h: Household, ev: LifeEvent, as_of: date) -> None:
    earliest = min(m.birth_date for m in h.members)
    if ev.on < earliest:
        raise PlanningError(
            f"{ev.kind.value} on {ev.on} is before the household existed (earliest birth {earliest})",
            fix="check the event date",
        )
    for key, value in ev.details.items():
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool) and value < 0:
            raise PlanningError(
                f"event detail {key!r} must be ≥ 0",
                value=value,
                fix="amounts are positive USD; the event kind says the direction",
            )
    if ev.member is not None:
        _member(h, ev, required=False)


def apply_event(
    household: Household,
    event: LifeEvent,
    as_of: date | None = None,
    *,
    rules: EventRules | None = None,
    capital_market: CapitalMarket | None = None,
    glide: GlidePaths | None = None,
    account_values: Mapping[str, Decimal] | None = None,
    previous: Mandate | None = None,
    paths: int | None = None,
    seed: int | None = None,
) -> EventOutcome:
    """Apply ``event`` through its rule; return the new household and mandate with the explanation.

    ``as_of`` (default: the event's date) is the planning day; both mandates use the same seed, so
    the probability changes are the event's, not noise. Critical events always need approval.

    Raises:
        PlanningError: date before the household existed, unknown member, negative amounts, missing
            details, or a goal that would fall due before ``as_of``; nothing is changed.
    """
    as_of = as_of or event.on
    rules = rules or load_event_rules()
    _validate(household, event, as_of)
    notes: list[str] = []
    try:
        new = _RULES[event.kind](household, event, rules.rule(event.kind), as_of, notes)
        new = replace(new, events=(*new.events, event))
    except ValidationError as exc:
        raise PlanningError(
            f"{event.kind.value} on {event.on}: {exc.reason}", fix=exc.fix or "check the event details", field=exc.field
        ) from exc
    for g in new.goals:
        if g.kind is not GoalKind.RETIREMENT and g.target_date <= as_of and g not in household.goals:
            raise PlanningError(
                f"{event.kind.value} on {event.on} creates goal {g.id} due {g.target_date}, which is not after {as_of}",
                fix="check the event date or the rule's years",
            )
    kw = dict(
        capital_market=capital_market, glide=glide, rules=rules, account_values=account_values, paths=paths, seed=seed
    )
    before = previous or build_mandate(household, as_of, **kw)
    critical = (f"{event.kind.value} is a critical event: a human must approve",) if event.kind.critical else ()
    after = build_mandate(new, as_of, previous=before, extra_reasons=critical, **kw)
    summary = [f"{_TITLE.get(event.kind, event.kind.value.replace('_', ' ').capitalize())} on {event.on}"]
    summary[0] += ": " + "; ".join(notes) if notes else ": no change to the plan's inputs"
    for s in after.goal_sleeves:
        old = before.sleeve(s.goal_id)
        if old is not None and s.kind is GoalKind.RETIREMENT:
            summary.append(f"retirement probability {old.probability:.0%} → {s.probability:.0%}")
    summary.append(f"strategic equity share {before.equity_share:.0%} → {after.equity_share:.0%}")
    if after.liquidity_reserve != before.liquidity_reserve:
        summary.append(f"liquidity reserve {_m(before.liquidity_reserve)} → {_m(after.liquidity_reserve)}")
    if after.risk_level != before.risk_level:
        summary.append(f"risk level {before.risk_level} → {after.risk_level} (bound by {after.risk_bound.value})")
    line = summary[0] + ("; " + "; ".join(summary[1:]) if len(summary) > 1 else "")
    explanation = (line, *after.explanation)
    after = replace(after, explanation=explanation)
    return EventOutcome(
        event, new, after, before, tuple(notes), explanation, after.needs_approval, after.approval_reasons
    )
