"""A sector factor risk model for stock universes: Σ = X F Xᵀ + diag(d), fast at 500 names.

    model = sector_risk_model(data.returns(), sectors, as_of=date(2020, 12, 31))
    model.tracking_error(weights, benchmark)            # annual, fraction (0.012 = 1.2 %/yr)

Exposures X are GICS sector memberships (one 1 per stock); each day's factor return is the mean return of the
sector's stocks that trade that day (the least-squares cross-sectional regression on dummy exposures). F is the
annualised covariance of those factor returns (PyPortfolioOpt's ``sample_cov`` or ``exp_cov`` over returns),
d each stock's annualised residual variance. Only days on or before ``as_of`` are read (no look-ahead).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import numpy as np
import pandas as pd

from engine.errors import DataError, ValidationError

__all__ = ["FactorCovMethod", "SectorRiskModel", "sector_risk_model"]

TRADING_DAYS = 252
#: Fewest residual observations a stock needs for its own specific variance; below it the sector median is used.
MIN_SPECIFIC_OBS = 60


class FactorCovMethod(StrEnum):
    """How F is estimated from the daily factor returns (both through PyPortfolioOpt, ``returns_data=True``)."""

    SAMPLE = "sample"  # risk_models.sample_cov
    EXP = "exp"  # risk_models.exp_cov, exponentially weighted (span in days)


@dataclass(frozen=True)
class SectorRiskModel:
    """Annual risk model over ``tickers``: stock i loads 1 on factor ``sector_index[i]``; Σ = X F Xᵀ + diag(d).

    ``factor_cov`` F (k×k, fractions² per year), ``specific_var`` d (n, fractions² per year), ``factor_names``
    the sectors, ``observations`` the number of days read, ``filled`` the tickers whose specific variance is
    their sector's median (too short a history).
    """

    tickers: tuple[str, ...]
    factor_names: tuple[str, ...]
    sector_index: np.ndarray
    factor_cov: np.ndarray
    specific_var: np.ndarray
    as_of: date | None
    observations: int
    filled: tuple[str, ...] = ()

    @property
    def exposures(self) -> np.ndarray:
        """X (n×k): 1 where a stock belongs to a sector."""
        x = np.zeros((len(self.tickers), len(self.factor_names)))
        x[np.arange(len(self.tickers)), self.sector_index] = 1.0
        return x

    def factor_sqrt(self) -> np.ndarray:
        """A k×k matrix G with G Gᵀ = F (symmetric PSD square root; negative eigenvalues clipped to 0)."""
        vals, vecs = np.linalg.eigh((self.factor_cov + self.factor_cov.T) / 2)
        return vecs * np.sqrt(np.clip(vals, 0.0, None))

    def covariance(self) -> np.ndarray:
        """The full n×n annual covariance X F Xᵀ + diag(d) (for checks; the optimizer uses the factored form)."""
        x = self.exposures
        return x @ self.factor_cov @ x.T + np.diag(self.specific_var)

    def active_exposures(self, active: np.ndarray) -> np.ndarray:
        """Xᵀ a: the active weight per sector (k) for active weights ``a`` (n, fractions)."""
        return np.bincount(self.sector_index, weights=np.asarray(active, float), minlength=len(self.factor_names))

    def tracking_error(self, weights: np.ndarray, benchmark: np.ndarray) -> float:
        """Annual tracking error (fraction) of ``weights`` against ``benchmark`` (both n, fractions of value)."""
        a = np.asarray(weights, float) - np.asarray(benchmark, float)
        if a.shape != (len(self.tickers),):
            raise ValidationError(f"weights need {len(self.tickers)} entries in model order", field="weights",
                                  value=a.shape)
        xa = self.active_exposures(a)
        return float(np.sqrt(max(xa @ self.factor_cov @ xa + np.sum(self.specific_var * a * a), 0.0)))

    def subset(self, tickers: Sequence[str]) -> SectorRiskModel:
        """The same model restricted to ``tickers`` (in that order); factors are kept."""
        pos = {t: i for i, t in enumerate(self.tickers)}
        missing = [t for t in tickers if t not in pos]
        if missing:
            raise ValidationError("tickers not in the risk model", field="tickers", value=missing[:5])
        idx = np.array([pos[t] for t in tickers], dtype=int)
        return SectorRiskModel(tuple(tickers), self.factor_names, self.sector_index[idx], self.factor_cov,
                               self.specific_var[idx], self.as_of, self.observations,
                               tuple(t for t in self.filled if t in set(tickers)))


def sector_risk_model(
    returns: pd.DataFrame,
    sectors: Mapping[str, str],
    *,
    as_of: date | None = None,
    lookback: int = 3 * TRADING_DAYS,
    method: FactorCovMethod = FactorCovMethod.SAMPLE,
    span: int = 180,
) -> SectorRiskModel:
    """Fit the sector model on daily simple returns (fractions; Date index, one column per ticker; NaN = no trade).

    Reads the last ``lookback`` days on or before ``as_of``. A stock with fewer than ``MIN_SPECIFIC_OBS``
    residuals gets its sector's median specific variance (listed in ``filled``).

    Raises:
        ValidationError: a ticker without a sector, or ``lookback`` < 2.
        DataError: fewer than 20 days in the window, or a sector with no return on any day.
    """
    if lookback < 2:
        raise ValidationError("lookback must be ≥ 2 days", field="lookback", value=lookback)
    frame = returns
    if as_of is not None:
        frame = frame.loc[: pd.Timestamp(as_of)]
    frame = frame.iloc[-lookback:]
    if len(frame) < 20:
        raise DataError(f"only {len(frame)} days of returns up to {as_of}; the sector model needs at least 20",
                        day=as_of)
    tickers = [str(c) for c in frame.columns]
    lacking = [t for t in tickers if not sectors.get(t)]
    if lacking:
        raise ValidationError("stocks without a sector", field="sectors", value=lacking[:5],
                              fix="give every stock its GICS sector")
    names = tuple(sorted({sectors[t] for t in tickers}))
    sidx = np.array([names.index(sectors[t]) for t in tickers], dtype=int)
    r = frame.to_numpy(dtype=float)
    have = ~np.isnan(r)
    r0 = np.where(have, r, 0.0)
    k = len(names)
    onehot = np.zeros((len(tickers), k))
    onehot[np.arange(len(tickers)), sidx] = 1.0
    counts = have.astype(float) @ onehot  # T×k stocks trading per sector per day
    sums = r0 @ onehot
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(counts > 0, sums / counts, np.nan)  # T×k sector mean returns = the regression's factor returns
    empty = [names[j] for j in range(k) if np.isnan(f[:, j]).all()]
    if empty:
        raise DataError(f"sectors {empty} have no return in the window up to {as_of}", day=as_of)
    factors = pd.DataFrame(f, index=frame.index, columns=list(names))
    fcov = _factor_cov(factors, method, span)
    resid = np.where(have, r - np.nan_to_num(f)[:, sidx], np.nan)
    nobs = have.sum(axis=0)
    with np.errstate(invalid="ignore"):
        spec = np.nanvar(np.where(nobs >= 2, resid, 0.0), axis=0, ddof=1) * TRADING_DAYS
    own = nobs >= MIN_SPECIFIC_OBS
    spec = np.where(own, spec, np.nan)
    for j in range(k):
        members = (sidx == j)
        pool = spec[members & own]
        fill = float(np.median(pool)) if pool.size else float(np.nanmedian(spec)) if own.any() else 0.04
        spec[members & ~own] = fill
    filled = tuple(t for t, ok in zip(tickers, own, strict=True) if not ok)
    last = frame.index[-1].date() if len(frame) else None
    return SectorRiskModel(tuple(tickers), names, sidx, fcov, spec, as_of or last, len(frame), filled)


def _factor_cov(factors: pd.DataFrame, method: FactorCovMethod, span: int) -> np.ndarray:
    """Annual factor covariance through PyPortfolioOpt (NaN days of a young sector dropped pairwise by pandas)."""
    from pypfopt import risk_models

    factors = factors.fillna(0.0) if factors.isna().any().any() else factors
    if FactorCovMethod(method) is FactorCovMethod.EXP:
        out = risk_models.exp_cov(factors, returns_data=True, span=span, frequency=TRADING_DAYS)
    else:
        out = risk_models.sample_cov(factors, returns_data=True, frequency=TRADING_DAYS)
    return np.asarray(out, dtype=float)
