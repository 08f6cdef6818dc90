"""A store with the shipped sample household, the one cycle over the embedded prices, the simulation's rails."""

from __future__ import annotations

from datetime import date

import pytest

PLAN_DAY = date(2026, 7, 30)  # two bars remain: sells fill on 07-31, buys on 08-03


@pytest.fixture(scope="module")
def market():
    from engine.data import MarketData

    return MarketData.embedded()


@pytest.fixture()
def store(tmp_path):
    from engine.store import Store

    s = Store(f"sqlite:///{tmp_path / 'robo.db'}")
    s.upgrade()
    yield s
    s.close()


@pytest.fixture()
def cycle(market, universe, store, household):
    from brokers import rails_for
    from engine.cycle import Cycle
    from engine.planner import Planner

    store.households.add(household)
    return Cycle(Planner(market, universe), store=store, rails=rails_for(), actor="test")
