"""Backtest results: DataFrames of every strategy's run, the comparison table, provenance and reports.

    result = run_scenario(load_scenario("demo"))
    result.metrics            # one row per strategy: returns pre/after tax, risk, taxes, costs, goals
    result.report("demo.html")  # one self-contained HTML file (+ PNGs next to it)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.harness import StrategyRun
from backtests.metrics import (
    harvest_yield,
    money_weighted_return,
    summary,
    tax_alpha_split,
    time_weighted_returns,
    tracking_error,
    turnover,
)

__all__ = ["BacktestResult", "strategy_metrics"]

#: Columns of the comparison table printed by the CLI (key, header, format).
TABLE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("twr_pre_tax", "TWR pre-tax", "pct"),
    ("twr_after_tax", "TWR after-tax", "pct"),
    ("mwr_after_tax", "MWR after-tax", "pct"),
    ("annual_volatility", "Vol", "pct"),
    ("sharpe_ratio", "Sharpe", "num"),
    ("max_drawdown", "Max DD", "pct"),
    ("taxes_paid", "Taxes", "usd"),
    ("harvested_losses", "Harvested", "usd"),
    ("harvest_yield", "Harvest yield", "pct"),
    ("tax_alpha", "Tax alpha", "pct"),
    ("tax_drag_alpha", "Tax-drag alpha", "pct"),
    ("pre_tax_alpha", "Pre-tax alpha", "pct"),
    ("turnover", "Turnover", "pct"),
    ("trading_costs", "Costs", "usd"),
    ("final_value", "End value", "usd"),
    ("final_liquidation", "After-tax liq.", "usd"),
    ("goals_funded", "Goals", "str"),
)


def _ts(days: tuple[date, ...]) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(days), name="date")


def strategy_metrics(run: StrategyRun) -> dict[str, Any]:
    """All metrics of one run (fractions for returns, USD for money, fraction/year for turnover)."""
    idx = _ts(run.days)[1:]
    pre = pd.Series(time_weighted_returns(run.value, run.flows_pre_tax), index=idx)
    post = pd.Series(time_weighted_returns(run.after_tax, run.flows_after_tax), index=idx)
    std = summary(pre)
    std_after = summary(post)
    years = max((run.days[-1] - run.days[0]).days / 365.25, 1e-9)
    traded = sum(x["traded"] for x in run.year_totals)
    costs = sum(x["costs"] for x in run.year_totals)
    strategic = run.strategic
    te = math.nan
    if np.isfinite(strategic).any():
        prices_ret = _asset_returns(run)
        ref = np.nansum(np.nan_to_num(strategic[:-1]) * prices_ret, axis=1)
        te = tracking_error(pre, pd.Series(ref, index=idx))
    funded = sum(1 for g in run.goals if g["funded"])
    out: dict[str, Any] = {
        "strategy": run.strategy,
        "kind": run.kind,
        "twr_pre_tax": std["annual_return"],
        "twr_after_tax": std_after["annual_return"],
        "mwr_pre_tax": money_weighted_return(run.days, run.flows_pre_tax, run.value[0], run.value[-1]),
        "mwr_after_tax": money_weighted_return(run.days, run.flows_after_tax, run.after_tax[0],
                                               run.after_tax[-1]),
        **std,
        "twr_after_tax_paid": _twr_paid(run, idx),
        "after_tax_sharpe_ratio": std_after["sharpe_ratio"],
        "after_tax_max_drawdown": std_after["max_drawdown"],
        "taxes_paid": float(sum(t.tax for t in run.taxes)),
        "st_gains": float(sum(t.st_gain for t in run.taxes)),
        "lt_gains": float(sum(t.lt_gain for t in run.taxes)),
        "harvested_losses": float(sum(x["harvested"] for x in run.year_totals)),
        "harvest_yield": _harvest_yield(run),
        "tax_drag": std["annual_return"] - std_after["annual_return"],
        "wash_sales": len(run.wash_sales),
        "harvest_wash_sales": sum(1 for w in run.wash_sales if w[5] == "harvest"),
        "tax_alpha": math.nan,
        "tax_drag_alpha": math.nan,
        "pre_tax_alpha": math.nan,
        "tax_alpha_paid": math.nan,
        "turnover": turnover(traded, float(np.mean(run.value)), years),
        "trading_costs": float(costs),
        "tracking_error": te,
        "contributions": float(run.flows[run.flows > 0].sum()),
        "withdrawals": float(-run.flows[run.flows < 0].sum()),
        "withdrawal_shortfall": run.shortfall,
        "final_value": float(run.value[-1]),
        "final_after_tax": float(run.after_tax[-1]),
        "final_liquidation": float(run.liquidation[-1]),
        "goals_funded": f"{funded}/{len(run.goals)}" if run.goals else "–",
        "seconds": run.seconds,
    }
    return out


def _twr_paid(run: StrategyRun, idx: pd.DatetimeIndex) -> float:
    """Annual after-tax TWR counting only taxes paid and accrued (no deferred tax, no carryforward value)."""
    if run.after_tax_paid is None:
        return math.nan
    return summary(pd.Series(time_weighted_returns(run.after_tax_paid, run.flows_after_tax), index=idx))[
        "annual_return"]


def _harvest_yield(run: StrategyRun) -> float:
    """``metrics.harvest_yield`` of a run: harvested losses by sale day over the taxable value."""
    if run.taxable_value is None:
        return math.nan
    daily = np.zeros(len(run.days))
    row = {d.toordinal(): i for i, d in enumerate(run.days)}
    for d, _a, _j, _q, _p, _b, gain, _term, _dis, why in run.realizations:
        if gain < 0 and d in row and run.is_harvest(why):
            daily[row[d]] += -gain
    return harvest_yield(daily, run.taxable_value, run.days)


def _asset_returns(run: StrategyRun) -> np.ndarray:
    prices = run.prices
    if prices is None:
        return np.zeros((len(run.days) - 1, len(run.tickers)))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = prices[1:] / prices[:-1] - 1.0
    return np.nan_to_num(r)


@dataclass
class BacktestResult:
    """The runs of one scenario: DataFrames, the comparison table, provenance and the HTML report."""

    scenario: str
    scenario_hash: str
    config: dict[str, Any]
    version: str
    seed: int
    runs: dict[str, StrategyRun]
    events: list[tuple[date, str, str]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    baselines: dict[str, str] = field(default_factory=dict)
    universe: Any = None
    _metrics: pd.DataFrame | None = field(default=None, repr=False)

    # -- frames -----------------------------------------------------------------------------------

    @property
    def provenance(self) -> dict[str, Any]:
        """What reproduces this result: scenario name, its SHA-256, package version, seed, config."""
        return {"scenario": self.scenario, "hash": self.scenario_hash, "version": self.version,
                "seed": self.seed, "config": self.config}

    @property
    def values(self) -> pd.DataFrame:
        """Daily USD values: columns (strategy, measure) with measure in pre_tax, after_tax, liquidation."""
        frames = {}
        for name, r in self.runs.items():
            idx = _ts(r.days)
            frames[(name, "pre_tax")] = pd.Series(r.value, index=idx)
            frames[(name, "after_tax")] = pd.Series(r.after_tax, index=idx)
            frames[(name, "liquidation")] = pd.Series(r.liquidation, index=idx)
            frames[(name, "flows")] = pd.Series(r.flows, index=idx)
        return pd.DataFrame(frames)

    def returns(self, after_tax: bool = False) -> pd.DataFrame:
        """Daily time-weighted returns (fractions) per strategy, pre- or after-tax."""
        out = {}
        for name, r in self.runs.items():
            v, f = (r.after_tax, r.flows_after_tax) if after_tax else (r.value, r.flows_pre_tax)
            out[name] = pd.Series(time_weighted_returns(v, f), index=_ts(r.days)[1:])
        return pd.DataFrame(out)

    def weights(self, strategy: str) -> pd.DataFrame:
        """Daily fraction of household value per fund held (cash is the remainder)."""
        r = self.runs[strategy]
        return pd.DataFrame(r.weights, index=_ts(r.days), columns=list(r.tickers))

    @property
    def trades(self) -> pd.DataFrame:
        """Every fill: day, strategy, account, fund, side, shares, price, USD notional, USD cost, reason."""
        rows = []
        for name, r in self.runs.items():
            for d, a, j, side, qty, px, notional, cost, why in r.trades:
                rows.append((date.fromordinal(d), name, r.account_ids[a], r.tickers[j], side, qty, px,
                             notional, cost, why))
        return pd.DataFrame(rows, columns=["date", "strategy", "account", "symbol", "side", "shares",
                                           "price", "notional", "cost", "reason"])

    @property
    def realizations(self) -> pd.DataFrame:
        """Realized gains and losses per lot relief (USD), with term and wash-sale disallowance."""
        rows = []
        for name, r in self.runs.items():
            for d, a, j, qty, proceeds, basis, gain, term, disallowed, why in r.realizations:
                rows.append((date.fromordinal(d), name, r.account_ids[a], r.tickers[j], qty, proceeds,
                             basis, gain, term, disallowed, why))
        return pd.DataFrame(rows, columns=["date", "strategy", "account", "symbol", "shares", "proceeds",
                                           "basis", "gain", "term", "wash_disallowed", "reason"])

    @property
    def taxes(self) -> pd.DataFrame:
        """Taxes by strategy and year (USD): gains, income, deduction, carryforwards, tax, harvested."""
        rows = []
        for name, r in self.runs.items():
            for t, tot in zip(r.taxes, r.year_totals, strict=True):
                rows.append({"strategy": name, "year": t.year, "st_gain": t.st_gain, "lt_gain": t.lt_gain,
                             "qualified_div": t.qualified_div, "ordinary_div": t.ordinary_div,
                             "exempt_div": t.exempt_div, "distributions": t.distributions,
                             "deduction": t.deduction, "st_carry": t.st_carry, "lt_carry": t.lt_carry,
                             "capital_gains_tax": t.capital_gains_tax, "dividend_tax": t.dividend_tax,
                             "distribution_tax": t.distribution_tax, "tax": t.tax,
                             "harvested": tot["harvested"], "costs": tot["costs"]})
        return pd.DataFrame(rows)

    @property
    def goals(self) -> pd.DataFrame:
        """Goal outcomes at each goal date inside the period: target, value, funded, shortfall (USD)."""
        rows = [{"strategy": n, **g} for n, r in self.runs.items() for g in r.goals]
        return pd.DataFrame(rows)

    @property
    def metrics(self) -> pd.DataFrame:
        """One row per strategy (see ``strategy_metrics``), with tax alpha against each baseline."""
        if self._metrics is None:
            rows = {name: strategy_metrics(r) for name, r in self.runs.items()}
            for name, base in self.baselines.items():
                if name in rows and base in rows:
                    a, b = rows[name], rows[base]
                    a.update(tax_alpha_split(a["twr_pre_tax"], a["twr_after_tax"], b["twr_pre_tax"],
                                             b["twr_after_tax"]))
                    a["baseline"] = base
                    a["tax_alpha_paid"] = a["twr_after_tax_paid"] - b["twr_after_tax_paid"]
            self._metrics = pd.DataFrame.from_dict(rows, orient="index")
        return self._metrics

    def summary(self) -> dict[str, Any]:
        """``{"strategies": {name: {...}}}`` with the headline numbers (fractions, USD; None for undefined).

        Keys per strategy: twr_pre_tax, twr_after_tax (annual TWR; after tax counts taxes paid, accrued and
        deferred on unrealized gains), taxes (USD paid), harvested (USD of losses harvested), harvest_yield
        (harvested ÷ taxable value, per year), tax_alpha = tax_drag_alpha + pre_tax_alpha (against
        ``baseline``), tax_drag (pre − after), turnover (one-way, per year), costs (USD), max_drawdown, and more.
        """
        keys = {"twr_pre_tax": "twr_pre_tax", "twr_after_tax": "twr_after_tax", "taxes": "taxes_paid",
                "harvested": "harvested_losses", "harvest_yield": "harvest_yield", "tax_alpha": "tax_alpha",
                "tax_drag_alpha": "tax_drag_alpha", "pre_tax_alpha": "pre_tax_alpha", "tax_drag": "tax_drag",
                "twr_after_tax_paid": "twr_after_tax_paid", "tax_alpha_paid": "tax_alpha_paid",
                "turnover": "turnover", "costs": "trading_costs", "max_drawdown": "max_drawdown",
                "annual_volatility": "annual_volatility", "sharpe_ratio": "sharpe_ratio",
                "mwr_after_tax": "mwr_after_tax", "final_value": "final_value", "final_after_tax": "final_after_tax",
                "final_liquidation": "final_liquidation", "wash_sales": "wash_sales", "seconds": "seconds"}
        out: dict[str, Any] = {}
        m = self.metrics
        for name, row in m.iterrows():
            item: dict[str, Any] = {}
            for k, col in keys.items():
                v = row.get(col)
                item[k] = None if v is None or (isinstance(v, float) and not math.isfinite(v)) else (
                    int(v) if isinstance(v, (np.integer,)) else float(v))
            base = row.get("baseline")
            item["baseline"] = base if isinstance(base, str) else None
            item["approvals_needed"] = self.runs[str(name)].approvals_needed
            item["plan_errors"] = len(self.runs[str(name)].plan_errors)
            out[str(name)] = item
        return {"scenario": self.scenario, "hash": self.scenario_hash, "strategies": out}

    def table_rows(self) -> list[list[str]]:
        """The comparison table as formatted strings (strategy first), for terminals."""
        m = self.metrics
        rows = []
        for name, row in m.iterrows():
            cells = [str(name)]
            for key, _, kind in TABLE_COLUMNS:
                cells.append(_fmt(row[key], kind))
            rows.append(cells)
        return rows

    # -- output -------------------------------------------------------------------------------------

    def save(self, folder: str | Path) -> Path:
        """Write CSVs of every frame plus ``provenance.json`` into ``folder``; returns the folder."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        self.values.to_csv(out / "values.csv")
        self.metrics.to_csv(out / "metrics.csv")
        self.trades.to_csv(out / "trades.csv", index=False)
        self.realizations.to_csv(out / "realizations.csv", index=False)
        self.taxes.to_csv(out / "taxes.csv", index=False)
        (out / "provenance.json").write_text(json.dumps(self.provenance, indent=2, default=str))
        return out

    def report(self, path: str | Path, *, png: bool = True) -> Path:
        """Write one self-contained HTML report (plots inline) and, with ``png``, the plots as PNG files."""
        from backtests.report import write_report

        return write_report(self, Path(path), png=png)


def _fmt(x: Any, kind: str) -> str:
    if kind == "str":
        return str(x)
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(v):
        return "–"
    if kind == "pct":
        return f"{v:+.2%}" if abs(v) < 10 else f"{v:.0%}"
    if kind == "usd":
        return f"${v:,.0f}"
    return f"{v:.2f}"
