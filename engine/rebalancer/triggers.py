"""Composable rebalance triggers over a typed portfolio state (CONTRIBUTING.md habit 8).

    policy = cooldown(any_of(calendar(Frequency.QUARTERLY), drift_exceeds(0.03)), days=30)
    decision = policy(state)          # a TriggerDecision, or None when nothing fires

Drift is measured the way the big robo-advisors do: Σ|actual − target| / 2 over asset classes, a
fraction of household value (0.03 = 3 points). A drift above ``DEFAULT_CASH_FLOW_DRIFT`` (2 %) suggests
a cash-flow rebalance (new money buys underweights); above ``DEFAULT_SELL_DRIFT`` (3 %) a full one.

Loss harvesting is its own run kind (``RunKind.TAX_LOSS_HARVEST``): the daily scan fires it on any
trading day it finds lots worth harvesting, and the full-rebalance cooldown never holds it back — losses
are there on the day of a drop and may be gone a month later. A full rebalance that fires on the same
day harvests inside its own solve, so it wins; a withdrawal wins too; new cash waits a day behind a harvest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from engine.model import LifeEvent, RunKind

__all__ = [
    "DEFAULT_CASH_FLOW_DRIFT",
    "DEFAULT_SELL_DRIFT",
    "Frequency",
    "PortfolioState",
    "Trigger",
    "TriggerDecision",
    "all_of",
    "any_of",
    "calendar",
    "cash_flow",
    "cooldown",
    "default_policy",
    "drift",
    "drift_exceeds",
    "harvest_daily",
    "harvest_opportunity",
    "life_event",
    "once_per_day",
]

DEFAULT_CASH_FLOW_DRIFT = 0.02
DEFAULT_SELL_DRIFT = 0.03


class Frequency(StrEnum):
    """Calendar rebalance frequencies."""

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUALLY = "annually"


@dataclass(frozen=True, slots=True)
class PortfolioState:
    """What triggers look at on one trading day for one household.

    Weights are fractions of household value by asset-class name; ``pending_cash`` is USD of net
    deposits (positive) or withdrawals (negative) not yet invested or raised.
    """

    as_of: date
    actual: Mapping[str, float]
    target: Mapping[str, float]
    last_rebalance: date | None = None
    last_automatic_run: date | None = None
    pending_cash: Decimal = Decimal(0)
    idle_cash: Decimal = Decimal(0)
    harvest_candidates: int = 0
    new_events: tuple[LifeEvent, ...] = ()
    previous_day: date | None = None  # the last trading day checked, for calendar boundaries


@dataclass(frozen=True, slots=True)
class TriggerDecision:
    """A trigger fired: why, and which run kind it suggests (``amount`` in USD for liquidations)."""

    reason: str
    run_kind: RunKind
    amount: Decimal | None = None
    sources: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        """Short machine-friendly name of the first firing trigger."""
        return self.sources[0] if self.sources else "manual"


Trigger = Callable[[PortfolioState], TriggerDecision | None]

# Stronger run kinds win when several triggers fire on one day.
_RANK = {RunKind.TAX_LOSS_HARVEST: -1, RunKind.INVEST_CASH: 0, RunKind.PARTIAL_LIQUIDATION: 1,
         RunKind.FULL_REBALANCE: 2}


def drift(actual: Mapping[str, float], target: Mapping[str, float]) -> float:
    """Σ|actual − target| / 2 over the union of classes (fraction of household value, 0..1)."""
    keys = set(actual) | set(target)
    return sum(abs(actual.get(k, 0.0) - target.get(k, 0.0)) for k in keys) / 2.0


def drift_exceeds(
    threshold: float = DEFAULT_SELL_DRIFT,
    *,
    relative: bool = False,
    run_kind: RunKind = RunKind.FULL_REBALANCE,
) -> Trigger:
    """Fire when drift passes ``threshold``.

    Absolute: total drift (Σ|a−t|/2) above ``threshold`` (fraction). Relative: any class whose
    |a − t| / t exceeds ``threshold`` (0.25 = 25 % of its target).
    """

    def fire(state: PortfolioState) -> TriggerDecision | None:
        if relative:
            worst, cls = 0.0, ""
            for k, t in state.target.items():
                if t > 0:
                    r = abs(state.actual.get(k, 0.0) - t) / t
                    if r > worst:
                        worst, cls = r, k
            if worst > threshold:
                return TriggerDecision(
                    f"{cls} is {worst:.0%} away from its target (relative band {threshold:.0%})",
                    run_kind,
                    sources=("drift_relative",),
                )
            return None
        d = drift(state.actual, state.target)
        if d > threshold:
            return TriggerDecision(
                f"drift {d:.2%} above the {threshold:.0%} band", run_kind, sources=("drift",)
            )
        return None

    return fire


def _period(day: date, freq: Frequency) -> tuple[int, int]:
    if freq is Frequency.MONTHLY:
        return (day.year, day.month)
    if freq is Frequency.QUARTERLY:
        return (day.year, (day.month - 1) // 3)
    return (day.year, 0)


def calendar(freq: Frequency = Frequency.QUARTERLY) -> Trigger:
    """Fire on the first trading day of each new period (needs ``previous_day`` in the state)."""
    freq = Frequency(freq)

    def fire(state: PortfolioState) -> TriggerDecision | None:
        prev = state.previous_day
        if prev is None or _period(prev, freq) != _period(state.as_of, freq):
            return TriggerDecision(f"{freq.value} calendar rebalance", RunKind.FULL_REBALANCE, sources=("calendar",))
        return None

    return fire


def cash_flow(min_amount: Decimal = Decimal("100")) -> Trigger:
    """Fire on pending deposits (invest_cash) or withdrawals (partial_liquidation) of at least ``min_amount`` USD."""
    min_amount = Decimal(min_amount)

    def fire(state: PortfolioState) -> TriggerDecision | None:
        if state.pending_cash >= min_amount:
            return TriggerDecision(
                f"deposit of ${state.pending_cash:,.2f} to invest", RunKind.INVEST_CASH, sources=("deposit",)
            )
        if -state.pending_cash >= min_amount:
            amount = -state.pending_cash
            return TriggerDecision(
                f"withdrawal of ${amount:,.2f} to raise",
                RunKind.PARTIAL_LIQUIDATION,
                amount=amount,
                sources=("withdrawal",),
            )
        return None

    return fire


def harvest_opportunity(min_candidates: int = 1, run_kind: RunKind = RunKind.TAX_LOSS_HARVEST) -> Trigger:
    """Fire when the tax engine's daily scan found lots worth harvesting (a ``tax_loss_harvest`` run)."""

    def fire(state: PortfolioState) -> TriggerDecision | None:
        if state.harvest_candidates >= min_candidates:
            n = state.harvest_candidates
            return TriggerDecision(
                f"{n} lot{'s' if n != 1 else ''} worth harvesting", run_kind, sources=("harvest",)
            )
        return None

    return fire


