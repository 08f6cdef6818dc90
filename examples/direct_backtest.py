"""The direct-indexing backtest on a short window: 40 S&P 500 stocks through the 2020 crash, held as single stocks
(the sleeve, harvested lot by lot) and as an index fund with the fund-level harvester, taxed alike.

    ROBO_SP500_DIR=../shared/data/sp500 python examples/direct_backtest.py

The S&P 500 research set is never shipped (its redistribution terms are unsettled): it is read in place from
``ROBO_SP500_DIR`` or ``../shared/data/sp500`` beside the repository. The full scenario is
``robo backtest direct --prices ../shared/data/sp500/sp500_adj_close.csv.gz``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

from backtests.direct import CBL_TAX_ALPHA, load_direct_data, load_direct_scenario, run_direct

folder = Path(os.environ.get("ROBO_SP500_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data" / "sp500")
if not (folder / "sp500_adj_close.csv.gz").is_file():
    print(f"the S&P 500 research set is not at {folder}; set ROBO_SP500_DIR to its folder to run this example")
    sys.exit(0)

data = load_direct_data(folder / "sp500_adj_close.csv.gz")  # its sectors and dividends files are read beside it
names = ("AAPL", "MSFT", "AMZN", "GOOG", "GOOGL", "FB", "JPM", "BAC", "WFC", "C", "XOM", "CVX", "SLB", "JNJ", "PFE",
         "MRK", "UNH", "PG", "KO", "PEP", "WMT", "HD", "MCD", "NKE", "BA", "CAT", "GE", "HON", "T", "VZ", "DIS",
         "NEE", "DUK", "AMT", "SPG", "LIN", "NUE", "CCL", "MAR", "MO")
scenario = replace(load_direct_scenario("direct"), start=date(2020, 1, 2), end=date(2020, 12, 31), tickers=names,
                   lump_sum=1_000_000, lookback_days=60)
result = run_direct(scenario, data)
out = result.summary()

print(f"{out['period'][0]} → {out['period'][1]}, {out['stocks']} stocks, a decision every {out['cadence_days']} "
      f"trading days; rates {out['rates']['short_term']:.1%} short / {out['rates']['long_term']:.1%} long term")
print(f"{'strategy':10} {'pre-tax':>8} {'after-tax':>9} {'tax drag':>8} {'harvested':>11} {'yield':>7} "
      f"{'turnover':>8} {'TE':>6}")
for name, m in out["strategies"].items():
    print(f"{name:10} {m['twr_pre_tax']:8.2%} {m['twr_after_tax']:9.2%} {m['tax_drag']:8.2%} "
          f"${m['harvested']:>10,.0f} {m['harvest_yield']:7.2%} {m['turnover']:8.1%} {m['tracking_error']:6.2%}")
print(f"tax-drag alpha of direct over fund_tlh: {out['tax_drag_alpha']:+.2%}/yr "
      f"(Chaudhuri–Burnham–Lo: {CBL_TAX_ALPHA:.2%}/yr over 1926–2018; one crash year is not their average)")
direct = result.runs["direct"]
print(f"sleeve: {direct.solves} solves, {direct.wash_sales} wash sales, {len(direct.delistings)} delistings, "
      f"{direct.over_limit} solves above the tracking limit (each explained)")
