"""Markowitz front door on the parametric engine: each objective compiled once, re-solved per call.

    ef = Frontier(mu, cov, bounds=(0, 1))
    w = ef.max_sharpe(risk_free_rate=0.02); ret, vol, sharpe = ef.performance(w, 0.02)

    ef = Frontier(mu, factor_model=FactorModel(loadings, factor_cov, idio_var))   # Σ = B F Bᵀ + diag(d)

Units: ``mu`` annual expected returns (fractions), ``cov`` annual covariance; weights sum to 1.
With a factor model the variance is written ‖y‖² + Σ dᵢwᵢ² with y = (B·F^½)ᵀw (k auxiliary variables),
so the solver's KKT system stays sparse: 500 assets with 5 factors solve in a few milliseconds.
The formulations are PyPortfolioOpt's (``EfficientFrontier``), so answers agree with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import cvxpy as cp
import numpy as np
from numpy.typing import ArrayLike

from engine.errors import Infeasible, OptimizationError, SolverFailed, ValidationError
from engine.optimizer.inputs import FactorModel
from engine.optimizer.shape import value_of
from engine.optimizer.solvers import (
    DEFAULT_CHAIN,
    CompiledProblem,
    SolveRecord,
    SolverSpec,
    SolveStatus,
)
from engine.optimizer.validate import as_vector, repaired_covariance

__all__ = ["Frontier", "Performance"]

Bound = float | None
Bounds = tuple[Bound, Bound] | Sequence[tuple[Bound, Bound]]


_TIGHT = {"tol_gap_abs": 1e-11, "tol_gap_rel": 1e-11, "tol_feas": 1e-11, "tol_ktratio": 1e-9}
"""Clarabel tolerances for the front door: answers agree with PyPortfolioOpt to 1e-6 in performance."""

_TIGHT_CONE = {**_TIGHT, "tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}
"""For the factor form's risk cone (n + k + 1 wide): at 1e-11 Clarabel stalls at 'AlmostSolved' (residual
≈ 2e-11) and the chain falls back to SCS; 1e-10 solves in ~17 iterations and is still far inside 1e-6."""


class Performance(NamedTuple):
    """Annual expected return, annual volatility and Sharpe ratio of a weight vector."""

    expected_return: float
    volatility: float
    sharpe: float


class _Risk:
    """The variance term of one compiled objective, built from parameters (dense Σ or factor form).

    ``quadratic`` is scale·wᵀΣw (for the objective); ``norm`` is √(wᵀΣw) (for a risk limit, a second-order
    cone). ``constraints`` are the auxiliary definitions the term needs; ``assign`` writes the values.
    """

    def __init__(self, w: cp.Variable, model: _DenseModel | _FactorModel, *, conic: bool) -> None:
        self.model, self.conic = model, conic
        self.constraints: list[Any] = []
        if isinstance(model, _DenseModel):
            n = w.shape[0]
            if conic:
                self.chol = cp.Parameter((n, n), name="chol")
                self.expr: cp.Expression = cp.norm(self.chol.T @ w, 2)
            else:
                self.sigma = cp.Parameter((n, n), PSD=True, name="sigma")
                self.expr = cp.quad_form(w, self.sigma)
            return
        # Σ = B F Bᵀ + D as ‖y‖² + Σ d·w² with y = (B·chol F)ᵀ w: k auxiliary variables and k dense rows,
        # so the KKT system stays sparse (an n×n Σ would make it dense).
        n, k = model.exposure.shape
        y = cp.Variable(k, name="factor_exposure")
        self.g = cp.Parameter((n, k), name="scaled_loadings")
        self.constraints = [y == self.g.T @ w]
        if conic:
            self.sd = cp.Parameter(n, nonneg=True, name="idio_sd")
            self.expr = cp.norm(cp.hstack([y, cp.multiply(self.sd, w)]), 2)
        else:
            self.d = cp.Parameter(n, nonneg=True, name="idio_var")
            self.expr = cp.sum_squares(y) + cp.sum(cp.multiply(self.d, cp.square(w)))

    def assign(self, scale: float = 1.0) -> None:
        """Write the risk model's values, the variance multiplied by ``scale`` (quadratic form only)."""
        m = self.model
        if isinstance(m, _DenseModel):
            if self.conic:
                self.chol.value = m.chol
            else:
                self.sigma.value = scale * m.cov
            return
        if self.conic:
            self.g.value, self.sd.value = m.exposure, np.sqrt(m.idio_var)
        else:
            self.g.value, self.d.value = math.sqrt(scale) * m.exposure, scale * m.idio_var


