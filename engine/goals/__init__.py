"""Goals, risk profile, glide paths, Monte Carlo and goals-based DP planning, life events → the household Mandate.

from engine.goals import build_mandate, apply_event
mandate = build_mandate(household, as_of)        # what the optimizer consumes
"""

from engine.goals.config import (
    ApprovalThresholds,
    CapitalMarket,
    EventRules,
    GlidePaths,
    PlanningSettings,
    load_capital_market,
    load_event_rules,
    load_glide_paths,
)
from engine.goals.dp import GoalPolicy, Portfolio, optimal_goal_policy, static_probability
from engine.goals.events import EventOutcome, apply_event
from engine.goals.mandate import CashFlow, CashFlowKind, GoalSleeve, Mandate, build_mandate
from engine.goals.montecarlo import Shock, SimulationResult, Sleeve, simulate
from engine.goals.nudges import Nudge, NudgeKind, nudges
from engine.goals.planning import (
    GoalForecast,
    Plan,
    Scenario,
    WhatIf,
    WhatIfKind,
    WhatIfResult,
    goal_sleeve,
    goal_wealth,
    parse_what_if,
    plan_household,
    savings_needed,
    what_if,
)
from engine.goals.risk import QUESTIONS, RiskAssessment, RiskBound, assess_risk, score_questionnaire

__all__ = [
    "QUESTIONS",
    "ApprovalThresholds",
    "CapitalMarket",
    "CashFlow",
    "CashFlowKind",
    "EventOutcome",
    "EventRules",
    "GlidePaths",
    "GoalForecast",
    "GoalPolicy",
    "GoalSleeve",
    "Mandate",
    "Nudge",
    "NudgeKind",
    "Plan",
    "PlanningSettings",
    "Portfolio",
    "RiskAssessment",
    "RiskBound",
    "Scenario",
    "Shock",
    "SimulationResult",
    "Sleeve",
    "WhatIf",
    "WhatIfKind",
    "WhatIfResult",
    "apply_event",
    "assess_risk",
    "build_mandate",
    "goal_sleeve",
    "goal_wealth",
    "load_capital_market",
    "load_event_rules",
    "load_glide_paths",
    "nudges",
    "optimal_goal_policy",
    "parse_what_if",
    "plan_household",
    "savings_needed",
    "score_questionnaire",
    "simulate",
    "static_probability",
    "what_if",
]
