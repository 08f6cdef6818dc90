"""Markowitz front door on the parametric engine: each objective compiled once, re-solved per call.

    ef = Frontier(mu, cov, bounds=(0, 1))
    w = ef.max_sharpe(risk_free_rate=0.02); ret, vol, sharpe = ef.performance(w, 0.02)

Units: ``mu`` annual expected returns (fractions), ``cov`` annual covariance; weights sum to 1.
The formulations are PyPortfolioOpt's (``EfficientFrontier``), so answers agree with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import cvxpy as cp
import numpy as np

from engine.errors import Infeasible, OptimizationError, SolverFailed, ValidationError
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


class Performance(NamedTuple):
    """Annual expected return, annual volatility and Sharpe ratio of a weight vector."""

    expected_return: float
    volatility: float
    sharpe: float


@dataclass(frozen=True, slots=True)
class _Problem:
    compiled: CompiledProblem
    weights: Callable[[], np.ndarray]


class Frontier:
    """Mean-variance optimizer reusing one compiled problem per objective (PyPortfolioOpt's formulations).

    ``bounds`` is ``(lo, hi)`` for every asset or one pair per asset. As in PyPortfolioOpt, ``None`` in
    the single pair means ±1 (``(None, None)`` is ``(-1, 1)``); ``None`` in per-asset pairs means unbounded.
    Raises ``ValidationError`` on bad inputs, ``Infeasible`` when a target cannot be met,
    ``SolverFailed`` when every solver fails.
    """

    def __init__(
        self,
        mu: Any,
        cov: Any,
        bounds: Bounds = (0.0, 1.0),
        *,
        tickers: Sequence[str] | None = None,
        solver_chain: Sequence[SolverSpec] = DEFAULT_CHAIN,
    ) -> None:
        if tickers is None and hasattr(mu, "index") and not callable(mu.index):
            tickers = [str(t) for t in mu.index]
        mu_arr = np.asarray(mu, dtype=float).reshape(-1)
        self.n = mu_arr.size
        if self.n < 1:
            raise ValidationError("needs at least one asset", field="mu")
        self.tickers: tuple[str, ...] = tuple(tickers) if tickers is not None else tuple(str(i) for i in range(self.n))
        if len(self.tickers) != self.n:
            raise ValidationError("one ticker per asset", field="tickers", value=len(self.tickers))
        self.solver_chain = tuple(solver_chain)
        self.notes: list[str] = []
        self._lo, self._hi = self._parse_bounds(bounds)
        self._problems: dict[str, _Problem] = {}
        self.last_solve: SolveRecord | None = None
        self.mu = np.zeros(self.n)
        self.cov = np.eye(self.n)
        self.update(mu=mu_arr, cov=cov)

    # -- data ----------------------------------------------------------------------------------

    def _parse_bounds(self, bounds: Bounds) -> tuple[np.ndarray, np.ndarray]:
        pairs: Sequence[tuple[Bound, Bound]]
        if len(bounds) == 2 and not isinstance(bounds[0], tuple | list):
            # PyPortfolioOpt's convention, kept so answers agree: a single pair's None means ±1.
            lo0, hi0 = bounds  # type: ignore[misc]
            pairs = [(-1.0 if lo0 is None else lo0, 1.0 if hi0 is None else hi0)] * self.n
        else:
            pairs = list(bounds)  # type: ignore[arg-type]
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

    def update(self, *, mu: Any = None, cov: Any = None) -> None:
        """Replace expected returns and/or covariance (same number of assets); the next call re-solves."""
        if mu is not None:
            self.mu = as_vector(mu, self.n, "mu")
        if cov is not None:
            fixed, note = repaired_covariance(cov, self.n)
            if note:
                self.notes.append(note)
            self.cov = fixed
            self._chol = np.linalg.cholesky(fixed + 1e-14 * np.eye(self.n))

    # -- problems ------------------------------------------------------------------------------

    def _bound_constraints(self, w: cp.Expression, scale: cp.Expression | float = 1.0) -> list[Any]:
        cons = []
        lo_idx = np.flatnonzero(np.isfinite(self._lo))
        hi_idx = np.flatnonzero(np.isfinite(self._hi))
        if lo_idx.size:
            cons.append(w[lo_idx] >= scale * self._lo[lo_idx])
        if hi_idx.size:
            cons.append(w[hi_idx] <= scale * self._hi[hi_idx])
        return cons

    def _get(self, name: str) -> tuple[_Problem, dict[str, cp.Parameter]]:
        if name in self._problems:
            return self._problems[name], self._params[name]
        if not hasattr(self, "_params"):
            self._params: dict[str, dict[str, cp.Parameter]] = {}
        n = self.n
        sigma = cp.Parameter((n, n), PSD=True, name="sigma")
        params: dict[str, cp.Parameter] = {"sigma": sigma}
        w = cp.Variable(n, name="w")
        budget = [cp.sum(w) == 1]
        if name == "min_volatility":
            prob = cp.Problem(cp.Minimize(cp.quad_form(w, sigma)), budget + self._bound_constraints(w))
            weights = lambda: np.asarray(w.value)  # noqa: E731
        elif name == "max_utility":
            mu = params["mu"] = cp.Parameter(n, name="mu")
            prob = cp.Problem(cp.Minimize(cp.quad_form(w, sigma) - mu @ w), budget + self._bound_constraints(w))
            weights = lambda: np.asarray(w.value)  # noqa: E731
        elif name == "efficient_return":
            mu = params["mu"] = cp.Parameter(n, name="mu")
            target = params["target"] = cp.Parameter(name="target_return")
            prob = cp.Problem(
                cp.Minimize(cp.quad_form(w, sigma)),
                [*budget, mu @ w >= target, *self._bound_constraints(w)],
            )
            weights = lambda: np.asarray(w.value)  # noqa: E731
        elif name == "efficient_risk":
            # The risk limit is a second-order cone over a Cholesky factor (quad_form is DPP only in
            # the objective); the objective keeps no quadratic term.
            del params["sigma"]
            mu = params["mu"] = cp.Parameter(n, name="mu")
            chol = params["chol"] = cp.Parameter((n, n), name="chol")
            vol = params["target"] = cp.Parameter(nonneg=True, name="target_volatility")
            prob = cp.Problem(
                cp.Maximize(mu @ w),
                [*budget, cp.norm(chol.T @ w, 2) <= vol, *self._bound_constraints(w)],
            )
            weights = lambda: np.asarray(w.value)  # noqa: E731
        elif name == "max_sharpe":
            excess = params["excess"] = cp.Parameter(n, name="excess_return")
            k = cp.Variable(name="k")
            prob = cp.Problem(
                cp.Minimize(cp.quad_form(w, sigma)),
                [excess @ w == 1, cp.sum(w) == k, k >= 0, *self._bound_constraints(w, k)],
            )
            weights = lambda: np.asarray(w.value) / float(k.value)  # noqa: E731
        else:  # pragma: no cover - internal
            raise OptimizationError(f"internal: unknown objective {name}")
        for p in params.values():
            if p.name() != "sigma":
                p.value = np.zeros(p.shape) if p.shape else 0.0
        sigma.value = self.cov
        problem = _Problem(CompiledProblem(prob, clarabel_options=_TIGHT), weights)
        self._problems[name] = problem
        self._params[name] = params
        return problem, params

    def _run(self, name: str, values: dict[str, Any], infeasible_message: str) -> np.ndarray:
        problem, params = self._get(name)
        if "sigma" in params and "sigma" not in values:
            params["sigma"].value = self.cov
        for key, value in values.items():
            params[key].value = value
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
        return self._run(
            "max_utility",
            {"sigma": 0.5 * float(risk_aversion) * self.cov, "mu": self.mu},
            "no weights satisfy the bounds",
        )

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
            {"mu": self.mu, "chol": self._chol, "target": float(target_volatility)},
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

    def portfolio_variance(self, weights: Any) -> float:
        """wᵀΣw (annual variance)."""
        w = as_vector(weights, self.n, "weights")
        return float(w @ self.cov @ w)

    def performance(self, weights: Any, risk_free_rate: float = 0.0) -> Performance:
        """Expected return, volatility and Sharpe ratio of ``weights`` (annual)."""
        w = as_vector(weights, self.n, "weights")
        ret = float(self.mu @ w)
        vol = math.sqrt(max(float(w @ self.cov @ w), 0.0))
        sharpe = (ret - risk_free_rate) / vol if vol > 0 else float("nan")
        return Performance(ret, vol, sharpe)

    def as_dict(self, weights: Any) -> dict[str, float]:
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
