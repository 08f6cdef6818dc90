"""Risk profile: willingness (a five-question questionnaire, 1–10) and capacity (horizon, funding, income, reserve).

    answers = {"horizon": 4, "drawdown_reaction": 3, "experience": 3, "income_need": 4, "loss_tolerance": 3}
    score_questionnaire(answers)  # 6
    assess_risk(household, horizon_years=18.0, funded_ratio=0.4, reserve_months=3.0).level

The level used is the lower of the two; the assessment says which one bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from engine.errors import PlanningError
from engine.model import Household, IncomeStability

__all__ = [
    "QUESTIONS",
    "RiskAssessment",
    "RiskBound",
    "assess_risk",
    "equity_cap",
    "risk_aversion",
    "score_questionnaire",
]

# key: (question, answers 1..5 from most cautious to boldest, weight). Weights sum to 1.
QUESTIONS: Mapping[str, tuple[str, tuple[str, ...], float]] = {
    "horizon": (
        "When will you need most of this money?",
        ("within 2 years", "2-5 years", "5-10 years", "10-20 years", "more than 20 years"),
        0.25,
    ),
    "drawdown_reaction": (
        "Your portfolio falls 25 % in a year. What do you do?",
        ("sell everything", "sell some", "hold and worry", "hold calmly", "buy more"),
        0.30,
    ),
    "experience": (
        "How much investing experience do you have?",
        ("none", "savings accounts only", "funds for a few years", "funds and stocks for years", "professional"),
        0.10,
    ),
    "income_need": (
        "How much do you rely on this portfolio for income in the next 5 years?",
        ("entirely", "mostly", "partly", "a little", "not at all"),
        0.15,
    ),
    "loss_tolerance": (
        "The largest one-year loss you could live with:",
        ("none", "5 %", "15 %", "25 %", "40 % or more"),
        0.20,
    ),
}


class RiskBound(StrEnum):
    """Which side of the profile set the risk level."""

    WILLINGNESS = "willingness"
    CAPACITY = "capacity"
    BOTH = "both"


def score_questionnaire(answers: Mapping[str, int]) -> int:
    """Willingness 1–10 from answers 1–5: 1 + 9 × (weighted mean − 1) / 4, rounded half up.

    Raises:
        PlanningError: a question is unanswered or unknown, or an answer is outside 1–5.
    """
    unknown = sorted(set(answers) - set(QUESTIONS))
    missing = sorted(set(QUESTIONS) - set(answers))
    if unknown or missing:
        raise PlanningError(
            f"questionnaire answers: unknown {unknown}, missing {missing}",
            fix=f"answer exactly: {', '.join(QUESTIONS)}",
        )
    total = 0.0
    for key, (_, _, weight) in QUESTIONS.items():
        a = answers[key]
        if isinstance(a, bool) or not isinstance(a, int) or not 1 <= a <= 5:
            raise PlanningError(f"answer to {key!r} must be an integer 1–5", value=a)
        total += weight * a
    return max(1, min(10, int(1 + 9 * (total - 1) / 4 + 0.5)))


def equity_cap(level: int) -> float:
    """Maximum equity share (fraction) at a risk level: 20 % at 1, +10 points a level, 100 % from 9."""
    return min(1.0, 0.1 + 0.1 * level)


def risk_aversion(level: int) -> float:
    """γ for the optimizer's return − γ·risk objective: 1.5 at level 10, ×1.3 per level below."""
    return round(1.5 * 1.3 ** (10 - level), 3)


_STABILITY = {
    IncomeStability.STABLE: 1.0,
    IncomeStability.VARIABLE: 0.6,
    IncomeStability.UNSTABLE: 0.3,
    IncomeStability.NONE: 0.1,
}
# Capacity weights: horizon, funding, income stability, emergency reserve.
_CAPACITY_WEIGHTS = {"horizon": 0.35, "funded": 0.20, "income": 0.25, "reserve": 0.20}


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    """Willingness and capacity (1–10), the level used (the lower), which bound, and what shaped capacity.

    ``capacity_factors`` are sub-scores in [0, 1]; ``equity_cap`` the maximum equity fraction;
    ``risk_aversion`` the optimizer's γ.
    """

    willingness: int
    capacity: int
    level: int
    bound: RiskBound
    capacity_factors: Mapping[str, float] = field(default_factory=dict)
    questionnaire: int | None = None

    @property
    def equity_cap(self) -> float:
        return equity_cap(self.level)

    @property
    def risk_aversion(self) -> float:
        return risk_aversion(self.level)

    def describe(self) -> str:
        """One plain line: the two scores, the level and what bound."""
        f = ", ".join(f"{k} {v:.0%}" for k, v in self.capacity_factors.items())
        return (
            f"Risk level {self.level}/10 (willingness {self.willingness}, capacity {self.capacity} from {f}; "
            f"bound by {self.bound.value}): equity at most {self.equity_cap:.0%}, risk aversion {self.risk_aversion:g}"
        )


def assess_risk(
    household: Household,
    *,
    horizon_years: float,
    funded_ratio: float,
    reserve_months: float,
    as_of: date | None = None,
) -> RiskAssessment:
    """Assess the household: willingness from its profile, capacity from the four factors (weights above).

    The income factor is the mean stability of the working-age members (on ``as_of``) times how well
    earned income covers 1.5 × annual expenses. ``horizon_years`` is the funding-weighted years to the
    goals; ``funded_ratio`` wealth / present value of the targets; ``reserve_months`` months of
    expenses already held for emergencies.
    """
    if horizon_years < 0 or funded_ratio < 0 or reserve_months < 0:
        raise PlanningError(
            "horizon, funded ratio and reserve months must be ≥ 0", value=(horizon_years, funded_ratio, reserve_months)
        )
    # Working-age members count equally (a lost job weighs as much as a kept one); retirees not at all.
    working = [m for m in household.members if as_of is None or m.age_on(as_of) < m.retirement_age or m.income > 0]
    total = float(sum(m.income for m in household.members))
    if working:
        income = sum(_STABILITY[m.income_stability] for m in working) / len(working)
        # Scaled by how well earned income covers spending (1.5 × expenses counts as full cover).
        spending = 18 * float(household.monthly_expenses)
        if spending > 0:
            income *= min(1.0, total / spending)
    else:
        income = _STABILITY[IncomeStability.NONE]
    need = household.emergency_months or 0.0
    factors = {
        "horizon": min(horizon_years / 20.0, 1.0),
        "funded": min(float(funded_ratio), 1.0),
        "income": income,
        "reserve": 1.0 if need == 0 else min(reserve_months / need, 1.0),
    }
    raw = sum(_CAPACITY_WEIGHTS[k] * v for k, v in factors.items())
    capacity = max(1, min(10, int(1 + 9 * raw + 0.5)))
    questionnaire = None
    if household.risk.answers:
        try:
            questionnaire = score_questionnaire(household.risk.answers)
        except PlanningError:
            questionnaire = None
    willingness = int(household.risk.willingness)
    level = min(willingness, capacity)
    bound = (
        RiskBound.BOTH
        if willingness == capacity
        else (RiskBound.WILLINGNESS if willingness < capacity else RiskBound.CAPACITY)
    )
    return RiskAssessment(willingness, capacity, level, bound, factors, questionnaire)
