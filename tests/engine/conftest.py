"""One market, one engine per test session (estimates are cached per day inside the engine)."""

from __future__ import annotations

from datetime import date

import pytest

AS_OF = date(2026, 7, 31)


@pytest.fixture(scope="session")
def market():
    from engine.data import MarketData

    m = MarketData.embedded()
    assert m.last_day == date(2026, 8, 3)
    return m


@pytest.fixture(scope="session")
def engine(market, universe):
    from engine.engine import Engine

    return Engine(market, universe)
