"""Point-in-time expected returns and covariance through PyPortfolioOpt, with short histories blended.

    est = estimate(prices, date(2020, 6, 30), universe, returns=ReturnModel.MEAN_HISTORICAL)
    est.mu, est.cov        # annual simple returns and annual covariance (fractions), PSD

Only rows dated ≤ ``as_of`` are read; a fund with a short history is blended toward its asset class's
capital-market assumptions by credibility (``Credibility``), never dropped, never extrapolated alone.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from engine.config.market_assumptions import CapitalMarketAssumptions, load_capital_market_assumptions
from engine.errors import ConfigError, DataError, EmptyRange, UnknownTicker, ValidationError
from engine.estimates.factors import factor_decomposition
from engine.estimates.types import (
    Credibility,
    Estimates,
    FactorKind,
    ReturnModel,
    RiskModel,
    View,
    is_psd,
)
from engine.model import AssetClass, Universe

__all__ = ["TRADING_DAYS", "asset_prior", "estimate", "nearest_psd"]

log = logging.getLogger("engine.estimates")

TRADING_DAYS = 252  # daily → annual: mean × 252, covariance × 252
EMA_RETURN_SPAN = 500  # trading days, PyPortfolioOpt's default
EXP_COV_SPAN = 180  # trading days, PyPortfolioOpt's default

T = TypeVar("T")


# ---------------------------------------------------------------------------------------------
# PyPortfolioOpt boundary: warnings become notes, exceptions become engine errors
# ---------------------------------------------------------------------------------------------


def _pypfopt(what: str, fn: Callable[..., T], *args: Any, notes: list[str], **kwargs: Any) -> T:
    """Call a PyPortfolioOpt function; its warnings go to ``notes`` and the log, its errors are translated."""
    from pypfopt.exceptions import InstantiationError, OptimizationError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = fn(*args, **kwargs)
        except (InstantiationError, TypeError) as exc:
            raise ConfigError(f"PyPortfolioOpt refused the inputs of {what}: {exc}", field=what,
                              fix="check the tickers, views and prices handed to estimate()") from exc
        except (ValueError, OptimizationError, np.linalg.LinAlgError, ZeroDivisionError) as exc:
            raise DataError(f"PyPortfolioOpt failed in {what}: {exc}; lengthen the lookback or drop "
                            "funds without prices") from exc
    for w in caught:
        if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning)):
            continue
        text = f"{what}: PyPortfolioOpt warned: {w.message}"
        log.info(text)
        notes.append(text)
    return result


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def nearest_psd(matrix: np.ndarray, *, unit_diagonal: bool = False, floor: float = 0.0) -> np.ndarray:
    """The symmetric matrix with eigenvalues clipped at ``floor`` (a correlation again if ``unit_diagonal``)."""
    m = (np.asarray(matrix, dtype=float) + np.asarray(matrix, dtype=float).T) / 2
    vals, vecs = np.linalg.eigh(m)
    fixed = (vecs * np.clip(vals, floor, None)) @ vecs.T
    if unit_diagonal:
        d = np.sqrt(np.clip(np.diag(fixed), 1e-16, None))
        fixed = fixed / np.outer(d, d)
        np.fill_diagonal(fixed, 1.0)
    return (fixed + fixed.T) / 2


def asset_prior(
    classes: Sequence[AssetClass], assumptions: CapitalMarketAssumptions
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-fund prior from class assumptions: (expected returns, volatilities, correlation), annual.

    Two different funds correlate ``within_class_correlation × class correlation`` (1 on the diagonal),
    i.e. each fund is its class index plus independent noise, so the prior correlation is positive definite.
    """
    for c in dict.fromkeys(classes):
        assumptions.require(c)
    mu = np.array([assumptions.expected_return[c] for c in classes], dtype=float)
    vol = np.array([assumptions.volatility[c] for c in classes], dtype=float)
    cls = pd.Index(list(classes))
    corr = assumptions.within_class_correlation * assumptions.correlation.loc[cls, cls].to_numpy(dtype=float)
    np.fill_diagonal(corr, 1.0)
    return mu, vol, corr


