"""Estimates on the embedded data: point in time, blending, PSD, models, BL views, factor models, errors."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from engine.errors import ConfigError, EmptyRange, UnknownTicker, ValidationError
from engine.estimates import (
    Credibility,
    Estimates,
    FactorKind,
    ReturnModel,
    RiskModel,
    View,
    estimate,
    factor_decomposition,
    is_psd,
    load_capital_market_assumptions,
    synthetic_universe_estimates,
)

DAY = date(2020, 6, 30)  # ESGV and VSGX have < 2 years here


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    from engine.data import embedded_path

    frame = pd.read_csv(embedded_path(), index_col="Date", parse_dates=True)
    assert frame.shape[1] == 26 and frame.index.is_monotonic_increasing
    return frame


def _window(prices: pd.DataFrame, day: date) -> pd.DataFrame:
    """The 10-year window estimate() reads (rows in [day − 3652 days, day])."""
    end = pd.Timestamp(day)
    return prices.loc[(prices.index <= end) & (prices.index >= end - pd.Timedelta(days=3652))]


@pytest.fixture(scope="module")
def cma():
    return load_capital_market_assumptions()


@pytest.fixture(scope="module")
def hist(prices, universe, cma) -> Estimates:
    return estimate(prices, DAY, universe, returns=ReturnModel.MEAN_HISTORICAL, risk=RiskModel.SAMPLE,
                    assumptions=cma)


def test_shapes_units_and_psd(hist, universe):
    n = len(universe)
    assert hist.tickers == tuple(universe.tickers) and hist.mu.shape == (n,) and hist.cov.shape == (n, n)
    assert is_psd(hist.cov) and np.allclose(hist.cov, hist.cov.T)
    vol = dict(zip(hist.tickers, hist.volatility, strict=True))
    assert 0.12 < vol["VTI"] < 0.25 and vol["BIL"] < 0.02 and 0.02 < vol["BND"] < 0.08  # annual fractions


def test_full_history_funds_match_pyportfolioopt_exactly(prices, hist):
    from pypfopt import expected_returns, risk_models

    window = _window(prices, DAY)
    full = ["VTI", "BND", "VEA", "GLD"]
    mu = expected_returns.mean_historical_return(window[full], compounding=False)
    cov = risk_models.sample_cov(window[full])
    sub = hist.subset(full)
    assert np.allclose(sub.mu, mu.to_numpy(), atol=1e-12)
    assert np.allclose(sub.cov, cov.to_numpy(), atol=1e-12)
    assert np.all(sub.return_credibility == 1.0) and np.all(sub.risk_credibility == 1.0)


def test_future_rows_cannot_change_the_estimate(prices, universe, cma, hist):
    planted = prices.copy()
    later = planted.index > pd.Timestamp(DAY)
    planted.loc[later, :] = planted.loc[later, :] * 1000.0
    planted.loc[planted.index[later][0], "ESGV"] = 1e9
    again = estimate(planted, DAY, universe, returns=ReturnModel.MEAN_HISTORICAL, risk=RiskModel.SAMPLE,
                     assumptions=cma)
    assert np.array_equal(again.mu, hist.mu) and np.array_equal(again.cov, hist.cov)


def test_short_history_blended_toward_class_assumptions(prices, hist, cma):
    from engine.model import AssetClass

    i = hist.index("ESGV")
    years = hist.history_years[i]
    assert 1.5 < years < 2.0
    # documented credibility: w = [n/(n+k)] / [L/(L+k)], k = 10 for returns, 1 for risk, L = 10
    assert hist.return_credibility[i] == pytest.approx((years / (years + 10)) / (10 / 20))
    assert hist.risk_credibility[i] == pytest.approx((years / (years + 1)) / (10 / 11))
    window = prices.loc[:pd.Timestamp(DAY), "ESGV"].dropna()
    own = window.pct_change().mean() * 252
    prior = cma.expected_return[AssetClass.US_EQUITY]
    w = hist.return_credibility[i]
    assert hist.mu[i] == pytest.approx(w * own + (1 - w) * prior)
    assert min(own, prior) <= hist.mu[i] <= max(own, prior)
    assert any(n.startswith("ESGV:") and "us_equity" in n for n in hist.notes)
    # ESGV's 2018-2020 history holds the COVID crash (≈30 % vol); the proxy ties it to VTI's 10 years
    assert abs(hist.volatility[i] - hist.volatility[hist.index("VTI")]) < 0.03


def test_no_history_means_prior_only(prices, universe, cma):
    est = estimate(prices, date(2010, 12, 31), universe, returns=ReturnModel.MEAN_HISTORICAL, assumptions=cma)
    i = est.index("ESGV")
    assert est.history_years[i] == 0 and est.return_credibility[i] == 0
    assert est.mu[i] == pytest.approx(cma.expected_return[universe["ESGV"].asset_class])
    assert is_psd(est.cov)
    assert any("ESGV: 0 daily returns" in n for n in est.notes)


@pytest.mark.parametrize("risk", list(RiskModel))
@pytest.mark.parametrize("day", [date(2008, 6, 30), date(2019, 1, 31), date(2026, 7, 31)])
def test_every_risk_model_is_psd_on_every_era(prices, universe, cma, risk, day):
    est = estimate(prices, day, universe, returns=ReturnModel.ASSUMPTIONS, risk=risk, assumptions=cma)
    assert is_psd(est.cov) and np.all(np.isfinite(est.cov))
    assert np.all(est.volatility > 0)


@pytest.mark.parametrize("model", [ReturnModel.EMA, ReturnModel.CAPM])
def test_other_return_models_are_plausible(prices, universe, cma, model):
    est = estimate(prices, DAY, universe, returns=model, risk=RiskModel.LEDOIT_WOLF, assumptions=cma)
    assert np.all(np.abs(est.mu) < 0.6)
    if model is ReturnModel.CAPM:  # high-beta equities above bonds, bills near the risk-free rate
        assert est.mu[est.index("VUG")] > est.mu[est.index("BND")]
        assert est.mu[est.index("BIL")] == pytest.approx(cma.risk_free_rate, abs=0.01)


def test_assumptions_and_black_litterman_without_views_equal_the_prior(prices, universe, cma):
    a = estimate(prices, DAY, universe, returns=ReturnModel.ASSUMPTIONS, assumptions=cma)
    b = estimate(prices, DAY, universe, returns=ReturnModel.BLACK_LITTERMAN, assumptions=cma)
    expected = [cma.expected_return[universe[t].asset_class] for t in a.tickers]
    assert np.allclose(a.mu, expected) and np.allclose(b.mu, expected)


def test_black_litterman_views_move_the_posterior(prices, universe, cma):
    base = estimate(prices, DAY, universe, assumptions=cma)
    views = [View.absolute("VWO", 0.12), View.relative("VEA", "VTI", 0.02)]
    post = estimate(prices, DAY, universe, views=views, assumptions=cma)
    assert post.mu[post.index("VWO")] > base.mu[base.index("VWO")]
    gap = lambda e: e.mu[e.index("VEA")] - e.mu[e.index("VTI")]  # noqa: E731
    assert gap(post) > gap(base)
    sure = estimate(prices, DAY, universe, views=[View.absolute("VWO", 0.12, confidence=1.0)], assumptions=cma)
    assert sure.mu[sure.index("VWO")] == pytest.approx(0.12, abs=1e-6)  # Idzorek: 100 % confident
    with pytest.raises(UnknownTicker):
        estimate(prices, DAY, universe, views=[View.absolute("XXX", 0.1)], assumptions=cma)
    with pytest.raises(ValidationError):
        estimate(prices, DAY, universe, views=[View.absolute("VTI", 0.1, 0.5), View.absolute("BND", 0.03)],
                 assumptions=cma)
    with pytest.raises(ValidationError, match="black_litterman"):
        estimate(prices, DAY, universe, returns="ema", views=views, assumptions=cma)


@pytest.mark.parametrize("kind", [FactorKind.CLASSES, FactorKind.PCA])
def test_factor_model_reproduces_the_covariance(prices, universe, cma, kind):
    day = date(2026, 7, 31)
    est = estimate(prices, day, universe, risk=RiskModel.SAMPLE, factor_model=kind, n_factors=5, assumptions=cma)
    assert est.has_factor_model and est.loadings.shape[0] == len(universe)
    implied = est.factor_implied_cov
    assert is_psd(implied)
    assert np.allclose(np.diag(implied), np.diag(est.cov))
    rel = np.linalg.norm(implied - est.cov) / np.linalg.norm(est.cov)
    assert rel < 0.10
    # and close to the plain sample covariance of the full-history funds
    from pypfopt import risk_models

    full = ["VTI", "VEA", "VWO", "BND", "TIP", "HYG", "VNQ", "GLD"]
    window = _window(prices, day)
    sample = risk_models.sample_cov(window[full]).to_numpy()
    sub = est.subset(full).factor_implied_cov
    assert np.linalg.norm(sub - sample) / np.linalg.norm(sample) < 0.10


def test_factor_decomposition_identities():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 6))
    cov = np.cov(x.T)
    from engine.model import AssetClass

    parts = factor_decomposition(cov, [AssetClass.US_EQUITY] * 3 + [AssetClass.US_BONDS] * 3, FactorKind.CLASSES)
    assert parts.names == ("us_equity", "us_bonds") and np.all(parts.idio_var >= 0)
    pca = factor_decomposition(cov, [AssetClass.US_EQUITY] * 6, FactorKind.PCA, n_factors=6)
    assert np.allclose(pca.loadings @ pca.factor_cov @ pca.loadings.T + np.diag(pca.idio_var), cov)


def test_synthetic_universe_for_the_benchmark():
    est = synthetic_universe_estimates(500, k=5, seed=0)
    assert len(est.tickers) == 500 and est.loadings.shape == (500, 5) and est.factor_cov.shape == (5, 5)
    assert np.allclose(est.factor_implied_cov, est.cov) and is_psd(est.cov)
    again = synthetic_universe_estimates(500, k=5, seed=0)
    assert np.array_equal(est.mu, again.mu)
    assert not np.array_equal(est.mu, synthetic_universe_estimates(500, k=5, seed=1).mu)
    assert 0.0 < np.median(est.mu) < 0.15 and 0.05 < np.median(est.volatility) < 0.5


def test_subset_and_frames(hist):
    sub = hist.subset(["bnd", "VTI"])
    assert sub.tickers == ("BND", "VTI")
    assert sub.cov[0, 1] == hist.cov[hist.index("BND"), hist.index("VTI")]
    assert list(sub.mu_series.index) == ["BND", "VTI"] and sub.cov_frame.shape == (2, 2)
    with pytest.raises(UnknownTicker):
        hist.subset(["NOPE"])
    with pytest.raises(ValidationError):
        hist.factor_implied_cov  # noqa: B018


def test_estimates_validation():
    with pytest.raises(ValidationError, match="positive semi-definite"):
        Estimates(DAY, ("A", "B"), np.zeros(2), np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValidationError, match="shape"):
        Estimates(DAY, ("A", "B"), np.zeros(3), np.eye(2))
    with pytest.raises(ValidationError, match="together"):
        Estimates(DAY, ("A",), np.zeros(1), np.eye(1), loadings=np.ones((1, 1)))


def test_argument_errors(prices, universe, cma):
    with pytest.raises(EmptyRange):
        estimate(prices, date(2001, 1, 2), universe, assumptions=cma)
    with pytest.raises(ValidationError, match="DatetimeIndex"):
        estimate(prices.reset_index(), DAY, universe, assumptions=cma)
    with pytest.raises(ValidationError, match="RiskModel"):
        estimate(prices, DAY, universe, risk="garch", assumptions=cma)
    with pytest.raises(ValidationError, match=r"datetime\.date"):
        estimate(prices, "2020-06-30", universe, assumptions=cma)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        estimate(prices, DAY, universe, lookback_years=0, assumptions=cma)
    with pytest.raises(ValidationError):
        Credibility(return_years=-1)
    with pytest.raises(ValidationError):
        View({"VTI": 0.0}, 0.05)
    with pytest.raises(UnknownTicker):
        estimate(prices, DAY, universe, returns="capm", market="ZZZ", assumptions=cma)


def test_missing_class_assumption_is_a_config_error(prices, universe, cma):
    from dataclasses import replace

    from engine.model import AssetClass

    partial = replace(cma, expected_return={k: v for k, v in cma.expected_return.items() if k is not AssetClass.CASH})
    with pytest.raises(ConfigError, match="cash"):
        estimate(prices, DAY, universe, assumptions=partial)


def test_pyportfolioopt_failures_are_translated(prices, universe, cma, monkeypatch):
    from pypfopt import risk_models

    from engine.errors import DataError

    def boom(*args, **kwargs):
        raise ValueError("singular")

    monkeypatch.setattr(risk_models, "sample_cov", boom)
    with pytest.raises(DataError, match="PyPortfolioOpt failed in sample_cov"):
        estimate(prices, DAY, universe, risk=RiskModel.SAMPLE, assumptions=cma)


def test_works_with_market_data(universe, cma):
    from engine.data import MarketData

    market = MarketData.embedded().as_of(DAY)
    est = estimate(market.prices, DAY, universe, assumptions=cma)
    assert est.as_of == DAY and is_psd(est.cov)
