"""Goal planning: each goal's sleeve (wealth, contributions, withdrawals, glide path), the household plan, what-ifs.

    plan = plan_household(household, date(2026, 3, 2))           # Monte Carlo of every goal, jointly
    result = what_if(household, date(2026, 3, 2), [parse_what_if("retire-at=60")])

Money is today's (real) USD; wealth toward a goal is its ``current_savings`` or, when that is 0, its
share of the value of its accounts not claimed by other goals (``account_values``; default: cash plus
lot cost basis, i.e. book value, since this room sees no prices).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum

import numpy as np

from engine.errors import PlanningError
from engine.goals.config import (
    CapitalMarket,
    EventRules,
    GlidePaths,
    load_capital_market,
    load_event_rules,
    load_glide_paths,
)
from engine.goals.montecarlo import PERCENTILES, Composites, Shock, Sleeve, composites, simulate
from engine.model import CLAIM_AGE, RETIREMENT_AGE, Goal, GoalKind, Household

__all__ = [
    "GoalForecast",
    "Plan",
    "Scenario",
    "WhatIf",
    "WhatIfKind",
    "WhatIfResult",
    "account_values_at_market",
    "account_values_from_book",
    "goal_sleeve",
    "goal_target",
    "goal_wealth",
    "is_active",
    "months_between",
    "parse_what_if",
    "plan_household",
    "present_target",
    "retirement_spec",
    "savings_needed",
    "what_if",
]


def months_between(start: date, end: date) -> int:
    """Whole months from ``start`` to ``end`` (rounded to the nearest month; negative if end is earlier)."""
    return round((end - start).days / 30.436875)


def account_values_from_book(household: Household) -> dict[str, Decimal]:
    """Book value per account, USD: cash plus the cost basis of its lots (a stand-in when no prices are given)."""
    out = {a.id: a.cash for a in household.accounts}
    for lot in household.lots:
        out[lot.account] += lot.basis
    return out


def goal_wealth(household: Household, account_values: Mapping[str, Decimal] | None = None) -> dict[str, float]:
    """USD toward each goal: its ``current_savings``, else an equal share of its accounts' unclaimed value."""
    values = {k: float(v) for k, v in (account_values or account_values_from_book(household)).items()}
    claimed: dict[str, float] = {}
    sharing: dict[str, int] = {}
    for g in household.goals:
        for a in g.accounts:
            if g.current_savings > 0:
                claimed[a] = claimed.get(a, 0.0) + float(g.current_savings) / len(g.accounts)
            else:
                sharing[a] = sharing.get(a, 0) + 1
    out: dict[str, float] = {}
    for g in household.goals:
        if g.current_savings > 0 or not g.accounts:
            out[g.id] = float(g.current_savings)
            continue
        out[g.id] = sum(max(values.get(a, 0.0) - claimed.get(a, 0.0), 0.0) / sharing[a] for a in g.accounts)
    return out


def is_active(goal: Goal, as_of: date) -> bool:
    """False once a goal has fallen due (retirement: once its income years have ended) — it is no longer planned."""
    months = months_between(as_of, goal.target_date)
    _, draw = _drawdown(goal)
    return months + draw >= 1 if draw else months >= 1


def _drawdown(goal: Goal) -> tuple[float, int]:
    """(USD per month withdrawn, months) for a retirement goal; (0, 0) otherwise."""
    if goal.kind is not GoalKind.RETIREMENT:
        return 0.0, 0
    years = goal.years or 30
    annual = float(goal.annual_income) if goal.annual_income is not None else float(goal.target) / years
    return annual / 12.0, 12 * years


def present_target(goal: Goal, real_rate: float = 0.03) -> float:
    """The goal's target in today's USD at its date; for retirement the present value of the income at ``real_rate``."""
    monthly, months = _drawdown(goal)
    if months == 0:
        return float(goal.target)
    if goal.annual_income is None:
        return float(goal.target)
    r = (1 + real_rate) ** (1 / 12) - 1
    return monthly * (months if r == 0 else (1 - (1 + r) ** -months) / r)


@dataclass(frozen=True, slots=True)
class Scenario:
    """Adjustments a what-if applies at the sleeve level.

    ``extra_monthly`` USD/month added per goal id; ``part_time`` (USD/year, years) reduces retirement
    withdrawals at its start; ``shock`` is a market crash; ``claim_age``, ``spending_factor``,
    ``roth_conversion`` and ``guardrails`` change the retirement simulation (``engine.goals.retirement``).
    """

    extra_monthly: Mapping[str, float] = field(default_factory=dict)
    part_time: tuple[float, int] | None = None
    shock: Shock | None = None
    claim_age: Mapping[str, float] = field(default_factory=dict)  # member id ("*": everyone) → claiming age
    spending_factor: float = 1.0  # retirement spending × this
    roth_conversion: tuple[float, int] | None = None  # USD/year converted for N years from retirement
    guardrails: bool | None = None  # None: the goal's own setting


