"""The embedded dataset (shape pinned) and CSV sources, wide and long."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from engine.data import CsvSource, EmbeddedSource, PriceSource, embedded_path, trading_days
from engine.errors import BadPrice, CalendarError, DataError, EmptyRange, UnknownTicker

TICKERS = ["VTI", "IVV", "VB", "VTV", "VUG", "VEA", "IEFA", "VWO", "IEMG", "BND", "AGG", "IEF", "TIP", "LQD",
           "HYG", "MUB", "BNDX", "VNQ", "GLD", "BIL", "ESGV", "ESGU", "SUSA", "DSI", "ESGD", "VSGX"]


def test_embedded_shape_and_facts(embedded_frame):
    df = embedded_frame
    assert list(df.columns) == TICKERS and df.index.name == "Date"
    assert df.index[0] == pd.Timestamp("2003-01-02") and df.index[-1] == pd.Timestamp("2026-08-03")
    assert [d.date() for d in df.index] == trading_days(date(2003, 1, 2), date(2026, 8, 3))
    assert df["ESGV"].first_valid_index() == pd.Timestamp("2018-09-20")
    assert df.iloc[-1].notna().all() and np.nanmin(df.to_numpy()) > 0
    assert df.loc["2026-08-03", "VTI"] == pytest.approx(372.72)
    moves = df.pct_change(fill_method=None).abs().max()
    assert moves.idxmax() == "VWO" and moves.max() == pytest.approx(0.2028, abs=1e-4)
    assert embedded_path().name == "etfs_adj_close.csv.gz" and (embedded_path().parent / "DATA.md").exists()


def test_embedded_selection():
    src = EmbeddedSource()
    assert isinstance(src, PriceSource) and "dsturdy/Factor_Attribution" in src.description()
    df = src.prices(["esgv", "VTI"], start=date(2018, 1, 1), end=date(2018, 12, 31))
    assert list(df.columns) == ["ESGV", "VTI"]
    assert df.index[0] == pd.Timestamp("2018-01-02") and df.index[-1] == pd.Timestamp("2018-12-31")
    assert df.loc[:"2018-09-19", "ESGV"].isna().all() and df.loc["2018-09-20":, "ESGV"].notna().all()
    only_esgv = src.prices(["ESGV"], start=date(2018, 1, 1), end=date(2018, 12, 31))
    assert only_esgv.index[0] == pd.Timestamp("2018-09-20")  # rows before the fund existed are dropped
    with pytest.raises(UnknownTicker, match="QQQ"):
        src.prices(["VTI", "QQQ"])
    with pytest.raises(EmptyRange, match="ESGV"):
        src.prices(["ESGV"], start=date(2010, 1, 1), end=date(2012, 1, 1))
    with pytest.raises(EmptyRange):
        src.prices(["VTI"], start=date(2024, 7, 6), end=date(2024, 7, 7))  # a weekend


def _sample() -> pd.DataFrame:
    idx = pd.DatetimeIndex(["2024-07-01", "2024-07-02", "2024-07-03", "2024-07-05"], name="Date")
    return pd.DataFrame({"VTI": [260.1, 261.0, 262.5, 263.0], "NEWF": [np.nan, 10.0, 10.1, 10.05]}, index=idx)


def test_csv_wide_and_long_read_the_same(tmp_path):
    wide = _sample()
    wide.to_csv(tmp_path / "wide.csv")
    long = wide.reset_index().melt(id_vars="Date", var_name="ticker", value_name="close").dropna()
    long = long.rename(columns={"Date": "date"}).sample(frac=1, random_state=1)  # any row order
    long.to_csv(tmp_path / "long.csv", index=False)
    a = CsvSource(tmp_path / "wide.csv", layout="wide").prices()
    b = CsvSource(tmp_path / "long.csv", layout="long").prices()
    c = CsvSource(tmp_path / "long.csv").prices()  # auto-detected
    for got in (a, b, c):
        pd.testing.assert_frame_equal(got[["VTI", "NEWF"]], wide.set_axis(wide.index.astype("datetime64[ns]")),
                                      check_freq=False)
    assert CsvSource(tmp_path / "long.csv")._layout() == "long"
    assert CsvSource(tmp_path / "wide.csv").prices(["newf"], start=date(2024, 7, 2)).shape == (3, 1)
    assert "long layout" in CsvSource(tmp_path / "long.csv").description()


def test_csv_problems_are_typed(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        CsvSource(tmp_path / "nope.csv")
    bad = _sample()
    bad.loc["2024-07-03", "VTI"] = -5
    bad.to_csv(tmp_path / "neg.csv")
    with pytest.raises(BadPrice, match="VTI: non-positive price -5 on 2024-07-03"):
        CsvSource(tmp_path / "neg.csv").prices()
    pd.DataFrame({"date": ["2024-07-01", "2024-07-01"], "ticker": ["VTI", "vti"], "close": [1.0, 1.1]}).to_csv(
        tmp_path / "dup.csv", index=False)
    with pytest.raises(CalendarError, match="VTI has two rows for 2024-07-01"):
        CsvSource(tmp_path / "dup.csv").prices()
    pd.DataFrame({"date": ["2024-07-01"], "symbol": ["VTI"], "volume": [5]}).to_csv(tmp_path / "cols.csv", index=False)
    with pytest.raises(DataError, match="date, ticker and close"):
        CsvSource(tmp_path / "cols.csv", layout="long").prices()
