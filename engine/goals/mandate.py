"""The household ``Mandate`` the optimizer consumes: strategic mix, bands, risk, reserve, horizons, cash flows, why.

    mandate = build_mandate(household, date(2026, 3, 2))
    mandate.strategic_mix[AssetClass.US_EQUITY], mandate.needs_approval, mandate.explanation

Each goal gets a sleeve: the glide path's equity share for its horizon, tilted by the goals-based DP
(``optimal_goal_policy``) within ``planning.dp_band`` and capped by the risk level; the strategic mix
is the sleeves' class mixes weighted by the wealth already toward each goal.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

import numpy as np

from engine.goals.config import (
    CapitalMarket,
    EventRules,
    GlidePaths,
    load_capital_market,
    load_event_rules,
    load_glide_paths,
)
from engine.goals.dp import Portfolio, optimal_goal_policy
from engine.goals.montecarlo import composites
from engine.goals.planning import (
    _drawdown,
    goal_target,
    goal_wealth,
    is_active,
    months_between,
    plan_household,
    present_target,
)
from engine.goals.risk import RiskAssessment, RiskBound, assess_risk
from engine.model import AssetClass, Goal, GoalKind, Household

__all__ = ["CashFlow", "CashFlowKind", "GoalSleeve", "Mandate", "build_mandate"]

_CENT = Decimal("0.01")


class CashFlowKind(StrEnum):
    CONTRIBUTION = "contribution"
    WITHDRAWAL = "withdrawal"


@dataclass(frozen=True, slots=True)
class CashFlow:
    """A planned flow on ``on`` into (+) or out of (−) ``account``, USD (nominal), for ``goal``."""

    on: date
    account: str
    amount: Decimal
    kind: CashFlowKind
    goal: str


@dataclass(frozen=True, slots=True)
class GoalSleeve:
    """One goal's sleeve: class mix (sums to 1), equity share now, probability and funded ratio (fractions).

    ``glide_equity`` is the glide path's share for the horizon, ``dp_equity`` the DP's choice (None when
    not run, e.g. the emergency fund), ``wealth``/``target`` today's USD, ``years`` to the goal date.
    """

    goal_id: str
    kind: GoalKind
    priority: int
    years: float
    mix: Mapping[AssetClass, float]
    equity_share: float
    glide_equity: float
    dp_equity: float | None
    probability: float
    partial_probability: float
    funded_ratio: float
    wealth: float
    target: float


@dataclass(frozen=True, slots=True)
class Mandate:
    """What the optimizer must do for one household on ``as_of`` (weights are fractions, money USD).

    ``strategic_mix`` sums to 1 over asset classes; ``class_bands`` are (min, max) weights;
    ``risk_aversion`` is γ in return − γ·risk; ``risk_level`` 1–10 with ``risk_bound`` saying whether
    willingness or capacity set it; ``liquidity_reserve`` USD to hold in cash for the emergency fund
    and withdrawals due within the reserve horizon; ``horizons`` years per account id; ``cash_flows``
    the planned flows of the next months; ``needs_approval`` with ``approval_reasons`` for a human.
    """

    household_id: str
    as_of: date
    strategic_mix: Mapping[AssetClass, float]
    class_bands: Mapping[AssetClass, tuple[float, float]]
    equity_share: float
    risk_aversion: float
    risk_level: int
    risk_bound: RiskBound
    risk: RiskAssessment
    liquidity_reserve: Decimal
    horizons: Mapping[str, float]
    cash_flows: tuple[CashFlow, ...]
    goal_sleeves: tuple[GoalSleeve, ...]
    explanation: tuple[str, ...] = ()
    needs_approval: bool = False
    approval_reasons: tuple[str, ...] = ()
    household_value: float = 0.0
    details: Mapping[str, object] = field(default_factory=dict)

    def sleeve(self, goal_id: str) -> GoalSleeve | None:
        """The sleeve of one goal, or None."""
        return next((s for s in self.goal_sleeves if s.goal_id == goal_id), None)

    @property
    def probabilities(self) -> dict[str, float]:
        return {s.goal_id: s.probability for s in self.goal_sleeves}


def _money(x: float | Decimal) -> str:
    return f"${float(x):,.0f}"


def _dp_equity(
    goal: Goal, as_of: date, wealth: float, target: float, cap: float, comp, glide: GlidePaths, cash_now: float
) -> float | None:
    """Equity share the DP picks now for this goal (candidates: 11 equity shares from 0 to the cap)."""
    if goal.kind is GoalKind.EMERGENCY or target <= 0:
        return None
    months = months_between(as_of, goal.target_date)
    if months < 1:
        return None
    years = max(1, round(months / 12))
    step = months / 12 / years
    shares = np.linspace(0.0, cap, 11)
    ports = []
    for e in shares:
        c = min(cash_now, 1 - e)
        b = 1 - e - c
        mu = e * comp.mu_equity + b * comp.mu_bonds + c * comp.mu_cash
        var = (
            (e * comp.vol_equity) ** 2
            + (b * comp.vol_bonds) ** 2
            + 2 * e * b * comp.rho * comp.vol_equity * comp.vol_bonds
        )
        ports.append(Portfolio((1 + mu) / (1 + comp.inflation) - 1, math.sqrt(var)))
    flows = np.full(years, 12 * step * float(goal.monthly_contribution))
    policy = optimal_goal_policy(
        ports, max(wealth, 1.0), target, years * step, step, flows, grid_points=151, quadrature=21
    )
    return float(shares[policy.action(0.0, max(wealth, 1.0))])


def build_mandate(
    household: Household,
    as_of: date,
    *,
    previous: Mandate | None = None,
    capital_market: CapitalMarket | None = None,
    glide: GlidePaths | None = None,
    rules: EventRules | None = None,
    account_values: Mapping[str, Decimal] | None = None,
    paths: int | None = None,
    seed: int | None = None,
    extra_reasons: tuple[str, ...] = (),
) -> Mandate:
    """The household's mandate on ``as_of`` (see the class); with ``previous``, changes past the approval
    thresholds (``config/life_events.yaml: approval``) set ``needs_approval`` with reasons.

    Goals already due on ``as_of`` are left out and named in the explanation.
    """
    glide = glide or load_glide_paths(household=household.id)
    rules = rules or load_event_rules()
    market = capital_market or load_capital_market()
    comp = composites(market, glide)
    settings = rules.planning
    values = {k: float(v) for k, v in (account_values or _book(household)).items()}
    total_value = sum(values.values())
    wealth = goal_wealth(household, account_values)
    goals = [g for g in household.goals if is_active(g, as_of)]
    done = [g for g in household.goals if not is_active(g, as_of)]
    targets = {  # plain floats: a mandate crosses processes as plain values (engine/batch/wire.py)
        g.id: float(goal_target(household, g, as_of, rules, glide=glide, comp=comp)
                    if g.kind is GoalKind.RETIREMENT
                    else present_target(g, settings.retirement_real_rate))
        for g in goals
    }
    years = {g.id: max(months_between(as_of, g.target_date), 0) / 12.0 for g in goals}

    invest = [g for g in goals if g.kind is not GoalKind.EMERGENCY]
    w_inv = sum(wealth[g.id] for g in invest)
    horizon = (
        (sum(wealth[g.id] * years[g.id] for g in invest) / w_inv)
        if w_inv > 0
        else (float(np.mean([years[g.id] for g in invest])) if invest else 0.0)
    )
    funded = w_inv / sum(targets[g.id] for g in invest) if invest and sum(targets[g.id] for g in invest) > 0 else 1.0
    emergency_held = sum(wealth[g.id] for g in goals if g.kind is GoalKind.EMERGENCY)
    expenses = float(household.monthly_expenses)
    reserve_months = emergency_held / expenses if expenses > 0 else float(household.emergency_months)
    risk = assess_risk(
        household, horizon_years=horizon, funded_ratio=funded, reserve_months=reserve_months, as_of=as_of
    )
    cap = risk.equity_cap

    equity_now: dict[str, float] = {}
    glide_eq: dict[str, float] = {}
    dp_eq: dict[str, float | None] = {}
    for g in goals:
        ge = float(glide.equity_share(g.kind, years[g.id]))
        cn = float(glide.cash_share(g.kind, years[g.id]))
        glide_eq[g.id] = ge
        dp = _dp_equity(g, as_of, wealth[g.id], targets[g.id], cap, comp, glide, cn)
        dp_eq[g.id] = dp
        e = ge if dp is None else float(np.clip(dp, ge - settings.dp_band, ge + settings.dp_band))
        equity_now[g.id] = min(max(e, 0.0), cap)
    plan = plan_household(
        household,
        as_of,
        market=market,
        glide=glide,
        rules=rules,
        account_values=account_values,
        equity_now=equity_now,
        equity_cap=cap,
        paths=paths,
        seed=seed,
        bands=False,
    )

    sleeves: list[GoalSleeve] = []
    for g, f in zip(goals, plan.forecasts, strict=True):
        e = f.equity_now
        cash = float(min(glide.cash_share(g.kind, years[g.id]), 1 - e))
        sleeves.append(
            GoalSleeve(
                goal_id=g.id,
                kind=g.kind,
                priority=g.priority,
                years=years[g.id],
                mix=glide.class_mix(e, cash),
                equity_share=e,
                glide_equity=glide_eq[g.id],
                dp_equity=dp_eq[g.id],
                probability=f.probability,
                partial_probability=f.partial_probability,
                funded_ratio=float(f.funded_ratio),
                wealth=wealth[g.id],
                target=targets[g.id],
            )
        )

    weights = np.array([s.wealth for s in sleeves])
    if weights.sum() <= 0:
        weights = np.array([s.target for s in sleeves])
    mix: dict[AssetClass, float] = {}
    if sleeves and weights.sum() > 0:
        weights = weights / weights.sum()
        for wgt, s in zip(weights, sleeves, strict=True):
            for c, x in s.mix.items():
                mix[c] = mix.get(c, 0.0) + float(wgt) * x
    else:
        mix = glide.class_mix(min(0.6, cap))
    total = sum(mix.values())
    mix = {c: x / total for c, x in sorted(mix.items(), key=lambda kv: -kv[1]) if x > 1e-9}
    equity = sum(x for c, x in mix.items() if c.is_equity)
    bands = {c: glide.band(mix.get(c, 0.0)) for c in AssetClass}
    absent_hi = glide.bands[1]
    for c in AssetClass:
        if c not in mix:
            bands[c] = (0.0, absent_hi)
    if AssetClass.US_BONDS in mix:  # municipal bonds may stand in for US bonds (asset location)
        bands[AssetClass.MUNI_BONDS] = (0.0, bands[AssetClass.US_BONDS][1])

    flows = _cash_flows(household, as_of, settings.reserve_horizon_months, market.inflation)
    withdrawals = sum((-f.amount for f in flows if f.kind is CashFlowKind.WITHDRAWAL), Decimal(0))
    reserve_need = Decimal(str(expenses * household.emergency_months)) + withdrawals
    reserve = min(reserve_need, Decimal(str(total_value))).quantize(_CENT, ROUND_HALF_UP)

    horizons: dict[str, float] = {}
    longest = max(years.values(), default=10.0)
    for a in household.accounts:
        gs = [g for g in goals if a.id in g.accounts]
        ws = sum(wealth[g.id] for g in gs)
        if not gs:
            horizons[a.id] = longest
        elif ws > 0:
            horizons[a.id] = sum(wealth[g.id] * years[g.id] for g in gs) / ws
        else:
            horizons[a.id] = float(np.mean([years[g.id] for g in gs]))

    lines = [risk.describe()]
    lines += [f"{g.name or g.id} fell due on {g.target_date}; it is no longer planned (close it)" for g in done]
    if risk.questionnaire is not None and risk.questionnaire != risk.willingness:
        lines.append(
            f"Questionnaire scores willingness {risk.questionnaire}; the stored willingness {risk.willingness} is used."
        )
    for s in sleeves:
        g = next(x for x in goals if x.id == s.goal_id)
        how = f"glide path {s.glide_equity:.0%}"
        if s.dp_equity is not None:
            how += f", DP {s.dp_equity:.0%}"
        lines.append(
            f"{g.name or g.id} ({g.kind.value}, {s.years:.1f} y): {_money(s.wealth)} of {_money(s.target)} "
            f"({s.funded_ratio:.0%} funded), equity {s.equity_share:.0%} ({how}), "
            f"probability {s.probability:.0%}"
        )
    lines.append(
        f"Strategic equity share {equity:.0%}; liquidity reserve {_money(reserve)} "
        f"({household.emergency_months:g} months of {_money(expenses)} expenses"
        + (
            f" + {_money(withdrawals)} withdrawals due within {settings.reserve_horizon_months} months)"
            if withdrawals
            else ")"
        )
    )

    reasons = list(extra_reasons)
    ap = rules.approval
    if previous is not None:
        move = equity - previous.equity_share
        if abs(move) > ap.equity_move:
            reasons.append(
                f"strategic equity share moves {previous.equity_share:.0%} → {equity:.0%} "
                f"({abs(move) * 100:.0f} points > {ap.equity_move * 100:.0f})"
            )
        for s in sleeves:
            old = previous.sleeve(s.goal_id)
            if (
                s.priority <= 2
                and s.probability < ap.probability_floor
                and (old is None or old.probability >= ap.probability_floor)
            ):
                reasons.append(
                    f"goal {s.goal_id} falls below the {ap.probability_floor:.0%} probability floor "
                    f"({'new' if old is None else f'{old.probability:.0%}'} → {s.probability:.0%})"
                )
    limit = max(
        0.0, min(ap.withdrawal_usd, ap.withdrawal_fraction * total_value) if total_value > 0 else ap.withdrawal_usd
    )
    for f in flows:
        if f.kind is CashFlowKind.WITHDRAWAL and float(-f.amount) > limit:
            reasons.append(
                f"withdrawal of {_money(-f.amount)} from {f.account} on {f.on} for {f.goal} exceeds {_money(limit)}"
            )
    return Mandate(
        household_id=household.id,
        as_of=as_of,
        strategic_mix=mix,
        class_bands=bands,
        equity_share=equity,
        risk_aversion=risk.risk_aversion,
        risk_level=risk.level,
        risk_bound=risk.bound,
        risk=risk,
        liquidity_reserve=reserve,
        horizons=horizons,
        cash_flows=flows,
        goal_sleeves=tuple(sleeves),
        explanation=tuple(lines),
        needs_approval=bool(reasons),
        approval_reasons=tuple(reasons),
        household_value=total_value,
        details={"paths": plan.paths, "seed": plan.seed, "market": market.source},
    )


def _book(household: Household) -> dict[str, Decimal]:
    from engine.goals.planning import account_values_from_book

    return account_values_from_book(household)


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 + months, 12)
    return date(y, m + 1, 1)


def _cash_flows(household: Household, as_of: date, horizon_months: int, inflation: float) -> tuple[CashFlow, ...]:
    """Contributions on the 1st of each coming month and withdrawals due within the horizon (nominal USD)."""
    out: list[CashFlow] = []
    end = _add_months(as_of, horizon_months) if horizon_months else as_of
    for g in (x for x in household.goals if is_active(x, as_of)):
        accounts = g.accounts or (household.accounts[0].id,)
        per = (g.monthly_contribution / len(accounts)).quantize(_CENT, ROUND_HALF_UP)
        for k in range(1, horizon_months + 1):
            day = _add_months(as_of, k)
            if day > g.target_date:
                break
            if per > 0:
                out.extend(CashFlow(day, a, per, CashFlowKind.CONTRIBUTION, g.id) for a in accounts)
        monthly_w, months = _drawdown(g)
        if months:
            for k in range(0, horizon_months + 1):
                day = _add_months(g.target_date, k) if g.target_date > as_of else _add_months(as_of, k + 1)
                if day > end or day <= as_of or months_between(g.target_date, day) >= months:
                    continue
                grow = (1 + inflation) ** ((day - as_of).days / 365.25)
                amt = Decimal(str(monthly_w * grow)).quantize(_CENT, ROUND_HALF_UP)
                out.append(CashFlow(day, accounts[0], -amt, CashFlowKind.WITHDRAWAL, g.id))
        elif as_of < g.target_date <= end and g.target > 0:
            grow = (1 + inflation) ** ((g.target_date - as_of).days / 365.25)
            amt = Decimal(str(float(g.target) * grow)).quantize(_CENT, ROUND_HALF_UP)
            if g.kind is not GoalKind.EMERGENCY:
                out.append(CashFlow(g.target_date, accounts[0], -amt, CashFlowKind.WITHDRAWAL, g.id))
    out.sort(key=lambda f: (f.on, f.account, f.goal))
    return tuple(out)


def household_fingerprint(household: Household) -> str:
    """A stable digest (same in every process) of the household facts a mandate is built from.

    Lots and loss sales are left out (they change with every trade and the market; ``mandate_max_age_days``
    bounds how stale the account values behind a reused mandate may be); goals, events, members, accounts,
    tax, values, risk, savings, expenses and the emergency months are in.
    """
    facts = (
        household.id,
        household.members,
        tuple((a.id, a.type, a.owner) for a in household.accounts),
        household.goals,
        household.events,
        household.tax,
        household.values,
        household.risk,
        household.monthly_savings,
        household.monthly_expenses,
        household.emergency_months,
    )
    return hashlib.sha1(repr(_canon(facts)).encode()).hexdigest()


_DATACLASS, _ENUM, _SET, _MAP, _SEQ, _LEAF = range(6)
_KINDS: dict[type, tuple[int, tuple[str, ...]]] = {}  # what _canon does with a value, decided once per type


def _kind(cls: type) -> tuple[int, tuple[str, ...]]:
    """How ``_canon`` treats instances of ``cls`` (and, for a dataclass, its field names in order)."""
    if dataclasses.is_dataclass(cls) and not issubclass(cls, type):
        return _DATACLASS, tuple(f.name for f in dataclasses.fields(cls))
    if issubclass(cls, enum.Enum):
        return _ENUM, ()
    if issubclass(cls, (set, frozenset)):
        return _SET, ()
    if issubclass(cls, Mapping):
        return _MAP, ()
    if issubclass(cls, (list, tuple)):
        return _SEQ, ()
    return _LEAF, ()


def _canon(x: Any) -> Any:
    """Plain, order-stable data: dataclasses as (field, value) tuples, sets sorted (str hashing varies)."""
    cls = type(x)
    kind = _KINDS.get(cls)
    if kind is None:
        kind = _KINDS[cls] = _kind(cls)
    what, names = kind
    if what == _DATACLASS:
        return (cls.__name__, tuple((name, _canon(getattr(x, name))) for name in names))
    if what == _ENUM:
        return repr(x.value)
    if what == _SET:
        return ("set", tuple(sorted(repr(_canon(v)) for v in x)))
    if what == _MAP:
        return ("map", tuple(sorted((repr(_canon(k)), _canon(v)) for k, v in x.items())))
    if what == _SEQ:
        return tuple(_canon(v) for v in x)
    return repr(x)
