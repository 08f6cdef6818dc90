"""The HTML report of a backtest: one self-contained file with inline plots, plus PNG exports.

    write_report(result, Path("demo.html"))   # demo.html and demo_png/*.png

Plots: equity curves pre/after tax with life events marked, drawdowns, allocation by asset class,
taxes and harvested losses by year, goal funding, ESG score over time (when the universe has scores).
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from backtests.metrics import drawdown

if TYPE_CHECKING:
    from backtests.result import BacktestResult

__all__ = ["write_report"]

_NOTE = (
    "Taxes are modelled honestly but simply: adjusted prices already reinvest dividends, so the tax on "
    "dividends and bond income is charged from the yields in config/universe.yaml (qualified share at "
    "long-term rates, the rest as ordinary income, muni interest exempt from federal tax); realized gains "
    "are netted short/long term with carryforwards and the $3,000 deduction; wash sales are disallowed "
    "and added to the replacement's basis. After-tax values deduct taxes paid and accrued, the tax deferred "
    "on unrealized taxable gains and, as an asset, the tax value of losses carried forward (both at the "
    "long-term rate); the liquidation value also withdraws retirement accounts at the ordinary rate. Goal "
    "targets are nominal."
)

#: Which definition each tax number uses, and how the published anchors define theirs (docs/tax-alpha.md).
DEFINITIONS: tuple[tuple[str, str], ...] = (
    ("TWR after-tax", "annual time-weighted return of the after-tax value: household value less taxes paid and "
     "accrued, less the tax deferred on unrealized taxable gains, plus the tax value of carried-forward losses "
     "(long-term rate). Lowering a basis by harvesting is therefore not counted as a gain by itself."),
    ("Tax alpha", "after-tax TWR minus the baseline's (the strategy's 'without harvesting' twin: the adaptive "
     "engine with harvesting off — ordinary loss sales allowed — or the static mix without the daily "
     "harvester). Tax alpha = tax-drag alpha + pre-tax alpha, exactly."),
    ("Tax-drag alpha", "the baseline's tax drag (pre-tax TWR − after-tax TWR) minus the strategy's: what lower "
     "taxes gave. A higher pre-tax return also raises the drag (more gains, more deferred tax)."),
    ("Pre-tax alpha", "pre-tax TWR minus the baseline's: what the trades themselves gave (substitute funds, "
     "days between a harvest sale and its substitute buy, cash left by position limits)."),
    ("Harvest yield", "losses harvested (after wash-sale disallowance) ÷ average taxable value, per year."),
    ("Tax alpha (paid)", "in the CSV/JSON only: the same difference counting taxes paid and accrued only — no "
     "deferred tax, no carryforward value — closest to how the published estimates are stated."),
    ("Anchors", "Betterment's TLH+ white paper: 0.77 %/yr (2000–2013, ETF portfolio, a single California filer), "
     "stated as added after-tax return with harvested losses valued when used; Chaudhuri, Burnham & Lo "
     "(FAJ 2020): 0.82 %/yr with the wash-sale rule, stock-level harvesting 1926–2018; Wealthfront: over "
     "1 %/yr harvested losses (a harvest yield, gross). None subtracts a tax-aware baseline that also "
     "realizes losses when rebalancing, as ours does."),
)


def _png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _mark_events(ax: plt.Axes, result: BacktestResult) -> None:
    for day, _kind, label in result.events:
        ax.axvline(pd.Timestamp(day), color="grey", ls=":", lw=1)
        ax.annotate(label, (pd.Timestamp(day), 1.0), xycoords=("data", "axes fraction"),
                    rotation=90, va="top", ha="right", fontsize=7, color="dimgray")


def _figures(result: BacktestResult) -> dict[str, bytes]:
    figs: dict[str, bytes] = {}
    values = result.values
    names = list(result.runs)
    colors = {n: plt.cm.tab10(i % 10) for i, n in enumerate(names)}

    fig, ax = plt.subplots(figsize=(10, 4.5))
    for n in names:
        ax.plot(values.index, values[(n, "pre_tax")], color=colors[n], lw=1.2, label=f"{n} pre-tax")
        ax.plot(values.index, values[(n, "after_tax")], color=colors[n], lw=1, ls="--",
                label=f"{n} after-tax")
    ax.set_yscale("log")
    ax.set_title("Household value (USD, log scale): solid pre-tax, dashed after tax")
    ax.legend(fontsize=7, ncol=2)
    _mark_events(ax, result)
    figs["equity"] = _png(fig)

    fig, ax = plt.subplots(figsize=(10, 3.5))
    rets = result.returns(after_tax=True)
    for n in names:
        dd = drawdown(rets[n])
        ax.plot(dd.index, dd.values, color=colors[n], lw=1, label=n)
    ax.set_title("Drawdown of the after-tax time-weighted return")
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.legend(fontsize=7)
    _mark_events(ax, result)
    figs["drawdown"] = _png(fig)

    k = len(names)
    fig, axes = plt.subplots(k, 1, figsize=(10, 2.2 * k), sharex=True, squeeze=False)
    for ax, n in zip(axes[:, 0], names, strict=True):
        w = result.weights(n)
        if result.universe is not None:
            classes = [result.universe[t].asset_class.value for t in w.columns]
            w = w.T.groupby(classes).sum().T
        w = w.loc[:, w.sum() > 0]
        w = w.assign(cash=(1 - w.sum(axis=1)).clip(lower=0))
        ax.stackplot(w.index, w.T.values, labels=list(w.columns), alpha=0.85)
        ax.set_ylim(0, 1)
        ax.set_title(f"Allocation by asset class — {n}", fontsize=9)
        ax.legend(fontsize=6, loc="upper left", ncol=6)
        _mark_events(ax, result)
    figs["allocation"] = _png(fig)

    taxes = result.taxes
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.5))
    if not taxes.empty:
        t = taxes.pivot_table(index="year", columns="strategy", values="tax", aggfunc="sum")[names]
        t.plot.bar(ax=ax1, width=0.8, color=[colors[n] for n in names], legend=False)
        h = taxes.pivot_table(index="year", columns="strategy", values="harvested", aggfunc="sum")[names]
        h.plot.bar(ax=ax2, width=0.8, color=[colors[n] for n in names])
        ax2.legend(fontsize=6)
    ax1.set_title("Taxes by year (USD; negative = lowered other taxes)", fontsize=9)
    ax2.set_title("Harvested losses by year (USD)", fontsize=9)
    figs["taxes"] = _png(fig)

    goals = result.goals
    fig, ax = plt.subplots(figsize=(10, 3))
    if not goals.empty:
        piv = goals.pivot_table(index="name", columns="strategy", values="value", aggfunc="first")
        piv = piv[[n for n in names if n in piv.columns]]
        piv.plot.bar(ax=ax, color=[colors[n] for n in piv.columns], rot=0)
        tg = goals.groupby("name")["target"].first().reindex(piv.index)
        ax.scatter(range(len(tg)), tg.values, marker="_", s=900, color="black", zorder=5, label="target")
        ax.legend(fontsize=7)
        ax.set_title("Goal funding at each goal date (USD in the goal's accounts vs target)", fontsize=9)
    else:
        ax.text(0.5, 0.5, "no goal date falls inside the period", ha="center", va="center")
        ax.set_axis_off()
    figs["goals"] = _png(fig)

    if result.universe is not None:
        tickers = next(iter(result.runs.values())).tickers if result.runs else ()
        score = np.array([np.nan if result.universe[t].esg_score is None else result.universe[t].esg_score
                          for t in tickers])
        if np.isfinite(score).any():
            fig, ax = plt.subplots(figsize=(10, 3))
            for n in names:
                w = result.runs[n].weights
                known = np.isfinite(score)
                covered = w[:, known].sum(axis=1)
                with np.errstate(invalid="ignore", divide="ignore"):
                    s = (w[:, known] @ score[known]) / covered
                ax.plot(result.values.index, s, color=colors[n], lw=1, label=n)
            ax.set_title("ESG score of the holdings (value-weighted, scored funds only)", fontsize=9)
            ax.legend(fontsize=7)
            figs["esg"] = _png(fig)
    return figs


def _table(result: BacktestResult) -> str:
    from backtests.result import TABLE_COLUMNS

    head = "".join(f"<th>{html.escape(h)}</th>" for _, h, _ in TABLE_COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in result.table_rows()
    )
    return f"<table><thead><tr><th>Strategy</th>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_report(result: BacktestResult, path: Path, *, png: bool = True) -> Path:
    """Write ``path`` (HTML, images inlined as base64) and, with ``png``, ``<stem>_png/<plot>.png``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figs = _figures(result)
    if png:
        folder = path.with_name(path.stem + "_png")
        folder.mkdir(exist_ok=True)
        for name, data in figs.items():
            (folder / f"{name}.png").write_bytes(data)
    imgs = "\n".join(
        f'<h2>{html.escape(name.title())}</h2><img alt="{name}" src="data:image/png;base64,'
        f'{base64.b64encode(data).decode()}">'
        for name, data in figs.items()
    )
    skipped = "".join(f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in result.skipped.items())
    events = "".join(f"<li>{d.isoformat()}: {html.escape(label)}</li>" for d, _, label in result.events)
    prov = result.provenance
    defs = "".join(f"<dt><b>{html.escape(k)}</b></dt><dd>{html.escape(v)}</dd>" for k, v in DEFINITIONS)
    pairs = "".join(f"<li>{html.escape(k)} against {html.escape(v)}</li>" for k, v in result.baselines.items())
    baselines = f"<p>Tax alpha baselines:</p><ul>{pairs}</ul>" if pairs else ""
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Backtest — {html.escape(result.scenario)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; background: #fff; }}
table {{ border-collapse: collapse; font-size: 13px; }} td, th {{ border: 1px solid #ccc; padding: 3px 8px; }}
td {{ text-align: right; }} td:first-child {{ text-align: left; }} img {{ max-width: 100%; }}
.note {{ background: #f6f6f0; padding: .6em 1em; border-left: 4px solid #c90; font-size: 13px; }}
</style></head><body>
<h1>Backtest: {html.escape(result.scenario)}</h1>
<p>{result.runs and next(iter(result.runs.values())).days[0].isoformat()} →
{result.runs and next(iter(result.runs.values())).days[-1].isoformat()} ·
scenario hash <code>{prov['hash'][:16]}</code> · adaptive-robo {html.escape(prov['version'])} · seed {prov['seed']}</p>
<h2>Comparison</h2>{_table(result)}
{f'<p>Skipped: <ul>{skipped}</ul></p>' if skipped else ''}
<p class="note">{html.escape(_NOTE)}</p>
<h2>Definitions</h2><dl>{defs}</dl>{baselines}
<h2>Life events</h2><ul>{events or '<li>none</li>'}</ul>
{imgs}
</body></html>
"""
    path.write_text(doc, encoding="utf-8")
    return path
