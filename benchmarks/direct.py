"""Direct-index sleeve speed: the compiled problem (parameters only) vs a fresh cvxpy build, one household and a batch.

    .venv/bin/python benchmarks/direct.py              # 100 / 250 / 500 stocks and the batch row (about 2–3 minutes)
    .venv/bin/python benchmarks/direct.py --households 40 --rounds 5 --fresh 4     # a bigger batch
    .venv/bin/python benchmarks/direct.py --baseline /path/to/older/checkout       # the same rows for an older
                                                                                   # sleeve.py, interleaved

Issue 24's goals: a household with a 500-stock sleeve and 5,000 lots re-solves in ≤ 250 ms, and a batch of such
households runs ≥ 10 per second per core. A synthetic universe (11 sectors, returns with a sector structure,
seeded) is used so the run needs no data files. "fresh" is what a user of cvxpy would do without our cache: build
the problem and call ``problem.solve(solver=CLARABEL)`` — it pays canonicalisation for every household (cvxpy's
own cache serves the second harvest pass of the same problem). Each re-solve moves prices (and so lot weights and
gains) by a day. Times are medians; "per core" is CPU time of this process, which runs single-threaded (BLAS
threads are pinned to 1 below), so other jobs on a shared machine slow the wall clock more than these figures.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # one core: per-core figures
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from datetime import date, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cvxpy as cp  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import engine.optimizer.sleeve as current  # noqa: E402
from engine.data.stocks import Stock, StockUniverse, universe_weights  # noqa: E402
from engine.estimates.sector_model import SectorRiskModel, sector_risk_model  # noqa: E402
from engine.model import AccountType  # noqa: E402
from engine.optimizer.solvers import SolveRecord, SolverName, SolveStatus  # noqa: E402
from engine.tax.ledger import LotLedger  # noqa: E402

SECTORS = ("Communication Services", "Consumer Discretionary", "Consumer Staples", "Energy", "Financials",
           "Health Care", "Industrials", "Information Technology", "Materials", "Real Estate", "Utilities")
DAY = date(2024, 6, 28)
LOTS_PER_STOCK = 10


def universe(n: int, seed: int = 0) -> tuple[StockUniverse, SectorRiskModel, np.ndarray]:
    """n synthetic stocks in 11 sectors, their sector risk model and cap-weighted benchmark."""
    rng = np.random.default_rng(seed)
    stocks = tuple(Stock(f"S{i:03d}", f"Stock {i}", SECTORS[i % 11],
                         "Tobacco" if i == 2 else "Aerospace & Defense" if i % 37 == 6 else "",
                         market_cap=float(rng.lognormal(10, 1))) for i in range(n))
    uni = StockUniverse(stocks, source="synthetic")
    days = pd.bdate_range(end=DAY, periods=500)
    f = rng.normal(0, 0.01, (len(days), 11))
    r = f[:, [i % 11 for i in range(n)]] + rng.normal(0, 0.015, (len(days), n))
    model = sector_risk_model(pd.DataFrame(r, index=days, columns=uni.tickers),
                              {s.ticker: s.sector for s in stocks}, as_of=DAY)
    return uni, model, universe_weights(uni)


def household(uni: StockUniverse, seed: int) -> tuple[LotLedger, dict[str, float]]:
    """A taxable account with LOTS_PER_STOCK lots of every stock bought 70 days apart at random prices, and prices."""
    rng = np.random.default_rng(1000 + seed)
    ledger = LotLedger({"taxable": AccountType.TAXABLE}, uni.identical)
    price = {t: float(rng.uniform(20, 300)) for t in uni.tickers}
    for k in range(LOTS_PER_STOCK):
        on = DAY - timedelta(days=40 + 70 * (LOTS_PER_STOCK - k))
        for t in uni.tickers:
            ledger.buy("taxable", t, "3", f"{price[t] * float(np.exp(rng.normal(0, 0.2))):.2f}", on)
    return ledger, price


def rules(mod: ModuleType, second_pass: bool) -> Any:
    return mod.SleeveRules(te_limit=0.03, exclusions=(mod.Exclusion.tobacco(), mod.Exclusion.defense()),
                           second_pass=second_pass)


def moved(price: dict[str, float], rng: np.random.Generator) -> dict[str, float]:
    return {t: p * float(np.exp(rng.normal(0, 0.01))) for t, p in price.items()}


class _CvxpySolve:
    """Stands in for CompiledProblem in a fresh build: cvxpy's own ``problem.solve`` with Clarabel."""

    def __init__(self, problem: cp.Problem, clarabel_options: dict[str, Any] | None = None) -> None:
        self.problem = problem
        self.options = dict(clarabel_options or {})  # the sleeve's own Clarabel settings, as the fast path uses
        self.solves = 0

    def solve(self, chain: Any = None) -> SolveRecord:
        start = time.perf_counter()
        self.problem.solve(solver=cp.CLARABEL, **self.options)
        self.solves += 1
        status = {cp.OPTIMAL: SolveStatus.OPTIMAL, cp.INFEASIBLE: SolveStatus.INFEASIBLE}.get(
            self.problem.status, SolveStatus.FAILED)
        return SolveRecord(status, SolverName.CLARABEL, 0.0, time.perf_counter() - start, 0, ())