def _as_day(value: Any) -> date:
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValidationError("must be a datetime.date (a trading day)", field="as_of", value=value,
                              fix="pass date(2024, 6, 28)")
    return value


def _check_prices(prices: Any) -> pd.DataFrame:
    if not isinstance(prices, pd.DataFrame) or not isinstance(prices.index, pd.DatetimeIndex):
        raise ValidationError("prices must be a wide DataFrame with a DatetimeIndex (one column per ticker)",
                              field="prices", fix="use MarketData(...).prices or read the CSV with parse_dates")
    frame = prices
    if not frame.index.is_monotonic_increasing:
        frame = frame.sort_index()
    frame = frame.copy()
    frame.columns = [str(c).upper() for c in frame.columns]
    return frame


# ---------------------------------------------------------------------------------------------
# Estimate
# ---------------------------------------------------------------------------------------------


def estimate(
    prices: pd.DataFrame,
    as_of: date,
    universe: Universe,
    *,
    returns: ReturnModel | str = ReturnModel.BLACK_LITTERMAN,
    risk: RiskModel | str = RiskModel.LEDOIT_WOLF,
    lookback_years: float = 10,
    assumptions: CapitalMarketAssumptions | None = None,
    views: Sequence[View] | None = None,
    factor_model: bool | str | FactorKind = False,
    n_factors: int = 5,
    credibility: Credibility | None = None,
    market: str | None = None,
    tau: float = 0.05,
) -> Estimates:
    """Annual expected simple returns and covariance of every fund of ``universe`` as of ``as_of``.

    Reads only rows of ``prices`` (adjusted closes, USD) dated ≤ ``as_of`` and within ``lookback_years``
    (calendar years) before it; later rows are ignored, so a frame holding the future cannot leak into it.
    A fund with a shorter history gets credibility weight ``w`` on its own statistics and ``1 − w`` on its
    class assumptions (``Credibility``): means by ``return_credibility``, volatilities and pairwise
    correlations by ``risk_credibility`` (a pair uses the lower of the two weights); a fund with fewer than
    ``credibility.min_observations`` returns (or absent from ``prices``) takes the prior alone. A blended
    correlation that is not PSD is repaired (eigenvalues clipped) and noted.

    ``returns``: MEAN_HISTORICAL, EMA (span 500 days), CAPM (β against ``market``, default the longest
    US-equity fund; rf = the assumptions' risk-free rate), BLACK_LITTERMAN (prior: class assumptions,
    optional ``views``, ``tau``; the covariance is not replaced by the posterior) or ASSUMPTIONS.
    ``risk``: SAMPLE, EXPONENTIAL (span 180 days) or LEDOIT_WOLF (constant-correlation target, fitted on
    the funds with the whole window; pairs with a shorter-lived fund use the pairwise sample covariance).
    ``factor_model``: True/"classes" (class factors) or "pca" (``n_factors`` components) adds L, F, d.

    Raises:
        ValidationError: a bad argument (frame without DatetimeIndex, unknown model, bad view).
        EmptyRange: no price row on or before ``as_of``.
        UnknownTicker: a view or ``market`` names a fund outside the universe.
        ConfigError: an asset class lacks capital-market assumptions.
        DataError: PyPortfolioOpt failed on these prices.
    """
    day = _as_day(as_of)
    frame = _check_prices(prices)
    ret_model = _enum(returns, ReturnModel, "returns")
    risk_model = _enum(risk, RiskModel, "risk")
    kind = _factor_kind(factor_model)
    if not (isinstance(lookback_years, int | float) and 0 < lookback_years <= 100):
        raise ValidationError("must be a number of years in (0, 100]", field="lookback_years", value=lookback_years)
    if not 0 < tau <= 1:
        raise ValidationError("must lie in (0, 1]", field="tau", value=tau, fix="0.05 is customary")
    cred = credibility or Credibility()
    cma = assumptions or load_capital_market_assumptions()
    notes: list[str] = []

    # Point in time: nothing after as_of, nothing before the lookback window.
    cut = pd.Timestamp(day)
    past = frame.loc[frame.index <= cut]
    if past.empty:
        raise EmptyRange(f"no price on or before {day}; choose a later as_of or load older prices", day=day)
    start = cut - pd.Timedelta(days=round(lookback_years * 365.25))
    window = past.loc[past.index >= start]
    tickers = tuple(universe.tickers)
    classes = [universe[t].asset_class for t in tickers]
    window = window.reindex(columns=list(tickers)).astype(float)
    rows = max(len(window) - 1, 0)
    if len(window) and window.index[0] <= start + pd.Timedelta(days=7):
        span_years = float(lookback_years)
    else:
        span_years = (cut - window.index[0]).days / 365.25 if len(window) else 0.0
    daily = window.pct_change(fill_method=None).iloc[1:]
    counts = daily.notna().sum().to_numpy(dtype=int) if rows else np.zeros(len(tickers), dtype=int)
    years = span_years * counts / rows if rows else np.zeros(len(tickers))
    usable = counts >= cred.min_observations
    for t, c, ok in zip(tickers, counts, usable, strict=True):
        if not ok:
            notes.append(f"{t}: {c} daily returns up to {day} (< {cred.min_observations}); "
                         f"using its {universe[t].asset_class.value} assumptions only")
    years = np.where(usable, years, 0.0)
    w_ret = np.where(usable, Credibility.weight(years, cred.return_years, lookback_years), 0.0)
    w_risk = np.where(usable, Credibility.weight(years, cred.risk_years, lookback_years), 0.0)
    if span_years < lookback_years - 1e-9:
        notes.append(f"prices start {window.index[0].date()}: the window spans {span_years:.1f} of the "
                     f"{lookback_years:g} years asked; every fund is blended toward its class assumptions")

    prior_mu, prior_vol, prior_corr = asset_prior(classes, cma)
    idx = np.flatnonzero(usable)
    px = window.iloc[:, idx]

    # Covariance: the risk model on the funds with history, blended with the prior, made PSD.
    cov = _risk(window, risk_model, counts, rows, usable, w_risk, prior_vol, prior_corr, notes)
    if not is_psd(cov):  # rounding only: the construction is PSD
        cov = nearest_psd(cov)
        notes.append("covariance repaired to PSD (eigenvalues clipped at 0)")

    # Expected returns.
    mu = prior_mu.copy()
    if ret_model in (ReturnModel.MEAN_HISTORICAL, ReturnModel.EMA, ReturnModel.CAPM) and idx.size:
        sample = _sample_mu(px, ret_model, market, tickers, classes, counts, usable, cma, notes)
        mu[idx] = w_ret[idx] * sample + (1.0 - w_ret[idx]) * prior_mu[idx]
    else:
        w_ret = np.zeros(len(tickers))
    if ret_model is ReturnModel.BLACK_LITTERMAN:
        mu = _black_litterman(tickers, prior_mu, cov, views or (), tau, notes)
    elif views:
        raise ValidationError(f"views need returns=black_litterman, not {ret_model.value}", field="views",
                              fix="pass returns=ReturnModel.BLACK_LITTERMAN or drop the views")

    for i, t in enumerate(tickers):
        historical = ret_model in (ReturnModel.MEAN_HISTORICAL, ReturnModel.EMA, ReturnModel.CAPM)
        if usable[i] and ((historical and w_ret[i] < 1) or w_risk[i] < 1) and span_years >= lookback_years - 1e-9:
            what = f"returns {w_ret[i]:.2f}, risk {w_risk[i]:.2f}" if historical else f"risk {w_risk[i]:.2f}"
            notes.append(f"{t}: {years[i]:.1f} years of history; weight on its own data {what}, "
                         f"the rest from {classes[i].value} assumptions")

    parts = factor_decomposition(cov, classes, kind, n_factors) if kind is not None else None
    return Estimates(
        as_of=day,
        tickers=tickers,
        mu=mu,
        cov=cov,
        loadings=None if parts is None else parts.loadings,
        factor_cov=None if parts is None else parts.factor_cov,
        idio_var=None if parts is None else parts.idio_var,
        factor_names=() if parts is None else parts.names,
        history_years=years,
        return_credibility=w_ret,
        risk_credibility=w_risk,
        notes=tuple(notes),
        models={
            "returns": ret_model.value,
            "risk": risk_model.value,
            "factor_model": "" if kind is None else kind.value,
            "assumptions": cma.name,
            "lookback_years": f"{lookback_years:g}",
        },
    )


