"""Goals-based dynamic programming (Das, Ostrov, Radhakrishnan, Srivastav 2019/2020).

    policy = optimal_goal_policy([(0.05, 0.04), (0.07, 0.10), (0.09, 0.20)], 100.0, 200.0, years=10)
    policy.probability, policy.action(0, 100.0), policy.simulate(100_000, seed=1)

At each rebalancing date and wealth on a log-spaced grid, choose the candidate portfolio (annual mean
``mu`` and volatility ``sigma``, lognormal over a step) that maximizes the probability of ending at or
above the goal. Cash flows (USD, + infusion, − withdrawal) arrive at each date before investing.
The last step is exact (normal CDF); earlier steps integrate the next value function (linear in log
wealth between grid nodes) with Gauss–Hermite quadrature, so a 300-node grid reproduces the static
lognormal probability to about 1e-3.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from engine.errors import PlanningError

__all__ = ["GoalPolicy", "Portfolio", "optimal_goal_policy", "static_probability"]


@dataclass(frozen=True, slots=True)
class Portfolio:
    """A candidate portfolio: annual expected (arithmetic) return ``mu`` and volatility ``sigma``, fractions."""

    mu: float
    sigma: float
    name: str = ""


def static_probability(mu: float, sigma: float, initial_wealth: float, goal: float, years: float) -> float:
    """P(W_T ≥ goal) for a buy-and-hold lognormal portfolio with no cash flows (closed form)."""
    if sigma <= 0:
        return float(initial_wealth * math.exp(mu * years) >= goal)
    d = (math.log(initial_wealth / goal) + (mu - 0.5 * sigma**2) * years) / (sigma * math.sqrt(years))
    return float(ndtr(d))


@dataclass(frozen=True, slots=True)
class GoalPolicy:
    """The optimal policy: ``actions[t, i]`` is the portfolio index at date ``t`` and grid wealth ``grid[i]``.

    ``values[t, i]`` is the probability of reaching the goal from there; ``probability`` the value at
    the initial wealth (which is a grid node). Times are in years from now; money in USD.
    """

    portfolios: tuple[Portfolio, ...]
    grid: np.ndarray
    values: np.ndarray
    actions: np.ndarray
    goal: float
    initial_wealth: float
    step: float
    cash_flows: np.ndarray

    @property
    def probability(self) -> float:
        """Probability of ending at or above the goal when following the policy from the initial wealth."""
        i = int(np.argmin(np.abs(self.grid - math.log(self.initial_wealth))))
        return float(self.values[0, i])

    @property
    def steps(self) -> int:
        return int(self.actions.shape[0])

    def _index(self, wealth: np.ndarray) -> np.ndarray:
        y = np.log(np.maximum(wealth, 1e-300))
        dy = self.grid[1] - self.grid[0]
        return np.clip(np.rint((y - self.grid[0]) / dy), 0, len(self.grid) - 1).astype(np.int64)

    def action(self, t: float, wealth: float) -> int:
        """Index of the portfolio to hold at time ``t`` (years; the latest rebalancing date ≤ t) with ``wealth`` USD.

        Raises:
            PlanningError: ``t`` is outside [0, horizon) or wealth is not positive.
        """
        k = math.floor(t / self.step + 1e-9)
        if not 0 <= k < self.steps:
            raise PlanningError(f"t={t} is outside the policy's horizon [0, {self.steps * self.step})")
        if not wealth > 0:
            raise PlanningError("wealth must be > 0 to choose a portfolio", value=wealth)
        return int(self.actions[k, self._index(np.array([wealth]))[0]])

    def simulate(self, paths: int, seed: int) -> float:
        """Monte Carlo success rate of following the policy (nearest grid node), lognormal steps."""
        rng = np.random.default_rng(seed)
        mu = np.array([p.mu for p in self.portfolios])
        sig = np.array([p.sigma for p in self.portfolios])
        h = self.step
        W = np.full(paths, float(self.initial_wealth))
        alive = np.ones(paths, bool)
        for t in range(self.steps):
            a = self.actions[t, self._index(W)]  # chosen on the wealth before the date's cash flow
            W = W + self.cash_flows[t]
            alive &= W > 0
            W = np.where(alive, W, 1e-300)
            z = rng.standard_normal(paths)
            W = W * np.exp((mu[a] - 0.5 * sig[a] ** 2) * h + sig[a] * math.sqrt(h) * z)
        return float(np.mean(alive & (W >= self.goal)))


@functools.lru_cache(maxsize=8)
def _hermite(points: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Hermite nodes and weights (summing to 1) for a standard normal, computed once per size (read-only)."""
    z, w = np.polynomial.hermite_e.hermegauss(points)
    w = w / w.sum()
    z.flags.writeable = w.flags.writeable = False
    return z, w


def _as_portfolios(
    portfolios: Sequence[Portfolio] | Sequence[tuple[float, float]] | np.ndarray,
) -> tuple[Portfolio, ...]:
    out: list[Portfolio] = []
    for p in portfolios:
        q = p if isinstance(p, Portfolio) else Portfolio(float(p[0]), float(p[1]))
        if not (math.isfinite(q.mu) and math.isfinite(q.sigma)) or q.sigma < 0:
            raise PlanningError("each portfolio needs a finite mu and a sigma ≥ 0", value=(q.mu, q.sigma))
        out.append(q)
    if not out:
        raise PlanningError("pass at least one candidate portfolio")
    return tuple(out)


