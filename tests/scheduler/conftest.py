"""Scheduler fixtures: a migrated store per backend (PostgreSQL in a private random schema), households, broker."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from engine.model import Household
from engine.scheduler import FixedClock, SchedulerConfig, load_scheduler_config
from engine.store import Store
from tests.scheduler._sim import SharedBroker, households

# Wednesday 2024-11-27, 15:05 New York: harvest scan and drift check (15:00) are due, the market is open.
AT_1505 = datetime(2024, 11, 27, 20, 5, tzinfo=UTC)


@pytest.fixture
def homes(store: Store, household: Household) -> list[str]:
    """Five stored households h00..h04."""
    hs = households(household, 5)
    for h in hs:
        store.households.add(h)
    return [h.id for h in hs]


@pytest.fixture
def broker(db_url: str) -> Iterator[SharedBroker]:
    b = SharedBroker(db_url).create()
    yield b
    b.close()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(AT_1505)


@pytest.fixture(scope="session")
def config() -> SchedulerConfig:
    return load_scheduler_config()


@pytest.fixture(scope="session")
def household(universe) -> Household:
    """The sample household with every account held at the test's broker (the scheduler's mechanics are under
    test here; held-away accounts and advice are tested in tests/cycle)."""
    from dataclasses import replace

    from engine.config import load_household

    h = load_household(universe=universe)
    return replace(h, accounts=tuple(replace(a, broker_account=None) for a in h.accounts))
