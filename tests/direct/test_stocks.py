"""Stock universes: the S&P 500 set in place (masks from its README), a user's CSV, the shipped demo set."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.data.stocks import (
    SP500_MASKS,
    embedded_stocks,
    embedded_stocks_dir,
    issuer_of,
    load_stock_universe,
    universe_weights,
)
from engine.errors import ConfigError, UnknownTicker


def test_sp500_share_classes_are_one_issuer(sp500):
    # sp500 README: GOOG/GOOGL, FOX/FOXA, NWS/NWSA, UA/UAA, DISCA/DISCK are share classes of one company.
    groups = {frozenset(g) for g in sp500.universe.identical}
    assert groups == {frozenset(p) for p in (("GOOG", "GOOGL"), ("FOX", "FOXA"), ("NWS", "NWSA"), ("UA", "UAA"),
                                             ("DISCA", "DISCK"))}
    assert sp500.universe.share_classes("GOOGL") == {"GOOG", "GOOGL"}
    assert sp500.universe["GOOG"].sub_industry == "Interactive Media & Services"
    assert sp500.universe["UA"].sub_industry == ""  # left the index before 2023 (README): no sub-industry


def test_sp500_masks_follow_its_readme(sp500):
    p = sp500.prices
    # README: "ANTM (before 2005-06-02) ... MSI (before 2011-01-04); single bad days: TRMB 2007-02-23, ..."
    assert p.loc[:"2005-06-01", "ANTM"].isna().all() and p.loc["2005-06-02", "ANTM"] > 0
    assert p.loc[:"2011-01-03", "MSI"].isna().all()
    assert np.isnan(p.loc["2007-02-23", "TRMB"]) and p.loc["2007-02-22", "TRMB"] > 0
    assert np.isnan(p.loc["2010-02-11", "GNRC"])
    counts = dict((m.ticker, n) for m, n in sp500.masked)
    assert counts["CMCSA"] == 1 and counts["ANTM"] > 1000
    # The fake losses the README warns about are gone: no daily return below -45 % on these days.
    r = sp500.returns()
    for t, d in (("WST", "2004-09-30"), ("ANTM", "2005-06-02"), ("MSI", "2011-01-04"), ("GNRC", "2010-02-12")):
        assert not (r.loc[d, t] < -0.45)


def test_every_mask_or_drop_of_the_anomalies_file_is_applied(sp500):
    from tests.direct.conftest import sp500_dir

    rows = pd.read_csv(sp500_dir() / "sp500_anomalies.csv")
    act = rows["suggested_action"].fillna("")
    wanted = set(rows.loc[act.str.startswith(("mask", "drop")), "ticker"])
    assert wanted == {m.ticker for m in SP500_MASKS}


def test_unmasked_load_keeps_the_broken_series(sp500):
    from engine.data.stocks import load_sp500
    from tests.direct.conftest import sp500_dir

    raw = load_sp500(sp500_dir(), mask=False)
    assert raw.prices.loc["2004-08-02", "CMCSA"] > 0 and raw.masked == ()


def test_user_csv_universe(tmp_path):
    path = tmp_path / "u.csv"
    path.write_text("ticker,name,gics_sector,gics_sub_industry,issuer,market_cap\n"
                    "brk.b,Berkshire Hathaway,Financials,Multi-Sector Holdings,,800e9\n"
                    "GOOGL,Alphabet A,Communication Services,Interactive Media & Services,Alphabet,1000e9\n"
                    "GOOG,Alphabet C,Communication Services,Interactive Media & Services,Alphabet,900e9\n")
    u = load_stock_universe(path)
    assert u.tickers == ["BRK.B", "GOOGL", "GOOG"]
    assert u.identical == [{"GOOGL", "GOOG"}]
    np.testing.assert_allclose(universe_weights(u), np.array([800, 1000, 900]) / 2700)
    with pytest.raises(UnknownTicker):
        u["MSFT"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("ticker,name\nA,B\n", "header"),
        ("ticker,name,gics_sector\n,Foo,Energy\n", "row 2.ticker"),
        ("ticker,name,gics_sector\nA,Foo,\n", "row 2.gics_sector"),
        ("ticker,name,gics_sector,market_cap\nA,Foo,Energy,-5\n", "row 2.market_cap"),
        ("ticker,name,gics_sector,market_cap\nA,Foo,Energy,lots\n", "row 2.market_cap"),
        ("ticker,name,gics_sector\nA,Foo,Energy\na,Foo,Energy\n", "ticker"),
    ],
)
def test_bad_universe_csv_names_file_field_and_fix(tmp_path, body, field):
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(ConfigError) as err:
        load_stock_universe(path)
    assert err.value.field == field and str(path) in str(err.value)


def test_issuer_of_strips_share_class_suffixes():
    assert issuer_of("Alphabet Inc. (Class C)") == "Alphabet Inc."
    assert issuer_of("Discovery Inc. (Series A)") == "Discovery Inc."
    assert issuer_of("Apple Inc.") == "Apple Inc."


def test_shipped_demo_set_and_its_licence():
    data = embedded_stocks()
    assert data.prices.shape == (8313, 20)
    assert data.prices.index[0] == pd.Timestamp("1990-01-02") and data.prices.index[-1] == pd.Timestamp("2022-12-28")
    assert data.universe["XOM"].sub_industry == "Integrated Oil & Gas"
    folder = embedded_stocks_dir()
    assert "BSD 3-Clause" in (folder / "LICENSE-skfolio.txt").read_text()
    assert "skfolio-1.12.2" in (folder / "PROVENANCE.md").read_text()
    # sp500 README: redistribution unsettled — none of its files may ship in the package.
    shipped = {p.name for p in folder.parent.rglob("*")}
    assert not shipped & {"sp500_adj_close.csv.gz", "sp500_sectors.csv", "sp500_dividends_splits.csv.gz"}


def test_benchmark_weights_validation():
    u = embedded_stocks().universe
    w = universe_weights(u)
    assert w.sum() == pytest.approx(1) and np.allclose(w, 1 / 20)  # no caps in the demo set: equal weights
    with pytest.raises(ConfigError):
        universe_weights(u, {"ZZZZ": 1.0})
    with pytest.raises(ConfigError):
        universe_weights(u, {"AAPL": 0.0})


def test_returns_are_point_in_time_slices():
    data = embedded_stocks()
    r = data.returns(date(2020, 1, 1), date(2020, 12, 31))
    assert r.index[0] > pd.Timestamp("2020-01-01") and r.index[-1] <= pd.Timestamp("2020-12-31")


def test_the_wheel_ships_the_demo_set_with_its_licence():
    import tomllib

    from tests.conftest import ROOT

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    patterns = [p for pats in data.values() for p in pats]
    for name in ("prices.csv.gz", "sectors.csv", "LICENSE-skfolio.txt", "PROVENANCE.md"):
        path = f"data/embedded/stocks/{name}"
        assert any(Path(path).match(p) or Path(name).match(p) for p in patterns), name
