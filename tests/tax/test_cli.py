"""``robo tax`` commands on the sample household and the embedded prices (offline)."""

from __future__ import annotations

from robo.cli import main


def test_tax_rates(capsys):
    assert main(["tax", "rates", "sample"]) == 0
    out = capsys.readouterr().out
    assert "short-term 31.30%" in out and "long-term 24.30%" in out and "BND" in out


def test_tax_lots_skips_lots_bought_later(capsys):
    assert main(["tax", "lots", "sample", "--as-of", "2024-06-03"]) == 0
    out = capsys.readouterr().out
    assert "b1" in out and " b2 " not in out  # b2 was bought 2025-11-03


def test_tax_harvest_explains_decisions_and_skips(capsys):
    assert main(["tax", "harvest", "sample", "--as-of", "2022-10-12"]) == 0
    out = capsys.readouterr().out
    assert "harvest long-term loss" in out and "VNQ has no substitute group" in out
