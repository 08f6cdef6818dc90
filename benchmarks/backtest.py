"""Backtest speed: our harness vs cvxportfolio on the same data and the same policy; and the demo.

    .venv/bin/python benchmarks/backtest.py          # prints a table of ms per simulated day and ratios

Policy (both sides, no taxes): single-period optimization, maximize μ'w − 5·w'Σw, long only, fully
invested, re-solved every simulated day over 50 synthetic assets (seeded); μ, Σ: trailing 250-day sample
estimates. Both simulators charge the same 5 bp per trade; the *policy* carries no cost term on either
side, because the engine's compiled front door (``engine.optimizer.Frontier.max_utility``, built once,
parameters updated per day) has none — the household problem (``solve_household``) has one, but needs a
household's tax inputs. Our side runs through ``run_strategy`` — the very loop, SimulatedBroker, LotLedger
and ``Engine.execute`` of every backtest — so the ratio includes our bookkeeping, not just the solve.
Then the demo scenario: each strategy's seconds (median of runs), the tax-aware adaptive run against the
same engine with harvesting and asset location off, and all strategies in parallel processes.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

N_ASSETS, WARMUP, DAYS, GAMMA, COST = 50, 250, 120, 5.0, 0.0005


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
    from backtests import Decision, PriceTable, StaticMix, run_strategy
    from backtests.scenario import scenario_from_dict
    from engine.model import Asset, AssetClass, Universe
    from engine.optimizer import Frontier

    tickers = list(frame.columns)
    uni = Universe({t: Asset(t, AssetClass.US_EQUITY) for t in tickers})
    table = PriceTable(tuple(x.date() for x in frame.index), tuple(tickers), frame.to_numpy())
    sc = scenario_from_dict({
        "name": "bench", "start": str(table.days[WARMUP]), "household": {
            "id": "b", "name": "B", "members": [{"id": "m", "name": "M", "birth_date": "1980-01-01"}],
            "accounts": [{"id": "ira", "type": "roth", "cash": 1_000_000}]},
        "strategies": [{"name": "spo", "kind": "static", "weights": {tickers[0]: 1.0}}],
        "costs": {"spread_bps": 2 * COST * 1e4, "slippage_bps": 0}, "triggers": {"cooldown_days": 0},
    }, universe=uni)
    rets = np.diff(np.log(table.prices), axis=0)
    frontier = Frontier(np.zeros(N_ASSETS), np.eye(N_ASSETS), bounds=(0.0, 1.0))  # compiled on first solve

    class SPO(StaticMix):
        def decide(self, snapshot, state):
            t = snapshot.row + WARMUP  # row in the full table (the scenario starts after the warm-up)
            window = rets[t - WARMUP : t]
            frontier.update(mu=window.mean(axis=0), cov=np.cov(window, rowvar=False))
            mix = np.clip(frontier.max_utility(risk_aversion=2 * GAMMA), 0, None)  # μw − (δ/2)·w'Σw, δ/2 = γ
            return Decision("spo", mix=mix / mix.sum())

    window = table.between(table.days[WARMUP], None)
    t0 = time.perf_counter()
    run_strategy(sc, SPO(sc.strategies[0]), window)
    return (time.perf_counter() - t0) / len(window.days) * 1000


def theirs(frame: pd.DataFrame) -> float:
    import cvxportfolio as cvx

    returns = frame.pct_change().iloc[1:]
    returns["USDOLLAR"] = 0.0
    sim = cvx.MarketSimulator(returns=returns, costs=[cvx.TransactionCost(a=COST, b=None)],
                              cash_key="USDOLLAR", min_history=pd.Timedelta("0D"))
    policy = cvx.SinglePeriodOptimization(
        cvx.ReturnsForecast() - GAMMA * cvx.FullCovariance(),
        [cvx.LongOnly(), cvx.LeverageLimit(1)], solver="CLARABEL",
    )
    start, end = returns.index[WARMUP], returns.index[-1]
    t0 = time.perf_counter()
    sim.backtest(policy, start_time=start, end_time=end)
    n = len(returns.loc[start:end])
    return (time.perf_counter() - t0) / n * 1000


def demo_seconds(repeats: int = 1) -> dict[str, float]:
    """Seconds per demo strategy run alone (median of ``repeats``), and all strategies in parallel."""
    from backtests import load_scenario, run_scenario, run_strategy

    sc = load_scenario("demo")
    out: dict[str, float] = {}
    for name in ("adaptive", "adaptive_no_tlh", "static_60_40"):
        out[name] = statistics.median(run_strategy(sc, name).seconds for _ in range(repeats))
    t0 = time.perf_counter()
    run_scenario(sc)
    out["all"] = time.perf_counter() - t0
    return out


def main() -> int:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    frame = synthetic()
    ms_ours = statistics.median(ours(frame) for _ in range(repeats))
    try:
        ms_theirs = statistics.median(theirs(frame) for _ in range(repeats))
    except Exception as exc:  # the peer is optional; report instead of failing the bench
        print(f"cvxportfolio run failed: {type(exc).__name__}: {exc}")
        ms_theirs = float("nan")
    demo = demo_seconds(1)
    rows = [
        ("adaptive-robo harness, SPO 50 assets (ms/day)", f"{ms_ours:10.2f}"),
        ("cvxportfolio, same policy and data (ms/day)", f"{ms_theirs:10.2f}"),
        ("speed-up (goal ≥ 3×)", f"{ms_theirs / ms_ours:9.1f}×"),
        ("demo: adaptive, tax-aware (s, goal < 60)", f"{demo['adaptive']:10.1f}"),
        ("demo: adaptive without harvesting (s)", f"{demo['adaptive_no_tlh']:10.1f}"),
        ("demo: static 60/40, no tax logic (s)", f"{demo['static_60_40']:10.1f}"),
        ("tax-aware adaptive / static no-tax run (goal ≤ 2×)", f"{demo['adaptive'] / demo['static_60_40']:9.2f}×"),
        ("demo: all strategies, parallel processes (s)", f"{demo['all']:10.1f}"),
    ]
    print(f"{'measure':52s} {'value':>10s}   (medians of {repeats} runs for the SPO rows)")
    for k, v in rows:
        print(f"{k:52s} {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
