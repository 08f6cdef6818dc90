"""The plan as one document: the numbers ``robo plan`` prints, its chart shows and ``--json`` emits.

    out = plan_document(household, date(2026, 3, 2), what_ifs=["claim-ss=70", "spending=-10%"])
    out["doc"]["goals"][0]["probability"]
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from engine.goals.config import load_event_rules
from engine.goals.mandate import build_mandate
from engine.goals.planning import (
    account_values_at_market,
    account_values_from_book,
    parse_what_if,
    plan_household,
    savings_needed,
    what_if,
)
from engine.goals.social_security import member_pia
from engine.model import Household

__all__ = ["plan_document"]


def plan_document(
    household: Household,
    as_of: date,
    *,
    what_ifs: Sequence[str] = (),
    target: float | None = None,
    paths: int | None = None,
    seed: int | None = None,
    book_value: bool = False,
) -> dict[str, Any]:
    """Everything ``robo plan`` shows, computed once: the mandate, the plan (same paths, seed, equity and cap
    as the mandate, so one probability per goal everywhere), savings gaps, the composed what-if and income.

    Returns ``{"doc", "mandate", "plan", "what_if", "gaps", "target"}``; ``doc`` is what ``robo plan --json``
    prints: ``{"goals": [{"id", "kind", "probability", "funded", "target", "target_date", "monthly_gap"}],
    "what_if": [{"label", "goal", "base_probability", "probability"}], "income": {...}}`` (fractions, USD).
    Holdings are valued at market on ``as_of`` (embedded prices) unless ``book_value``.

    Raises:
        PlanningError: a malformed what-if (before anything is simulated) or a goal that does not fit.
    """
    rules = load_event_rules()
    paths = paths or rules.planning.paths
    seed = rules.planning.seed if seed is None else seed
    values = account_values_from_book(household) if book_value else account_values_at_market(household, as_of)
    changes = [parse_what_if(w) for w in what_ifs]  # bad input fails before any simulation
    mandate = build_mandate(household, as_of, account_values=values, paths=paths, seed=seed, rules=rules)
    equity_now = {s.goal_id: s.equity_share for s in mandate.goal_sleeves}
    cap = mandate.risk.equity_cap
    kw = dict(account_values=values, paths=paths, seed=seed, equity_now=equity_now, equity_cap=cap, rules=rules)
    plan = plan_household(household, as_of, bands=True, **kw)
    goal_by_id = {g.id: g for g in household.goals}
    want = target or rules.planning.target_probability
    gaps: dict[str, object] = {}
    for f in plan.forecasts:
        if f.probability >= want:
            gaps[f.goal_id] = 0
        else:
            amt = savings_needed(household, as_of, f.goal_id, want, **kw)
            gaps[f.goal_id] = None if amt is None else int(amt)
    result = None
    if changes:
        result = what_if(household, as_of, changes, target_probability=target, before=plan, **kw)
    income: dict[str, object] = {"currency": "USD per year, today's dollars"}
    retirement = next((f for f in plan.forecasts if f.kind.value == "retirement"), None)
    if retirement is not None and retirement.details:
        d = retirement.details
        income["retirement_spending"] = round(d.get("spending", 0.0))
        income["social_security"] = {
            m.id: {
                "pia_monthly": None if member_pia(m, as_of) is None else float(member_pia(m, as_of)),
                "claim_age": m.claim_age,
                "annual": round(d.get(f"social_security_{m.id}", 0.0)),
            }
            for m in household.members
            if f"social_security_{m.id}" in d
        }
        income["pensions"] = {m.id: round(d.get(f"pension_{m.id}", 0.0)) for m in household.members
                              if f"pension_{m.id}" in d}
        income["median_years_in_retirement"] = d.get("median_years_in_retirement")
    doc = {
        "goals": [
            {
                "id": f.goal_id,
                "kind": f.kind.value,
                "probability": round(f.probability, 4),
                "funded": round(f.funded_ratio, 4),
                "target": round(f.target, 2),
                "target_date": goal_by_id[f.goal_id].target_date.isoformat(),
                "monthly_gap": gaps[f.goal_id],
            }
            for f in plan.forecasts
        ],
        "what_if": []
        if result is None
        else [
            {
                "label": "; ".join(c.describe() for c in result.changes),
                "goal": b.goal_id,
                "base_probability": round(b.probability, 4),
                "probability": round(result.after.forecast(b.goal_id).probability, 4),
            }
            for b in result.before.forecasts
        ],
        "income": income,
    }
    return {"doc": doc, "mandate": mandate, "plan": plan, "what_if": result, "gaps": gaps, "target": want}
