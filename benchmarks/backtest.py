"""Backtest speed: our harness vs cvxportfolio on the same data and the same policy; and the demo.

    .venv/bin/python benchmarks/backtest.py          # prints a table of ms per simulated day and ratios

Policy (both sides, no taxes): single-period optimization, maximize μ'w − 5·w'Σw − κ·|w − w₀|₁, long only,
fully invested, re-solved every simulated day over 50 synthetic assets (seeded). μ, Σ: trailing 250-day
sample estimates. Our side runs through ``run_strategy`` (the same loop as every backtest); its solve is
a cvxpy problem compiled once with parameters — the engine's optimizer replaces it when it lands.
"""

from __future__ import annotations

import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

N_ASSETS, WARMUP, DAYS, GAMMA, KAPPA = 50, 250, 120, 5.0, 0.0005


def synthetic(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = WARMUP + DAYS
    days, d = [], date(2015, 1, 2)
    while len(days) < n:
        if d.weekday() < 5:
            days.append(d)
        d += timedelta(days=1)
    f = rng.normal(0.0003, 0.01, (n, 1))
    r = 0.8 * f + rng.normal(0.0002, 0.008, (n, N_ASSETS))
    prices = 100 * np.exp(np.cumsum(r, axis=0))
    return pd.DataFrame(prices, index=pd.DatetimeIndex(days), columns=[f"A{i:02d}" for i in range(N_ASSETS)])


def ours(frame: pd.DataFrame) -> float:
    import cvxpy as cp

    from backtests import Decision, PriceTable, StaticMix, run_strategy
    from backtests.scenario import scenario_from_dict
    from engine.model import Asset, AssetClass, Universe

    tickers = list(frame.columns)
    uni = Universe({t: Asset(t, AssetClass.US_EQUITY) for t in tickers})
    table = PriceTable(tuple(x.date() for x in frame.index), tuple(tickers), frame.to_numpy())
    sc = scenario_from_dict({
        "name": "bench", "start": str(table.days[WARMUP]), "household": {
            "id": "b", "name": "B", "members": [{"id": "m", "name": "M", "birth_date": "1980-01-01"}],
            "accounts": [{"id": "ira", "type": "roth", "cash": 1_000_000}]},
        "strategies": [{"name": "spo", "kind": "static", "weights": {tickers[0]: 1.0}}],
        "costs": {"spread_bps": 5, "slippage_bps": 0}, "triggers": {"cooldown_days": 0},
    }, universe=uni)
    w = cp.Variable(N_ASSETS)
    mu, w0, chol = cp.Parameter(N_ASSETS), cp.Parameter(N_ASSETS), cp.Parameter((N_ASSETS, N_ASSETS))
    prob = cp.Problem(cp.Maximize(mu @ w - GAMMA * cp.sum_squares(chol @ w) - KAPPA * cp.norm1(w - w0)),
                      [w >= 0, cp.sum(w) == 1])
    full = table.prices
    rets = np.diff(np.log(full), axis=0)

    class SPO(StaticMix):
        def decide(self, snapshot, state):
            t = snapshot.row + WARMUP  # row in the full table (the scenario starts after the warm-up)
            window = rets[t - WARMUP : t]
            mu.value = window.mean(axis=0)
            cov = np.cov(window, rowvar=False) + 1e-9 * np.eye(N_ASSETS)
            chol.value = np.linalg.cholesky(cov).T
            w0.value = state.weights if state.total > 0 else np.zeros(N_ASSETS)
            prob.solve(solver=cp.CLARABEL)
            mix = np.clip(w.value, 0, None)
            return Decision("spo", mix=mix / mix.sum())

    window = table.between(table.days[WARMUP], None)
    t0 = time.perf_counter()
    run_strategy(sc, SPO(sc.strategies[0]), window)
    return (time.perf_counter() - t0) / len(window.days) * 1000


def theirs(frame: pd.DataFrame) -> float:
    import cvxportfolio as cvx

    returns = frame.pct_change().iloc[1:]
    returns["USDOLLAR"] = 0.0
    sim = cvx.MarketSimulator(returns=returns, costs=[cvx.TransactionCost(a=0.0005, b=None)],
                              cash_key="USDOLLAR", min_history=pd.Timedelta("0D"))
    policy = cvx.SinglePeriodOptimization(
        cvx.ReturnsForecast() - GAMMA * cvx.FullCovariance() - cvx.TransactionCost(a=KAPPA, b=None),
        [cvx.LongOnly(), cvx.LeverageLimit(1)], solver="CLARABEL",
    )
    start, end = returns.index[WARMUP], returns.index[-1]
    t0 = time.perf_counter()
    sim.backtest(policy, start_time=start, end_time=end)
    n = len(returns.loc[start:end])
    return (time.perf_counter() - t0) / n * 1000


def demo_seconds() -> tuple[float, float]:
    from backtests import load_scenario, run_scenario

    sc = load_scenario("demo")
    names = [s.name for s in sc.strategies if s.kind.value != "adaptive"]
    t0 = time.perf_counter()
    result = run_scenario(sc, names)
    wall = time.perf_counter() - t0
    plain = result.runs["static_60_40"].seconds
    taxed = result.runs["static_60_40_tlh"].seconds
    return wall, taxed / plain


def main() -> int:
    frame = synthetic()
    ms_ours = ours(frame)
    try:
        ms_theirs = theirs(frame)
    except Exception as exc:  # the peer is optional; report instead of failing the bench
        print(f"cvxportfolio run failed: {type(exc).__name__}: {exc}")
        ms_theirs = float("nan")
    wall, tax_ratio = demo_seconds()
    print(f"{'measure':48s} {'value':>10s}")
    print(f"{'adaptive-robo harness, SPO 50 assets (ms/day)':48s} {ms_ours:10.2f}")
    print(f"{'cvxportfolio 1.5, same policy (ms/day)':48s} {ms_theirs:10.2f}")
    print(f"{'speed-up (goal ≥ 3×)':48s} {ms_theirs / ms_ours:9.1f}×")
    print(f"{'tax-aware harvest run / no-harvest run (goal ≤ 2×)':48s} {tax_ratio:9.2f}×")
    print(f"{'demo scenario, all benchmark strategies (s, goal < 60)':48s} {wall:10.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
