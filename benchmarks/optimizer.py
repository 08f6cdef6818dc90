"""Optimizer speed: cached household re-solve vs fresh cvxpy build vs the solver's own time; Frontier vs
PyPortfolioOpt; 500 assets with a 5-factor model (Frontier: factor form vs dense Σ vs PyPortfolioOpt).
Medians of several runs, ratios printed.

    .venv/bin/python benchmarks/optimizer.py [--repeat 7] [--cpu]

``--cpu`` prints only the household cases' CPU time (process_time: a cached solve, ``assign``, a compile), the
measure that survives a shared machine's load when two commits are run in turn.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.model import AccountType, AssetClass
from engine.optimizer import FactorModel, Frontier, HouseholdInputs, LotInputs, ProblemCache, solve_household
from engine.optimizer.inputs import prepare
from engine.optimizer.problem import HouseholdProblem
from engine.optimizer.shape import shape_key

CLASSES = [AssetClass.US_EQUITY, AssetClass.INTL_EQUITY, AssetClass.US_BONDS, AssetClass.REAL_ESTATE, AssetClass.CASH]
MIX = {
    AssetClass.US_EQUITY: 0.4,
    AssetClass.INTL_EQUITY: 0.2,
    AssetClass.US_BONDS: 0.3,
    AssetClass.REAL_ESTATE: 0.05,
    AssetClass.CASH: 0.05,
}


def household(n: int, lots: int, seed: int, factor: bool = False) -> HouseholdInputs:
    """A synthetic household: 3 accounts (taxable, traditional, Roth), ``lots`` lots, gains and losses."""
    rng = np.random.default_rng(seed)
    prices = rng.uniform(20, 300, n)
    acc, ast = rng.integers(0, 3, lots), rng.integers(0, n, lots)
    shares = rng.uniform(1, 50, lots)
    basis = shares * prices[ast] * rng.uniform(0.6, 1.4, lots)
    b, f, d = rng.normal(0, 0.15, (n, 5)), np.eye(5) * 0.04, rng.uniform(0.01, 0.04, n)
    return HouseholdInputs(
        household_id=f"bench{seed}",
        as_of=date(2026, 3, 31),
        tickers=tuple(f"A{i}" for i in range(n)),
        prices=prices,
        asset_class=tuple(CLASSES[i % 5] for i in range(n)),
        accounts=("tax", "ira", "roth"),
        account_types=(AccountType.TAXABLE, AccountType.TRADITIONAL, AccountType.ROTH),
        cash=rng.uniform(1_000, 20_000, 3),
        lots=LotInputs(tuple(f"l{i}" for i in range(lots)), acc, ast, shares, basis, rng.random(lots) < 0.7),
        mu=rng.normal(0.06, 0.03, n),
        cov=None if factor else b @ f @ b.T + np.diag(d),
        factor_model=FactorModel(b, f, d) if factor else None,
        strategic_mix=MIX,
        class_bands={c: (max(0, v - 0.05), v + 0.05) for c, v in MIX.items()},
        tax_drag=np.vstack([rng.uniform(0, 0.01, n), np.zeros(n), np.zeros(n)]),
        guard_group=np.arange(n) // 2,
    )


def median(xs: list[float]) -> float:
    return statistics.median(xs) * 1000  # ms


def bench_household(repeat: int) -> list[tuple[str, float, float, float]]:
    rows = []
    for label, n, lots, factor in (
        ("household 50/3/500 full Σ", 50, 500, False),
        ("household 500 assets, 5 factors, 3/60", 500, 60, True),
    ):
        cache = ProblemCache()
        solve_household(household(n, lots, 0, factor), cache=cache)  # compile once
        ours, solver, per_pass, fresh = [], [], [], []
        for seed in range(1, repeat + 1):
            res = solve_household(household(n, lots, seed, factor), cache=cache)
            ours.append(res.timings.wall_time)
            solver.append(res.timings.solver_time)
            per_pass.append(res.timings.wall_time / res.timings.passes)
        for seed in range(1, min(repeat, 3) + 1):  # a fresh cvxpy build and solve of the same problem
            x = household(n, lots, seed, factor)
            start = time.perf_counter()
            prob = HouseholdProblem(shape_key(prepare(x)))
            prob.assign(prepare(x))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                prob.problem.solve(solver="CLARABEL")
            fresh.append(time.perf_counter() - start)
        rows.append((label, median(ours), median(fresh), median(solver), median(per_pass)))
    return rows


HOUSEHOLD_CASES = (("50/3/500 full Σ", 50, 500, False), ("500 assets, 5 factors, 3/60", 500, 60, True))


def bench_household_cpu(repeat: int) -> list[tuple[str, float, float, float]]:
    """CPU ms per household: a cached solve (with the guard's passes), ``assign`` alone, a compile of the shape."""
    rows = []
    for label, n, lots, factor in HOUSEHOLD_CASES:
        cache = ProblemCache()
        solve_household(household(n, lots, 0, factor), cache=cache)
        prob, _ = cache.get(shape_key(household(n, lots, 0, factor)))
        p = prepare(household(n, lots, 1, factor))
        assign, solve, compile_ = [], [], []
        for _ in range(40):
            start = time.process_time()
            prob.assign(p)
            assign.append(time.process_time() - start)
        for seed in range(1, repeat + 3):
            x = household(n, lots, seed, factor)
            start = time.process_time()
            solve_household(x, cache=cache)
            solve.append(time.process_time() - start)
        for _ in range(3):
            start = time.process_time()
            HouseholdProblem(shape_key(p))
            compile_.append(time.process_time() - start)
        rows.append((label, median(solve), median(assign), median(compile_)))
    return rows


def bench_frontier(repeat: int) -> list[tuple[str, float, float, float]]:
    from pypfopt import EfficientFrontier

    rows = []
    for n in (20, 50, 200):
        rng = np.random.default_rng(n)
        a = rng.normal(size=(3 * n, n))
        cov = a.T @ a / (3 * n) * 0.04 + np.eye(n) * 0.001
        mu = rng.normal(0.08, 0.05, n)
        f = Frontier(mu, cov)
        f.max_sharpe(0.02), f.min_volatility()  # compile once
        ours, theirs, solver = [], [], []
        for i in range(repeat):
            f.update(mu=mu * (1 + 0.01 * i))
            for method, args in (("max_sharpe", (0.02,)), ("min_volatility", ())):
                start = time.perf_counter()
                getattr(f, method)(*args)
                ours.append(time.perf_counter() - start)
                solver.append(f.last_solve.solver_time)
                start = time.perf_counter()
                ef = EfficientFrontier(mu * (1 + 0.01 * i), cov)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    getattr(ef, method)(*args)
                theirs.append(time.perf_counter() - start)
        rows.append((f"Frontier n={n} (max_sharpe+min_vol)", median(ours), median(theirs), median(solver)))
    return rows


FACTOR_CALLS = (
    ("min_volatility", "min_volatility", ()),
    ("max_sharpe", "max_sharpe", (0.02,)),
    ("max_utility", "max_quadratic_utility", (4.0,)),
    ("efficient_return", "efficient_return", (0.09,)),
    ("efficient_risk", "efficient_risk", (0.16,)),
)


def bench_factor_frontier(repeat: int, n: int = 500, k: int = 5) -> list[tuple[str, float, float, float, float]]:
    """Per call at n assets, k factors: ours on the factor form, ours on the dense Σ, PyPortfolioOpt (dense)."""
    from pypfopt import EfficientFrontier

    rng = np.random.default_rng(5)
    b = rng.normal(0.0, 1.0, (n, k)) * np.linspace(1.0, 0.2, k) + np.eye(1, k)[0]
    f = (0.2 + 0.8 * np.eye(k)) * np.outer(np.linspace(0.16, 0.04, k), np.linspace(0.16, 0.04, k))
    d = rng.uniform(0.10, 0.35, n) ** 2
    mu = 0.02 + b @ np.r_[0.05, np.zeros(k - 1)] + rng.normal(0, 0.02, n)
    cov = b @ f @ b.T + np.diag(d)
    factor, dense = Frontier(mu, factor_model=FactorModel(b, f, d)), Frontier(mu, cov)
    rows = []
    for ours_name, theirs_name, args in FACTOR_CALLS:
        getattr(factor, ours_name)(*args), getattr(dense, ours_name)(*args)  # compile once
        t_factor, t_solver, t_dense, t_theirs = [], [], [], []
        for i in range(repeat):
            scaled = mu * (1 + 0.001 * i)
            factor.update(mu=scaled)
            start = time.perf_counter()
            getattr(factor, ours_name)(*args)
            t_factor.append(time.perf_counter() - start)
            t_solver.append(factor.last_solve.solver_time)
            if i < 3:  # the dense ones take hundreds of ms per call
                dense.update(mu=scaled)
                start = time.perf_counter()
                getattr(dense, ours_name)(*args)
                t_dense.append(time.perf_counter() - start)
                start = time.perf_counter()
                ef = EfficientFrontier(scaled, cov)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    getattr(ef, theirs_name)(*args)
                t_theirs.append(time.perf_counter() - start)
        rows.append((ours_name, median(t_factor), median(t_solver), median(t_dense), median(t_theirs)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--cpu", action="store_true", help="only the household cases' CPU time")
    args = parser.parse_args()
    if args.cpu:
        print(f"{'household, CPU ms':42} {'solve':>8} {'assign':>8} {'compile':>8}")
        for label, solve, assign, compile_ in bench_household_cpu(args.repeat):
            print(f"{label:42} {solve:8.2f} {assign:8.3f} {compile_:8.1f}")
        return
    print(f"{'case':42} {'ours ms':>8} {'fresh/PyPO ms':>14} {'solver ms':>10} {'ours/solver':>12} {'speed-up':>9}")
    for label, ours, fresh, solver, per_pass in bench_household(args.repeat):
        print(f"{label:42} {ours:8.1f} {fresh:14.1f} {solver:10.1f} {ours / solver:12.2f}x {fresh / per_pass:8.1f}x")
    for label, ours, theirs, solver in bench_frontier(args.repeat):
        print(f"{label:42} {ours:8.2f} {theirs:14.2f} {solver:10.2f} {ours / solver:12.2f}x {theirs / ours:8.1f}x")
    print("household: 'fresh' is one cvxpy build+solve (no guard pass); speed-up compares it with ours per pass.")
    print("Frontier: the third column is PyPortfolioOpt per call; speed-up = PyPortfolioOpt / ours.")
    print()
    print("Frontier, 500 assets, 5 factors, per call (efficient_risk includes its min-volatility floor solve)")
    head = f"{'objective':18} {'factor ms':>10} {'solver ms':>10} {'ours/solver':>12} {'dense ms':>9} {'PyPO ms':>8}"
    print(head + f" {'dense/factor':>13} {'PyPO/factor':>12}")
    for name, fac, solver, dense, theirs in bench_factor_frontier(args.repeat):
        print(
            f"{name:18} {fac:10.2f} {solver:10.2f} {fac / solver:11.2f}x {dense:9.1f} {theirs:8.1f}"
            f" {dense / fac:12.1f}x {theirs / fac:11.1f}x"
        )


if __name__ == "__main__":
    main()
