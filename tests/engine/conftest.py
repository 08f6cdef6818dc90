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
def rails():
    """The safety rails as a simulation needs them: kill switch on, no data-age check, orders up to whole equity."""
    from brokers import MarketRule, SafetyPolicy, SafetyRails

    return SafetyRails(SafetyPolicy(max_order_fraction=1.0, max_data_age=None, market=MarketRule.QUEUE_FOR_OPEN))


@pytest.fixture(scope="session")
def engine(market, universe, rails):
    from engine.engine import Engine

    return Engine(market, universe, rails=rails)


@pytest.fixture(scope="session")
def household(universe):
    """The sample household with every account held at the broker the test hands in (no held-away accounts),
    so the execution mechanics are exercised in all four accounts; ``shipped_household`` is the sample as shipped."""
    from dataclasses import replace

    from engine.config import load_household

    h = load_household(universe=universe)
    return replace(h, accounts=tuple(replace(a, broker_account=None) for a in h.accounts))


@pytest.fixture(scope="session")
def shipped_household(universe):
    from engine.config import load_household

    return load_household(universe=universe)
