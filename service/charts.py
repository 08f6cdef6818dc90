"""Charts as inline SVG, drawn in Python on the server: no JavaScript, no build step, nothing fetched.

    fan_chart("retirement", "Retirement", bands, target=1_887_508.0, years=26.7, start_year=2026)
    holdings_chart("alex_401k", "Alex's 401(k)", [HoldingRow("VTI", now=0.12, target=0.15), ...], scale=0.3)

Each chart is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` that says in words what the picture
shows (WAI-ARIA ``img`` role with ``aria-labelledby``, W3C "SVG accessibility"), so a screen reader gets the same
numbers. Sizes come from a ``viewBox`` and the SVG is ``width="100%"``: it shrinks with a phone's screen.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

__all__ = ["HoldingRow", "fan_chart", "holdings_chart", "money_short"]


def money_short(usd: float) -> str:
    """USD for an axis or a sentence: $950, $12k, $1.3M."""
    a = abs(usd)
    sign = "−" if usd < 0 else ""
    if a >= 999_500:
        return f"{sign}${a / 1e6:.1f}M"
    if a >= 10_000:
        return f"{sign}${a / 1e3:.0f}k"
    if a >= 1_000:
        return f"{sign}${a / 1e3:.1f}k"
    return f"{sign}${a:.0f}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", text)


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _nice_top(value: float) -> float:
    """The smallest 1/2/2.5/5 × 10^k at or above ``value`` (a round top for a value axis)."""
    if value <= 0:
        return 1.0
    base = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * base >= value:
            return step * base
    return 10 * base


# ---------------------------------------------------------------------------------------------
# Goal fan chart
# ---------------------------------------------------------------------------------------------

_W, _H = 360, 200
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 12, 12, 26


def fan_chart(goal_id: str, name: str, bands: Sequence[Sequence[float]], *, target: float, years: float,
              start_year: int, percentiles: Sequence[float] = (5, 25, 50, 75, 95)) -> Markup:
    """A goal's projected wealth (today's USD) year by year until its date: the 5–95 and 25–75 percentile bands
    of the simulated markets, the median line and the target as a dashed line.

    Args:
        bands: per whole year from today, the wealth at ``percentiles`` (the Monte Carlo's yearly bands).
        target: USD today the goal needs; years: years until the goal's date; start_year: this year.
    """
    if list(percentiles) != [5, 25, 50, 75, 95] or len(bands) < 2:
        raise ValueError("fan_chart needs yearly bands at the 5/25/50/75/95th percentiles over at least one year")
    n = max(1, min(math.ceil(years), len(bands) - 1))
    rows = [list(map(float, b)) for b in bands[: n + 1]]
    step = _nice_top(max(max(r[4] for r in rows), target) * 1.02 / 4)  # four round steps up the value axis
    top = 4 * step
    pw, ph = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def x(i: float) -> float:
        return _LEFT + pw * i / n

    def y(v: float) -> float:
        return _TOP + ph * (1 - max(v, 0.0) / top)

    def band(lo: int, hi: int) -> str:
        up = [f"{x(i):.1f},{y(r[hi]):.1f}" for i, r in enumerate(rows)]
        down = [f"{x(i):.1f},{y(r[lo]):.1f}" for i, r in reversed(list(enumerate(rows)))]
        return " ".join(up + down)

    median = " ".join(f"{x(i):.1f},{y(r[2]):.1f}" for i, r in enumerate(rows))
    end = rows[-1]
    ident = f"fan-{_slug(goal_id)}"
    met = "above" if end[2] >= target else "below"
    title = f"{name}: projected savings until {start_year + n}"
    desc = (f"In {start_year + n}, half of the simulated markets end between {money_short(end[1])} and "
            f"{money_short(end[3])} (median {money_short(end[2])}, {met} the target of {money_short(target)}); "
            f"nine in ten between {money_short(end[0])} and {money_short(end[4])}. Today's dollars.")
    ticks = []
    for k in range(5):
        v = top * k / 4
        ticks.append(f'<line class="grid" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>'
                     f'<text class="axis" x="{_LEFT - 4}" y="{y(v) + 4:.1f}" text-anchor="end">'
                     f"{escape(money_short(v))}</text>")
    xticks = sorted({0, n // 2, n}) if n >= 2 else [0, n]
    for i in xticks:
        anchor = "start" if i == 0 else "end" if i == n else "middle"  # the end labels stay inside the box
        ticks.append(f'<text class="axis" x="{x(i):.1f}" y="{_H - 8}" text-anchor="{anchor}">{start_year + i}</text>')
    parts = [
        f'<svg class="chart fan" role="img" aria-labelledby="{ident}-t {ident}-d" viewBox="0 0 {_W} {_H}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg" id="{ident}">',
        f'<title id="{ident}-t">{escape(title)}</title>',
        f'<desc id="{ident}-d">{escape(desc)}</desc>',
        *ticks,
        f'<polygon class="band-outer" points="{band(0, 4)}"><title>5th–95th percentile</title></polygon>',
        f'<polygon class="band-inner" points="{band(1, 3)}"><title>25th–75th percentile</title></polygon>',
        f'<polyline class="median" points="{median}"><title>median</title></polyline>',
        f'<line class="target" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y(target):.1f}" y2="{y(target):.1f}">'
        f"<title>target {escape(money_short(target))}</title></line>",
        "</svg>",
    ]
    return Markup("".join(parts))


# ---------------------------------------------------------------------------------------------
# Holdings: now vs target, per account
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HoldingRow:
    """One fund in one account: its weight now and the proposal's target, as fractions of the household's value."""

    symbol: str
    now: float
    target: float


_HW = 360
_LABEL, _VALUES = 54, 104
_ROW, _BAR, _GAP = 28, 10, 2


def holdings_chart(account_id: str, name: str, rows: Sequence[HoldingRow], *, scale: float) -> Markup:
    """Paired horizontal bars per fund: held now (grey) and the proposal's target (blue), on one shared scale
    (``scale``: the largest weight on the page) so accounts compare at a glance."""
    ident = f"hold-{_slug(account_id)}"
    top = max(scale, 1e-9)
    bar_w = _HW - _LABEL - _VALUES
    height = 22 + _ROW * max(len(rows), 1)
    desc = "; ".join(f"{r.symbol} {_pct(r.now)} now, target {_pct(r.target)}" for r in rows) or "no holdings"
    parts = [
        f'<svg class="chart holdings" role="img" aria-labelledby="{ident}-t {ident}-d" viewBox="0 0 {_HW} {height}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg" id="{ident}">',
        f'<title id="{ident}-t">{escape(name)}: held now vs target, share of the household</title>',
        f'<desc id="{ident}-d">{escape(desc)}.</desc>',
        f'<rect class="now" x="{_LABEL}" y="4" width="10" height="8"/>'
        f'<text class="axis" x="{_LABEL + 14}" y="12">now</text>'
        f'<rect class="target" x="{_LABEL + 50}" y="4" width="10" height="8"/>'
        f'<text class="axis" x="{_LABEL + 64}" y="12">target</text>',
    ]
    for k, r in enumerate(rows):
        y0 = 22 + k * _ROW
        now_w = bar_w * min(r.now / top, 1.0)
        tgt_w = bar_w * min(r.target / top, 1.0)
        parts.append(
            f'<g class="holding" data-symbol="{escape(r.symbol)}"><title>{escape(r.symbol)}: {_pct(r.now)} now, '
            f"target {_pct(r.target)}</title>"
            f'<text class="label" x="{_LABEL - 6}" y="{y0 + _BAR + 3}" text-anchor="end">{escape(r.symbol)}</text>'
            f'<rect class="now" x="{_LABEL}" y="{y0}" width="{now_w:.1f}" height="{_BAR}"/>'
            f'<rect class="target" x="{_LABEL}" y="{y0 + _BAR + _GAP}" width="{tgt_w:.1f}" height="{_BAR}"/>'
            f'<text class="axis" x="{_HW - 2}" y="{y0 + _BAR + 3}" text-anchor="end">'
            f"{_pct(r.now)} → {_pct(r.target)}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