def goal_sleeve(
    goal: Goal,
    as_of: date,
    wealth: float,
    glide: GlidePaths,
    *,
    equity_now: float | None = None,
    equity_cap: float = 1.0,
    scenario: Scenario | None = None,
) -> Sleeve:
    """The goal as a monthly ``Sleeve``: contributions until its date, withdrawals after (retirement).

    ``equity_now`` tilts the glide path (the tilt is kept, clipped to [0, ``equity_cap``]).

    Raises:
        PlanningError: the goal's date (for retirement: the end of its income) is not after ``as_of``.
    """
    scenario = scenario or Scenario()
    acc = months_between(as_of, goal.target_date)
    monthly_w, draw = _drawdown(goal)
    if draw:
        if acc + draw < 1:
            raise PlanningError(
                f"goal {goal.id}: its income ended before {as_of}; remove it or extend its years", goal=goal.id
            )
        elapsed = max(-acc, 0)
        acc = max(acc, 0)
        draw -= elapsed
    elif acc < 1:
        raise PlanningError(
            f"goal {goal.id} is due on {goal.target_date}, not after {as_of}; remove it or move its date",
            goal=goal.id,
            fix="move target_date at least a month after as_of",
        )
    months = acc + draw
    eq, ca = _glide_shares(glide, goal.kind, acc, months, equity_now, equity_cap)
    contrib = np.zeros(months)
    contrib[:acc] = float(goal.monthly_contribution) + scenario.extra_monthly.get(goal.id, 0.0)
    withdraw = np.zeros(months)
    withdraw[acc:] = monthly_w
    if draw and scenario.part_time:
        income, years = scenario.part_time
        end = min(months, acc + 12 * years)
        withdraw[acc:end] = np.maximum(withdraw[acc:end] - income / 12.0, 0.0)
    target = 0.0 if draw else float(goal.target)
    return Sleeve(
        start=max(wealth, 0.0),
        contributions=contrib,
        equity=eq,
        withdrawals=withdraw,
        cash=ca,
        target=target,
        flexibility=goal.flexibility,
        name=goal.id,
    )


# ---------------------------------------------------------------------------------------------
# Market values and the retirement simulation's inputs
# ---------------------------------------------------------------------------------------------


def account_values_at_market(household: Household, as_of: date, market: object | None = None) -> dict[str, Decimal]:
    """Market value per account on ``as_of``, USD: cash plus each lot's shares × the close on or before that day.

    ``market`` is an ``engine.data.MarketData`` (default: the embedded prices, offline). A lot whose fund
    has no price on or before ``as_of`` keeps its cost basis (named in ``market_value_gaps``).
    """

    data = market if market is not None else _embedded_market()
    out = {a.id: a.cash for a in household.accounts}
    for lot in household.lots:
        try:
            price = Decimal(str(round(data.price(lot.symbol, as_of), 6)))  # type: ignore[attr-defined]
            out[lot.account] += (lot.shares * price).quantize(Decimal("0.01"))
        except Exception:  # unknown ticker or no price yet: book value stands in
            out[lot.account] += lot.basis
    return out


_MARKET: list[object] = []


def _embedded_market() -> object:
    from engine.data import MarketData

    if not _MARKET:
        _MARKET.append(MarketData.embedded())
    return _MARKET[0]


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 + months, 12)
    return date(y, m + 1, min(d.day, 28))


def _plan_year(months_from_now: int) -> int:
    """The plan year (0 = the one starting on the planning day) whose start is nearest a date months away."""
    return max(0, math.floor(months_from_now / 12 + 0.5))


