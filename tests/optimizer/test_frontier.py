"""Frontier agrees with PyPortfolioOpt on its own test data, and with closed forms (STYLE habit 11)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import Infeasible, SolverFailed, ValidationError
from engine.optimizer import Frontier, SolverName, SolverSpec

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
    if mu.max() > 0.01:
        w = f.max_sharpe(0.01)
        assert abs(w.sum() - 1) < 1e-6 and w.min() >= lo - 1e-6 and w.max() <= hi + 1e-6


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
