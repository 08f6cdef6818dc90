"""The HTML report opens in headless Chromium without console errors and renders non-blank; the CLI runs."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from backtests import load_scenario, run_scenario

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    sc = load_scenario("esg").with_strategies(["esg_static_80_20", "esg_static_tlh", "conventional_80_20"])
    result = run_scenario(sc, processes=1)
    path = result.report(tmp_path_factory.mktemp("report") / "esg.html")
    assert path.exists()
    return path


def test_report_is_self_contained_with_pngs(report: Path):
    text = report.read_text()
    assert "<script" not in text and "http://" not in text and "https://" not in text
    assert text.count("data:image/png;base64,") >= 5
    assert "esg_static_tlh" in text and "Taxes are modelled" in text
    pngs = sorted(p.name for p in (report.parent / "esg_png").glob("*.png"))
    assert {"equity.png", "drawdown.png", "allocation.png", "taxes.png", "goals.png"} <= set(pngs)


def _chromium_or_skip() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but chromium is not installed (apt-get install -y chromium)")
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    return CHROMIUM


def test_report_opens_in_headless_chromium_without_console_errors(report: Path, tmp_path: Path):
    exe = _chromium_or_skip()
    proc = subprocess.run(
        [exe, *FLAGS, "--enable-logging=stderr", "--v=0", f"--user-data-dir={tmp_path / 'profile'}",
         "--dump-dom", report.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Backtest: esg" in proc.stdout
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "error" in line.lower()], console


def test_report_screenshot_is_not_blank(report: Path, tmp_path: Path):
    exe = _chromium_or_skip()
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [exe, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
         "--window-size=1280,1600", report.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    import matplotlib.image as mpimg
    import numpy as np

    img = mpimg.imread(shot)
    assert img.shape[0] > 500 and img.shape[1] > 500
    assert float(np.std(img[..., :3])) > 0.05  # not a single flat colour
    assert len(np.unique((img[..., :3] * 255).astype(int).reshape(-1, 3), axis=0)) > 50


def test_cli_backtest_prints_the_table_and_writes_the_report(tmp_path: Path, capsys):
    from robo.cli import main

    out = tmp_path / "r.html"
    code = main(["backtest", "esg", "--strategies", "esg_static_80_20,conventional_80_20",
                 "--processes", "1", "--report", str(out), "--save", str(tmp_path / "csv")])
    text = capsys.readouterr().out
    assert code == 0 and out.exists()
    assert "esg_static_80_20" in text and "conventional_80_20" in text and "report:" in text
    assert (tmp_path / "csv" / "provenance.json").exists()


def test_cli_unknown_strategy_is_a_clean_error(capsys):
    from robo.cli import main

    assert main(["backtest", "esg", "--strategies", "nope"]) == 2
    assert "no strategy" in capsys.readouterr().out