def retirement_spec(
    household: Household,
    goal: Goal,
    as_of: date,
    wealth: float,
    glide: GlidePaths,
    comp: Composites,
    *,
    account_values: Mapping[str, Decimal] | None = None,
    equity_now: float | None = None,
    equity_cap: float = 1.0,
    scenario: Scenario | None = None,
    settings: object | None = None,
):
    """The retirement goal as a ``RetirementSpec``: buckets by account type, benefits, pensions, taxes, lifespans.

    ``wealth`` (USD today) is split over the goal's accounts by their value and type (traditional per owner;
    Roth, HSA and 529 tax-free); the taxable share carries its accounts' cost basis. Benefits are in today's
    dollars (COLA keeps them real); the retirement starts in the plan year nearest ``goal.target_date``.
    """
    from engine.goals.inflation import load_inflation
    from engine.goals.longevity import load_life_table
    from engine.goals.retirement import Person, RetirementSpec
    from engine.goals.social_security import (
        claim_factor,
        full_retirement_age_months,
        member_pia,
        months_of_age,
        nearest_claim_months,
        spousal_factor,
        survivor_fra_months,
    )
    from engine.goals.withdrawals import YearTax, load_rmd_tables
    from engine.model import AccountType, FilingStatus

    scenario = scenario or Scenario()
    members = sorted(household.members, key=lambda m: m.birth_date)[:2]
    acc = max(months_between(as_of, goal.target_date), 0)
    retire_year = round(acc / 12)
    ages = [m.age_on(as_of) for m in members]
    plan_to = goal.plan_to_age
    years = max(retire_year + 1, (plan_to or 120) - min(ages))
    months = 12 * years
    eq, ca = _glide_shares(glide, goal.kind, acc, months, equity_now, equity_cap)

    values = {k: float(v) for k, v in (account_values or account_values_from_book(household)).items()}
    index = {m.id: i for i, m in enumerate(members)}
    accounts = [household.account(a) for a in goal.accounts] or [household.accounts[0]]
    total = sum(values.get(a.id, 0.0) for a in accounts)
    weights = [values.get(a.id, 0.0) / total if total > 0 else 1.0 / len(accounts) for a in accounts]
    taxable = roth = basis_value = taxable_value = 0.0
    trad = [0.0] * len(members)
    share_t, share_r, share_d = 0.0, 0.0, [0.0] * len(members)
    for a, w in zip(accounts, weights, strict=True):
        if a.type is AccountType.TAXABLE:
            taxable += wealth * w
            share_t += w
            taxable_value += values.get(a.id, 0.0)
            basis_value += float(a.cash) + sum(float(lot.basis) for lot in household.lots if lot.account == a.id)
        elif a.type is AccountType.TRADITIONAL:
            i = index.get(a.owner or "", 0)
            trad[i] += wealth * w
            share_d[i] += w
        else:
            roth += wealth * w
            share_r += w
    basis_ratio = min(basis_value / taxable_value, 1.0) if taxable_value > 0 else 1.0
    contrib = np.zeros(months)
    contrib[:acc] = float(goal.monthly_contribution) + scenario.extra_monthly.get(goal.id, 0.0)
    _, _draw = _drawdown(goal)
    annual = float(goal.annual_income) if goal.annual_income is not None else float(goal.target) / (goal.years or 30)
    spending = annual * scenario.spending_factor

    pias = [member_pia(m, as_of) for m in members]
    people = []
    for i, m in enumerate(members):
        age_m = months_of_age(m.birth_date, as_of)
        claim_years = scenario.claim_age.get(m.id, scenario.claim_age.get("*", m.claim_age))
        fra = full_retirement_age_months(m.birth_date)
        claim_m = nearest_claim_months(claim_years) if claim_years is not None else fra
        claim_year = _plan_year(claim_m - age_m)
        own = np.zeros(years)
        spousal = np.zeros(years)
        pia_i = float(pias[i]) if pias[i] is not None else 0.0
        benefit = 12.0 * pia_i * claim_factor(m.birth_date, claim_m) if pias[i] is not None else 0.0
        own[min(claim_year, years) :] = benefit
        if len(members) == 2 and pias[1 - i] is not None:
            other = members[1 - i]
            o_claim = scenario.claim_age.get(other.id, scenario.claim_age.get("*", other.claim_age))
            o_claim_m = nearest_claim_months(o_claim) if o_claim is not None else full_retirement_age_months(
                other.birth_date
            )
            o_age_m = months_of_age(other.birth_date, as_of)
            o_year = _plan_year(o_claim_m - o_age_m)
            excess = max(0.5 * float(pias[1 - i]) - pia_i, 0.0)
            if excess > 0:
                start = max(claim_year, o_year)
                spousal[min(start, years) :] = 12.0 * excess * spousal_factor(m.birth_date, claim_m) / 0.5
        surv_after = 12.0 * max(pia_i * claim_factor(m.birth_date, claim_m), 0.825 * pia_i) if pia_i else 0.0
        surv_year = _plan_year(survivor_fra_months(m.birth_date) - age_m)
        p_real, p_nom = np.zeros(years), np.zeros(years)
        keep = 0.0
        for stream in m.pensions:
            start = _plan_year(round(float(stream.start_age) * 12) - age_m)
            (p_real if stream.cola else p_nom)[min(start, years) :] += float(stream.annual)
            keep = max(keep, stream.survivor)
        people.append(
            Person(
                name=m.id,
                age=ages[i],
                sex=m.sex,
                own=own,
                spousal=spousal,
                survivor_base=surv_after,
                survivor_before_claim=12.0 * pia_i,
                claim_year=claim_year,
                survivor_year=surv_year,
                rmd_age=load_rmd_tables().start(m.birth_date),
                pension_real=p_real,
                pension_nominal=p_nom,
                pension_survivor=keep,
                plan_to_age=plan_to,
            )
        )
    status = household.tax.filing_status
    joint = YearTax.for_status(status, household.tax.state_rate)
    single = (
        YearTax.for_status(FilingStatus.SINGLE, household.tax.state_rate)
        if status is FilingStatus.MARRIED_JOINT
        else joint
    )
    guard = goal.guardrails if scenario.guardrails is None else scenario.guardrails
    shock = (scenario.shock.month, scenario.shock.equity_drop) if scenario.shock else None
    survivor_spending = getattr(settings, "survivor_spending", 0.7)
    return RetirementSpec(
        years=years,
        accumulation_months=acc,
        retire_year=retire_year,
        equity=eq,
        cash=ca,
        taxable=taxable,
        basis=taxable * basis_ratio,
        traditional=tuple(trad),
        roth=roth,
        contributions=contrib,
        shares=(share_t, *share_d, share_r),
        spending=spending,
        survivor_spending=survivor_spending if len(members) == 2 else 1.0,
        people=tuple(people),
        joint_tax=joint,
        single_tax=single,
        rmd=load_rmd_tables(),
        life=None if plan_to else load_life_table(),
        inflation=load_inflation().with_mean(comp.inflation),
        composites=comp,
        part_time=(scenario.part_time[0], scenario.part_time[1]) if scenario.part_time else None,
        roth_conversion=scenario.roth_conversion,
        order=goal.withdrawal_order,
        guardrails=bool(guard),
        flexibility=goal.flexibility,
        shock=shock,
        name=goal.id,
    )