@dataclass(frozen=True, slots=True)
class _DenseModel:
    cov: np.ndarray
    chol: np.ndarray

    def variance(self, w: np.ndarray) -> float:
        return float(w @ self.cov @ w)

    def dense(self) -> np.ndarray:
        return self.cov


@dataclass(frozen=True, slots=True)
class _FactorModel:
    exposure: np.ndarray  # G = B·chol(F), n×k: wᵀBFBᵀw = ‖Gᵀw‖²
    idio_var: np.ndarray

    def variance(self, w: np.ndarray) -> float:
        y = self.exposure.T @ w
        return float(y @ y + self.idio_var @ (w * w))

    def dense(self) -> np.ndarray:
        return np.asarray(self.exposure @ self.exposure.T + np.diag(self.idio_var))


@dataclass(frozen=True, slots=True)
class _Problem:
    compiled: CompiledProblem
    weights: Callable[[], np.ndarray]
    risk: _Risk
    params: dict[str, cp.Parameter]


def _factor_model(fm: FactorModel, n: int) -> tuple[_FactorModel, str | None]:
    """Validated factor model as G = B·chol(F) and d; raises ValidationError naming the bad field."""
    b = np.asarray(fm.loadings, dtype=float)
    if b.ndim != 2 or b.shape[0] != n or b.shape[1] < 1:
        raise ValidationError(
            f"has shape {b.shape}, expected ({n}, k)", field="FactorModel.loadings", fix="one row per asset"
        )
    if not np.all(np.isfinite(b)):
        raise ValidationError("holds NaN or inf", field="FactorModel.loadings", fix="fill or drop the missing values")
    k = b.shape[1]
    f, note = repaired_covariance(fm.factor_cov, k, "FactorModel.factor_cov")
    d = as_vector(fm.idio_var, n, "FactorModel.idio_var")
    if np.any(d < 0):
        i = int(np.flatnonzero(d < 0)[0])
        raise ValidationError(
            f"idiosyncratic variance of asset {i} is negative", field="FactorModel.idio_var", value=float(d[i])
        )
    vals, vecs = np.linalg.eigh(f)
    root = vecs * np.sqrt(np.maximum(vals, 0.0))  # F = root·rootᵀ, also for a singular F
    return _FactorModel(b @ root, d), note


