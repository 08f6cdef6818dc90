"""A retirement plan a family can believe: Social Security, taxes on withdrawals, inflation risk, lifespans.

    .venv/bin/python examples/goals_retirement.py

Plans the shipped sample household at market value, shows its Social Security, compares the plain engine
(the portfolio pays everything) with the full one, composes what-ifs, and checks that "save $X more"
reaches the promised probability when the plan is re-run.
"""

from dataclasses import replace
from datetime import date
from decimal import Decimal

from engine.config import load_household
from engine.goals import parse_what_if, plan_household, savings_needed, what_if
from engine.goals.planning import Scenario, account_values_at_market
from engine.goals.social_security import claim_factor, member_pia, pia, spousal_factor

as_of = date(2026, 3, 2)
paths = 2000
household = load_household()
values = account_values_at_market(household, as_of)

print(f"PIA for an AIME of $8,000 first eligible in 2026: ${pia(8000, 2026)}/month")
for m in household.members:
    p = member_pia(m, as_of)
    months = round((m.claim_age or 67) * 12)
    print(f"{m.name}: PIA ${p:,.1f}/month; claiming at {m.claim_age:g} pays {claim_factor(m.birth_date, months):.1%}"
          f" of it; a spousal benefit at 62 would be {spousal_factor(m.birth_date, 62 * 12):.1%} of the other's PIA")

plain = plan_household(household, as_of, account_values=values, paths=paths, model="plain")
full = plan_household(household, as_of, account_values=values, paths=paths)
for a, b in zip(plain.forecasts, full.forecasts, strict=True):
    print(f"{a.name:<30} plain engine {a.probability:5.0%}   with benefits, taxes, lifespans {b.probability:5.0%}")
print({k: round(v) for k, v in full.forecast("retirement").details.items()})

changes = [parse_what_if(w) for w in ("retire-at=62", "claim-ss=70", "part-time=30000:5y", "spending=-10%")]
result = what_if(household, as_of, changes, account_values=values, paths=paths, before=full)
print("\n".join(result.lines()))

richer = replace(household, goals=tuple(
    replace(g, annual_income=Decimal(140000)) if g.id == "retirement" else g for g in household.goals))
need = savings_needed(richer, as_of, "retirement", 0.8, account_values=values, paths=paths)
again = plan_household(richer, as_of, account_values=values, paths=paths,
                       scenario=Scenario(extra_monthly={"retirement": float(need)}))
print(f"Spending $140,000/yr: save ${need:,}/month more → re-run gives {again.forecast('retirement').probability:.0%}"
      " (target 80%)")