def retirement_income(spec: object) -> dict[str, float]:
    """Yearly income (real USD) the spec expects at the start of retirement with both alive: benefits, pensions."""
    y = min(spec.retire_year + 5, spec.years - 1)  # type: ignore[attr-defined]
    out: dict[str, float] = {}
    for p in spec.people:  # type: ignore[attr-defined]
        out[f"social_security_{p.name}"] = float(p.own[-1] + p.spousal[-1])
        out[f"pension_{p.name}"] = float(p.pension_real[y] + p.pension_nominal[y])
    out["spending"] = float(spec.spending)  # type: ignore[attr-defined]
    return out


def net_present_target(spec: object, years: int, real_rate: float) -> float:
    """Present value at retirement (today's USD) of spending not covered by benefits and pensions, both alive."""
    r = spec.retire_year  # type: ignore[attr-defined]
    total = 0.0
    for k in range(years):
        y = min(r + k, spec.years - 1)  # type: ignore[attr-defined]
        income = sum(p.own[y] + p.spousal[y] + p.pension_real[y] + p.pension_nominal[y] for p in spec.people)  # type: ignore[attr-defined]
        total += max(spec.spending - income, 0.0) / (1 + real_rate) ** k  # type: ignore[attr-defined]
    return total


@dataclass(frozen=True, slots=True)
class GoalForecast:
    """One goal's Monte Carlo outcome: probabilities (fractions), shortfall and bands in today's USD."""

    goal_id: str
    name: str
    kind: GoalKind
    priority: int
    years: float
    wealth: float
    target: float
    funded_ratio: float
    equity_now: float
    probability: float
    partial_probability: float
    shortfall: float
    median_final: float
    bands: np.ndarray | None = None
    details: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Plan:
    """A household's plan on ``as_of``: one forecast per goal and the household's wealth bands (yearly percentiles)."""

    household_id: str
    as_of: date
    forecasts: tuple[GoalForecast, ...]
    household_bands: np.ndarray | None
    percentiles: tuple[float, ...]
    paths: int
    seed: int

    def forecast(self, goal_id: str) -> GoalForecast:
        """The forecast of one goal.

        Raises:
            PlanningError: no goal with that id.
        """
        for f in self.forecasts:
            if f.goal_id == goal_id:
                return f
        raise PlanningError(
            f"no goal {goal_id!r} in the plan", fix=f"use one of: {', '.join(f.goal_id for f in self.forecasts)}"
        )

    @property
    def probabilities(self) -> dict[str, float]:
        return {f.goal_id: f.probability for f in self.forecasts}


def _inputs(
    market: CapitalMarket | None, glide: GlidePaths | None, rules: EventRules | None, household: Household
) -> tuple[Composites, GlidePaths, EventRules]:
    glide = glide or load_glide_paths(household=household.id)
    rules = rules or load_event_rules()
    comp = composites(market or load_capital_market(), glide)
    return comp, glide, rules


