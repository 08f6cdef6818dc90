"""Withdrawals in retirement: required minimum distributions and the yearly income tax of a withdrawal mix.

    rmd_start_age(date(1962, 3, 1))          # 75 (SECURE 2.0 §107)
    distribution_period(75)                  # 24.6 (IRS Pub. 590-B, Uniform Lifetime Table)
    taxes = YearTax.for_status(FilingStatus.MARRIED_JOINT, state_rate=0.05)
    taxes.total(ordinary, gains, ss_benefits, ss_scale)     # numpy arrays, USD/year

Account types: traditional withdrawals are ordinary income; taxable withdrawals realise only their gain share,
taxed at long-term rates stacked on ordinary income; Roth and qualified HSA withdrawals are tax-free.
Federal brackets, the standard deduction and the long-term rates are the tax room's tables
(config/tax/us_2026.yaml), held constant in real terms (they are inflation-indexed by law).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from engine.config.loader import default_file, load_yaml
from engine.errors import ConfigError
from engine.goals.social_security import SS_TAX_THRESHOLDS
from engine.model import FilingStatus

__all__ = ["RmdTables", "YearTax", "distribution_period", "load_rmd_tables", "rmd_start_age"]


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: Literal[1] = 1
    source: str
    start_age: list[tuple[int, int]]
    uniform_lifetime: dict[int, float]


@dataclass(frozen=True, slots=True)
class RmdTables:
    """RMD start ages by birth year and the Uniform Lifetime Table (age → distribution period in years)."""

    source: str
    start_age: tuple[tuple[int, int], ...]
    uniform: dict[int, float]

    def start(self, birth_date: date) -> int:
        """The age whose year brings the first RMD (SECURE 2.0 §107: 73 for 1951–1959, 75 for 1960+)."""
        age = self.start_age[0][1]
        for first, a in self.start_age:
            if birth_date.year >= first:
                age = a
        if birth_date.year == 1949 and birth_date.month < 7:
            age = 70  # 70½ rule for births before July 1, 1949
        return age

    def period(self, age: int) -> float:
        """Distribution period for an owner ``age`` at the end of the year (years; 120+ uses the last row)."""
        ages = sorted(self.uniform)
        if age < ages[0]:
            raise ValueError(f"the Uniform Lifetime Table starts at {ages[0]}")
        return self.uniform[min(age, ages[-1])]

    def divisors(self, ages: np.ndarray, start: int) -> np.ndarray:
        """1 / period for each age (0 before ``start``): the fraction of last year-end's balance to take."""
        lo, hi = min(self.uniform), max(self.uniform)
        table = np.zeros(hi + 2)
        for a, p in self.uniform.items():
            table[a] = 1.0 / p
        table[hi + 1] = 1.0 / self.uniform[hi]
        a = np.clip(ages, 0, hi + 1).astype(int)
        return np.where((ages >= start) & (ages >= lo), table[a], 0.0)


def load_rmd_tables(path: str | Path | None = None) -> RmdTables:
    """RMD tables (default: ``config/planning/rmd.yaml``); cached per file.

    Raises:
        ConfigError: a distribution period ≤ 0 or start-age rows out of order.
    """
    p = Path(path) if path else default_file("planning/rmd.yaml")
    return _load(str(p.resolve()))


@functools.lru_cache(maxsize=4)
def _load(path: str) -> RmdTables:
    s = load_yaml(path, _Schema)
    if any(v <= 0 for v in s.uniform_lifetime.values()):
        raise ConfigError("distribution periods must be > 0", file=path, field="uniform_lifetime",
                          fix="copy Table III of IRS Pub. 590-B")
    years = [y for y, _ in s.start_age]
    if years != sorted(years):
        raise ConfigError("start_age rows must be in birth-year order", file=path, field="start_age", fix="sort them")
    return RmdTables(s.source, tuple(s.start_age), dict(s.uniform_lifetime))


def rmd_start_age(birth_date: date) -> int:
    """RMD age for a birth date under SECURE 2.0 §107 (shipped table)."""
    return load_rmd_tables().start(birth_date)


def distribution_period(age: int) -> float:
    """Uniform Lifetime Table distribution period (IRS Pub. 590-B Table III) for an owner's age."""
    return load_rmd_tables().period(age)