def harvest_daily(main: Trigger, harvest: Trigger) -> Trigger:
    """``main``, and on days it does not fire (or only suggests investing cash), the daily ``harvest`` scan.

    ``harvest`` sits outside ``main``'s cooldown: a full rebalance within its cooldown does not hold a
    harvest back. When ``main`` fires a full rebalance or a liquidation the harvest's reason is added to
    it (the full solve harvests itself; a withdrawal comes first); a pending cash investment waits a day.
    """

    def fire(state: PortfolioState) -> TriggerDecision | None:
        d = main(state)
        h = harvest(state)
        if h is None:
            return d
        if d is None or d.run_kind is RunKind.INVEST_CASH:
            return h
        return TriggerDecision(f"{d.reason}; {h.reason}", d.run_kind, amount=d.amount,
                               sources=(*d.sources, *h.sources))

    return fire


def life_event() -> Trigger:
    """Fire when a new life event was recorded: the plan changed, so targets did."""

    def fire(state: PortfolioState) -> TriggerDecision | None:
        if state.new_events:
            kinds = ", ".join(e.kind.value for e in state.new_events)
            return TriggerDecision(f"life event: {kinds}", RunKind.FULL_REBALANCE, sources=("life_event",))
        return None

    return fire


def any_of(*triggers: Trigger) -> Trigger:
    """Fire when any trigger fires; reasons are joined and the strongest run kind wins."""

    def fire(state: PortfolioState) -> TriggerDecision | None:
        hits = [d for t in triggers if (d := t(state)) is not None]
        if not hits:
            return None
        best = max(hits, key=lambda d: _RANK[d.run_kind])
        amount = next((d.amount for d in hits if d.amount is not None), None)
        return TriggerDecision(
            "; ".join(d.reason for d in hits),
            best.run_kind,
            amount=amount,
            sources=tuple(s for d in hits for s in d.sources),
        )

    return fire