def plan_household(
    household: Household,
    as_of: date,
    *,
    market: CapitalMarket | None = None,
    glide: GlidePaths | None = None,
    rules: EventRules | None = None,
    account_values: Mapping[str, Decimal] | None = None,
    equity_now: Mapping[str, float] | None = None,
    equity_cap: float = 1.0,
    scenario: Scenario | None = None,
    paths: int | None = None,
    seed: int | None = None,
    bands: bool = True,
    model: str | None = None,
) -> Plan:
    """Simulate every active goal; probabilities, shortfalls, bands.

    Retirement goals run the full retirement simulation (``engine.goals.retirement``: benefits, taxes, RMDs,
    inflation risk, lifespans) unless ``model`` (default: ``planning.retirement_model``) is ``"plain"``;
    the other goals' sleeves run jointly on the same market paths (``simulate``). Goals already due on
    ``as_of`` are left out (see ``is_active``); ``goal_sleeve`` raises for them.
    """
    from engine.goals.retirement import simulate_retirement

    comp, glide, rules = _inputs(market, glide, rules, household)
    settings = rules.planning
    paths = paths or settings.paths
    seed = settings.seed if seed is None else seed
    full = (model or settings.retirement_model) == "full"
    wealth = goal_wealth(household, account_values)
    equity_now = equity_now or {}
    goals = [g for g in household.goals if is_active(g, as_of)]
    if not goals:
        return Plan(household.id, as_of, (), None, (), paths, seed)
    plain = [g for g in goals if not (full and g.kind is GoalKind.RETIREMENT)]
    sleeves = {
        g.id: goal_sleeve(
            g, as_of, wealth[g.id], glide, equity_now=equity_now.get(g.id), equity_cap=equity_cap, scenario=scenario
        )
        for g in plain
    }
    shock = scenario.shock if scenario else None
    res = simulate(list(sleeves.values()), comp, paths=paths, seed=seed, shock=shock, bands=bands) if plain else None
    out = []
    for g in goals:
        if g.id in sleeves:
            i = list(sleeves).index(g.id)
            s = sleeves[g.id]
            pv = present_target(g, settings.retirement_real_rate)
            out.append(
                GoalForecast(
                    goal_id=g.id, name=g.name or g.id, kind=g.kind, priority=g.priority,
                    years=max(months_between(as_of, g.target_date), 0) / 12.0, wealth=wealth[g.id], target=pv,
                    funded_ratio=wealth[g.id] / pv if pv > 0 else 1.0, equity_now=float(s.equity[0]),
                    probability=float(res.probability[i]), partial_probability=float(res.partial_probability[i]),
                    shortfall=float(res.shortfall[i]), median_final=float(res.median_final[i]),
                    bands=None if res.bands is None else res.bands[i],
                )
            )
            continue
        spec = retirement_spec(
            household, g, as_of, wealth[g.id], glide, comp, account_values=account_values,
            equity_now=equity_now.get(g.id), equity_cap=equity_cap, scenario=scenario, settings=settings,
        )
        r = simulate_retirement(spec, paths=paths, seed=seed, bands=bands)
        pv = net_present_target(spec, g.years or 30, settings.retirement_real_rate)
        out.append(
            GoalForecast(
                goal_id=g.id, name=g.name or g.id, kind=g.kind, priority=g.priority,
                years=max(months_between(as_of, g.target_date), 0) / 12.0, wealth=wealth[g.id], target=pv,
                funded_ratio=wealth[g.id] / pv if pv > 0 else 1.0, equity_now=float(spec.equity[0]),
                probability=r.probability, partial_probability=r.partial_probability, shortfall=r.shortfall,
                median_final=r.median_final, bands=r.bands, details={**retirement_income(spec), **r.extras},
            )
        )
    household_bands = res.household_bands if res is not None else None
    percentiles = res.percentiles if res is not None else PERCENTILES
    return Plan(household.id, as_of, tuple(out), household_bands, percentiles, paths, seed)


def goal_target(
    household: Household,
    goal: Goal,
    as_of: date,
    rules: EventRules | None = None,
    *,
    glide: GlidePaths | None = None,
    comp: Composites | None = None,
) -> float:
    """The goal's target in today's USD as the plan reports it: for a retirement goal under the full model the
    present value of the spending that benefits and pensions do not cover; else ``present_target``."""
    rules = rules or load_event_rules()
    settings = rules.planning
    if goal.kind is not GoalKind.RETIREMENT or settings.retirement_model != "full":
        return present_target(goal, settings.retirement_real_rate)
    glide = glide or load_glide_paths(household=household.id)
    comp = comp or composites(load_capital_market(), glide)
    spec = retirement_spec(household, goal, as_of, 0.0, glide, comp, settings=settings)
    return net_present_target(spec, goal.years or 30, settings.retirement_real_rate)