def _schedule(x: np.ndarray, thr: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Tax on ``x`` (USD) when ``rates[k]`` applies above ``thr[k]`` (the same as np.interp on cumulative tax).

    Written as Σ Δrate_k · max(x − threshold_k, 0) over the brackets that some x reaches: a few passes over
    the array instead of a binary search per element (np.interp is ~40 array additions' worth of time).
    """
    top = float(np.max(x)) if x.size else 0.0
    out = rates[0] * np.maximum(x - thr[0], 0.0)
    for k in range(1, len(rates)):
        if thr[k] >= top:
            break
        out += (rates[k] - rates[k - 1]) * np.maximum(x - thr[k], 0.0)
    return out


def _cumulative(brackets: tuple[tuple[float, float], ...]) -> tuple[np.ndarray, np.ndarray]:
    """Thresholds and the tax owed at each (a far point keeps np.interp linear past the top bracket)."""
    thr = [float(b) for b, _ in brackets] + [1e12]
    rates = [float(r) for _, r in brackets]
    cum = [0.0]
    for i in range(1, len(thr)):
        cum.append(cum[-1] + rates[i - 1] * (thr[i] - thr[i - 1]))
    return np.array(thr), np.array(cum)


@dataclass(frozen=True, slots=True)
class YearTax:
    """One filing status's yearly federal + flat state income tax on retirement income (real USD)."""

    ord_thr: np.ndarray
    ord_cum: np.ndarray
    cg_thr: np.ndarray
    cg_cum: np.ndarray
    deduction: float
    ss_base: float
    ss_adjusted: float
    state_rate: float
    ord_rates: np.ndarray = field(default=None)  # type: ignore[assignment]  # rate above each threshold
    cg_rates: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.ord_rates is None:
            object.__setattr__(self, "ord_rates", np.diff(self.ord_cum) / np.diff(self.ord_thr))
        if self.cg_rates is None:
            object.__setattr__(self, "cg_rates", np.diff(self.cg_cum) / np.diff(self.cg_thr))

    @classmethod
    def for_status(cls, status: FilingStatus, state_rate: float = 0.0) -> YearTax:
        """From the tax room's tables (``engine.tax.rates.load_tax_tables``) for ``status``."""
        from engine.tax.rates import load_tax_tables

        t = load_tax_tables()
        o_thr, o_cum = _cumulative(t.ordinary[status])
        c_thr, c_cum = _cumulative(t.capital_gains[status])
        base, adjusted = SS_TAX_THRESHOLDS[status]
        return cls(o_thr, o_cum, c_thr, c_cum, float(t.standard_deduction[status]), base, adjusted, state_rate)

    def bracket_top(self, rate: float) -> float:
        """Taxable-income ceiling (USD) of the ordinary bracket taxed at ``rate`` (e.g. 0.12)."""
        rates = np.diff(self.ord_cum) / np.diff(self.ord_thr)
        idx = [i for i, r in enumerate(rates) if abs(r - rate) < 1e-9]
        if not idx:
            raise ValueError(f"no {rate:.0%} bracket")
        return float(self.ord_thr[idx[0] + 1])

    def prepare(self, ss: np.ndarray, ss_scale: np.ndarray | float = 1.0) -> tuple[np.ndarray, ...] | None:
        """The parts of the benefit-taxation test that do not depend on the withdrawal (for ``total_prepared``)."""
        ss = np.asarray(ss)  # float32 in stays float32 (the simulation's precision: cents on $100,000s)
        if not np.any(ss):
            return None
        scale = np.asarray(ss_scale, dtype=ss.dtype)
        lo = self.ss_base * scale - 0.5 * ss
        hi = self.ss_adjusted * scale - 0.5 * ss
        return 0.5 * ss, 0.85 * ss, lo, hi, (self.ss_adjusted - self.ss_base) * scale

    def total_prepared(
        self, ordinary: np.ndarray, gains: np.ndarray, prep: tuple[np.ndarray, ...] | None
    ) -> np.ndarray:
        """``total`` with the benefit parts prepared once per year (see ``prepare``)."""
        other = ordinary + gains
        if prep is not None:
            half, cap, lo, hi, width = prep  # provisional income − thresholds = other − (threshold − ½ benefits)
            tier1 = np.minimum(half, 0.5 * np.clip(other - lo, 0.0, width))
            ord_income = ordinary + np.minimum(cap, tier1 + 0.85 * np.maximum(other - hi, 0.0))
        else:
            ord_income = ordinary
        ord_taxable = np.maximum(ord_income - self.deduction, 0.0)
        fed = _schedule(ord_taxable, self.ord_thr, self.ord_rates)
        if np.any(gains):
            gains_taxable = np.maximum(gains - np.maximum(self.deduction - ord_income, 0.0), 0.0)
            fed += _schedule(ord_taxable + gains_taxable, self.cg_thr, self.cg_rates)
            fed -= _schedule(ord_taxable, self.cg_thr, self.cg_rates)
        if not self.state_rate:
            return fed
        return fed + self.state_rate * np.maximum(other - self.deduction, 0.0)

    def total(
        self, ordinary: np.ndarray, gains: np.ndarray, ss: np.ndarray, ss_scale: np.ndarray | float = 1.0
    ) -> np.ndarray:
        """Federal + state tax (USD/year) on ``ordinary`` income, long-term ``gains`` and ``ss`` benefits.

        ``ss_scale`` = 1 / price level: the §86 thresholds are fixed in nominal dollars, so in real terms they
        shrink as prices rise. Gains stack on top of ordinary income; the deduction offsets ordinary first.
        """
        o = np.asarray(ordinary, dtype=np.float64)
        g = np.asarray(gains, dtype=np.float64)
        return self.total_prepared(o, g, self.prepare(np.broadcast_to(ss, o.shape), ss_scale))
