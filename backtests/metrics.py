"""Performance metrics for backtests: the standard set via empyrical, plus cash-flow and tax-aware ones.

    from backtests.metrics import summary, time_weighted_returns, money_weighted_return
    stats = summary(daily_returns)            # {'annual_return': 0.071, 'sharpe_ratio': 0.62, ...}

Returns are simple per-period fractions (0.01 = 1 %); annual figures are fractions per year.
The standard set follows empyrical(-reloaded) exactly: it *is* empyrical, called with ``annualization``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

import empyrical as ep
import numpy as np
import pandas as pd

from engine.errors import ConfigError

__all__ = [
    "SUMMARY_KEYS",
    "drawdown",
    "harvest_yield",
    "money_weighted_return",
    "summary",
    "tax_alpha_split",
    "time_weighted_returns",
    "tracking_error",
    "turnover",
    "xnpv",
]

SUMMARY_KEYS: tuple[str, ...] = (
    "cumulative_return",
    "annual_return",
    "annual_volatility",
    "sharpe_ratio",
    "sortino_ratio",
    "max_drawdown",
    "calmar_ratio",
)


def summary(
    returns: pd.Series,
    periods_per_year: int = 252,
    risk_free: float = 0.0,
    required_return: float = 0.0,
) -> dict[str, float]:
    """The standard metric set of a return series, exactly as empyrical computes it.

    Args:
        returns: simple returns per period (fractions, not percent); NaNs are ignored as empyrical does.
        periods_per_year: 252 for daily, 52 weekly, 12 monthly.
        risk_free: risk-free return per period (fraction), subtracted for Sharpe.
        required_return: minimum acceptable return per period (fraction) for Sortino.

    Returns:
        ``cumulative_return``, ``annual_return`` (CAGR), ``annual_volatility``, ``sharpe_ratio``,
        ``sortino_ratio``, ``max_drawdown`` (≤ 0), ``calmar_ratio``; NaN where empyrical gives NaN.

    Raises:
        ConfigError: ``periods_per_year`` is not a positive integer.
    """
    if isinstance(periods_per_year, bool) or int(periods_per_year) != periods_per_year or periods_per_year <= 0:
        raise ConfigError(
            "periods_per_year must be a positive integer",
            field="periods_per_year",
            value=periods_per_year,
            fix="use 252 for daily, 52 weekly, 12 monthly returns",
        )
    a = int(periods_per_year)
    r = pd.Series(returns, dtype="float64")
    return {
        "cumulative_return": float(ep.cum_returns_final(r)) if len(r) else math.nan,
        "annual_return": float(ep.annual_return(r, annualization=a)),
        "annual_volatility": float(ep.annual_volatility(r, annualization=a)),
        "sharpe_ratio": float(ep.sharpe_ratio(r, risk_free=risk_free, annualization=a)),
        "sortino_ratio": float(ep.sortino_ratio(r, required_return=required_return, annualization=a)),
        "max_drawdown": float(ep.max_drawdown(r)),
        "calmar_ratio": float(ep.calmar_ratio(r, annualization=a)),
    }


def time_weighted_returns(values: np.ndarray | pd.Series, flows: np.ndarray | pd.Series) -> np.ndarray:
    """Daily time-weighted returns ``r_t = (V_t − F_t) / V_{t−1} − 1`` (flows land at the day's end).

    Args:
        values: portfolio value in USD at each day's close (after that day's flows).
        flows: external flows in USD on each day (contributions > 0, withdrawals < 0); taxes are not flows.

    Returns:
        An array one shorter than ``values``; NaN where the previous value is not positive.
    """
    v = np.asarray(values, dtype="float64")
    f = np.asarray(flows, dtype="float64")
    if v.shape != f.shape:
        raise ConfigError("values and flows must have the same length", field="flows", value=f.shape)
    prev = v[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (v[1:] - f[1:]) / prev - 1.0
    r[~(prev > 0)] = np.nan
    return r


def xnpv(rate: float, days: Sequence[date], amounts: Sequence[float]) -> float:
    """Net present value of dated amounts at an annual ``rate`` (Actual/365, as spreadsheets' XNPV)."""
    d0 = days[0]
    return float(sum(a / (1.0 + rate) ** ((d - d0).days / 365.0) for d, a in zip(days, amounts, strict=True)))


def money_weighted_return(
    days: Sequence[date], flows: Sequence[float], start_value: float, end_value: float
) -> float:
    """Money-weighted return: the annual IRR (Actual/365) of the investor's dated cash flows.

    Args:
        days: the trading days of the run, first to last.
        flows: external flows in USD on each day (contributions > 0, withdrawals < 0).
        start_value: portfolio value in USD at the close of the first day (after its flows).
        end_value: portfolio value in USD at the close of the last day.

    Returns:
        The annual rate (fraction) that makes the flows' XNPV zero; NaN when no rate in (−99.99 %, 10⁶ %) does.
    """
    from scipy.optimize import brentq

    ds = list(days)
    if len(ds) < 2:
        return math.nan
    # From the investor's side: money in is negative, the final value comes back.
    amounts = [-float(start_value)] + [-float(x) for x in list(flows)[1:]]
    amounts[-1] += float(end_value)
    lo, hi = -0.9999, 1e4
    try:
        f_lo, f_hi = xnpv(lo, ds, amounts), xnpv(hi, ds, amounts)
    except OverflowError:
        return math.nan
    if not (math.isfinite(f_lo) and math.isfinite(f_hi)) or f_lo * f_hi > 0:
        return math.nan
    return float(brentq(xnpv, lo, hi, args=(ds, amounts), xtol=1e-12, maxiter=500))


def drawdown(returns: pd.Series) -> pd.Series:
    """Drawdown from the running peak of the compounded returns (fractions ≤ 0)."""
    wealth = (1.0 + pd.Series(returns, dtype="float64").fillna(0.0)).cumprod()
    return wealth / wealth.cummax() - 1.0


def tracking_error(returns: pd.Series, reference: pd.Series, periods_per_year: int = 252) -> float:
    """Annualized standard deviation (fraction/year) of the return difference to a reference mix."""
    diff = (pd.Series(returns, dtype="float64") - pd.Series(reference, dtype="float64")).dropna()
    if len(diff) < 2:
        return math.nan
    return float(diff.std(ddof=1) * math.sqrt(periods_per_year))


def turnover(traded_notional: float, average_value: float, years: float) -> float:
    """Annual one-way turnover: half the traded USD over the average value, per year (fraction/year)."""
    if average_value <= 0 or years <= 0:
        return math.nan
    return float(traded_notional / 2.0 / average_value / years)


def harvest_yield(harvested: Sequence[float], taxable_value: Sequence[float], days: Sequence[date]) -> float:
    """Losses harvested per year as a fraction of the taxable value they came from (fraction/year).

    Each calendar year's harvested losses (USD, as reported: after wash-sale disallowance) over that
    year's average taxable value; the years' ratios averaged, weighted by the days each year covers.
    This is how Betterment's TLH+ paper and Wealthfront's reports state "harvest yield" (losses harvested
    ÷ portfolio value); it is not a return — the tax saved is the yield times the tax rate, less the tax
    on the lowered basis later.

    Args:
        harvested: USD harvested on each day (0 on most).
        taxable_value: USD held in taxable accounts at each close.
        days: the trading days.
    """
    h = np.asarray(harvested, dtype="float64")
    v = np.asarray(taxable_value, dtype="float64")
    if not (len(h) == len(v) == len(days)):
        raise ConfigError("harvested, taxable_value and days must have one entry per day", field="harvested")
    if len(days) == 0:
        return math.nan
    years = np.array([d.year for d in days])
    ratios, weights = [], []
    for y in np.unique(years):
        m = years == y
        avg = float(v[m].mean())
        if avg > 0:
            ratios.append(float(h[m].sum()) / avg)
            weights.append(int(m.sum()))
    if not weights:
        return math.nan
    return float(np.average(ratios, weights=weights))


def tax_alpha_split(pre: float, after: float, base_pre: float, base_after: float) -> dict[str, float]:
    """Tax alpha against a baseline, split into what lower taxes gave and what the pre-tax return gave.

    All arguments are annualized time-weighted returns (fractions/year). ``tax_alpha`` is the after-tax
    difference; ``tax_drag_alpha`` the baseline's tax drag (pre − after) minus the strategy's; and
    ``pre_tax_alpha`` the pre-tax difference. ``tax_alpha = tax_drag_alpha + pre_tax_alpha`` exactly.
    """
    return {
        "tax_alpha": after - base_after,
        "tax_drag_alpha": (base_pre - base_after) - (pre - after),
        "pre_tax_alpha": pre - base_pre,
    }