def savings_needed(
    household: Household,
    as_of: date,
    goal_id: str,
    target_probability: float,
    *,
    market: CapitalMarket | None = None,
    glide: GlidePaths | None = None,
    rules: EventRules | None = None,
    account_values: Mapping[str, Decimal] | None = None,
    equity_now: Mapping[str, float] | None = None,
    equity_cap: float = 1.0,
    scenario: Scenario | None = None,
    paths: int | None = None,
    seed: int | None = None,
    max_monthly: float = 50_000.0,
    model: str | None = None,
) -> Decimal | None:
    """Extra USD/month toward ``goal_id`` that lifts its probability to ``target_probability`` (bisection).

    Common random numbers (one seed) make the probability monotone in the amount, so bisection is
    exact up to $1/month. Returns 0 when already met and None when even ``max_monthly`` is not enough.

    Raises:
        PlanningError: unknown goal or a target probability outside (0, 1).
    """
    if not 0 < target_probability < 1:
        raise PlanningError("target_probability must lie in (0, 1)", value=target_probability)
    comp, glide, rules = _inputs(market, glide, rules, household)
    goal = next((g for g in household.goals if g.id == goal_id), None)
    if goal is None:
        raise PlanningError(
            f"no goal {goal_id!r} in household {household.id}",
            fix=f"use one of: {', '.join(g.id for g in household.goals)}",
        )
    paths = paths or rules.planning.paths
    seed = rules.planning.seed if seed is None else seed
    wealths = goal_wealth(household, account_values)
    base = scenario or Scenario()
    equity_now = equity_now or {}
    full = (model or rules.planning.retirement_model) == "full"
    # The same simulation the plan runs (same paths, seed, and the other goals' sleeves on the same market
    # paths), so re-running the plan with the answer gives the probability it promises.
    plain = [g for g in household.goals if is_active(g, as_of) and not (full and g.kind is GoalKind.RETIREMENT)]

    def prob(extra: float) -> float:
        extra_map = {**base.extra_monthly, goal_id: base.extra_monthly.get(goal_id, 0.0) + extra}
        sc = replace(base, extra_monthly=extra_map)
        if full and goal.kind is GoalKind.RETIREMENT:
            from engine.goals.retirement import simulate_retirement

            spec = retirement_spec(
                household, goal, as_of, wealths[goal_id], glide, comp, account_values=account_values,
                equity_now=equity_now.get(goal_id), equity_cap=equity_cap, scenario=sc, settings=rules.planning,
            )
            return simulate_retirement(spec, paths=paths, seed=seed, bands=False).probability
        sleeves = [
            goal_sleeve(g, as_of, wealths[g.id], glide, equity_now=equity_now.get(g.id), equity_cap=equity_cap,
                        scenario=sc)
            for g in plain
        ]
        i = [g.id for g in plain].index(goal_id)
        return float(simulate(sleeves, comp, paths=paths, seed=seed, shock=base.shock, bands=False).probability[i])

    if prob(0.0) >= target_probability:
        return Decimal(0)
    lo, hi = 0.0, 250.0
    while prob(hi) < target_probability:
        lo, hi = hi, hi * 2
        if hi > max_monthly:
            return None
    while hi - lo > 1.0:
        mid = 0.5 * (lo + hi)
        if prob(mid) >= target_probability:
            hi = mid
        else:
            lo = mid
    return Decimal(math.ceil(hi))


# ---------------------------------------------------------------------------------------------
# What-ifs
# ---------------------------------------------------------------------------------------------


class WhatIfKind(StrEnum):
    """What-if vocabulary (CLI spelling: ``retire-at=60``, ``part-time=30000`` or ``part-time=30000:5y``,
    ``earlier=home:2``, ``save-more=500`` or ``save-more=500:college``, ``crash=0.35``, ``claim-ss=70`` or
    ``claim-ss=70:alex``, ``spending=-10%``, ``roth-convert=40000:8y``, ``guardrails=on``)."""

    RETIRE_AT = "retire-at"
    PART_TIME = "part-time"
    EARLIER = "earlier"
    SAVE_MORE = "save-more"
    CRASH = "crash"
    CLAIM_SS = "claim-ss"
    SPENDING = "spending"
    ROTH_CONVERT = "roth-convert"
    GUARDRAILS = "guardrails"


@dataclass(frozen=True, slots=True)
class WhatIf:
    """One change: ``value`` is an age (years), USD/year, years earlier, USD/month, or a crash (fraction)."""

    kind: WhatIfKind
    value: float
    goal: str | None = None
    years: int = 5

    def describe(self) -> str:
        match self.kind:
            case WhatIfKind.RETIRE_AT:
                return f"retire at {self.value:g}"
            case WhatIfKind.PART_TIME:
                return f"work part-time for ${self.value:,.0f}/year in the first {self.years} years of retirement"
            case WhatIfKind.EARLIER:
                return f"reach {self.goal} {self.value:g} years earlier"
            case WhatIfKind.SAVE_MORE:
                return f"save ${self.value:,.0f}/month more" + (f" toward {self.goal}" if self.goal else "")
            case WhatIfKind.CLAIM_SS:
                return f"claim Social Security at {self.value:g}" + (f" ({self.goal})" if self.goal else "")
            case WhatIfKind.SPENDING:
                return f"spend {self.value:+.0%} in retirement"
            case WhatIfKind.ROTH_CONVERT:
                return f"convert ${self.value:,.0f}/year to Roth for {self.years} years from retirement"
            case WhatIfKind.GUARDRAILS:
                return ("follow spending guardrails (cut 10 % when the withdrawal rate is 20 % above its start, "
                        "raise 10 % when 20 % below)" if self.value else "spend without guardrails")
            case _:
                return f"equity markets fall {self.value:.0%} in the first year"


def _years_suffix(text: str, what: str) -> int:
    t = text.strip().lower().removesuffix("years").removesuffix("year").removesuffix("y").strip()
    try:
        years = int(t)
    except ValueError:
        raise PlanningError(f"{what} needs a number of years, e.g. 5y", value=text) from None
    if not 1 <= years <= 40:
        raise PlanningError(f"{what}: years must lie in [1, 40]", value=text)
    return years