def optimal_goal_policy(
    portfolios: Sequence[Portfolio] | Sequence[tuple[float, float]] | np.ndarray,
    initial_wealth: float,
    goal: float,
    years: float,
    step: float = 1.0,
    cash_flows: Sequence[float] | np.ndarray | None = None,
    *,
    grid_points: int = 301,
    quadrature: int = 41,
    width: float = 4.0,
) -> GoalPolicy:
    """Maximize P(W_T ≥ goal) over the portfolio chosen at each date (see the module docstring).

    ``cash_flows`` has one USD amount per rebalancing date (``years / step`` of them, at t = 0, step, ...).
    ``width`` is how many standard deviations of the riskiest portfolio the grid spans beyond the
    best/worst drift envelope.

    Raises:
        PlanningError: non-positive wealth, goal, years or step; years not a multiple of step;
            cash flows of the wrong length.
    """
    ports = _as_portfolios(portfolios)
    if not (initial_wealth > 0 and goal > 0 and years > 0 and step > 0):
        raise PlanningError(
            "initial_wealth, goal, years and step must all be > 0", value=(initial_wealth, goal, years, step)
        )
    n = round(years / step)
    if n < 1 or abs(n * step - years) > 1e-9 * max(1.0, years):
        raise PlanningError(f"years ({years}) must be a whole multiple of step ({step})")
    cf = np.zeros(n) if cash_flows is None else np.asarray(cash_flows, float)
    if cf.shape != (n,) or not np.isfinite(cf).all():
        raise PlanningError(f"cash_flows needs {n} finite amounts, one per rebalancing date", value=cf.shape)
    if grid_points < 11:
        raise PlanningError("grid_points must be ≥ 11")
    mu = np.array([p.mu for p in ports])
    sig = np.array([p.sigma for p in ports])
    h = step
    drift = (mu - 0.5 * sig**2) * h
    vol = sig * math.sqrt(h)

    # Grid: the worst/best-drift paths (with cash flows) widened by ± width·σ_max·√t, plus the goal.
    lo = hi = float(initial_wealth)
    lows, highs = [lo], [hi]
    s_max = float(vol.max())
    floor = 1e-4 * initial_wealth
    for t in range(n):
        lo = max(lo + cf[t], floor) * math.exp(drift.min())
        hi = max(hi + cf[t], floor) * math.exp(drift.max())
        lows.append(lo * math.exp(-width * s_max * math.sqrt(t + 1)))
        highs.append(hi * math.exp(width * s_max * math.sqrt(t + 1)))
    y_lo = math.log(min(min(lows), goal) * 0.999)
    y_hi = math.log(max(max(highs), goal) * 1.001)
    y0 = math.log(initial_wealth)
    dy = (y_hi - y_lo) / (grid_points - 1)
    # Shift the grid so that the initial wealth is exactly a node.
    k0 = round((y0 - y_lo) / dy)
    grid = y0 + (np.arange(grid_points) - k0) * dy
    W = np.exp(grid)

    z, wq = _hermite(quadrature)
    log_goal = math.log(goal)
    values = np.empty((n + 1, grid_points))
    actions = np.empty((n, grid_points), np.int64)
    values[n] = (grid >= log_goal - 1e-12).astype(float)
    # Where each (node, portfolio, quadrature point) lands on the grid depends only on the date's cash
    # flow, so dates with the same flow (the usual case: a level contribution) share it.
    landing: dict[float, tuple[np.ndarray, ...]] = {}
    for t in range(n - 1, -1, -1):
        if t == n - 1 or s_max == 0:
            base = W + cf[t]
            ok = base > 0
            yb = np.log(np.where(ok, base, 1.0))
            with np.errstate(divide="ignore", invalid="ignore"):
                d = (yb[:, None] + drift[None, :] - log_goal) / np.where(vol > 0, vol, np.nan)[None, :]
            exact = np.where(
                vol[None, :] > 0,
                ndtr(np.nan_to_num(d, nan=0.0)),
                (yb[:, None] + drift[None, :] >= log_goal).astype(float),
            )
            q = exact
        else:
            hit = landing.get(float(cf[t]))
            if hit is None:
                base = W + cf[t]
                ok = base > 0
                yb = np.log(np.where(ok, base, 1.0))
                x = yb[:, None, None] + drift[None, :, None] + vol[None, :, None] * z[None, None, :]
                pos = np.clip((x - grid[0]) / dy, 0.0, grid_points - 1.0)
                j = np.minimum(pos.astype(np.int64), grid_points - 2)
                f = pos - j
                hit = landing[float(cf[t])] = (ok, j, j + 1, 1.0 - f, f)
            ok, j, j1, g, f = hit
            nxt = values[t + 1]
            interp = np.take(nxt, j) * g + np.take(nxt, j1) * f
            q = interp @ wq
        q = np.where(ok[:, None], q, 0.0)
        a = np.argmax(q, axis=1)
        actions[t] = a
        values[t] = q[np.arange(grid_points), a]
    return GoalPolicy(ports, grid, values, actions, float(goal), float(initial_wealth), float(step), cf)