def _enum(value: Any, enum: type[T], name: str) -> T:
    try:
        return enum(value)  # type: ignore[call-arg]
    except ValueError as exc:
        valid = ", ".join(m.value for m in enum)  # type: ignore[attr-defined]
        raise ValidationError(f"unknown {enum.__name__}", field=name, value=value, fix=f"use one of: {valid}") from exc


def _factor_kind(value: bool | str | FactorKind) -> FactorKind | None:
    if value is False or value is None:
        return None
    if value is True:
        return FactorKind.CLASSES
    return _enum(value, FactorKind, "factor_model")


def _model_cov(frame: pd.DataFrame, kind: RiskModel, notes: list[str]) -> np.ndarray:
    """The PyPortfolioOpt risk model's annual covariance of ``frame`` (prices of one common period)."""
    from pypfopt import risk_models

    if kind is RiskModel.EXPONENTIAL:
        out = _pypfopt("exp_cov", risk_models.exp_cov, frame, span=EXP_COV_SPAN, frequency=TRADING_DAYS,
                       notes=notes)
    elif kind is RiskModel.LEDOIT_WOLF and frame.shape[1] >= 2:
        shrink = _pypfopt("CovarianceShrinkage", risk_models.CovarianceShrinkage, frame,
                          frequency=TRADING_DAYS, notes=notes)
        out = _pypfopt("ledoit_wolf", shrink.ledoit_wolf, shrinkage_target="constant_correlation", notes=notes)
    else:
        out = _pypfopt("sample_cov", risk_models.sample_cov, frame, frequency=TRADING_DAYS, notes=notes)
    return np.array(out, dtype=float)


