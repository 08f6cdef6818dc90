"""Vocabularies and value objects of the estimates room: models, views, credibility, ``Estimates``.

    est = estimate(prices, date(2024, 6, 28), universe, returns=ReturnModel.EMA, risk=RiskModel.LEDOIT_WOLF)
    est.subset(["VTI", "BND"]).volatility     # annual volatility, fractions

All returns and covariances are annual; returns are simple (not log) returns as fractions (0.07 = 7 %).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

import numpy as np
import pandas as pd

from engine.errors import UnknownTicker, ValidationError

__all__ = ["Credibility", "Estimates", "FactorKind", "ReturnModel", "RiskModel", "View"]

PSD_TOL = 1e-10  # eigenvalues above −PSD_TOL·max(1, trace) count as non-negative


class ReturnModel(StrEnum):
    """How expected returns are estimated (all annual, arithmetic, simple returns)."""

    MEAN_HISTORICAL = "mean_historical"  # mean daily return × 252 (PyPortfolioOpt, compounding=False)
    EMA = "ema"  # exponentially weighted mean daily return × 252, span 500 days
    CAPM = "capm"  # rf + β·(market mean − rf), β against the market fund (PyPortfolioOpt capm_return)
    BLACK_LITTERMAN = "black_litterman"  # class assumptions as prior, views on top (BlackLittermanModel)
    ASSUMPTIONS = "assumptions"  # each fund's asset-class expected return from the assumptions, no history


class RiskModel(StrEnum):
    """How the covariance matrix is estimated (annual, from daily simple returns × 252)."""

    SAMPLE = "sample"  # PyPortfolioOpt sample_cov (pairwise)
    EXPONENTIAL = "exponential"  # PyPortfolioOpt exp_cov, span 180 days
    LEDOIT_WOLF = "ledoit_wolf"  # PyPortfolioOpt CovarianceShrinkage, constant-correlation target


class FactorKind(StrEnum):
    """Factor risk models derived from the covariance: Σ ≈ L F Lᵀ + diag(d)."""

    CLASSES = "classes"  # one factor per asset class present: the class's equal-weight portfolio
    PCA = "pca"  # the k leading principal components


@dataclass(frozen=True, slots=True)
class Credibility:
    """How fast a fund's own history earns weight against its asset-class prior.

    Weight after ``n`` years, for a window of ``L`` years: ``w(n) = min(1, [n/(n+k)] / [L/(L+k)])``,
    i.e. the credibility ``n/(n+k)`` scaled so that a fund with the whole window gets exactly 1.
    ``return_years`` is k for expected returns (means are noisy: large k); ``risk_years`` is k for
    volatilities and correlations (second moments settle fast: small k). ``min_observations`` is
    the number of daily returns below which a fund is treated as having no history at all.
    """

    return_years: float = 10.0
    risk_years: float = 1.0
    min_observations: int = 21

    def __post_init__(self) -> None:
        for name in ("return_years", "risk_years"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
                raise ValidationError("must be a finite number of years ≥ 0", field=f"Credibility.{name}", value=v)
        if self.min_observations < 2:
            raise ValidationError("needs at least 2 returns", field="Credibility.min_observations",
                                  value=self.min_observations)

    @staticmethod
    def weight(years: np.ndarray | float, k: float, window_years: float) -> np.ndarray:
        """Credibility in [0, 1] of ``years`` of history in a window of ``window_years`` (see class doc)."""
        n = np.clip(np.asarray(years, dtype=float), 0.0, None)
        if k == 0:
            return np.where(n > 0, 1.0, 0.0)
        full = window_years / (window_years + k)
        return np.clip((n / (n + k)) / full, 0.0, 1.0)


@dataclass(frozen=True, slots=True)
class View:
    """A Black-Litterman view: the annual return (fraction) of a long/short mix of funds.

    ``weights`` {"VTI": 1.0} is an absolute view; {"VEA": 1.0, "VTI": -1.0} says VEA beats VTI by
    ``expected_return``. ``confidence`` in (0, 1] (Idzorek) or None for the He-Litterman default.
    """

    weights: Mapping[str, float]
    expected_return: float
    confidence: float | None = None

    def __post_init__(self) -> None:
        w = {str(t).strip().upper(): float(x) for t, x in dict(self.weights).items()}
        if not w or not any(x != 0 for x in w.values()):
            raise ValidationError("a view needs at least one non-zero weight", field="View.weights",
                                  value=dict(self.weights), fix='e.g. View({"VTI": 1.0}, 0.06)')
        object.__setattr__(self, "weights", w)
        if not math.isfinite(self.expected_return) or abs(self.expected_return) > 1:
            raise ValidationError("must be an annual return as a fraction within [-1, 1] (0.05 = 5 %)",
                                  field="View.expected_return", value=self.expected_return)
        if self.confidence is not None and not 0 < self.confidence <= 1:
            raise ValidationError("must lie in (0, 1]", field="View.confidence", value=self.confidence,
                                  fix="use 0.5 for 'half sure', or None for the default uncertainty")

    @classmethod
    def absolute(cls, ticker: str, expected_return: float, confidence: float | None = None) -> View:
        """``ticker`` returns ``expected_return`` a year (fraction)."""
        return cls({ticker: 1.0}, expected_return, confidence)

    @classmethod
    def relative(cls, long: str, short: str, spread: float, confidence: float | None = None) -> View:
        """``long`` beats ``short`` by ``spread`` a year (fraction)."""
        return cls({long: 1.0, short: -1.0}, spread, confidence)


def _matrix(value: object, shape: tuple[int, ...], name: str) -> np.ndarray:
    arr = np.array(value, dtype=float)
    if arr.shape != shape:
        raise ValidationError(f"has shape {arr.shape}, expected {shape}", field=f"Estimates.{name}")
    if not np.all(np.isfinite(arr)):
        raise ValidationError("holds NaN or infinite values", field=f"Estimates.{name}")
    arr.setflags(write=False)
    return arr


def is_psd(matrix: np.ndarray) -> bool:
    """True when the symmetric ``matrix`` has no eigenvalue below −PSD_TOL·max(1, trace)."""
    if matrix.size == 0:
        return True
    tol = PSD_TOL * max(1.0, float(np.trace(matrix)))
    return float(np.linalg.eigvalsh(matrix).min()) >= -tol


@dataclass(frozen=True, slots=True)
class Estimates:
    """Expected returns ``mu`` (annual simple, fractions) and covariance ``cov`` (annual) at ``as_of``.

    Optional factor model: ``cov ≈ loadings @ factor_cov @ loadings.T + diag(idio_var)``. Per fund,
    ``history_years`` is the history used and ``return_credibility`` / ``risk_credibility`` the weight
    its own data got against its asset-class prior (1 = data only). ``notes`` say what was blended or repaired.
    """

    as_of: date
    tickers: tuple[str, ...]
    mu: np.ndarray
    cov: np.ndarray
    loadings: np.ndarray | None = None
    factor_cov: np.ndarray | None = None
    idio_var: np.ndarray | None = None
    factor_names: tuple[str, ...] = ()
    history_years: np.ndarray | None = None
    return_credibility: np.ndarray | None = None
    risk_credibility: np.ndarray | None = None
    notes: tuple[str, ...] = ()
    models: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        tickers = tuple(str(t).upper() for t in self.tickers)
        n = len(tickers)
        if len(set(tickers)) != n:
            raise ValidationError("duplicate tickers", field="Estimates.tickers", value=tickers)
        object.__setattr__(self, "tickers", tickers)
        object.__setattr__(self, "mu", _matrix(self.mu, (n,), "mu"))
        cov = _matrix(self.cov, (n, n), "cov")
        if not np.allclose(cov, cov.T, atol=1e-12, rtol=1e-9):
            raise ValidationError("is not symmetric", field="Estimates.cov", fix="use (cov + cov.T) / 2")
        if not is_psd(cov):
            raise ValidationError("is not positive semi-definite", field="Estimates.cov",
                                  fix="repair it (engine.estimates.nearest_psd) before building Estimates")
        object.__setattr__(self, "cov", cov)
        parts = (self.loadings, self.factor_cov, self.idio_var)
        if any(p is not None for p in parts):
            if any(p is None for p in parts):
                raise ValidationError("a factor model needs loadings, factor_cov and idio_var together",
                                      field="Estimates.loadings")
            load = np.array(self.loadings, dtype=float)
            k = load.shape[1] if load.ndim == 2 else -1
            object.__setattr__(self, "loadings", _matrix(load, (n, k), "loadings"))
            object.__setattr__(self, "factor_cov", _matrix(self.factor_cov, (k, k), "factor_cov"))
            idio = _matrix(self.idio_var, (n,), "idio_var")
            if np.any(idio < 0):
                raise ValidationError("idiosyncratic variances must be ≥ 0", field="Estimates.idio_var")
            object.__setattr__(self, "idio_var", idio)
            if self.factor_names and len(self.factor_names) != k:
                raise ValidationError(f"needs {k} names", field="Estimates.factor_names")
        for name in ("history_years", "return_credibility", "risk_credibility"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, _matrix(getattr(self, name), (n,), name))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "factor_names", tuple(self.factor_names))
        object.__setattr__(self, "models", dict(self.models))

    @property
    def volatility(self) -> np.ndarray:
        """Annual volatility per fund (fractions), √diag(cov)."""
        return np.sqrt(np.clip(np.diag(self.cov), 0.0, None))

    @property
    def has_factor_model(self) -> bool:
        """True when loadings, factor_cov and idio_var are present."""
        return self.loadings is not None

    @property
    def factor_implied_cov(self) -> np.ndarray:
        """L F Lᵀ + diag(d), annual (raises ``ValidationError`` without a factor model)."""
        if self.loadings is None or self.factor_cov is None or self.idio_var is None:
            raise ValidationError("these estimates carry no factor model", field="Estimates.loadings",
                                  fix="call estimate(..., factor_model=True)")
        return self.loadings @ self.factor_cov @ self.loadings.T + np.diag(self.idio_var)

    @property
    def mu_series(self) -> pd.Series:
        """``mu`` as a Series indexed by ticker (annual fractions)."""
        return pd.Series(self.mu, index=list(self.tickers), name="mu")

    @property
    def cov_frame(self) -> pd.DataFrame:
        """``cov`` as a DataFrame indexed by ticker on both axes (annual)."""
        return pd.DataFrame(self.cov, index=list(self.tickers), columns=list(self.tickers))

    def index(self, ticker: str) -> int:
        """Position of ``ticker`` (raises ``UnknownTicker``)."""
        try:
            return self.tickers.index(ticker.upper())
        except ValueError:
            raise UnknownTicker(f"{ticker!r} has no estimate as of {self.as_of}", ticker=ticker,
                                day=self.as_of) from None

    def subset(self, tickers: Iterable[str]) -> Estimates:
        """The estimates of just these tickers, in this order (factor model rows kept)."""
        idx = np.array([self.index(t) for t in tickers], dtype=int)
        pick = (lambda a: None if a is None else a[idx])  # noqa: E731
        return Estimates(
            as_of=self.as_of,
            tickers=tuple(self.tickers[i] for i in idx),
            mu=self.mu[idx],
            cov=self.cov[np.ix_(idx, idx)],
            loadings=pick(self.loadings),
            factor_cov=self.factor_cov,
            idio_var=pick(self.idio_var),
            factor_names=self.factor_names,
            history_years=pick(self.history_years),
            return_credibility=pick(self.return_credibility),
            risk_credibility=pick(self.risk_credibility),
            notes=self.notes,
            models=self.models,
        )
