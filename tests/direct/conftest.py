"""Fixtures of the direct-indexing tests: the S&P 500 research set read in place (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def sp500_dir() -> Path:
    """``ROBO_SP500_DIR`` if set, else ``../shared/data/sp500`` relative to the repository."""
    env = os.environ.get("ROBO_SP500_DIR")
    return Path(env) if env else ROOT.parent / "shared" / "data" / "sp500"


@pytest.fixture(scope="session")
def sp500():
    folder = sp500_dir()
    if not (folder / "sp500_adj_close.csv.gz").is_file():
        pytest.skip(f"S&P 500 research set not found at {folder} (set ROBO_SP500_DIR); it is never shipped: "
                    "its redistribution terms are unsettled")
    from engine.data.stocks import load_sp500

    data = load_sp500(folder)
    assert data.prices.shape == (5359, 504)
    return data
