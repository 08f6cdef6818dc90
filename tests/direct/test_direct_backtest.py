"""The ``direct`` backtest on short windows of the S&P 500 set (read in place from ../shared; skipped when absent):
corporate actions on lots, dividends taxed alike in both strategies, the tracking limit, wash sales across share
classes, exclusions in every solve, and the CLI's JSON."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from backtests.direct import _market, load_direct_scenario, run_direct
from engine.model import AccountType
from engine.optimizer.sleeve import Exclusion
from engine.tax.corporate import Split, apply_to_ledger
from engine.tax.ledger import LotLedger, LotMethod

from .conftest import sp500_dir

# A bear market with share classes on both sides (GOOG trades from 2014): losses to harvest in GOOG and GOOGL.
CRASH = (date(2020, 1, 2), date(2020, 7, 31))
NAMES = ("GOOG", "GOOGL", "AAPL", "MSFT", "AMZN", "FB", "JPM", "BAC", "WFC", "C", "XOM", "CVX", "COP", "SLB",
         "JNJ", "PFE", "MRK", "UNH", "PG", "KO", "PEP", "WMT", "HD", "MCD", "NKE", "BA", "LMT", "CAT", "GE", "HON",
         "MO", "PM", "T", "VZ", "DIS", "NEE", "DUK", "SO", "AMT", "PLD", "SPG", "LIN", "DD", "NUE", "CCL", "MAR")


@pytest.fixture(scope="module")
def crash(sp500):
    sc = replace(load_direct_scenario("direct"), start=CRASH[0], end=CRASH[1], tickers=NAMES, lump_sum=2e6,
                 lookback_days=60)
    return sc, run_direct(sc, sp500)


def test_both_strategies_hold_the_index_alike_until_the_first_solve_and_dividends_are_taxed(crash):
    _, res = crash
    d, f = res.runs["direct"], res.runs["fund_tlh"]
    # Before the sleeve's first solve (day 20) both hold the same index: same value and same dividends per day.
    assert np.allclose(d.value[:20], f.value[:20], rtol=2e-4)
    assert d.income[:20].sum() > 0
    assert np.allclose(d.income[:20], f.income[:20], rtol=2e-3, atol=1.0)
    # Every dividend is qualified income of the year in the tax settlement, for both strategies.
    for run in (d, f):
        assert sum(t.qualified_div for t in run.taxes) == pytest.approx(run.dividends, rel=1e-9)
        assert sum(t.dividend_tax for t in run.taxes) > 0.2 * run.dividends
    m = res.summary()["strategies"]
    assert set(m) == {"direct", "fund_tlh"}
    for key in ("twr_pre_tax", "twr_after_tax", "final_liquidation", "tax_drag", "harvested", "harvest_yield",
                "turnover", "tracking_error", "tax_drag_alpha"):
        assert np.isfinite(m["direct"][key]), key


def test_the_sleeve_harvests_within_its_tracking_limit(crash):
    sc, res = crash
    d = res.runs["direct"]
    assert d.solves > 10
    assert d.harvested.sum() > 0.05 * sc.lump_sum  # the 2020 crash: losses lot by lot
    # The limit is soft by a steep penalty (docs/direct-indexing.md): a solve ends above it only when wash-sale
    # blocks leave no buy to fix it, and then its explanation says so; that stays rare and close to the limit.
    assert d.over_limit_unexplained == 0
    assert d.over_limit <= 0.15 * d.solves, (d.over_limit, d.solves)
    assert d.max_ex_ante_te <= 1.25 * sc.te_limit
    assert res.summary()["strategies"]["direct"]["tracking_error"] < 3 * sc.te_limit


def test_no_wash_sale_across_share_classes(crash):
    _, res = crash
    d = res.runs["direct"]
    ledger = d.ledger
    assert ledger is not None
    group = {"GOOG", "GOOGL"}
    assert ledger.identical_to("GOOG") == frozenset(group)
    losses = [r for r in ledger.realized() if r.symbol in group and r.gain < 0]
    assert losses, "the window must harvest a loss in the share-class group for this test to mean anything"
    for r in losses:  # no buy of either class within 30 days after a loss sale of either
        after = [b for b in d.buys if b[1] in group and r.sold < b[0] <= r.sold + timedelta(days=30)]
        assert not after, (r, after)
    assert not [w for w in ledger.wash_sales() if w.symbol in group]


def test_exclusions_hold_in_every_solve(sp500):
    sc = replace(load_direct_scenario("direct"), start=CRASH[0], end=date(2020, 4, 30), tickers=NAMES,
                 lump_sum=1e6, lookback_days=60, exclusions=(Exclusion.tobacco(), Exclusion("exxon", ("XOM",))))
    res = run_direct(sc, sp500, strategies=["direct"])
    d = res.runs["direct"]
    assert d.solves > 5 and d.held_excluded == 0
    assert not [b for b in d.buys if b[1] in {"MO", "PM", "XOM"}]
    assert d.ledger is not None and not [lot for lot in d.ledger.open_lots() if lot.symbol in {"MO", "PM", "XOM"}]


def test_a_series_that_ends_is_a_delisting_at_its_last_price(sp500):
    # Varian (VAR) was acquired by Siemens Healthineers: its series ends 2021-04-16, before the set's last day.
    sc = replace(load_direct_scenario("direct"), start=date(2021, 1, 4), end=date(2021, 4, 21),
                 tickers=("VAR", *NAMES[2:30]), lump_sum=1e6, lookback_days=60)
    res = run_direct(sc, sp500, strategies=["direct"])
    d = res.runs["direct"]
    assert d.ledger is not None
    assert [x.split()[1] for x in d.delistings] == ["VAR"]
    sold = [r for r in d.ledger.realized() if r.symbol == "VAR" and r.sold == date(2021, 4, 16)]
    assert sold and not [r for r in d.ledger.realized() if r.symbol == "VAR" and r.sold > date(2021, 4, 16)]
    m = _market(sp500, sc.start, sc.end, sc.tickers)
    last = float(m.price[m.days.index(date(2021, 4, 16)), m.tickers.index("VAR")])
    for r in sold:
        assert float(r.proceeds) == pytest.approx(float(r.shares) * last, abs=0.01)
    assert not d.ledger.open_lots(symbol="VAR")


def test_shares_in_split_adjusted_units_equal_raw_shares_through_a_split(sp500):
    """AAPL split 4:1 on 2020-08-31. The backtest counts shares in split-adjusted units; the same lot held in raw
    shares and moved through ``corporate.Split`` (IRC §307) has the same shares, basis and dates afterwards."""
    m = _market(sp500, date(2020, 8, 3), date(2020, 9, 2), ("AAPL",))
    px = {d: float(m.price[i, 0]) for i, d in enumerate(m.days)}
    buy, sell = date(2020, 8, 3), date(2020, 9, 1)
    adjusted = LotLedger({"t": AccountType.TAXABLE})
    raw = LotLedger({"t": AccountType.TAXABLE})
    adjusted.buy("t", "AAPL", "400", f"{px[buy]:.4f}", buy)
    raw.buy("t", "AAPL", "100", f"{4 * px[buy]:.4f}", buy)  # before the split a raw share is 4 adjusted units
    apply_to_ledger(raw, Split("AAPL", "4", date(2020, 8, 31)))
    a, r = adjusted.open_lots()[0], raw.open_lots()[0]
    assert (a.shares, a.basis, a.acquired) == (r.shares, r.basis, r.acquired) == (Decimal(400), a.basis, buy)
    ra = adjusted.sell("t", "AAPL", "400", f"{px[sell]:.4f}", sell, LotMethod.FIFO)
    rr = raw.sell("t", "AAPL", "400", f"{px[sell]:.4f}", sell, LotMethod.FIFO)
    assert [(x.gain, x.term) for x in ra] == [(x.gain, x.term) for x in rr]


def test_cli_json_on_a_short_window(sp500, tmp_path, capsys):
    from robo.cli import main

    text = Path(load_direct_scenario("direct").file).read_text(encoding="utf-8")
    text = text.replace("start: 2000-01-03", "start: 2020-02-03").replace("end: 2021-04-21", "end: 2020-05-29")
    text = text.replace("strategies: [direct, fund_tlh]", "tickers: [" + ", ".join(NAMES[:24]) + "]\n"
                        "risk_model: {lookback_days: 60, refit_days: 21}\nstrategies: [direct, fund_tlh]")
    text = text.replace("risk_model: {lookback_days: 756, refit_days: 21}\n", "")
    path = tmp_path / "short.yaml"
    path.write_text(text, encoding="utf-8")
    code = main(["backtest", str(path), "--prices", str(sp500_dir() / "sp500_adj_close.csv.gz"), "--json",
                 "--cadence", "10"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["cadence_days"] == 10 and out["stocks"] == 24
    assert set(out["strategies"]) == {"direct", "fund_tlh"}
    assert out["anchor"]["tax_alpha"] == 0.0082
    d = out["strategies"]["direct"]
    assert d["tax_drag_alpha"] == pytest.approx(out["tax_drag_alpha"])
    assert d["tax_drag_alpha"] == pytest.approx(out["strategies"]["fund_tlh"]["tax_drag"] - d["tax_drag"])
    # The text report prints the same number next to Chaudhuri–Burnham–Lo's.
    assert main(["backtest", str(path), "--prices", str(sp500_dir() / "sp500_adj_close.csv.gz"), "--cadence",
                 "10", "--strategies", "direct,fund_tlh"]) == 0
    text = capsys.readouterr().out
    assert f"{out['tax_drag_alpha']:+.2%}/yr" in text and "Chaudhuri, Burnham & Lo (FAJ 2020): 0.82%/yr" in text


def test_example_runs_offline_on_a_short_window(sp500, tmp_path):
    import os
    import subprocess
    import sys

    example = Path(__file__).resolve().parents[2] / "examples" / "direct_backtest.py"
    env = {**os.environ, "ROBO_SP500_DIR": str(sp500_dir())}
    proc = subprocess.run([sys.executable, str(example)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "fund_tlh" in proc.stdout and "tax-drag alpha of direct over fund_tlh" in proc.stdout
