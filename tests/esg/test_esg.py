"""ESG data, household screens, values reports and the cost of values."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import ConfigError, ValidationError
from engine.esg import (
    ExclusionReason,
    Tag,
    apply_values,
    esg_from_dict,
    load_esg,
    values_cost,
    values_report,
    with_esg,
)
from engine.model import Values


@pytest.fixture(scope="module")
def esg():
    data = load_esg()
    assert len(data) == 26 and "not vendor data" in data.label
    return data


def test_shipped_file_covers_the_universe_and_is_plausible(esg, universe):
    assert set(esg.tickers) == set(universe.tickers)
    broad, screened = esg.get("VTI"), esg.get("SUSA")
    assert {Tag.FOSSIL_FUELS, Tag.TOBACCO, Tag.CONTROVERSIAL_WEAPONS} <= broad.tags
    assert Tag.TOBACCO not in screened.tags and Tag.CONTROVERSIAL_WEAPONS not in screened.tags
    assert screened.esg_score > broad.esg_score and screened.carbon_intensity < broad.carbon_intensity
    for t in ("IEF", "BIL", "GLD", "TIP"):  # governments, cash, gold: not covered
        assert esg.get(t).esg_score is None and esg.get(t).carbon_intensity is None


def test_screen_excludes_with_reasons_and_vectors(esg, universe):
    values = Values(exclude_tags=frozenset({"tobacco", "controversy"}), exclude_tickers=frozenset({"vnq", "ZZZ"}),
                    min_esg_score=6.5, max_carbon=100.0)
    s = apply_values(universe, esg, values)
    assert s.tickers == tuple(universe.tickers)
    assert "SUSA" in s.allowed and "VTI" not in s.allowed and "VNQ" not in s.allowed
    assert {x.label for x in s.excluded["VTI"]} == {"tag:tobacco", "tag:controversy"}
    assert [(x.reason, x.detail) for x in s.excluded["VNQ"]] == [(ExclusionReason.TICKER, "VNQ")]
    assert "ESGU" in s.excluded  # flagged controversy
    assert s.excluded_mask.sum() == len(s.excluded)
    assert any("ZZZ" in n for n in s.notes)
    i = s.tickers.index("BIL")
    assert not s.score_covered[i] and np.isnan(s.score[i])
    assert s.score_vector()[i] == 6.5  # neutral in Σ w (score − floor) ≥ 0
    assert s.carbon_vector(cap=100.0)[i] == 100.0 and s.carbon_vector()[i] == 0.0
    assert s.carbon_cap() == 100.0


def test_sample_household_keeps_a_bond_fund(esg, universe, household):
    s = apply_values(universe, esg, household.values)
    assert {"IEF", "TIP", "BNDX"} <= set(s.allowed) and "BND" in s.excluded  # BND holds tobacco bonds


def test_relative_carbon_cap_needs_a_reference(esg, universe):
    s = apply_values(universe, esg, Values(max_carbon=0.7, carbon_relative=True))
    assert s.carbon_cap(reference_carbon=150.0) == pytest.approx(105.0)
    with pytest.raises(ValidationError, match="relative carbon cap"):
        s.carbon_cap()


def test_unknown_tag_is_refused(esg, universe):
    with pytest.raises(ConfigError, match="unknown ESG tag") as info:
        apply_values(universe, esg, Values(exclude_tags=frozenset({"fossil_fuel"})))
    assert "fossil_fuels" in str(info.value)


def test_values_report_by_hand(esg):
    values = Values(exclude_tags=frozenset({"tobacco"}), min_esg_score=6.0, max_carbon=120.0)
    r = values_report({"VTI": 0.5, "SUSA": 0.3, "BIL": 0.2}, esg, values)
    assert r.esg_score == pytest.approx((0.5 * 5.9 + 0.3 * 8.0) / 0.8)
    assert r.score_coverage == pytest.approx(0.8) and r.uncovered == ("BIL",)
    assert r.carbon_intensity == pytest.approx((0.5 * 118 + 0.3 * 58) / 0.8)
    assert r.controversy_exposure == pytest.approx(0.5)
    assert r.excluded_exposure == {"tag:tobacco": pytest.approx(0.5)} and r.excluded_total == pytest.approx(0.5)
    assert r.tag_exposure["fossil_fuels"] == pytest.approx(0.8)
    assert r.meets_min_score is True and r.meets_max_carbon is True
    assert any("tobacco" in line for line in r.lines())
    with pytest.raises(ValidationError):
        values_report({"VTI": -0.1}, esg)
    with pytest.raises(ValidationError):
        values_report({}, esg)


def test_values_cost_from_two_portfolios(esg):
    tickers = ["VTI", "SUSA", "BND"]
    mu = np.array([0.07, 0.065, 0.045])
    cov = np.diag([0.17, 0.17, 0.05]) ** 2
    cost = values_cost(tickers, mu, cov, {"SUSA": 0.6, "BND": 0.4}, {"VTI": 0.6, "BND": 0.4}, esg,
                       binding=["esg_floor"])
    assert cost.return_given_up == pytest.approx(0.6 * 0.005)
    assert cost.risk_change == pytest.approx(0.0)
    assert cost.score_gain > 0 and 0 < cost.carbon_reduction < 1 and cost.binding == ("esg_floor",)
    with pytest.raises(ValidationError):
        values_cost(tickers, mu, cov, {"XXX": 1.0}, {"VTI": 1.0}, esg)


def test_csv_and_yaml_errors(tmp_path):
    good = tmp_path / "esg.csv"
    header = "ticker,esg_score,carbon_intensity,controversy,tags\n"
    good.write_text(header + "vti,6,120,true,tobacco; weapons\nBIL,,,false,\n")
    data = load_esg(good)
    assert data.get("VTI").tags == {Tag.TOBACCO, Tag.WEAPONS} and data.get("BIL").esg_score is None
    bad = tmp_path / "bad.csv"
    bad.write_text("ticker,esg_score,carbon_intensity,controversy,tags\nVTI,11,120,true,\n")
    with pytest.raises(ConfigError, match="line 2") as info:
        load_esg(bad)
    assert "esg_score" in str(info.value)
    (tmp_path / "cols.csv").write_text("ticker,score\nVTI,5\n")
    with pytest.raises(ConfigError, match="missing columns"):
        load_esg(tmp_path / "cols.csv")
    with pytest.raises(ConfigError, match="unknown ESG tag"):
        esg_from_dict({"funds": {"VTI": {"tags": ["coal"]}}}, file="x.yaml")
    with pytest.raises(ConfigError, match="flag"):
        esg_from_dict({"funds": {"VTI": {"tags": ["controversy"]}}}, file="x.yaml")
    with pytest.raises(ConfigError, match="not found"):
        load_esg(tmp_path / "none.yaml")


def test_with_esg_fills_the_universe(esg, universe):
    u = with_esg(universe, esg)
    assert u["SUSA"].esg_score == 8.0 and "fossil_fuels" in u["VTI"].tags and u["BIL"].esg_score is None