class Frontier:
    """Mean-variance optimizer reusing one compiled problem per objective (PyPortfolioOpt's formulations).

    The risk model is a dense covariance ``cov`` or a ``factor_model`` (Σ = B F Bᵀ + diag(d)); the factor
    form keeps the problem sparse and is the one to use beyond a few hundred assets.
    ``bounds`` is ``(lo, hi)`` for every asset or one pair per asset. As in PyPortfolioOpt, ``None`` in
    the single pair means ±1 (``(None, None)`` is ``(-1, 1)``); ``None`` in per-asset pairs means unbounded.
    Raises ``ValidationError`` on bad inputs, ``Infeasible`` when a target cannot be met,
    ``SolverFailed`` when every solver fails.
    """

    def __init__(
        self,
        mu: ArrayLike,
        cov: ArrayLike | None = None,
        bounds: Bounds = (0.0, 1.0),
        *,
        factor_model: FactorModel | None = None,
        tickers: Sequence[str] | None = None,
        solver_chain: Sequence[SolverSpec] = DEFAULT_CHAIN,
    ) -> None:
        if tickers is None and hasattr(mu, "index") and not callable(mu.index):
            tickers = [str(t) for t in mu.index]
        mu_arr = np.asarray(mu, dtype=float).reshape(-1)
        self.n = mu_arr.size
        if self.n < 1:
            raise ValidationError("needs at least one asset", field="mu")
        if (cov is None) == (factor_model is None):
            raise ValidationError(
                "needs exactly one risk model",
                field="cov",
                fix="pass either cov or factor_model, not both (with a factor model pass bounds= by keyword)",
            )
        self.tickers: tuple[str, ...] = tuple(tickers) if tickers is not None else tuple(str(i) for i in range(self.n))
        if len(self.tickers) != self.n:
            raise ValidationError("one ticker per asset", field="tickers", value=len(self.tickers))
        self.solver_chain = tuple(solver_chain)
        self.notes: list[str] = []
        self._lo, self._hi = self._parse_bounds(bounds)
        self._problems: dict[str, _Problem] = {}
        self.last_solve: SolveRecord | None = None
        self.mu = np.zeros(self.n)
        self._model: _DenseModel | _FactorModel
        self.update(mu=mu_arr, cov=cov, factor_model=factor_model)

    @classmethod
    def from_factor_model(
        cls,
        mu: ArrayLike,
        loadings: ArrayLike,
        factor_cov: ArrayLike,
        idio_var: ArrayLike,
        bounds: Bounds = (0.0, 1.0),
        *,
        tickers: Sequence[str] | None = None,
        solver_chain: Sequence[SolverSpec] = DEFAULT_CHAIN,
    ) -> Frontier:
        """A Frontier on Σ = B F Bᵀ + diag(d): ``loadings`` B (n×k), ``factor_cov`` F (k×k), ``idio_var`` d."""
        fm = FactorModel(np.asarray(loadings), np.asarray(factor_cov), np.asarray(idio_var))
        return cls(mu, None, bounds, factor_model=fm, tickers=tickers, solver_chain=solver_chain)

    @property
    def cov(self) -> np.ndarray:
        """The annual covariance as a dense n×n matrix (built on demand from a factor model)."""
        return self._model.dense()

    # -- data ----------------------------------------------------------------------------------

    def _parse_bounds(self, bounds: Bounds) -> tuple[np.ndarray, np.ndarray]:
        pairs: Sequence[tuple[Bound, Bound]]
        if len(bounds) == 2 and not isinstance(bounds[0], tuple | list):
            # PyPortfolioOpt's convention, kept so answers agree: a single pair's None means ±1.
            lo0, hi0 = cast(tuple[Bound, Bound], bounds)
            pairs = [(-1.0 if lo0 is None else lo0, 1.0 if hi0 is None else hi0)] * self.n
        else:
            pairs = list(cast(Sequence[tuple[Bound, Bound]], bounds))
        if len(pairs) != self.n:
            raise ValidationError(f"needs one (lo, hi) pair per asset, got {len(pairs)} for {self.n}", field="bounds")
        lo = np.array([-np.inf if p[0] is None else float(p[0]) for p in pairs])
        hi = np.array([np.inf if p[1] is None else float(p[1]) for p in pairs])
        if np.any(lo > hi):
            i = int(np.flatnonzero(lo > hi)[0])
            raise ValidationError(
                f"lower bound above upper bound for {self.tickers[i]}", field="bounds", value=pairs[i]
            )
        if lo.sum() > 1 + 1e-12 or hi.sum() < 1 - 1e-12:
            raise ValidationError(
                f"bounds cannot sum to one (lower bounds sum to {lo.sum():.4g}, upper bounds to {hi.sum():.4g})",
                field="bounds",
                fix="widen the bounds so that weights summing to 1 fit",
            )
        return lo, hi

    def update(
        self, *, mu: ArrayLike | None = None, cov: ArrayLike | None = None, factor_model: FactorModel | None = None
    ) -> None:
        """Replace expected returns and/or the risk model (same number of assets); the next call re-solves.

        Switching between a dense ``cov`` and a ``factor_model`` (or changing the number of factors)
        compiles the objectives anew; any other change only writes parameter values.
        """
        if cov is not None and factor_model is not None:
            raise ValidationError("got both cov and factor_model", field="cov", fix="pass one risk model")
        if mu is not None:
            self.mu = as_vector(mu, self.n, "mu")
        model: _DenseModel | _FactorModel | None = None
        note = None
        if cov is not None:
            fixed, note = repaired_covariance(cov, self.n)
            model = _DenseModel(fixed, np.linalg.cholesky(fixed + 1e-14 * np.eye(self.n)))
        elif factor_model is not None:
            model, note = _factor_model(factor_model, self.n)
        if model is None:
            return
        if note:
            self.notes.append(note)
        old: _DenseModel | _FactorModel | None = getattr(self, "_model", None)
        same_shape = (isinstance(old, _DenseModel) and isinstance(model, _DenseModel)) or (
            isinstance(old, _FactorModel)
            and isinstance(model, _FactorModel)
            and old.exposure.shape == model.exposure.shape
        )
        if not same_shape:
            self._problems.clear()
        self._model = model

    # -- problems ------------------------------------------------------------------------------

    def _bound_constraints(self, w: cp.Expression, scale: cp.Expression | float = 1.0) -> list[Any]:
        """Finite bounds that the budget and the other bounds do not already imply.

        With Σw = 1 and every lower bound kept, w_j ≤ 1 − Σ_{i≠j} lo_i always holds, so an upper bound at
        or above it is redundant (for (0, 1) bounds every upper bound is). Only when no upper bound was
        dropped are lower bounds tested the same way against the uppers (never both: each implication
        needs the other side kept). Dropping them shrinks the KKT system without changing the feasible
        set (also for max_sharpe, where Σw = κ ≥ 0 scales every bound alike).
        """
        lo, hi = self._lo, self._hi
        lo_sum = lo.sum() if np.all(np.isfinite(lo)) else -np.inf
        need_hi = np.isfinite(hi) & ~(hi >= 1.0 - (lo_sum - lo))
        need_lo = np.isfinite(lo)
        if np.all(need_hi):
            need_lo &= ~(lo <= 1.0 - (hi.sum() - hi))
        cons = []
        lo_idx, hi_idx = np.flatnonzero(need_lo), np.flatnonzero(need_hi)
        if lo_idx.size:
            cons.append(w[lo_idx] >= scale * lo[lo_idx])
        if hi_idx.size:
            cons.append(w[hi_idx] <= scale * hi[hi_idx])
        return cons

    def _get(self, name: str) -> _Problem:
        if name in self._problems:
            return self._problems[name]
        n = self.n
        w = cp.Variable(n, name="w")
        risk = _Risk(w, self._model, conic=name == "efficient_risk")
        params: dict[str, cp.Parameter] = {}
        budget = [cp.sum(w) == 1, *risk.constraints]
        weights: Callable[[], np.ndarray] = lambda: np.asarray(w.value)  # noqa: E731
        if name == "min_volatility":
            prob = cp.Problem(cp.Minimize(risk.expr), budget + self._bound_constraints(w))
        elif name == "max_utility":
            mu = params["mu"] = cp.Parameter(n, name="mu")
            prob = cp.Problem(cp.Minimize(risk.expr - mu @ w), budget + self._bound_constraints(w))
        elif name == "efficient_return":
            mu = params["mu"] = cp.Parameter(n, name="mu")
            target = params["target"] = cp.Parameter(name="target_return")
            prob = cp.Problem(
                cp.Minimize(risk.expr),
                [*budget, mu @ w >= target, *self._bound_constraints(w)],
            )
        elif name == "efficient_risk":
            # The risk limit is a second-order cone (quad_form is DPP only in the objective); the
            # objective keeps no quadratic term.
            mu = params["mu"] = cp.Parameter(n, name="mu")
            vol = params["target"] = cp.Parameter(nonneg=True, name="target_volatility")
            prob = cp.Problem(cp.Maximize(mu @ w), [*budget, risk.expr <= vol, *self._bound_constraints(w)])
        elif name == "max_sharpe":
            excess = params["excess"] = cp.Parameter(n, name="excess_return")
            k = cp.Variable(name="k")
            prob = cp.Problem(
                cp.Minimize(risk.expr),
                [excess @ w == 1, cp.sum(w) == k, k >= 0, *risk.constraints, *self._bound_constraints(w, k)],
            )
            weights = lambda: value_of(w) / float(value_of(k))  # noqa: E731
        else:  # pragma: no cover - internal
            raise OptimizationError(f"internal: unknown objective {name}")
        for p in params.values():
            p.value = np.zeros(p.shape) if p.shape else 0.0
        risk.assign()
        options = _TIGHT_CONE if risk.conic and isinstance(self._model, _FactorModel) else _TIGHT
        problem = _Problem(CompiledProblem(prob, clarabel_options=options), weights, risk, params)
        self._problems[name] = problem
        return problem

    def _run(self, name: str, values: dict[str, Any], infeasible_message: str, scale: float = 1.0) -> np.ndarray:
        problem = self._get(name)
        problem.risk.assign(scale)
        for key, value in values.items():
            problem.params[key].value = value
        record = problem.compiled.solve(self.solver_chain)
        self.last_solve = record
        if record.status is SolveStatus.INFEASIBLE:
            raise Infeasible(infeasible_message, conflicts={name: float("nan")})
        if record.status is not SolveStatus.OPTIMAL:
            raise SolverFailed(
                f"{name}: every solver failed ({record.attempts}); check the inputs or widen the bounds",
                attempts=record.attempts,
            )
        w = problem.weights()
        w = np.where(np.abs(w) < 1e-12, 0.0, w)
        w.setflags(write=False)
        return w

    # -- objectives ----------------------------------------------------------------------------

    def min_volatility(self) -> np.ndarray:
        """Weights of the minimum-variance portfolio (fractions summing to 1)."""
        return self._run("min_volatility", {}, "no weights satisfy the bounds")

    def max_utility(self, risk_aversion: float = 1.0) -> np.ndarray:
        """Weights maximizing μᵀw − (δ/2)·wᵀΣw for risk aversion δ > 0."""
        if not risk_aversion > 0:
            raise ValidationError("must be positive", field="risk_aversion", value=risk_aversion)
        return self._run("max_utility", {"mu": self.mu}, "no weights satisfy the bounds", 0.5 * float(risk_aversion))

    def efficient_return(self, target_return: float) -> np.ndarray:
        """Minimum-variance weights with expected return ≥ ``target_return`` (annual fraction)."""
        best = self._max_attainable_return()
        if target_return > best + 1e-12:
            raise Infeasible(
                f"target return {target_return:.4g} exceeds the largest attainable {best:.4g} under "
                f"the bounds; lower the target or widen the bounds",
                conflicts={"target_return": target_return - best},
            )
        return self._run(
            "efficient_return",
            {"mu": self.mu, "target": float(target_return)},
            f"target return {target_return:.4g} is not attainable under the bounds",
        )

    def efficient_risk(self, target_volatility: float) -> np.ndarray:
        """Maximum-return weights with annual volatility ≤ ``target_volatility``."""
        floor = math.sqrt(max(self.portfolio_variance(self.min_volatility()), 0.0))
        if target_volatility < floor - 1e-9:
            raise Infeasible(
                f"target volatility {target_volatility:.4g} is below the minimum attainable "
                f"{floor:.4g}; raise the target",
                conflicts={"target_volatility": floor - target_volatility},
            )
        return self._run(
            "efficient_risk",
            {"mu": self.mu, "target": float(target_volatility)},
            f"target volatility {target_volatility:.4g} is not attainable",
        )

    def max_sharpe(self, risk_free_rate: float = 0.0) -> np.ndarray:
        """Weights maximizing (μᵀw − r_f)/σ(w), by the Cornuejols–Tütüncü change of variables."""
        if not np.any(self.mu > risk_free_rate):
            raise Infeasible(
                f"no asset's expected return beats the risk-free rate {risk_free_rate:.4g}; "
                f"max_sharpe is undefined — lower the risk-free rate or use min_volatility",
                conflicts={"risk_free_rate": float(risk_free_rate - self.mu.max())},
            )
        return self._run(
            "max_sharpe",
            {"excess": self.mu - risk_free_rate},
            "max_sharpe is infeasible under these bounds; widen them",
        )

    # -- evaluation ----------------------------------------------------------------------------

    def portfolio_variance(self, weights: ArrayLike) -> float:
        """wᵀΣw (annual variance)."""
        return self._model.variance(as_vector(weights, self.n, "weights"))

    def performance(self, weights: ArrayLike, risk_free_rate: float = 0.0) -> Performance:
        """Expected return, volatility and Sharpe ratio of ``weights`` (annual)."""
        w = as_vector(weights, self.n, "weights")
        ret = float(self.mu @ w)
        vol = math.sqrt(max(self._model.variance(w), 0.0))
        sharpe = (ret - risk_free_rate) / vol if vol > 0 else float("nan")
        return Performance(ret, vol, sharpe)

    def as_dict(self, weights: ArrayLike) -> dict[str, float]:
        """Weights keyed by ticker."""
        w = as_vector(weights, self.n, "weights")
        return dict(zip(self.tickers, (float(x) for x in w), strict=True))

    def _max_attainable_return(self) -> float:
        """Largest μᵀw with Σw = 1 within the bounds (greedy; inf when shorting is unbounded)."""
        if np.any(~np.isfinite(self._lo)):
            return math.inf
        w = self._lo.copy()
        remaining = 1.0 - w.sum()
        for i in np.argsort(-self.mu):
            take = min(self._hi[i] - w[i], remaining)
            w[i] += take
            remaining -= take
        return float(self.mu @ w)
