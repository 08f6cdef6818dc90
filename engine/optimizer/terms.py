"""The household objective's terms: one small object each, and the problem minimizes their signed sum.

    term = Tracking(v, key)              # declares its cp.Parameters, builds its expression once
    term.set(prepared)                   # writes one household's numbers into those parameters
    term.value()                         # its value at the solution, in numpy

A term is a penalty (convex, added) or a reward (concave, subtracted); ``HouseholdProblem`` checks the
shape of each once when it compiles. Every parameter is data, so a compiled problem serves every
household of its ShapeKey (DPP). Values are fractions of household value; weights such as
``risk_aversion`` are folded into the parameters so a weight of 0 switches a term off without a re-compile.
To add a term, see docs/optimizer.md, "Adding a term or a constraint".
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import ClassVar

import cvxpy as cp
import numpy as np

from engine.optimizer.inputs import Prepared
from engine.optimizer.result import TermKind
from engine.optimizer.shape import ShapeKey, Variables, put, put_lots, value_of

__all__ = [
    "EsgTilt",
    "ExpectedReturn",
    "FactorRisk",
    "FullRisk",
    "Location",
    "TaxCost",
    "Term",
    "Tracking",
    "TradingCost",
    "household_terms",
]


class Term(ABC):
    """One objective term: its parameters, its expression over the problem's variables, its value.

    Subclasses set ``name`` and ``kind``, create their parameters and ``expr`` in ``__init__(v, key)``, and
    implement ``set`` (parameter values from a prepared household) and ``value`` (numpy, for the result).
    ``constraints`` define the term's own auxiliary variables, if any (they are hard constraints).
    """

    name: ClassVar[str]
    kind: ClassVar[TermKind]
    expr: cp.Expression
    constraints: tuple[cp.Constraint, ...] = ()

    @property
    def parameters(self) -> tuple[cp.Parameter, ...]:
        """The parameters this term declared (what ``set`` writes)."""
        return tuple(v for v in vars(self).values() if isinstance(v, cp.Parameter))

    def expression(self) -> cp.Expression:
        """The cvxpy expression (built once; its parameters change, it does not)."""
        return self.expr

    @abstractmethod
    def set(self, p: Prepared) -> None:
        """Write one household's values into the term's parameters."""

    @abstractmethod
    def value(self) -> float:
        """The expression's value at the current variable values, in numpy (cvxpy's tree walk costs more)."""

    def silence(self) -> None:
        """Zero every parameter (the infeasibility diagnosis looks only at the slacks)."""
        for par in self.parameters:
            put(par, np.zeros(par.shape))


class ExpectedReturn(Term):
    """μᵀw: annual expected return of the household's asset weights (a reward)."""

    name, kind = "return", TermKind.REWARD

    def __init__(self, v: Variables, key: ShapeKey) -> None:
        self.v = v
        self.mu = cp.Parameter(key.n_assets, name="mu")
        self.expr = self.mu @ v.w

    def value(self) -> float:
        return float(value_of(self.mu) @ value_of(self.v.w))

    def set(self, p: Prepared) -> None:
        put(self.mu, np.asarray(p.inputs.mu, dtype=float))


class FullRisk(Term):
    """(γ/2)·wᵀΣw with Σ a PSD parameter (γ folded into the parameter's value)."""

    name, kind = "risk", TermKind.PENALTY

    def __init__(self, v: Variables, key: ShapeKey) -> None:
        n = key.n_assets
        self.v = v
        self.sigma = cp.Parameter((n, n), PSD=True, name="half_gamma_sigma")
        self.expr = cp.quad_form(v.w, self.sigma)

    def value(self) -> float:
        w = value_of(self.v.w)
        return float(w @ value_of(self.sigma) @ w)

    def set(self, p: Prepared) -> None:
        if p.cov is None:
            raise ValueError("FullRisk needs a covariance; a factor model goes with FactorRisk")
        scaled = 0.5 * p.inputs.risk_aversion * p.cov
        if p.inputs.risk_aversion >= 0:  # p.cov is PSD (repaired_covariance), so is scaled: skip cvxpy's eigh
            put(self.sigma, scaled)
        else:
            self.sigma.value = scaled


class FactorRisk(Term):
    """(γ/2)·(‖Gᵀw‖² + Σ dᵢwᵢ²) with G = B·chol(F), on the household's asset weights w.

    y = Gᵀw is a k-vector variable (k dense rows) and d·w² goes straight into the quadratic objective,
    so the KKT system stays sparse and no per-asset auxiliary variable is created.
    """

    name, kind = "risk", TermKind.PENALTY

    def __init__(self, v: Variables, key: ShapeKey) -> None:
        n, k = key.n_assets, key.n_factors
        self.g = cp.Parameter((n, k), name="factor_exposure")
        self.d = cp.Parameter(n, nonneg=True, name="idio_var")
        self.y = cp.Variable(k, name="factor_risk")
        self.constraints = (self.y == self.g.T @ v.w,)
        self.v = v
        self.expr = cp.sum_squares(self.y) + cp.sum(cp.multiply(self.d, cp.square(v.w)))

    def value(self) -> float:
        y, w = value_of(self.y), value_of(self.v.w)
        return float(y @ y + value_of(self.d) @ (w * w))

    def set(self, p: Prepared) -> None:
        fm = p.inputs.factor_model
        if fm is None:
            raise ValueError("FactorRisk needs a factor model; a covariance goes with FullRisk")
        scale = 0.5 * p.inputs.risk_aversion
        f = np.asarray(fm.factor_cov, dtype=float)
        chol = np.linalg.cholesky(0.5 * (f + f.T) + 1e-12 * np.eye(f.shape[0]))
        put(self.g, math.sqrt(scale) * np.asarray(fm.loadings, dtype=float) @ chol)
        put(self.d, scale * np.maximum(np.asarray(fm.idio_var, dtype=float), 0.0))