def _risk(
    window: pd.DataFrame,
    model: RiskModel,
    counts: np.ndarray,
    rows: int,
    usable: np.ndarray,
    w: np.ndarray,
    prior_vol: np.ndarray,
    prior_corr: np.ndarray,
    notes: list[str],
) -> np.ndarray:
    """Annual covariance of every fund: the risk model on the full-window funds, the rest through a proxy.

    Block B = funds with every return of the window: the PyPortfolioOpt risk model (blended with the prior
    as a whole when the window is shorter than asked, one common weight, so it stays PSD). Every other fund
    j is tied to one proxy p in B (same class first, else the highest prior correlation): r_j = β r_p + e,
    with β and var(e) blended by credibility between the regression over j's own history and the prior's
    (β = ρ·vol_j/vol_p, var(e) = vol_j²(1 − ρ²)). Then Σ = E Σ_B Eᵀ + diag(var e), PSD by construction.
    """
    n = prior_vol.size
    block = np.flatnonzero(usable & (counts == rows))
    if block.size == 0:
        notes.append("no fund spans the whole window: covariance from pairwise statistics blended with the prior")
        return _pairwise_cov(window, model, usable, w, prior_vol, prior_corr, notes)
    sigma_b = _model_cov(window.iloc[:, block], model, notes)
    wb = float(w[block[0]])
    if wb < 1.0:  # the window is short for everyone alike: one convex blend, PSD
        sd = np.sqrt(np.clip(np.diag(sigma_b), 1e-16, None))
        corr = wb * (sigma_b / np.outer(sd, sd)) + (1 - wb) * prior_corr[np.ix_(block, block)]
        np.fill_diagonal(corr, 1.0)
        vol = np.sqrt(wb * sd**2 + (1 - wb) * prior_vol[block] ** 2)
        sigma_b = corr * np.outer(vol, vol)
    exposure = np.zeros((n, block.size))
    exposure[block, np.arange(block.size)] = 1.0
    resid = np.zeros(n)
    rets = window.pct_change(fill_method=None).iloc[1:]
    in_block = set(block.tolist())
    for j in range(n):
        if j in in_block:
            continue
        k = _proxy(j, block, rets, usable, prior_corr)
        p = block[k]
        rho = prior_corr[j, p]
        beta = rho * prior_vol[j] / prior_vol[p]
        e_var = prior_vol[j] ** 2 * (1 - rho**2)
        if usable[j]:
            both = rets.iloc[:, [j, p]].dropna().to_numpy()
            c = np.cov(both.T) * TRADING_DAYS
            b_s = c[0, 1] / c[1, 1] if c[1, 1] > 0 else 0.0
            e_s = max(c[0, 0] - b_s * c[0, 1], 0.0)
            beta = w[j] * b_s + (1 - w[j]) * beta
            e_var = w[j] * e_s + (1 - w[j]) * e_var
        exposure[j, k] = beta
        resid[j] = e_var
    cov = exposure @ sigma_b @ exposure.T + np.diag(resid)
    return (cov + cov.T) / 2


