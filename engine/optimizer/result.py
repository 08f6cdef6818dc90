"""Frozen results of the household problem and their explanation in words and numbers.

result = solve_household(inputs)
print(result.explain())          # one paragraph per (account, asset), then what bound and what it cost
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING

from engine.model import AccountType
from engine.optimizer.solvers import SolverName, SolveStatus

if TYPE_CHECKING:
    from engine.optimizer.inputs import Prepared

__all__ = [
    "BindingConstraint",
    "ConstraintGroup",
    "Holding",
    "LotSale",
    "OptimizationResult",
    "TermKind",
    "TermValue",
    "Timings",
    "Trade",
    "explain_result",
    "format_explanation",
]


class TermKind(StrEnum):
    """A reward (concave, maximized) or a penalty (convex, minimized)."""

    REWARD = "reward"
    PENALTY = "penalty"


class ConstraintGroup(StrEnum):
    """Soft constraint groups: the infeasibility diagnosis gives each a slack."""

    CLASS_BANDS = "class_bands"
    ASSET_BANDS = "asset_bands"
    CASH_BUFFER = "cash_buffer"
    LIQUIDITY = "liquidity_reserve"
    ESG_FLOOR = "esg_floor"
    CARBON_CAP = "carbon_cap"
    TAX_BUDGET = "tax_budget"
    TURNOVER = "turnover"


@dataclass(frozen=True, slots=True)
class LotSale:
    """Part of one lot sold: shares, proceeds USD, realized gain USD (0 outside taxable), tax USD."""

    lot_id: str
    account: str
    ticker: str
    shares: float
    proceeds: float
    gain: float
    tax: float
    long_term: bool


@dataclass(frozen=True, slots=True)
class Trade:
    """A buy or sell of one asset in one account: shares, value USD, and the lots a sell relieves."""

    account: str
    ticker: str
    side: str
    shares: float
    value: float
    lots: tuple[LotSale, ...]


@dataclass(frozen=True, slots=True)
class Holding:
    """One (account, asset) before and after: weights of household value and USD."""

    account: str
    ticker: str
    weight_before: float
    weight_after: float
    value_before: float
    value_after: float


@dataclass(frozen=True, slots=True)
class TermValue:
    """An objective term's weighted value at the optimum, as a fraction of household value.

    Return, risk, location and ESG are annual; tax and trading are one-off costs of today's trades.
    """

    name: str
    kind: TermKind
    value: float


@dataclass(frozen=True, slots=True)
class BindingConstraint:
    """A constraint that binds: its group, a readable name, the asset/class/account it is about, its dual.

    ``dual`` is the shadow price: objective improvement per unit (weight fraction) of relaxation.
    """

    group: ConstraintGroup
    name: str
    subject: str
    dual: float


@dataclass(frozen=True, slots=True)
class Timings:
    """Seconds: compile (0 when the shape was cached), solver-reported solve, wall time; solve passes."""

    compile_time: float
    solver_time: float
    wall_time: float
    passes: int


@dataclass(frozen=True, slots=True)
class OptimizationResult:
    """Targets per (account, ticker) as weights of household value, lot-level trades, terms and reasons."""

    household_id: str
    as_of: date
    status: SolveStatus
    solver: SolverName | None
    attempts: tuple[tuple[str, str], ...]
    total_value: float
    targets: Mapping[tuple[str, str], float]
    holdings: tuple[Holding, ...]
    trades: tuple[Trade, ...]
    cash_after: Mapping[str, float]
    terms: tuple[TermValue, ...]
    binding: tuple[BindingConstraint, ...]
    timings: Timings
    guard_directions: Mapping[str, str]
    notes: tuple[str, ...]
    explanation: tuple[str, ...]

    def term(self, name: str) -> float:
        """Value of the objective term called ``name`` (fraction of household value)."""
        for t in self.terms:
            if t.name == name:
                return t.value
        raise KeyError(name)

    @property
    def realized_gain(self) -> float:
        """Net realized gain of today's sells in taxable accounts, USD."""
        return sum(s.gain for t in self.trades for s in t.lots)

    @property
    def tax(self) -> float:
        """Tax on today's sells, USD (negative when losses are harvested)."""
        return sum(s.tax for t in self.trades for s in t.lots)

    def explain(self) -> str:
        """The explanation as printable text."""
        return format_explanation(self)


def format_explanation(result: OptimizationResult) -> str:
    """A printable explanation of ``result`` (for ``robo demo`` and proposals)."""
    head = (
        f"Plan for household {result.household_id} on {result.as_of}: "
        f"${result.total_value:,.0f} across {len({h.account for h in result.holdings}) or 0} accounts "
        f"(solved by {result.solver.value if result.solver else '—'} in {result.timings.wall_time * 1000:.0f} ms)"
    )
    return "\n".join([head, *("  " + line for line in result.explanation)])


