"""The wheel carries its data and config, and `robo demo` runs from it outside the repository."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

MUST_SHIP = [
    "engine/data/embedded/etfs_adj_close.csv.gz",
    "engine/data/embedded/DATA.md",
    "engine/config/defaults/universe.yaml",
    "engine/config/defaults/households/sample.yaml",
    "engine/config/defaults/tax/us_2026.yaml",
    "engine/config/defaults/esg.yaml",
    "engine/config/defaults/capital_market_assumptions.yaml",
    "engine/store/migrations/env.py",
    "engine/store/migrations/versions/0001_initial_tables.py",
    "backtests/scenarios/demo.yaml",
    "engine/py.typed",
    "brokers/py.typed",
    "backtests/py.typed",
    "robo/py.typed",
    "service/py.typed",
]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    )
    (whl,) = out.glob("adaptive_robo-*.whl")
    return whl


def test_wheel_contents(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in MUST_SHIP:
        assert path in names, f"{path} missing from the wheel"
    assert not any(n.startswith("tests/") for n in names), "tests must not ship"
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "robo = robo.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
    size_mb = wheel.stat().st_size / 1e6
    assert size_mb < 5, f"wheel is {size_mb:.1f} MB"


def test_demo_runs_from_installed_wheel_outside_repo(wheel: Path, tmp_path: Path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": str(target), "ROBO_HOME": str(tmp_path / "home")}
    probe = subprocess.run(
        [sys.executable, "-c", "import engine, robo; print(engine.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    )
    assert probe.stdout.strip().startswith(str(target)), "imported the source tree, not the wheel"
    proc = subprocess.run(
        [sys.executable, "-m", "robo", "demo", "--skip-backtest", "--out", str(tmp_path / "demo")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Universe" in proc.stdout and "Rivera" in proc.stdout
    assert "Reconciliation: ledger and broker positions agree" in proc.stdout
    assert (tmp_path / "demo" / "demo.db").exists()


def test_wheel_carries_licence_and_the_one_version(wheel: Path):
    """The version lives in engine/__init__.py only; the wheel's metadata and `robo --version` read it from there."""
    from engine import __version__

    z = zipfile.ZipFile(wheel)
    assert wheel.name.startswith(f"adaptive_robo-{__version__}-")
    meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    assert f"Version: {__version__}" in meta
    assert "License-Expression: Apache-2.0" in meta  # PEP 639: an SPDX expression, not a table
    licence = z.read(next(n for n in z.namelist() if n.endswith("licenses/LICENSE"))).decode()
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence


def test_robo_version_prints_the_package_version():
    from engine import __version__

    proc = subprocess.run(
        [sys.executable, "-m", "robo", "--version"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"robo (adaptive-robo) {__version__}"
