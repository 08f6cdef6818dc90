"""``robo data update --universe FILE``: a user's stock universe fetched through real yfinance from a local
server that answers like Yahoo's chart API (recorded-response style, no network)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

import robo.cli.data as data_cli
from engine.data import YahooSource
from robo.cli import main
from tests.data._servers import LocalServer, YahooBook, yahoo_session


def _book() -> YahooBook:
    from engine.data.stocks import embedded_stocks

    cut = embedded_stocks().prices.loc["2022-01-03":"2022-06-30", ["MSFT", "XOM", "KO"]]
    bars = {t: {ts.date(): (round(v * 1.01, 4), float(v)) for ts, v in cut[t].items()} for t in cut}
    return YahooBook({"GOOGL": bars["MSFT"], "GOOG": bars["MSFT"], "XOM": bars["XOM"], "KO": bars["KO"]})


def test_update_fetches_every_stock_of_the_universe_file(monkeypatch, tmp_path, capsys):
    book = _book()
    server = LocalServer(book.route)
    try:
        def local(*, offline: bool = False) -> YahooSource:
            from engine.settings import Settings

            return YahooSource(cache_dir=Settings().cache_dir / "yahoo", session=yahoo_session(server),
                               offline=offline, now=lambda: datetime(2022, 7, 1, 12, tzinfo=UTC))

        monkeypatch.setattr(data_cli, "_yahoo_source", local)
        uni = tmp_path / "mine.csv"
        uni.write_text("ticker,name,gics_sector,gics_sub_industry\n"
                       "GOOGL,Alphabet Inc. (Class A),Communication Services,Interactive Media & Services\n"
                       "GOOG,Alphabet Inc. (Class C),Communication Services,Interactive Media & Services\n"
                       "XOM,Exxon Mobil,Energy,Integrated Oil & Gas\n")
        assert main(["data", "update", "KO", "--universe", str(uni), "--start", "2022-01-03"]) == 0
        out = capsys.readouterr().out
        assert "3 stocks in 2 GICS sectors" in out and "GOOG/GOOGL" in out and "4 downloads" in out
        server.fail = True  # the cache now answers alone
        cached = local(offline=True).prices(["GOOGL", "XOM"], start=pd.Timestamp("2022-01-03").date())
        assert cached.index[-1] == pd.Timestamp("2022-06-30") and cached.notna().all().all()
    finally:
        server.close()


def test_update_with_a_bad_universe_file_exits_2_and_fetches_nothing(monkeypatch, tmp_path, capsys):
    def never(*, offline: bool = False) -> YahooSource:
        raise AssertionError("no download for a bad universe file")

    monkeypatch.setattr(data_cli, "_yahoo_source", never)
    bad = tmp_path / "bad.csv"
    bad.write_text("ticker,name\nGOOG,Alphabet\n")
    assert main(["data", "update", "--universe", str(bad)]) == 2
    out = capsys.readouterr().out
    assert "gics_sector" in out and "bad.csv" in out