def _money(x: float) -> str:
    return f"-${-x:,.0f}" if x < 0 else f"${x:,.0f}"


def explain_result(result: OptimizationResult, p: Prepared) -> OptimizationResult:
    """Attach one sentence per (account, asset) plus a summary of binding constraints and term values."""
    x = p.inputs
    binding_by_subject: dict[str, list[BindingConstraint]] = {}
    for bc in result.binding:
        binding_by_subject.setdefault(bc.subject, []).append(bc)
    tax_binds = any(bc.group is ConstraintGroup.TAX_BUDGET for bc in result.binding)
    turnover_binds = any(bc.group is ConstraintGroup.TURNOVER for bc in result.binding)
    trades = {(t.account, t.ticker, t.side): t for t in result.trades}
    types = dict(zip(x.accounts, x.account_types, strict=True))
    account_index = {a: i for i, a in enumerate(x.accounts)}
    ticker_index = {t: i for i, t in enumerate(x.tickers)}
    class_names = [c.value for c in x.asset_class]
    # per asset, once: how much the drag differs across accounts, where it is lowest, its highest value
    drag = p.drag
    has_drag = bool(drag.size)
    if has_drag:
        drag_rows = drag.tolist()
        drag_spread = (drag.max(axis=0) - drag.min(axis=0)).tolist()
        drag_best = drag.argmin(axis=0).tolist()
        drag_top = drag.max(axis=0).tolist()
    lines: list[str] = []
    for h in result.holdings:
        j = ticker_index[h.ticker]
        cls = class_names[j]
        held = h.weight_after > 0
        words = (
            f"{h.ticker} in {h.account}: hold {h.weight_after:.1%} (was {h.weight_before:.1%})"
            if held
            else f"{h.ticker} in {h.account}: hold none (was {h.weight_before:.1%})"
        )
        parts = [words]
        sell = trades.get((h.account, h.ticker, "sell"))
        buy = trades.get((h.account, h.ticker, "buy"))
        account_type = types[h.account]
        taxable = account_type is AccountType.TAXABLE
        if sell is not None:
            n_lots = len(sell.lots)
            if taxable:
                terms = sorted({"long-term" if s.long_term else "short-term" for s in sell.lots})
                gain = sum(s.gain for s in sell.lots)
                tax = sum(s.tax for s in sell.lots)
                what = "loss" if gain < 0 else "gain"
                parts.append(
                    f"selling {n_lots} {'/'.join(terms)} lot{'s' if n_lots != 1 else ''} "
                    f"({_money(sell.value)}) realizes {_money(abs(gain))} {what}, {_money(tax)} tax"
                )
            else:
                parts.append(f"selling {_money(sell.value)} tax-free inside a {account_type.value} account")
        if buy is not None:
            parts.append(f"buying {_money(buy.value)} ({buy.shares:,.2f} shares)")
        reasons: list[str] = []
        for bc in binding_by_subject.get(h.ticker, ()):
            reasons.append(f"the {bc.name} binds")
        for bc in binding_by_subject.get(cls, ()):
            reasons.append(f"the {bc.name} band binds")
        if tax_binds and taxable and h.weight_before > 0 and held:
            reasons.append("the tax budget binds")
        if turnover_binds and (buy is not None or sell is not None):
            reasons.append("the turnover limit binds")
        if h.ticker in result.guard_directions and buy is None and sell is None and h.weight_before > 0:
            reasons.append(f"its wash-sale group trades {result.guard_directions[h.ticker]}-only today")
        if has_drag and h.weight_after > h.weight_before + 1e-6 and drag_spread[j] > 1e-6:
            a = account_index[h.account]
            if drag_best[j] == a:
                reasons.append(f"its tax drag is lowest here ({drag_rows[a][j]:.2%}/yr vs up to {drag_top[j]:.2%})")
        if reasons:
            reasons = list(dict.fromkeys(reasons))  # both bounds of an excluded fund bind: say it once
            parts.append(("kept because " if sell is None and buy is None else "because ") + ", ".join(reasons))
        lines.append("; ".join(parts))
    for acct, cash in result.cash_after.items():
        lines.append(f"cash in {acct}: {_money(cash)} after trades")
    named = {t.name: t.value for t in result.terms}
    lines.append("terms (fraction of household value): " + ", ".join(f"{k} {v:+.4%}" for k, v in named.items()))
    if result.binding:
        lines.append("binding: " + "; ".join(f"{bc.name} (shadow price {bc.dual:.4g})" for bc in result.binding[:12]))
    realized, tax_total = result.realized_gain, result.tax
    if realized or tax_total:
        lines.append(f"taxes: realizes {_money(realized)} net gain, {_money(tax_total)} tax")
    lines.extend(f"note: {n}" for n in result.notes)
    return replace(result, explanation=tuple(lines))
