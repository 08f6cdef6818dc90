"""``robo data show`` and ``robo data update`` (the update goes through real yfinance to a local server)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import robo.cli.data as data_cli
from engine.data import YahooSource
from robo.cli import main
from tests.data._servers import yahoo_session


def test_show_embedded(capsys):
    assert main(["data", "show", "VTI", "ESGV", "--end", "2026-08-03"]) == 0
    out = capsys.readouterr().out
    assert "VTI" in out and "372.72" in out and "2003-01-02" in out and "2018-09-20" in out
    assert "+14.7%" in out and "18.3%" in out  # VTI's 10-year CAGR and volatility to 2026-08-03
    assert "dsturdy/Factor_Attribution" in out


def test_show_errors_exit_2(capsys):
    assert main(["data", "show", "QQQ"]) == 2
    assert "UnknownTicker" in capsys.readouterr().out
    assert main(["data", "show", "--source", "yahoo", "VTI"]) == 2  # empty cache, and show never downloads
    assert "offline" in capsys.readouterr().out


def test_show_csv(tmp_path, capsys):
    path = tmp_path / "p.csv"
    path.write_text("date,ticker,close\n2024-07-01,ABC,10\n2024-07-02,ABC,10.5\n2024-07-03,ABC,10.4\n")
    assert main(["data", "show", "--csv", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ABC" in out and "10.40" in out and "csv:p.csv" in out


def test_update_fills_the_cache_then_show_reads_it_offline(monkeypatch, yahoo_server, capsys):
    def local(*, offline: bool = False) -> YahooSource:
        from engine.settings import Settings

        return YahooSource(cache_dir=Settings().cache_dir / "yahoo", session=yahoo_session(yahoo_server),
                           offline=offline, now=lambda: datetime(2024, 7, 1, 12, tzinfo=UTC))

    monkeypatch.setattr(data_cli, "_yahoo_source", local)
    assert main(["data", "update", "VTI", "BND", "--start", "2024-01-02"]) == 0
    out = capsys.readouterr().out
    assert "2 downloads" in out and "2024-06-28" in out
    yahoo_server.fail = True
    assert main(["data", "show", "--source", "yahoo", "VTI", "BND"]) == 0
    out = capsys.readouterr().out
    assert "VTI" in out and "2024-06-28" in out and "yahoo" in out


def test_bad_arguments(capsys):
    # A bad value is an input error naming the option (exit 2); a malformed command line is a usage error (64).
    assert main(["data", "show", "--start", "01/02/2024"]) == 2
    assert "--start" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["data"])
    assert info.value.code == 64