def parse_what_if(text: str) -> WhatIf:
    """Parse the CLI spelling (see ``WhatIfKind``).

    Raises:
        PlanningError: unknown kind or a value that is not a number in range.
    """
    key, _, raw = text.partition("=")
    try:
        kind = WhatIfKind(key.strip().lower())
    except ValueError:
        raise PlanningError(
            f"unknown what-if {key!r}", fix=f"use one of: {', '.join(k.value for k in WhatIfKind)}"
        ) from None
    goal = None
    years = 5
    raw = raw.strip()
    if kind is WhatIfKind.GUARDRAILS:
        flag = raw.lower()
        if flag not in ("on", "off", "yes", "no", "true", "false", "1", "0"):
            raise PlanningError("guardrails needs on or off", value=text)
        return WhatIf(kind, 1.0 if flag in ("on", "yes", "true", "1") else 0.0)
    if kind is WhatIfKind.EARLIER:
        goal, _, raw = raw.partition(":")
        if not raw:
            raise PlanningError("earlier needs GOAL:YEARS, e.g. earlier=home:2", value=text)
    elif ":" in raw:
        raw, _, tail = raw.partition(":")
        if kind in (WhatIfKind.PART_TIME, WhatIfKind.ROTH_CONVERT):
            years = _years_suffix(tail, kind.value)
        else:
            goal = tail.strip()
    if kind is WhatIfKind.SPENDING:
        pct = raw.endswith("%")
        try:
            value = float(raw.rstrip("%"))
        except ValueError:
            raise PlanningError("spending needs a change such as -10% or +5%", value=text) from None
        value = value / 100.0 if pct or abs(value) >= 1 else value
        if not math.isfinite(value) or not -0.9 <= value <= 1.0:
            raise PlanningError("spending change must lie in [-90%, +100%]", value=text)
        return WhatIf(kind, value)
    try:
        value = float(raw)
    except ValueError:
        raise PlanningError(f"what-if {kind.value} needs a number", value=text) from None
    if not math.isfinite(value) or value < 0:
        raise PlanningError(f"what-if {kind.value} needs a number ≥ 0", value=text)
    if kind is WhatIfKind.CRASH and value >= 1:
        value /= 100.0
    if kind is WhatIfKind.CLAIM_SS and not CLAIM_AGE[0] <= value <= CLAIM_AGE[1]:
        raise PlanningError(f"claim-ss must be an age in [{CLAIM_AGE[0]}, {CLAIM_AGE[1]}]", value=text,
                            fix="benefits start at 62 at the earliest; delayed credits stop at 70")
    return WhatIf(kind, value, goal or None, years)


@dataclass(frozen=True, slots=True)
class WhatIfResult:
    """Before/after plans, the focus goal, and the extra USD/month it needs to reach ``target_probability``
    (``savings_needed``) and to get back to its before probability (``savings_to_restore``)."""

    changes: tuple[WhatIf, ...]
    before: Plan
    after: Plan
    focus: str
    target_probability: float
    savings_needed: Decimal | None
    savings_to_restore: Decimal | None
    household: Household

    def lines(self) -> list[str]:
        """Plain-words summary: probability before → after per goal, then the savings answer."""
        out = [f"What if you {'; '.join(c.describe() for c in self.changes)}:"]
        for b in self.before.forecasts:
            a = next((f for f in self.after.forecasts if f.goal_id == b.goal_id), None)
            if a is not None:
                out.append(f"  {b.name}: probability {b.probability:.0%} → {a.probability:.0%}")
        focus = self.after.forecast(self.focus)
        if self.savings_needed is None:
            out.append(f"  {focus.name}: no saving up to $50,000/month reaches {self.target_probability:.0%}")
        elif self.savings_needed == 0:
            out.append(f"  {focus.name} already reaches {self.target_probability:.0%}")
        else:
            out.append(
                f"  {focus.name}: save ${self.savings_needed:,.0f}/month more to reach {self.target_probability:.0%}"
            )
        if self.savings_to_restore:
            before = self.before.forecast(self.focus).probability
            out.append(f"  {focus.name}: save ${self.savings_to_restore:,.0f}/month more to get back to {before:.0%}")
        return out


def _retirement_goal(household: Household) -> Goal:
    for g in sorted(household.goals, key=lambda g: g.priority):
        if g.kind is GoalKind.RETIREMENT:
            return g
    raise PlanningError(f"household {household.id} has no retirement goal", fix="add a goal of kind retirement")


