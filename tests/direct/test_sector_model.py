"""The sector risk model against a plain sample-covariance calculation on small data."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from engine.errors import DataError, ValidationError
from engine.estimates.sector_model import FactorCovMethod, sector_risk_model


def _returns(n_days: int = 400, seed: int = 3) -> tuple[pd.DataFrame, dict[str, str]]:
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2020-01-02", periods=n_days)
    sectors = {"A1": "Alpha", "A2": "Alpha", "A3": "Alpha", "B1": "Beta", "B2": "Beta", "C1": "Gamma"}
    f = rng.normal(0, 0.01, (n_days, 3)) @ np.array([[1, 0.3, 0.1], [0, 1, 0.2], [0, 0, 1.0]])
    col = {"Alpha": 0, "Beta": 1, "Gamma": 2}
    r = np.column_stack([f[:, col[s]] + rng.normal(0, 0.008, n_days) for s in sectors.values()])
    return pd.DataFrame(r, index=days, columns=list(sectors)), sectors


def test_one_stock_per_sector_reproduces_the_sample_covariance():
    r, _ = _returns()
    sectors = {t: f"S{i}" for i, t in enumerate(r.columns)}  # every stock its own sector: X = I, d = 0
    m = sector_risk_model(r, sectors, lookback=len(r))
    plain = np.cov(r.to_numpy().T, ddof=1) * 252
    np.testing.assert_allclose(m.covariance(), plain, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(m.specific_var, 0.0, atol=1e-15)


def test_factor_returns_and_specific_variance_by_hand():
    r, sectors = _returns()
    m = sector_risk_model(r, sectors, lookback=len(r))
    f = pd.DataFrame({s: r[[t for t in r if sectors[t] == s]].mean(axis=1) for s in ("Alpha", "Beta", "Gamma")})
    np.testing.assert_allclose(m.factor_cov, np.cov(f.to_numpy().T, ddof=1) * 252, rtol=1e-10)
    resid = r["A2"] - f["Alpha"]
    assert m.specific_var[1] == pytest.approx(resid.var(ddof=1) * 252, rel=1e-10)
    assert m.specific_var[5] == pytest.approx(0.0, abs=1e-15)  # alone in Gamma: no residual


def test_tracking_error_close_to_sample_covariance_when_data_follow_the_model():
    # 3 sectors × 20 stocks, so a sector mean is a good estimate of its factor (with few stocks a stock's own
    # noise leaks into the factor: the known small-sample bias of cross-sectional means).
    rng = np.random.default_rng(5)
    n_days, per = 3000, 20
    f = rng.normal(0, 0.01, (n_days, 3))
    r = pd.DataFrame(np.repeat(f, per, axis=1) + rng.normal(0, 0.008, (n_days, 3 * per)),
                     index=pd.bdate_range("2010-01-04", periods=n_days), columns=[f"T{i}" for i in range(3 * per)])
    sectors = {t: f"S{i // per}" for i, t in enumerate(r.columns)}
    m = sector_risk_model(r, sectors, lookback=len(r))
    w = rng.dirichlet(np.ones(3 * per))
    b = np.full(3 * per, 1 / (3 * per))
    plain = np.sqrt((w - b) @ (np.cov(r.to_numpy().T) * 252) @ (w - b))
    assert m.tracking_error(w, b) == pytest.approx(plain, rel=0.05)
    np.testing.assert_allclose(m.tracking_error(w, b) ** 2, (w - b) @ m.covariance() @ (w - b), rtol=1e-10)


def test_no_look_ahead_and_exp_method():
    r, sectors = _returns()
    cut = date(2020, 6, 30)
    m = sector_risk_model(r, sectors, as_of=cut, lookback=10_000)
    assert m.observations == len(r.loc[:"2020-06-30"])
    moved = r.copy()
    moved.loc["2020-07-01":] *= 50  # the future must not matter
    m2 = sector_risk_model(moved, sectors, as_of=cut, lookback=10_000)
    np.testing.assert_allclose(m.factor_cov, m2.factor_cov)
    e = sector_risk_model(r, sectors, method=FactorCovMethod.EXP, span=60)
    assert np.all(np.linalg.eigvalsh(e.factor_cov) > 0)


def test_short_history_gets_its_sector_median_and_errors():
    r, sectors = _returns()
    r.loc[: r.index[-30], "A3"] = np.nan  # listed 30 days ago
    m = sector_risk_model(r, sectors, lookback=len(r))
    assert m.filled == ("A3",)
    assert m.specific_var[2] == pytest.approx(np.median(m.specific_var[:2]))
    with pytest.raises(ValidationError):
        sector_risk_model(r, {"A1": "Alpha"})
    with pytest.raises(DataError):
        sector_risk_model(r.iloc[:10], sectors)


def test_sp500_model_is_fast_enough_and_psd(sp500):
    import time

    r = sp500.returns(end=date(2020, 12, 31)).iloc[-800:]
    t = time.perf_counter()
    m = sector_risk_model(r, {s.ticker: s.sector for s in sp500.universe.stocks}, as_of=date(2020, 12, 31))
    assert time.perf_counter() - t < 30  # generous: measured in benchmarks, not asserted tight
    assert len(m.factor_names) == 11 and np.all(m.specific_var > 0)
    assert np.all(np.linalg.eigvalsh(m.factor_cov) > -1e-12)
