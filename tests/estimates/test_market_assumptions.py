"""The capital-market assumptions file and its loader (read by estimates and goals)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from engine.config.loader import default_file
from engine.config.market_assumptions import load_capital_market_assumptions, market_assumptions_from_dict
from engine.errors import ConfigError
from engine.model import AssetClass


def _raw() -> dict:
    return yaml.safe_load(default_file("capital_market_assumptions.yaml").read_text())


def test_shipped_file_covers_every_class_and_is_psd():
    cma = load_capital_market_assumptions()
    assert set(cma.classes) == set(AssetClass)
    assert cma.expected_return[AssetClass.US_EQUITY] > cma.expected_return[AssetClass.US_BONDS] > \
        cma.expected_return[AssetClass.CASH]
    corr = cma.correlation.to_numpy()
    assert np.allclose(corr, corr.T) and np.allclose(np.diag(corr), 1.0)
    assert np.linalg.eigvalsh(corr).min() > 0
    assert cma.covariance.loc[AssetClass.US_EQUITY, AssetClass.US_EQUITY] == pytest.approx(0.165**2)
    assert "illustrative" in cma.source.lower()


def test_goals_reader_understands_the_same_file():
    goals = pytest.importorskip("engine.goals.config")
    market = goals.load_capital_market(default_file("capital_market_assumptions.yaml"))
    cma = load_capital_market_assumptions()
    for i, c in enumerate(market.classes):
        assert market.mu[i] == pytest.approx(cma.expected_return[c])
        for j, d in enumerate(market.classes):
            assert market.corr[i, j] == pytest.approx(cma.correlation.loc[c, d])


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda d: d["correlations"]["us_equity"].pop("cash"), "no correlation between us_equity and cash"),
        (lambda d: d["correlations"]["us_equity"].update(intl_equity=1.5), r"must lie in \[-1, 1\]"),
        (lambda d: d["classes"]["us_equity"].update(volatility=-0.1), "greater than or equal"),
        (lambda d: d["correlations"].update(cash={"us_equity": 0.3}), "given twice"),
        (lambda d: d.update(extra=1), "Extra inputs"),
        (lambda d: d["correlations"]["us_equity"].update(intl_equity=-0.99, em_equity=0.99), "semi-definite"),
    ],
)
def test_bad_files_name_the_field(edit, match):
    data = _raw()
    edit(data)
    with pytest.raises(ConfigError, match=match) as info:
        market_assumptions_from_dict(data, file="cma.yaml")
    assert "cma.yaml" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_capital_market_assumptions(tmp_path / "nope.yaml")