def _apply_changes(household: Household, changes: Sequence[WhatIf]) -> tuple[Household, Scenario, str]:
    extra: dict[str, float] = {}
    part_time = None
    shock = None
    focus: str | None = None
    claim: dict[str, float] = {}
    spending = 1.0
    conversion = None
    guard: bool | None = None
    goals = {g.id: g for g in household.goals}
    for c in changes:
        if c.kind in (WhatIfKind.CLAIM_SS, WhatIfKind.SPENDING, WhatIfKind.ROTH_CONVERT, WhatIfKind.GUARDRAILS):
            focus = focus or _retirement_goal(household).id
            if c.kind is WhatIfKind.CLAIM_SS:
                if c.goal and c.goal not in {m.id for m in household.members}:
                    raise PlanningError(f"no member {c.goal!r}",
                                        fix=f"use one of: {', '.join(m.id for m in household.members)}")
                claim[c.goal or "*"] = c.value
            elif c.kind is WhatIfKind.SPENDING:
                spending *= 1.0 + c.value
            elif c.kind is WhatIfKind.ROTH_CONVERT:
                conversion = (c.value, c.years)
            else:
                guard = bool(c.value)
            continue
        if c.kind in (WhatIfKind.RETIRE_AT, WhatIfKind.PART_TIME):
            g = _retirement_goal(household)
            focus = focus or g.id
            if c.kind is WhatIfKind.PART_TIME:
                part_time = (c.value, c.years)
                continue
            if not RETIREMENT_AGE[0] <= c.value <= RETIREMENT_AGE[1]:
                raise PlanningError(f"retire-at must be an age in [{RETIREMENT_AGE[0]}, {RETIREMENT_AGE[1]}]",
                                    value=c.value)
            owners = [household.account(a).owner for a in g.accounts]
            member = household.member(next((o for o in owners if o), household.members[0].id))
            new = member.birth_date.replace(year=member.birth_date.year + int(c.value))
            g = goals[g.id]
            shift = round((g.target_date - new).days / 365.25)
            years = min(60, max(1, (g.years or 30) + shift))
            goals[g.id] = replace(g, target_date=new, years=years)
        elif c.kind is WhatIfKind.EARLIER:
            if c.goal not in goals:
                raise PlanningError(f"no goal {c.goal!r}", fix=f"use one of: {', '.join(goals)}")
            g = goals[c.goal]
            months = round(12 * c.value)
            y, m = divmod(g.target_date.year * 12 + g.target_date.month - 1 - months, 12)
            goals[g.id] = replace(g, target_date=g.target_date.replace(year=y, month=m + 1, day=1))
            focus = focus or g.id
        elif c.kind is WhatIfKind.SAVE_MORE:
            gid = c.goal or _retirement_goal(household).id
            if gid not in goals:
                raise PlanningError(f"no goal {gid!r}", fix=f"use one of: {', '.join(goals)}")
            extra[gid] = extra.get(gid, 0.0) + c.value
            focus = focus or gid
        else:
            shock = Shock(month=6, equity_drop=c.value)
    if focus is None:
        focus = (
            _retirement_goal(household).id
            if any(g.kind is GoalKind.RETIREMENT for g in household.goals)
            else min(household.goals, key=lambda g: g.priority).id
        )
    new_h = replace(household, goals=tuple(goals[g.id] for g in household.goals))
    return new_h, Scenario(extra, part_time, shock, claim, spending, conversion, guard), focus


def what_if(
    household: Household,
    as_of: date,
    changes: Sequence[WhatIf],
    *,
    target_probability: float | None = None,
    market: CapitalMarket | None = None,
    glide: GlidePaths | None = None,
    rules: EventRules | None = None,
    account_values: Mapping[str, Decimal] | None = None,
    paths: int | None = None,
    seed: int | None = None,
    equity_now: Mapping[str, float] | None = None,
    equity_cap: float = 1.0,
    before: Plan | None = None,
) -> WhatIfResult:
    """Plan before and after the changes (same seed), and solve the savings that reach the target probability.

    Pass the plan's ``equity_now``/``equity_cap`` (the mandate's sleeves) — or its ``before`` plan — so the
    "before" here is the number the plan table shows.

    Raises:
        PlanningError: no changes, or a change that does not fit the household (no such goal, no retirement goal).
    """
    if not changes:
        raise PlanningError("pass at least one what-if change, e.g. retire-at=60")
    rules = rules or load_event_rules()
    glide = glide or load_glide_paths(household=household.id)
    market = market or load_capital_market()
    kw = dict(
        market=market, glide=glide, rules=rules, account_values=account_values, paths=paths, seed=seed,
        equity_now=equity_now, equity_cap=equity_cap,
    )
    before = before or plan_household(household, as_of, bands=False, **kw)
    new_h, scenario, focus = _apply_changes(household, changes)
    after = plan_household(new_h, as_of, scenario=scenario, bands=False, **kw)
    target = target_probability or rules.planning.target_probability
    need = savings_needed(new_h, as_of, focus, target, scenario=scenario, **kw)
    p_before = before.forecast(focus).probability
    restore = None
    if after.forecast(focus).probability < p_before and 0 < p_before < 1:
        restore = savings_needed(new_h, as_of, focus, p_before, scenario=scenario, **kw)
    return WhatIfResult(tuple(changes), before, after, focus, target, need, restore, new_h)


def _glide_shares(glide: GlidePaths, kind: GoalKind, acc: int, months: int, equity_now: float | None,
                  equity_cap: float) -> tuple[np.ndarray, np.ndarray]:
    """Monthly equity and cash shares along the glide path (fractions), shifted to start at ``equity_now`` and
    capped at ``equity_cap``; cash never exceeds what equity leaves."""
    to_goal = (acc - np.arange(months)) / 12.0
    eq = glide.equity_share(kind, to_goal)
    ca = glide.cash_share(kind, to_goal)
    if equity_now is not None:
        eq = eq + (equity_now - float(eq[0]))
    eq = np.clip(eq, 0.0, equity_cap)
    return eq, np.minimum(ca, 1.0 - eq)