def fresh_sleeve(mod: ModuleType, x: Any) -> Any:
    """The same sleeve problem built anew (no cache, no compiled fast path): cvxpy canonicalises it on its solve."""
    real = mod.CompiledProblem
    mod.CompiledProblem = _CvxpySolve
    try:
        return mod.DirectIndexSleeve(*x.shape, tuple(int(i) for i in x.sector_index))
    finally:
        mod.CompiledProblem = real


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1e3:,.0f}"


def resolve_row(mod: ModuleType, n: int, repeats: int, fresh_repeats: int) -> str:
    """One household of n stocks: inputs, compile, re-solve with one and both passes, fresh build (CPU ms)."""
    uni, model, bench = universe(n)
    ledger, price = household(uni, 0)
    rng = np.random.default_rng(1)

    def inputs(shift: int, second_pass: bool) -> Any:
        return mod.sleeve_inputs(ledger, "taxable", uni, model, moved(price, rng), DAY + timedelta(days=shift),
                                 benchmark=bench, rules=rules(mod, second_pass), cash=5_000.0)

    x = inputs(0, False)
    t = time.process_time()
    sleeve = mod.DirectIndexSleeve.for_inputs(x)
    compile_s = time.process_time() - t
    sleeve.solve(x, explain_exclusions=False)  # the first solve probes the solution map
    build, one, both, solves = [], [], [], []
    for i in range(repeats):
        t = time.process_time()
        xi = inputs(i + 1, True)
        build.append(time.process_time() - t)
        x1 = replace(xi, rules=replace(xi.rules, second_pass=False))
        t = time.process_time()
        mod.DirectIndexSleeve.for_inputs(x1).solve(x1, explain_exclusions=False)
        one.append(time.process_time() - t)
        t = time.process_time()
        res = mod.DirectIndexSleeve.for_inputs(xi).solve(xi, explain_exclusions=False)
        both.append(time.process_time() - t)
        solves.append(getattr(res, "solves", res.passes))
    fresh = []
    for i in range(fresh_repeats):
        xi = inputs(100 + i, False)
        t = time.process_time()
        fresh_sleeve(mod, xi).solve(xi, explain_exclusions=False)
        fresh.append(time.process_time() - t)
    lots = len(ledger.open_lots())
    ratio = statistics.median(fresh) / statistics.median(one)
    return (f"| {n} | {lots:,} | {x.shape[2]} | {ms(build)} | {compile_s:,.1f} | {ms(one)} | {ms(both)} "
            f"({statistics.median(solves):g} solves) | {ms(fresh)} | {ratio:,.1f}× |")


def batch_round(mod: ModuleType, homes: list[Any], uni: StockUniverse, model: SectorRiskModel, bench: np.ndarray,
                shift: int, fresh: bool) -> tuple[float, float, int]:
    """Every household of ``homes`` once, inputs and both harvest passes: (CPU s, wall s, solver runs)."""
    rng = np.random.default_rng(shift)
    cpu, wall, runs = time.process_time(), time.perf_counter(), 0
    for ledger, price in homes:
        x = mod.sleeve_inputs(ledger, "taxable", uni, model, moved(price, rng), DAY + timedelta(days=shift),
                              benchmark=bench, rules=rules(mod, True), cash=5_000.0)
        sleeve = fresh_sleeve(mod, x) if fresh else mod.DirectIndexSleeve.for_inputs(x)
        res = sleeve.solve(x, explain_exclusions=False)
        runs += getattr(res, "solves", res.passes)
    return time.process_time() - cpu, time.perf_counter() - wall, runs


