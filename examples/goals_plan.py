"""Plan the sample household, ask a what-if, apply a life event, and run the goals-based DP.

    .venv/bin/python examples/goals_plan.py
"""

from datetime import date

from engine import LifeEvent, LifeEventKind, load_household
from engine.goals import apply_event, build_mandate, optimal_goal_policy, parse_what_if, what_if

as_of = date(2026, 3, 2)
household = load_household()

mandate = build_mandate(household, as_of, paths=5000)
print("\n".join(mandate.explanation))
print({c.value: round(w, 3) for c, w in mandate.strategic_mix.items()})

result = what_if(household, as_of, [parse_what_if("save-more=500")], paths=2000)
print("\n".join(result.lines()))

outcome = apply_event(household, LifeEvent(LifeEventKind.CHILD, date(2026, 3, 1)), as_of, paths=2000)
print(outcome.explanation[0])
print("needs approval:", outcome.needs_approval, outcome.approval_reasons)

policy = optimal_goal_policy([(0.05, 0.04), (0.07, 0.10), (0.09, 0.20)], 100.0, 200.0, years=10)
print(f"DP: P(reach 200 from 100 in 10 y) = {policy.probability:.3f}; Monte Carlo {policy.simulate(20000, 1):.3f}")
