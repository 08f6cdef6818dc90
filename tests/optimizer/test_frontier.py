"""Frontier agrees with PyPortfolioOpt on its own test data, and with closed forms (CONTRIBUTING.md habit 11)."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import Infeasible, SolverFailed, ValidationError
from engine.optimizer import FactorModel, Frontier, SolverName, SolverSpec

pypfopt = pytest.importorskip("pypfopt")
from pypfopt import EfficientFrontier, expected_returns, risk_models  # noqa: E402

PERF_TOL = 1e-6  # the bar: agree with PyPortfolioOpt to 1e-6 in performance
TIGHT = {"tol_gap_abs": 1e-11, "tol_gap_rel": 1e-11, "tol_feas": 1e-11}
RESOURCES = Path(__file__).parent / "resources"

OBJECTIVES = [
    ("min_volatility", "min_volatility", ()),
    ("max_sharpe", "max_sharpe", (0.02,)),
    ("max_utility", "max_quadratic_utility", (2.0,)),
    ("efficient_return", "efficient_return", (0.5,)),
    ("efficient_risk", "efficient_risk", (0.25,)),
]


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    df = pd.read_csv(RESOURCES / "stock_prices.csv", parse_dates=True, index_col="date")
    assert df.shape == (61, 20) and not df.isna().any().any()
    return df


@pytest.fixture(scope="module")
def mu_cov(prices):
    return expected_returns.mean_historical_return(prices), risk_models.sample_cov(prices)


@pytest.mark.parametrize("bounds", [(0, 1), (None, None), (-1, 1), (0, 0.2)], ids=str)
@pytest.mark.parametrize("ours,theirs,args", OBJECTIVES, ids=[o[0] for o in OBJECTIVES])
def test_matches_pypfopt(mu_cov, bounds, ours, theirs, args):
    mu, cov = mu_cov
    rf = args[0] if ours == "max_sharpe" else 0.0
    # PyPortfolioOpt's default solver (OSQP) leaves ~1e-5 of slack on the (0, 0.2) box; there we ask
    # PyPortfolioOpt itself for Clarabel with tight tolerances so the comparison is of answers, not noise.
    opts = {"solver": "CLARABEL", "solver_options": TIGHT} if bounds == (0, 0.2) else {}
    ef = EfficientFrontier(mu, cov, weight_bounds=bounds, **opts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getattr(ef, theirs)(*args)
    expected = np.array(ef.portfolio_performance(risk_free_rate=rf))
    frontier = Frontier(mu, cov, bounds)
    w = getattr(frontier, ours)(*args)
    got = np.array(frontier.performance(w, rf))
    np.testing.assert_allclose(got, expected, atol=PERF_TOL, rtol=0)
    assert abs(w.sum() - 1) < 1e-8
    lo, hi = (-1 if bounds[0] is None else bounds[0]), (1 if bounds[1] is None else bounds[1])
    assert w.min() >= lo - 1e-8 and w.max() <= hi + 1e-8


def test_reuse_and_update_match_fresh_problem(mu_cov):
    mu, cov = mu_cov
    f = Frontier(mu, cov)
    first = f.max_sharpe(0.02)
    compiled = f._problems["max_sharpe"].compiled
    f.update(mu=mu * 0.5, cov=cov * 2)
    second = f.max_sharpe(0.02)
    assert f._problems["max_sharpe"].compiled is compiled and compiled.solves == 2
    fresh = Frontier(mu * 0.5, cov * 2).max_sharpe(0.02)
    np.testing.assert_allclose(second, fresh, atol=1e-7)
    assert not np.allclose(first, second, atol=1e-3)


def test_unbounded_short_matches_closed_form(mu_cov):
    """Per-asset (None, None) pairs are truly unbounded: the answer is the closed-form one."""
    mu, cov = mu_cov
    m, s = mu.values, cov.values
    inv, one = np.linalg.inv(s), np.ones(len(m))
    f = Frontier(m, s, [(None, None)] * len(m))
    np.testing.assert_allclose(f.min_volatility(), inv @ one / (one @ inv @ one), atol=1e-7)
    delta = 2.0
    lam = (one @ inv @ m - delta) / (one @ inv @ one)
    np.testing.assert_allclose(f.max_utility(delta), inv @ (m - lam * one) / delta, atol=1e-6)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(2, 12),
    lo=st.sampled_from([0.0, -0.5, 0.02]),
    hi=st.sampled_from([1.0, 0.6, 0.5]),
)
def test_weights_within_bounds_and_budget(seed, n, lo, hi):
    if lo * n > 1 or hi * n < 1:
        return
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(3 * n, n))
    cov = a.T @ a / (3 * n) * 0.04
    mu = rng.normal(0.06, 0.04, n)
    f = Frontier(mu, cov, (lo, hi))
    for w in (f.min_volatility(), f.max_utility(3.0)):
        assert abs(w.sum() - 1) < 1e-7
        assert w.min() >= lo - 1e-7 and w.max() <= hi + 1e-7
    # max_sharpe exists only if some feasible portfolio beats the risk-free rate (an LP decides it;
    # e.g. n=2 with hi=0.5 forces equal weights, whose return may be below r_f).
    v = cp.Variable(n)
    best = cp.Problem(cp.Maximize(mu @ v), [cp.sum(v) == 1, v >= lo, v <= hi]).solve(solver=cp.CLARABEL)
    if best > 0.01 + 1e-6:
        w = f.max_sharpe(0.01)
        assert abs(w.sum() - 1) < 1e-6 and w.min() >= lo - 1e-6 and w.max() <= hi + 1e-6
    elif best < 0.01 - 1e-6:
        with pytest.raises(Infeasible):
            f.max_sharpe(0.01)


def test_errors(mu_cov):
    mu, cov = mu_cov
    with pytest.raises(ValidationError, match="cannot sum to one"):
        Frontier(mu, cov, (0, 0.01))
    with pytest.raises(ValidationError, match="NaN"):
        Frontier(np.r_[np.nan, mu.values[1:]], cov)
    with pytest.raises(ValidationError, match="shape"):
        Frontier(mu, cov.values[:5, :5])
    f = Frontier(mu, cov)
    with pytest.raises(Infeasible, match="exceeds the largest attainable"):
        f.efficient_return(100.0)
    with pytest.raises(Infeasible, match="below the minimum"):
        f.efficient_risk(0.001)
    with pytest.raises(Infeasible, match="risk-free rate"):
        f.max_sharpe(risk_free_rate=100.0)


def test_non_psd_covariance_is_repaired_with_a_note():
    cov = np.array([[0.04, 0.05], [0.05, 0.04]])  # eigenvalues 0.09 and -0.01
    f = Frontier([0.05, 0.07], cov)
    assert f.notes and "positive semidefinite" in f.notes[0]
    assert np.linalg.eigvalsh(f.cov).min() >= 0
    w = f.min_volatility()
    assert abs(w.sum() - 1) < 1e-8


def test_solver_fallback_and_failure(mu_cov):
    mu, cov = mu_cov
    chain = (
        SolverSpec(SolverName.CLARABEL, {"max_iter": 1}),
        SolverSpec(SolverName.OSQP, {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iter": 200_000}),
    )
    f = Frontier(mu, cov, solver_chain=chain)
    w = f.min_volatility()
    assert f.last_solve.solver is SolverName.OSQP
    assert f.last_solve.attempts[0] == ("clarabel", "failed")
    ref = Frontier(mu, cov).min_volatility()
    assert abs(f.performance(w).volatility - f.performance(ref).volatility) < 1e-5
    dead = (SolverSpec(SolverName.CLARABEL, {"max_iter": 1}), SolverSpec(SolverName.SCS, {"max_iters": 1}))
    with pytest.raises(SolverFailed) as err:
        Frontier(mu, cov, solver_chain=dead).min_volatility()
    assert [a[0] for a in err.value.attempts] == ["clarabel", "scs"]


# -- factor model ----------------------------------------------------------------------------------

N_FACTOR_ASSETS, N_FACTORS = 500, 5
DENSE_CONE = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}
OBJ_TOL = 1e-8  # objective values (annual variance or return) of ours vs the plain dense problem
W_TOL = 1e-6  # weights of ours vs the plain dense problem (unique optima: d > 0 makes Σ definite)


@pytest.fixture(scope="module")
def factor_universe():
    """A seeded 500-asset, 5-factor model: Σ = B F Bᵀ + diag(d), annual; μ loosely tied to the loadings."""
    rng = np.random.default_rng(5)
    n, k = N_FACTOR_ASSETS, N_FACTORS
    loadings = rng.normal(0.0, 1.0, (n, k)) * np.array([1.0, 0.5, 0.4, 0.3, 0.2]) + np.array([1, 0, 0, 0, 0])
    vols = np.array([0.16, 0.08, 0.06, 0.05, 0.04])
    corr = 0.2 * np.ones((k, k)) + 0.8 * np.eye(k)
    factor_cov = corr * np.outer(vols, vols)
    idio = rng.uniform(0.10, 0.35, n) ** 2
    mu = 0.02 + loadings @ np.array([0.05, 0.01, 0.0, -0.01, 0.005]) + rng.normal(0, 0.02, n)
    assert loadings.shape == (500, 5) and np.all(idio > 0) and mu.max() > 0.1
    return mu, FactorModel(loadings, factor_cov, idio)


def _plain_dense(name, mu, cov, args, hi):
    """The objective written plainly in cvxpy on the dense Σ (PyPortfolioOpt's formulations)."""
    n = mu.size
    w = cp.Variable(n)
    cons = [cp.sum(w) == 1, w >= 0, w <= hi]
    risk = cp.quad_form(w, cp.psd_wrap(cov))
    if name == "min_volatility":
        prob = cp.Problem(cp.Minimize(risk), cons)
    elif name == "max_utility":
        prob = cp.Problem(cp.Minimize(0.5 * args[0] * risk - mu @ w), cons)
    elif name == "efficient_return":
        prob = cp.Problem(cp.Minimize(risk), [*cons, mu @ w >= args[0]])
    elif name == "efficient_risk":
        chol = np.linalg.cholesky(cov)  # as a cone on a dense n×n factor (a quadratic limit is inexact)
        prob = cp.Problem(cp.Maximize(mu @ w), [*cons, cp.norm(chol.T @ w) <= args[0]])
    else:  # max_sharpe, by the same change of variables
        y, kap = cp.Variable(n), cp.Variable()
        prob = cp.Problem(
            cp.Minimize(cp.quad_form(y, cp.psd_wrap(cov))),
            [(mu - args[0]) @ y == 1, cp.sum(y) == kap, kap >= 0, y >= 0, y <= hi * kap],
        )
        prob.solve(solver=cp.CLARABEL, **TIGHT)
        return y.value / kap.value, prob.value
    # A 500-wide dense cone stalls at 1e-11 (optimal_inaccurate); 1e-10 is still far inside OBJ_TOL.
    prob.solve(solver=cp.CLARABEL, **(DENSE_CONE if name == "efficient_risk" else TIGHT))
    assert prob.status == cp.OPTIMAL
    return w.value, prob.value


FACTOR_CASES = [
    ("min_volatility", ()),
    ("max_sharpe", (0.02,)),
    ("max_utility", (4.0,)),
    ("efficient_return", (0.09,)),
    ("efficient_risk", (0.16,)),
]


@pytest.mark.parametrize("hi", [1.0, 0.02], ids=["long_only", "capped_2pct"])
@pytest.mark.parametrize("name,args", FACTOR_CASES, ids=[c[0] for c in FACTOR_CASES])
def test_factor_model_matches_the_dense_problem(factor_universe, name, args, hi):
    """CONTRIBUTING.md habit 11: the factor form's answers equal the same objective on the dense Σ = BFBᵀ + D."""
    mu, fm = factor_universe
    cov = fm.loadings @ fm.factor_cov @ fm.loadings.T + np.diag(fm.idio_var)
    f = Frontier(mu, bounds=(0, hi), factor_model=fm)
    w = getattr(f, name)(*args)
    expected_w, expected_obj = _plain_dense(name, mu, cov, args, hi)
    ret, vol = float(mu @ w), math.sqrt(float(w @ cov @ w))
    got_obj = {
        "min_volatility": vol**2,
        "max_utility": 0.5 * (args[0] if args else 0) * vol**2 - ret,
        "efficient_return": vol**2,
        "efficient_risk": ret,
    }.get(name)
    if got_obj is not None:
        assert got_obj == pytest.approx(expected_obj, abs=OBJ_TOL)
    expected_perf = (float(mu @ expected_w), math.sqrt(float(expected_w @ cov @ expected_w)))
    rf = args[0] if name == "max_sharpe" else 0.0
    np.testing.assert_allclose(
        f.performance(w, rf), [*expected_perf, (expected_perf[0] - rf) / expected_perf[1]], atol=PERF_TOL
    )
    np.testing.assert_allclose(f.performance(w, rf), Frontier(mu, cov, (0, hi)).performance(w, rf), atol=1e-12)
    assert abs(w.sum() - 1) < 1e-8 and w.min() >= -1e-8 and w.max() <= hi + 1e-8
    np.testing.assert_allclose(w, expected_w, atol=W_TOL)
    assert f.last_solve.attempts == (("clarabel", "optimal"),)  # the fast path, no fallback


def test_factor_model_update_reuses_the_compiled_problem(factor_universe):
    mu, fm = factor_universe
    f = Frontier.from_factor_model(mu, fm.loadings, fm.factor_cov, fm.idio_var)
    f.min_volatility()
    compiled = f._problems["min_volatility"].compiled
    doubled = FactorModel(fm.loadings, 2 * fm.factor_cov, 2 * fm.idio_var)
    f.update(factor_model=doubled)
    w = f.min_volatility()
    assert f._problems["min_volatility"].compiled is compiled and compiled.solves == 2
    np.testing.assert_allclose(w, Frontier(mu, factor_model=doubled).min_volatility(), atol=1e-7)
    f.update(cov=np.diag(fm.idio_var))  # switching to a dense Σ compiles the objective anew
    assert "min_volatility" not in f._problems
    np.testing.assert_allclose(f.min_volatility(), 1 / fm.idio_var / (1 / fm.idio_var).sum(), atol=1e-7)


def test_factor_model_errors(factor_universe):
    mu, fm = factor_universe
    with pytest.raises(ValidationError, match="exactly one risk model"):
        Frontier(mu)
    with pytest.raises(ValidationError, match="exactly one risk model"):
        Frontier(mu, np.eye(mu.size), factor_model=fm)
    with pytest.raises(ValidationError, match="shape"):
        Frontier(mu, factor_model=FactorModel(fm.loadings[:10], fm.factor_cov, fm.idio_var))
    with pytest.raises(ValidationError, match="negative"):
        Frontier(mu, factor_model=FactorModel(fm.loadings, fm.factor_cov, -fm.idio_var))
