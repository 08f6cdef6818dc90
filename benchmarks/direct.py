"""Direct-index sleeve re-solve time: the compiled problem (parameters only) vs a fresh cvxpy build each time.

    .venv/bin/python benchmarks/direct.py            # 100 stocks / 1,000 lots and 250 / 2,500 (about a minute)
    .venv/bin/python benchmarks/direct.py --full     # adds the issue's 500 stocks / 5,000 lots (several minutes)

The issue's goal: a 500-stock sleeve with 5,000 lots re-solves in ≤ 250 ms. A synthetic universe (11 sectors,
returns with a sector structure, seeded) is used so the run needs no data files. "fresh" is what a user of cvxpy
would do without our cache: build the problem and call ``problem.solve(solver=CLARABEL)`` — it pays
canonicalisation every time. Each re-solve moves prices (and so lot weights and gains) by a day.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cvxpy as cp
import numpy as np
import pandas as pd

from engine.data.stocks import Stock, StockUniverse, universe_weights
from engine.estimates.sector_model import sector_risk_model
from engine.model import AccountType
from engine.optimizer.sleeve import DirectIndexSleeve, Exclusion, SleeveRules, sleeve_inputs
from engine.tax.ledger import LotLedger

SECTORS = ("Communication Services", "Consumer Discretionary", "Consumer Staples", "Energy", "Financials",
           "Health Care", "Industrials", "Information Technology", "Materials", "Real Estate", "Utilities")
DAY = date(2024, 6, 28)


def build(n: int, lots_per_stock: int, seed: int = 0):
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
    ledger = LotLedger({"taxable": AccountType.TAXABLE}, uni.identical)
    price = {t: float(rng.uniform(20, 300)) for t in uni.tickers}
    for k in range(lots_per_stock):
        on = DAY - timedelta(days=40 + 70 * (lots_per_stock - k))
        for t in uni.tickers:
            ledger.buy("taxable", t, "3", f"{price[t] * float(np.exp(rng.normal(0, 0.2))):.2f}", on)
    rules = SleeveRules(te_limit=0.03, exclusions=(Exclusion.tobacco(), Exclusion.defense()), second_pass=False)
    return uni, model, ledger, price, universe_weights(uni), rules


def run(n: int, lots_per_stock: int, repeats: int, fresh_repeats: int) -> list[str]:
    uni, model, ledger, price, bench, rules = build(n, lots_per_stock)
    rng = np.random.default_rng(1)

    def inputs_for(day_shift: int):
        moved = {t: p * float(np.exp(rng.normal(0, 0.01))) for t, p in price.items()}
        return sleeve_inputs(ledger, "taxable", uni, model, moved, DAY + timedelta(days=day_shift), benchmark=bench,
                             rules=rules, cash=5_000.0)

    x = inputs_for(0)
    t0 = time.perf_counter()
    sleeve = DirectIndexSleeve.for_inputs(x)
    compile_s = time.perf_counter() - t0
    sleeve.solve(x, explain_exclusions=False)  # first solve probes the solution map
    cached, build_in, two_pass, passes = [], [], [], []
    for i in range(repeats):
        t = time.perf_counter()
        xi = inputs_for(i + 1)
        build_in.append(time.perf_counter() - t)
        t = time.perf_counter()
        DirectIndexSleeve.for_inputs(xi).solve(xi, explain_exclusions=False)
        cached.append(time.perf_counter() - t)
        x2 = replace(xi, rules=replace(xi.rules, second_pass=True))
        t = time.perf_counter()
        passes.append(DirectIndexSleeve.for_inputs(x2).solve(x2, explain_exclusions=False).passes)
        two_pass.append(time.perf_counter() - t)
    fresh = []
    for i in range(fresh_repeats):
        xi = inputs_for(100 + i)
        t = time.perf_counter()
        s = DirectIndexSleeve.__new__(DirectIndexSleeve)
        _fresh_solve(s, xi)
        fresh.append(time.perf_counter() - t)
    lots = len(ledger.open_lots())
    c, f_ = statistics.median(cached), statistics.median(fresh)
    return [f"| {n} | {lots:,} | {x.shape[2]} | {statistics.median(build_in) * 1e3:,.0f} | {compile_s:,.1f} | "
            f"{c * 1e3:,.0f} | {f_ * 1e3:,.0f} | {f_ / c:,.1f}× | "
            f"{statistics.median(two_pass) * 1e3:,.0f} ({max(passes)} passes) |"]


def _fresh_solve(s: DirectIndexSleeve, x) -> None:
    """Build the same problem and solve it through cvxpy's own path (canonicalisation included)."""
    import engine.optimizer.sleeve as mod

    real = mod.CompiledProblem
    mod.CompiledProblem = lambda problem: None  # build only; cvxpy compiles inside problem.solve below
    try:
        DirectIndexSleeve.__init__(s, *x.shape, tuple(int(i) for i in x.sector_index))
    finally:
        mod.CompiledProblem = real
    s._assign(x)
    s.problem.solve(solver=cp.CLARABEL)
    if s.problem.status != cp.OPTIMAL:
        raise SystemExit(f"fresh solve ended {s.problem.status}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="add 500 stocks / 5,000 lots (the issue's size)")
    args = ap.parse_args()
    sizes = [(100, 10, 5, 2), (250, 10, 5, 1)] + ([(500, 10, 5, 1)] if args.full else [])
    print("| stocks | lots | lot slots | inputs ms | compile s (once per shape) | re-solve ms, one pass (median) | "
          "fresh cvxpy build+solve ms, one pass | fresh ÷ re-solve | re-solve ms with the second harvest pass |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for n, per, reps, fresh in sizes:
        for row in run(n, per, reps, fresh):
            print(row, flush=True)
    print("goal (issue 24): 500 stocks and 5,000 lots re-solve in ≤ 250 ms")


if __name__ == "__main__":
    main()