def _proxy(j: int, block: np.ndarray, rets: pd.DataFrame, usable: np.ndarray, prior_corr: np.ndarray) -> int:
    """Index into ``block`` of fund j's proxy: highest prior correlation (same class first), ties by history."""
    prior = prior_corr[j, block]
    best = np.flatnonzero(np.isclose(prior, prior.max()))
    if best.size > 1 and usable[j]:
        hist = rets.iloc[:, block[best]].corrwith(rets.iloc[:, j]).to_numpy(dtype=float)
        if np.isfinite(hist).any():
            return int(best[int(np.nanargmax(hist))])
    return int(best[0])


def _pairwise_cov(
    window: pd.DataFrame,
    model: RiskModel,
    usable: np.ndarray,
    w: np.ndarray,
    prior_vol: np.ndarray,
    prior_corr: np.ndarray,
    notes: list[str],
) -> np.ndarray:
    """Fallback without a full-window fund: pairwise correlations and own variances, blended, PSD-repaired."""
    n = prior_vol.size
    s_var = prior_vol**2
    s_corr = prior_corr.copy()
    idx = np.flatnonzero(usable)
    if idx.size:
        px = window.iloc[:, idx]
        pairwise = px.pct_change(fill_method=None).iloc[1:].corr(min_periods=2).to_numpy(dtype=float)
        s_corr[np.ix_(idx, idx)] = np.where(np.isfinite(pairwise), pairwise, prior_corr[np.ix_(idx, idx)])
        for k, j in enumerate(idx):
            s_var[j] = _model_cov(px.iloc[:, [k]], RiskModel.SAMPLE if model is RiskModel.LEDOIT_WOLF else model,
                                  notes)[0, 0]
    var = w * s_var + (1.0 - w) * prior_vol**2
    pair = np.minimum.outer(w, w)
    corr = pair * s_corr + (1.0 - pair) * prior_corr
    np.fill_diagonal(corr, 1.0)
    if not is_psd(corr):
        low = float(np.linalg.eigvalsh(corr).min())
        corr = nearest_psd(corr, unit_diagonal=True)
        notes.append(f"blended correlation was not PSD (smallest eigenvalue {low:.2e}); eigenvalues clipped at 0")
    sd = np.sqrt(var)
    cov = corr * np.outer(sd, sd)
    return (cov + cov.T) / 2 if n else np.zeros((0, 0))


