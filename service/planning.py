"""The service's one door to goals planning (``engine.goals``): a household's plan and its what-ifs.

    view = household_plan(cycle, household)              # GoalView per goal: probability, funded, gap
    result = household_what_if(cycle, household, ["retire-at=67"])

``engine.goals`` is being reshaped by another room; every call into it from the service goes through this module,
so a signature change there is a fix in one place here. The numbers are the engine's; this module only
chooses the day (the cycle's planning day), the account values (the planner's valuation) and the path count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from engine.cycle import Cycle
from engine.model import Household

__all__ = ["PLAN_PATHS", "GoalView", "PlanView", "WhatIfView", "household_plan", "household_what_if", "prices_on"]

PLAN_PATHS = 2000
"""Monte Carlo paths per page view: enough for a probability to ±1 point (binomial s.e. ≤ 1.1% at 2,000)."""


@dataclass(frozen=True, slots=True)
class GoalView:
    """One goal on the plan: probability of meeting it (fraction), funded ratio (fraction), USD today."""

    goal_id: str
    name: str
    kind: str
    priority: int
    years: float
    wealth: float
    target: float
    funded_ratio: float
    probability: float
    shortfall: float
    bands: tuple[tuple[float, ...], ...] | None = None
    """Wealth (USD today) at each whole year from the planning day, at ``PlanView.percentiles``; None: not asked."""

    @property
    def gap(self) -> float:
        """USD today still missing toward the target (0 when funded)."""
        return max(self.target - self.wealth, 0.0)


@dataclass(frozen=True, slots=True)
class PlanView:
    """A household's plan on ``as_of`` (the cycle's planning day)."""

    household: str
    as_of: date
    goals: tuple[GoalView, ...]
    paths: int
    percentiles: tuple[float, ...] = (5.0, 25.0, 50.0, 75.0, 95.0)


@dataclass(frozen=True, slots=True)
class WhatIfView:
    """Before and after a what-if: probabilities per goal, the focus goal and the saving it needs (USD/month)."""

    changes: tuple[str, ...]
    before: PlanView
    after: PlanView
    focus: str
    target_probability: float
    savings_needed: Decimal | None
    lines: tuple[str, ...]


def _goals(plan: Any) -> tuple[GoalView, ...]:
    return tuple(
        GoalView(f.goal_id, f.name, getattr(f.kind, "value", str(f.kind)), f.priority, f.years, f.wealth, f.target,
                 f.funded_ratio, f.probability, f.shortfall,
                 None if f.bands is None else tuple(tuple(round(float(v), 2) for v in row) for row in f.bands))
        for f in plan.forecasts
    )


def _inputs(cycle: Cycle, household: Household) -> tuple[date, dict[str, Any]]:
    day = cycle.default_day(household)
    cfg = cycle.planner.goals_config(household.id)
    kw = {"market": cfg["capital_market"], "glide": cfg["glide"], "rules": cfg["rules"],
          "account_values": cycle.planner.account_values(household, day), "paths": PLAN_PATHS, "seed": 0}
    return day, kw


def household_plan(cycle: Cycle, household: Household) -> PlanView:
    """Every active goal's probability of being met and its yearly wealth percentiles (the fan chart), on the
    cycle's planning day (Monte Carlo, fixed seed).

    Raises:
        PlanningError, DataError: from the engine (inconsistent goals, no prices for the day).
    """
    from engine.goals import plan_household

    day, kw = _inputs(cycle, household)
    plan = plan_household(household, day, bands=True, **kw)
    return PlanView(household.id, day, _goals(plan), plan.paths, tuple(float(p) for p in plan.percentiles))


def household_what_if(cycle: Cycle, household: Household, changes: Sequence[str],
                      target_probability: float | None = None) -> WhatIfView:
    """The plan before and after ``changes`` (the CLI's spelling, e.g. ``retire-at=67``, ``save-more=500``).

    Raises:
        PlanningError: an unknown change or one that does not fit the household.
    """
    from engine.goals import parse_what_if, what_if

    day, kw = _inputs(cycle, household)
    parsed = [parse_what_if(c) for c in changes]
    result = what_if(household, day, parsed, target_probability=target_probability, **kw)
    return WhatIfView(
        tuple(c.describe() for c in parsed),
        PlanView(household.id, day, _goals(result.before), result.before.paths),
        PlanView(household.id, day, _goals(result.after), result.after.paths),
        result.focus, result.target_probability, result.savings_needed, tuple(result.lines()),
    )


def prices_on(cycle: Cycle, day: date) -> dict[str, Decimal]:
    """USD per share of every fund on ``day`` (the planner's point-in-time prices), for unrealized gains."""
    return dict(cycle.planner.day(day).prices)
