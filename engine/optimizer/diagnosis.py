"""Why a household problem is infeasible, and which constraints bind at a solution: in the groups' own words.

    raise diagnose(problem, prepared, record, chain)     # an Infeasible naming the conflicting groups
    binding(problem, prepared)                           # BindingConstraint per soft row with a dual

Diagnosis re-solves the same compiled problem with every term silenced and each soft group's slack free
(priced per ``SoftConstraint.slack_price``): the groups that need slack cannot be met; a second solve with
those held hard finds the groups they conflict with. Each group describes itself (``describe``, ``fix``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.errors import Infeasible
from engine.optimizer.inputs import Prepared
from engine.optimizer.problem import HouseholdProblem
from engine.optimizer.result import BindingConstraint, ConstraintGroup
from engine.optimizer.solvers import SolveRecord, SolverSpec, SolveStatus

__all__ = ["binding", "diagnose"]

NEEDS_TOL = 1e-6
"""Slack below this (weight units) is solver noise, not a conflict."""

DUAL_TOL = 1e-7
"""Duals below this are not reported as binding."""


def diagnose(prob: HouseholdProblem, p: Prepared, record: SolveRecord, chain: Sequence[SolverSpec]) -> Infeasible:
    """Re-solve with slacks on the soft groups; name the groups that need slack and how much."""
    x = p.inputs
    prob.silence_objective()
    needs = _slack_solve(prob, p, [], chain)
    first = [grp for grp, amt in needs.items() if amt > NEEDS_TOL]
    partners: dict[ConstraintGroup, float] = {}
    if first:
        partner_needs = _slack_solve(prob, p, first, chain)
        partners = {grp: amt for grp, amt in partner_needs.items() if amt > NEEDS_TOL and grp not in first}
    prob.assign(p)
    conflicts = {grp.value: amt for grp, amt in needs.items() if amt > NEEDS_TOL}
    conflicts.update({grp.value: amt for grp, amt in partners.items()})
    by_group = {group.group: group for group in prob.soft}
    names = [by_group[grp].describe(p, needs.get(grp, 0.0)) for grp in first]
    names += [by_group[grp].describe(p, amt) for grp, amt in partners.items()]
    if not names:
        names = ["the hard constraints (long-only holdings, lot sizes, cash balances)"]
    joined = " and ".join(names[:3])
    verb = "conflict" if len(names) > 1 else "cannot be met"
    fixes = "; ".join(dict.fromkeys(by_group[grp].fix for grp in [*first, *partners]))
    return Infeasible(
        f"Infeasible for household {x.household_id} on {x.as_of}: {joined} {verb}" + (f"; {fixes}" if fixes else ""),
        conflicts=conflicts,
        household=x.household_id,
        as_of=x.as_of,
        attempts=record.attempts,
    )


def _slack_solve(
    prob: HouseholdProblem, p: Prepared, hard: Sequence[ConstraintGroup], chain: Sequence[SolverSpec]
) -> dict[ConstraintGroup, float]:
    """Each enabled group's slack at the cheapest relaxation (a switched-off group's slack is noise)."""
    prob.set_mode(diagnose=True, hard=hard)
    rec = prob.compiled.solve(chain)
    if rec.status is not SolveStatus.OPTIMAL:
        return {}
    on = {group.group for group in prob.soft if group.enabled(p.inputs)}
    return {grp: amount for grp, amount in prob.slacks.needs().items() if grp in on}


def binding(prob: HouseholdProblem, p: Prepared) -> tuple[BindingConstraint, ...]:
    """Constraints of the soft groups with a non-zero dual (shadow price per unit of relaxation)."""
    out: list[BindingConstraint] = []
    for group in prob.soft:
        if not group.enabled(p.inputs):  # switched off: holds trivially, never reported
            continue
        for side, con in enumerate(group.constraints):
            dual = con.dual_value
            if dual is None:
                continue
            d = np.abs(np.atleast_1d(np.asarray(dual, dtype=float)))
            hits = np.flatnonzero(d > DUAL_TOL)
            for j, shadow in zip(hits.tolist(), d[hits].tolist(), strict=True):
                name, subject = group.label(p, side, j)
                out.append(BindingConstraint(group.group, name, subject, shadow))
    return tuple(out)
