"""Fixtures of the backtest suite: a tiny household and synthetic price tables with pinned shapes."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest

from backtests.market import PriceTable


def household(accounts: list[dict[str, Any]]) -> dict[str, Any]:
    """An inline household YAML dict with the given accounts."""
    return {"id": "t", "name": "Test", "members": [{"id": "m", "name": "M", "birth_date": "1980-01-01"}],
            "tax": {"filing_status": "single", "ordinary_income": 250000, "state_rate": 0.05},
            "accounts": accounts}


def weekdays(start: date, n: int) -> tuple[date, ...]:
    out, d = [], start
    while len(out) < n:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return tuple(out)


@pytest.fixture(scope="session")
def falling_prices() -> PriceTable:
    """VTI and IVV (substitutes) and BND falling for a year with noise, seed 1; 260 weekdays of 2022."""
    rng = np.random.default_rng(1)
    days = weekdays(date(2022, 1, 3), 260)
    n = len(days)
    drift = np.linspace(0, np.log(0.6), n)
    common = np.cumsum(rng.normal(0, 0.012, n))
    vti = 100 * np.exp(drift + common)
    ivv = 200 * np.exp(drift + common + np.cumsum(rng.normal(0, 0.002, n)))
    bnd = 80 * np.exp(np.linspace(0, np.log(0.9), n))
    table = PriceTable(days, ("VTI", "IVV", "BND"), np.column_stack([vti, ivv, bnd]))
    assert table.prices.shape == (260, 3)
    return table