def all_of(*triggers: Trigger) -> Trigger:
    """Fire only when every trigger fires (e.g. calendar AND drift above a small band)."""

    def fire(state: PortfolioState) -> TriggerDecision | None:
        hits = []
        for t in triggers:
            d = t(state)
            if d is None:
                return None
            hits.append(d)
        return any_of(*(lambda _s, d=d: d for d in hits))(state)

    return fire


def cooldown(trigger: Trigger, days: int = 30, *, exempt: tuple[str, ...] = ("withdrawal", "life_event")) -> Trigger:
    """Suppress full rebalances within ``days`` calendar days of the last one.

    Cash-flow runs still pass (a deposit is invested, a withdrawal raised); ``exempt`` sources
    (withdrawals and life events by default) always pass.
    """

    def fire(state: PortfolioState) -> TriggerDecision | None:
        d = trigger(state)
        if d is None or state.last_rebalance is None:
            return d
        if (state.as_of - state.last_rebalance).days >= days or d.run_kind is not RunKind.FULL_REBALANCE:
            return d
        if any(s in exempt for s in d.sources):
            return d
        return None

    return fire


def once_per_day(trigger: Trigger) -> Trigger:
    """At most one automatic run per trading day."""

    def fire(state: PortfolioState) -> TriggerDecision | None:
        if state.last_automatic_run == state.as_of:
            return None
        return trigger(state)

    return fire


def default_policy(
    *,
    sell_drift: float = DEFAULT_SELL_DRIFT,
    cash_flow_drift: float = DEFAULT_CASH_FLOW_DRIFT,
    frequency: Frequency = Frequency.QUARTERLY,
    cooldown_days: int = 30,
    harvest: bool = True,
) -> Trigger:
    """The default policy: deposits, withdrawals, life events, drift bands, quarterly calendar, daily harvest.

    A drift between ``cash_flow_drift`` and ``sell_drift`` only suggests investing new cash; above
    ``sell_drift`` a full rebalance. Everything runs at most once a trading day, full runs at most
    once per ``cooldown_days``; the harvest scan (``harvest``) runs every day, outside the cooldown.
    """
    parts: list[Trigger] = [
        cash_flow(),
        life_event(),
        drift_exceeds(sell_drift),
        calendar(frequency),
    ]
    soft = drift_exceeds(cash_flow_drift, run_kind=RunKind.INVEST_CASH)

    def with_soft(state: PortfolioState) -> TriggerDecision | None:
        d = any_of(*parts)(state)
        if d is not None:
            return d
        # A soft drift is fixed with cash already in the accounts, never by selling.
        if state.idle_cash > 0:
            return soft(state)
        return None

    main = cooldown(with_soft, cooldown_days)
    if harvest:
        main = harvest_daily(main, harvest_opportunity())
    return once_per_day(main)
