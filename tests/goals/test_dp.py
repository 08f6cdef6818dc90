"""The goals-based DP against closed forms, an independent brute-force DP and its own Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.errors import PlanningError
from engine.goals import optimal_goal_policy, static_probability

PROB_TOL = 0.005  # DP discretization vs exact


def _frontier(n: int = 15) -> list[tuple[float, float]]:
    """Published-style frontier: μ from 5.26 % to 8.86 %, σ from 3.74 % to 19.54 % (convex in μ)."""
    mu = np.linspace(0.0526, 0.0886, n)
    x = (mu - mu[0]) / (mu[-1] - mu[0])
    sigma = np.sqrt(0.0374**2 + x**2 * (0.1954**2 - 0.0374**2))
    return list(zip(mu.tolist(), sigma.tolist(), strict=True))


def _brute_force(ports, w0, goal, years, cash_flows=None, nodes=601):
    """Das et al.'s scheme written plainly: dense transition matrices of normalized normal densities."""
    n = years
    cf = np.zeros(n) if cash_flows is None else np.asarray(cash_flows, float)
    lo, hi = math.log(w0) - 4.0, math.log(goal) + 3.0
    y = np.linspace(lo, hi, nodes)
    W = np.exp(y)
    V = (W >= goal).astype(float)
    for t in range(n - 1, -1, -1):
        best = np.zeros(nodes)
        base = np.maximum(W + cf[t], 1e-300)
        for mu, s in ports:
            m = np.log(base)[:, None] + (mu - 0.5 * s * s)
            dens = np.exp(-0.5 * ((y[None, :] - m) / s) ** 2)  # normalized below
            total = dens.sum(axis=1, keepdims=True)
            dens = np.divide(dens, total, out=np.zeros_like(dens), where=total > 0)
            best = np.maximum(best, dens @ V)
        V = np.where(W + cf[t] > 0, best, 0.0)
    return float(np.interp(math.log(w0), y, V))


def test_static_portfolio_matches_the_closed_form():
    p = optimal_goal_policy([(0.07, 0.15)], 100.0, 200.0, 10)
    assert p.probability == pytest.approx(static_probability(0.07, 0.15, 100.0, 200.0, 10), abs=PROB_TOL)
    assert set(np.unique(p.actions)) == {0}


def test_single_step_is_exact_best_of_the_candidates():
    ports = _frontier()
    p = optimal_goal_policy(ports, 100.0, 110.0, 1)
    exact = max(static_probability(m, s, 100.0, 110.0, 1) for m, s in ports)
    assert p.probability == pytest.approx(exact, abs=1e-9)


def test_dynamic_beats_every_static_portfolio():
    ports = _frontier()
    p = optimal_goal_policy(ports, 100.0, 200.0, 10)
    best_static = max(static_probability(m, s, 100.0, 200.0, 10) for m, s in ports)
    assert p.probability > best_static + 0.1


def test_base_case_against_brute_force_and_monte_carlo():
    """W0 = 100, G = 200, 10 yearly steps, 15 frontier portfolios (the paper's base case shape)."""
    ports = _frontier()
    p = optimal_goal_policy(ports, 100.0, 200.0, 10, step=1.0)
    brute = _brute_force(ports, 100.0, 200.0, 10)
    assert p.probability == pytest.approx(brute, abs=0.01)
    assert 0.6 < p.probability < 0.75
    paths = 100_000
    mc = p.simulate(paths, seed=11)
    se = math.sqrt(p.probability * (1 - p.probability) / paths)
    assert abs(mc - p.probability) < 4 * se + PROB_TOL


def test_cash_flows_against_brute_force_and_monte_carlo():
    ports = _frontier()
    flows = [10.0] * 5 + [-5.0] * 5
    p = optimal_goal_policy(ports, 100.0, 200.0, 10, cash_flows=flows)
    assert p.probability == pytest.approx(_brute_force(ports, 100.0, 200.0, 10, flows), abs=0.01)
    mc = p.simulate(100_000, seed=3)
    assert abs(mc - p.probability) < 4 * math.sqrt(0.25 / 100_000) + PROB_TOL


def test_policy_takes_more_risk_when_behind_and_less_when_ahead():
    p = optimal_goal_policy(_frontier(), 100.0, 200.0, 10)
    assert p.action(5.0, 80.0) == 14
    assert p.action(5.0, 190.0) <= 3
    assert p.action(9.0, 400.0) in range(15)


def test_seeded_simulation_is_reproducible():
    p = optimal_goal_policy(_frontier(5), 100.0, 150.0, 5)
    assert p.simulate(5000, 1) == p.simulate(5000, 1)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(initial_wealth=0.0, goal=200.0, years=10),
        dict(initial_wealth=100.0, goal=-1.0, years=10),
        dict(initial_wealth=100.0, goal=200.0, years=10, step=3.0),
        dict(initial_wealth=100.0, goal=200.0, years=10, cash_flows=[1.0, 2.0]),
    ],
)
def test_bad_inputs_raise_planning_error(kwargs):
    with pytest.raises(PlanningError):
        optimal_goal_policy([(0.05, 0.1)], **kwargs)


def test_action_outside_horizon_raises():
    p = optimal_goal_policy([(0.05, 0.1)], 100.0, 150.0, 5)
    with pytest.raises(PlanningError):
        p.action(5.0, 100.0)
    with pytest.raises(PlanningError):
        p.action(1.0, 0.0)


@pytest.mark.parametrize("flows", [[3.0] * 8, [10.0, 10.0, -5.0, 10.0, 0.0, -5.0, 10.0, 10.0]])
def test_each_date_is_the_plain_quadrature_step(flows):
    """Dates sharing a cash flow share where the quadrature points land: each date is still its own quadrature step.

    (Values to 1e-12: the policy's grid spacing differs from ``grid[1] − grid[0]`` in the last bits.)
    """
    ports = _frontier(7)
    p = optimal_goal_policy(ports, 100.0, 180.0, 8, cash_flows=flows, grid_points=121, quadrature=15)
    mu, sig = np.array(ports).T
    drift, vol = mu - 0.5 * sig**2, sig
    z, wq = np.polynomial.hermite_e.hermegauss(15)
    wq = wq / wq.sum()
    grid, dy, n = p.grid, p.grid[1] - p.grid[0], len(p.grid)
    for t in range(len(flows) - 2, -1, -1):
        base = np.exp(grid) + flows[t]
        ok = base > 0
        x = np.log(np.where(ok, base, 1.0))[:, None, None] + drift[None, :, None] + vol[None, :, None] * z
        pos = np.clip((x - grid[0]) / dy, 0.0, n - 1.0)
        j = np.minimum(pos.astype(np.int64), n - 2)
        f = pos - j
        q = np.where(ok[:, None], (p.values[t + 1][j] * (1.0 - f) + p.values[t + 1][j + 1] * f) @ wq, 0.0)
        assert np.array_equal(p.actions[t], np.argmax(q, axis=1))
        assert np.allclose(p.values[t], q.max(axis=1), rtol=0, atol=1e-12)