def batch_rows(mods: dict[str, ModuleType], n_homes: int, rounds: int, n_fresh: int) -> list[str]:
    """Households per second per core, N households of 500 stocks/5,000 lots (different lots and prices)."""
    uni, model, bench = universe(500)
    homes = [household(uni, seed) for seed in range(n_homes)]
    for mod in mods.values():  # compile the shape once, outside the timing (a batch pays it once)
        ledger, price = homes[0]
        x = mod.sleeve_inputs(ledger, "taxable", uni, model, price, DAY, benchmark=bench, rules=rules(mod, True),
                              cash=5_000.0)
        mod.DirectIndexSleeve.for_inputs(x).solve(x, explain_exclusions=False)
    per_core: dict[str, list[float]] = {k: [] for k in mods}
    per_wall: dict[str, list[float]] = {k: [] for k in mods}
    runs: dict[str, list[float]] = {k: [] for k in mods}
    for r in range(rounds):  # interleaved, so every label sees the same load
        for label, mod in mods.items():
            c, w, k = batch_round(mod, homes, uni, model, bench, r + 1, fresh=False)
            per_core[label].append(n_homes / c)
            per_wall[label].append(n_homes / w)
            runs[label].append(k / n_homes)
    fresh_core: dict[str, list[float]] = {k: [] for k in mods}
    for i in range(n_fresh):
        for label, mod in mods.items():
            c, _, _ = batch_round(mod, homes[i:i + 1], uni, model, bench, 50 + i, fresh=True)
            fresh_core[label].append(1 / c)
    rows = []
    for label in mods:
        core, fr = statistics.median(per_core[label]), statistics.median(fresh_core[label])
        rows.append(f"| {label} | {n_homes} × {rounds} | {core:,.1f} | {1e3 / core:,.0f} | "
                    f"{statistics.median(per_wall[label]):,.1f} | {statistics.median(runs[label]):.2f} | "
                    f"{fr:,.2f} ({n_fresh}) | {core / fr:,.0f}× |")
    return rows


def load_baseline(root: Path) -> ModuleType:
    """``engine/optimizer/sleeve.py`` of an older checkout, loaded beside the current one (same engine otherwise)."""
    spec = importlib.util.spec_from_file_location("engine.optimizer._sleeve_baseline",
                                                  root / "engine" / "optimizer" / "sleeve.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"no engine/optimizer/sleeve.py under {root}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[100, 250, 500], help="stocks per re-solve row")
    ap.add_argument("--repeats", type=int, default=5, help="re-solves per size (median)")
    ap.add_argument("--fresh-repeats", type=int, default=1, help="fresh cvxpy builds per size")
    ap.add_argument("--households", type=int, default=12, help="households in the batch (500 stocks, 5,000 lots)")
    ap.add_argument("--rounds", type=int, default=3, help="passes over the batch (median)")
    ap.add_argument("--fresh", type=int, default=2, help="households solved by a fresh cvxpy build (median)")
    ap.add_argument("--baseline", type=Path, help="an older checkout whose sleeve.py runs beside this one")
    args = ap.parse_args()
    mods = {"this commit": current}
    if args.baseline:
        mods = {"baseline": load_baseline(args.baseline), **mods}
    print("One household, CPU ms (medians):")
    print("| sleeve | stocks | lots | lot slots | inputs ms | compile s (once per shape) | re-solve ms, one pass | "
          "re-solve ms, both harvest passes | fresh cvxpy build+solve ms, one pass | fresh ÷ re-solve |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for n in args.sizes:
        for label, mod in mods.items():
            print(f"| {label} " + resolve_row(mod, n, args.repeats, args.fresh_repeats), flush=True)
    print()
    print("Batch: households of 500 stocks and 5,000 lots, each with its own lots and prices; inputs + both harvest "
          "passes per household, one compiled problem for the shape (medians over rounds):")
    print("| sleeve | households × rounds | households/s per core | CPU ms per household | households/s wall | "
          "solver runs per household | fresh cvxpy build, households/s per core (households) | compiled ÷ fresh |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in batch_rows(mods, args.households, args.rounds, args.fresh):
        print(row, flush=True)
    print("goals (issue 24): 500 stocks and 5,000 lots re-solve in ≤ 250 ms; ≥ 10 such households per second per core")


if __name__ == "__main__":
    main()
