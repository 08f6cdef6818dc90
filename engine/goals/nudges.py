"""Proactive nudges from a mandate: goals off track, cash short of planned withdrawals, a deposit that fixes drift.

for n in nudges(household, mandate, holdings={AssetClass.US_EQUITY: 120_000.0, ...}):
    print(n.message)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_UP, Decimal
from enum import StrEnum

from engine.goals.config import EventRules, load_event_rules
from engine.goals.mandate import CashFlowKind, Mandate
from engine.model import AssetClass, Household

__all__ = ["Nudge", "NudgeKind", "nudges"]


class NudgeKind(StrEnum):
    OFF_TRACK = "off_track"
    CASH_SHORTFALL = "cash_shortfall"
    DEPOSIT_FIXES_DRIFT = "deposit_fixes_drift"


@dataclass(frozen=True, slots=True)
class Nudge:
    """A suggestion for the household; ``amount`` is USD where one applies."""

    kind: NudgeKind
    message: str
    goal: str | None = None
    amount: Decimal | None = None


def nudges(
    household: Household,
    mandate: Mandate,
    *,
    holdings: Mapping[AssetClass, float] | None = None,
    within_months: int = 3,
    rules: EventRules | None = None,
) -> tuple[Nudge, ...]:
    """Nudges on ``mandate.as_of``: off-track goals (below ``planning.off_track_probability``), planned
    withdrawals in the next ``within_months`` not covered by cash plus contributions, and — given current
    ``holdings`` (USD per class) — the smallest deposit that brings every class inside its band without selling."""
    rules = rules or load_event_rules()
    out: list[Nudge] = []
    for s in mandate.goal_sleeves:
        if s.probability < rules.planning.off_track_probability:
            out.append(
                Nudge(
                    NudgeKind.OFF_TRACK,
                    f"{s.goal_id} is off track: {s.probability:.0%} likely "
                    f"({s.funded_ratio:.0%} funded); see `robo plan` for the savings that fix it",
                    s.goal_id,
                )
            )
    y, m = divmod(mandate.as_of.year * 12 + mandate.as_of.month - 1 + within_months, 12)
    end = date(y, m + 1, 1)
    soon = [f for f in mandate.cash_flows if f.on <= end]
    need = sum((-f.amount for f in soon if f.kind is CashFlowKind.WITHDRAWAL), Decimal(0))
    have = household.cash + sum((f.amount for f in soon if f.kind is CashFlowKind.CONTRIBUTION), Decimal(0))
    if need > have:
        gap = (need - have).quantize(Decimal(1), ROUND_UP)
        out.append(
            Nudge(
                NudgeKind.CASH_SHORTFALL,
                f"planned withdrawals of ${need:,.0f} by {end} exceed cash and "
                f"contributions by ${gap:,.0f}; raise cash now",
                amount=gap,
            )
        )
    if holdings:
        total = sum(holdings.values())
        drifted = [
            c
            for c, (lo, hi) in mandate.class_bands.items()
            if total > 0 and not lo - 1e-9 <= holdings.get(c, 0.0) / total <= hi + 1e-9
        ]
        if drifted:
            # Overweight classes come back inside their bands once the total grows enough: H_c ≤ hi_c·(T + D).
            deposit = max(
                (
                    holdings.get(c, 0.0) / hi - total
                    for c, (_, hi) in mandate.class_bands.items()
                    if hi > 0 and holdings.get(c, 0.0) > 0
                ),
                default=0.0,
            )
            deposit = max(deposit, 0.0)
            if (
                all(hi > 0 or holdings.get(c, 0.0) == 0 for c, (_, hi) in mandate.class_bands.items())
                and deposit <= rules.approval.withdrawal_fraction * 5 * total
            ):
                amt = Decimal(str(deposit)).quantize(Decimal(1), ROUND_UP)
                names = ", ".join(c.value for c in drifted)
                out.append(
                    Nudge(
                        NudgeKind.DEPOSIT_FIXES_DRIFT,
                        f"a deposit of ${amt:,.0f} invested in the underweight "
                        f"classes brings {names} back inside their bands without selling (no tax)",
                        amount=amt,
                    )
                )
    return tuple(out)