def _sample_mu(
    px: pd.DataFrame,
    model: ReturnModel,
    market: str | None,
    tickers: tuple[str, ...],
    classes: Sequence[AssetClass],
    counts: np.ndarray,
    usable: np.ndarray,
    cma: CapitalMarketAssumptions,
    notes: list[str],
) -> np.ndarray:
    """Annual arithmetic expected returns of the funds in ``px`` from their own prices."""
    from pypfopt import expected_returns

    if model is ReturnModel.MEAN_HISTORICAL:
        out = _pypfopt("mean_historical_return", expected_returns.mean_historical_return, px,
                       compounding=False, frequency=TRADING_DAYS, notes=notes)
    elif model is ReturnModel.EMA:
        out = _pypfopt("ema_historical_return", expected_returns.ema_historical_return, px,
                       compounding=False, span=EMA_RETURN_SPAN, frequency=TRADING_DAYS, notes=notes)
    else:
        mkt = _market_fund(market, tickers, classes, counts, usable, px)
        if mkt is None:
            notes.append("capm: no US-equity fund with history; the market is the equal-weight mix of all funds")
        out = _pypfopt("capm_return", expected_returns.capm_return, px,
                       market_prices=None if mkt is None else px[[mkt]],
                       risk_free_rate=cma.risk_free_rate, compounding=False, frequency=TRADING_DAYS, notes=notes)
    return np.asarray(pd.Series(out).reindex(px.columns), dtype=float)


def _market_fund(
    market: str | None,
    tickers: tuple[str, ...],
    classes: Sequence[AssetClass],
    counts: np.ndarray,
    usable: np.ndarray,
    px: pd.DataFrame,
) -> str | None:
    """``market`` if given, else the US-equity fund with the longest history (None if there is none)."""
    if market is not None:
        m = market.upper()
        if m not in px.columns:
            raise UnknownTicker(f"market fund {market!r} has no usable prices in the window; name a fund of "
                                "the universe with history, or pass market=None", ticker=market)
        return m
    best: tuple[int, str] | None = None
    for t, c, ok, cls in zip(tickers, counts, usable, classes, strict=True):
        if ok and cls is AssetClass.US_EQUITY and (best is None or c > best[0]):
            best = (int(c), t)
    return None if best is None else best[1]


def _black_litterman(
    tickers: tuple[str, ...],
    prior_mu: np.ndarray,
    cov: np.ndarray,
    views: Sequence[View],
    tau: float,
    notes: list[str],
) -> np.ndarray:
    """Posterior expected returns: class-assumption prior ``prior_mu``, ``views`` (annual fractions)."""
    if not views:
        notes.append("black_litterman: no views, so expected returns are the class assumptions (the prior)")
        return prior_mu.copy()
    from pypfopt.black_litterman import BlackLittermanModel

    pos = {t: i for i, t in enumerate(tickers)}
    p = np.zeros((len(views), len(tickers)))
    q = np.zeros((len(views), 1))
    for k, v in enumerate(views):
        if not isinstance(v, View):
            raise ValidationError("views must be engine.estimates.View objects", field=f"views[{k}]", value=v,
                                  fix='use View.absolute("VTI", 0.06) or View.relative("VEA", "VTI", 0.01)')
        for t, x in v.weights.items():
            if t not in pos:
                raise UnknownTicker(f"view {k} names {t!r}, which is not in the universe; use one of its tickers",
                                    ticker=t)
            p[k, pos[t]] = x
        q[k, 0] = v.expected_return
    confidences = [v.confidence for v in views]
    given = [c is not None for c in confidences]
    if any(given) and not all(given):
        raise ValidationError("give every view a confidence, or none", field="views",
                              fix="set confidence on all views (Idzorek) or leave all as None")
    frame = pd.DataFrame(cov, index=list(tickers), columns=list(tickers))
    pi = pd.Series(prior_mu, index=list(tickers))
    kwargs: dict[str, Any] = {"pi": pi, "P": p, "Q": q, "tau": tau}
    if all(given):
        kwargs |= {"omega": "idzorek", "view_confidences": np.array(confidences, dtype=float)}
    bl = _pypfopt("BlackLittermanModel", BlackLittermanModel, frame, notes=notes, **kwargs)
    post = _pypfopt("bl_returns", bl.bl_returns, notes=notes)
    notes.append(f"black_litterman: {len(views)} view(s) on the class-assumption prior (tau {tau:g})")
    return np.asarray(pd.Series(post).reindex(list(tickers)), dtype=float)