class Tracking(Term):
    """λ·‖z − mix‖² over asset classes (cash counted in the cash class); off without a strategic mix."""

    name, kind = "tracking", TermKind.PENALTY

    def __init__(self, v: Variables, key: ShapeKey) -> None:
        k = key.n_classes
        self.v = v
        self.scale = cp.Parameter(k, nonneg=True, name="sqrt_tracking_weight")
        self.target = cp.Parameter(k, name="scaled_mix")
        self.expr = cp.sum_squares(cp.multiply(self.scale, v.z) - self.target)

    def value(self) -> float:
        gap = value_of(self.scale) * value_of(self.v.z) - value_of(self.target)
        return float(gap @ gap)

    def set(self, p: Prepared) -> None:
        on = 1.0 if p.inputs.strategic_mix else 0.0
        root = math.sqrt(p.inputs.tracking_weight) * on
        put(self.scale, np.full(len(p.classes), root))
        put(self.target, root * p.mix)


def gain_per_dollar(p: Prepared) -> np.ndarray:
    """Each lot's realized gain per dollar sold (0 for a lot worth nothing), lots in input order."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p.lot_value > 0, p.lot_gain / p.lot_value, 0.0)


class TaxCost(Term):
    """Σ rate·gain of the lots sold (negative for losses), USD as a fraction of household value.

    With ``reward_losses`` False (the "no harvesting" comparison) a loss sale costs nothing here: allowed
    when rebalancing needs it, never sought for its tax saving.
    """

    name, kind = "tax", TermKind.PENALTY

    def __init__(self, v: Variables, key: ShapeKey) -> None:
        self.v = v
        self.per_dollar = cp.Parameter(key.lot_slots, name="tax_per_dollar")
        self.expr = self.per_dollar @ v.s

    def value(self) -> float:
        return float(value_of(self.per_dollar) @ value_of(self.v.s))

    def set(self, p: Prepared) -> None:
        x = p.inputs
        tax_pd = x.tax_weight * p.lot_rate * gain_per_dollar(p)
        if not x.reward_losses:
            tax_pd = np.maximum(tax_pd, 0.0)
        put_lots(self.per_dollar, p, tax_pd)


class TradingCost(Term):
    """Half-spread plus commission on every dollar bought or sold (sells priced per lot)."""

    name, kind = "trading", TermKind.PENALTY

    def __init__(self, v: Variables, key: ShapeKey) -> None:
        self.kappa = cp.Parameter(key.n_assets, nonneg=True, name="cost_per_dollar")
        self.lot_kappa = cp.Parameter(key.lot_slots, nonneg=True, name="lot_cost_per_dollar")
        self.v = v
        self.expr = self.kappa @ cp.sum(v.b, axis=0) + self.lot_kappa @ v.s

    def value(self) -> float:
        bought = float(value_of(self.kappa) @ value_of(self.v.b).sum(axis=0))
        return bought + float(value_of(self.lot_kappa) @ value_of(self.v.s))

    def set(self, p: Prepared) -> None:
        kappa = p.inputs.trading_weight * p.kappa
        put(self.kappa, kappa)
        put_lots(self.lot_kappa, p, kappa[np.asarray(p.inputs.lots.asset, dtype=int)])


class Location(Term):
    """Annual tax drag of holding each asset in each account (asset location): Σ drag ∘ h.

    With h = current + b − u it is a constant plus drag on buys minus drag on each lot sold.
    """

    name, kind = "location", TermKind.PENALTY

    def __init__(self, v: Variables, key: ShapeKey) -> None:
        self.drag = cp.Parameter((key.n_accounts, key.n_assets), name="tax_drag")
        self.held = cp.Parameter(name="drag_on_current")
        self.lot_drag = cp.Parameter(key.lot_slots, name="lot_drag")
        self.v = v
        self.expr = self.held + cp.sum(cp.multiply(self.drag, v.b)) - self.lot_drag @ v.s

    def value(self) -> float:
        held = float(value_of(self.held))
        on_buys = float(np.sum(value_of(self.drag) * value_of(self.v.b)))
        return held + on_buys - float(value_of(self.lot_drag) @ value_of(self.v.s))

    def set(self, p: Prepared) -> None:
        drag = p.inputs.location_weight * p.drag
        put(self.drag, drag)
        put(self.held, float(np.sum(drag * p.current)))
        lots = p.inputs.lots
        put_lots(self.lot_drag, p, drag[np.asarray(lots.account, dtype=int), np.asarray(lots.asset, dtype=int)])


class EsgTilt(Term):
    """tilt · (score/10)ᵀw: a reward for higher-scoring holdings."""

    name, kind = "esg", TermKind.REWARD

    def __init__(self, v: Variables, key: ShapeKey) -> None:
        self.v = v
        self.score = cp.Parameter(key.n_assets, name="esg_tilt_score")
        self.expr = self.score @ v.w

    def value(self) -> float:
        return float(value_of(self.score) @ value_of(self.v.w))

    def set(self, p: Prepared) -> None:
        put(self.score, p.inputs.esg_tilt * p.esg / 10.0)


def household_terms(v: Variables, key: ShapeKey) -> tuple[Term, ...]:
    """The household objective's terms, in the order the result lists them (risk by the key's risk model)."""
    risk: Term = FullRisk(v, key) if key.n_factors == 0 else FactorRisk(v, key)
    return (
        ExpectedReturn(v, key),
        risk,
        Tracking(v, key),
        TaxCost(v, key),
        TradingCost(v, key),
        Location(v, key),
        EsgTilt(v, key),
    )
