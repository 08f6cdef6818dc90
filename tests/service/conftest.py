"""The service under test: one migrated SQLite store built once per session (two firms, two households, five
users, a proposal each) and copied for every test, an app over it, and an API token per user.

Households: ``rivera`` (firm northwind, whose clients may approve) and ``smith`` (firm acme, clients may not).
Users: ``root`` (admin), ``alex`` (advisor, northwind), ``bea`` (advisor, acme), ``rosa`` (client of rivera),
``sam`` (client of smith). Every password is ``PASSWORD``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

PASSWORD = "correct horse battery"
PLAN_DAY = date(2026, 7, 30)  # two bars remain in the embedded market: sells fill on 07-31, buys on 08-03
USERS = ("root", "alex", "bea", "rosa", "sam")


@dataclass(frozen=True)
class World:
    """The session's template database and what was made in it."""

    path: Path
    tokens: dict[str, str]
    proposals: dict[str, str]  # household → proposal id


@pytest.fixture(scope="session")
def planner():
    from engine.config import load_universe
    from engine.data import MarketData
    from engine.planner import Planner

    return Planner(MarketData.embedded(), load_universe())


def _sim_broker(planner, household):
    from brokers.simulated import SimulatedBroker

    positions: dict[str, dict[str, Decimal]] = {}
    for lot in household.lots:
        book = positions.setdefault(lot.account, {})
        book[lot.symbol] = book.get(lot.symbol, Decimal(0)) + lot.shares
    return SimulatedBroker(planner.market.prices, accounts={a.id: a.cash for a in household.accounts},
                           start=PLAN_DAY, positions=positions, assets=planner.universe)


def make_cycle(planner, store):
    from brokers import MarketRule, SafetyPolicy, SafetyRails
    from engine.cycle import Cycle

    policy = SafetyPolicy(market=MarketRule.QUEUE_FOR_OPEN, max_data_age=None, read_environment=False)
    return Cycle(planner, store=store, rails=SafetyRails(policy))


@pytest.fixture(scope="session")
def world(tmp_path_factory, planner, household) -> World:
    from engine.store import Firm, Role, Store, User
    from service.auth import hash_password, issue_token

    path = tmp_path_factory.mktemp("service") / "template.db"
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    smith = replace(household, id="smith", name="Smith household")
    store.households.add(household)
    store.households.add(smith)
    store.users.add_firm(Firm("northwind", "Northwind Advisors", clients_may_approve=True))
    store.users.add_firm(Firm("acme", "Acme Wealth", clients_may_approve=False))
    store.users.assign("rivera", "northwind")
    store.users.assign("smith", "acme")
    hashed = hash_password(PASSWORD)
    store.users.add(User("root", "Root Admin", Role.ADMIN), password_hash=hashed)
    store.users.add(User("alex", "Alex Kim", Role.ADVISOR, firm="northwind"), password_hash=hashed)
    store.users.add(User("bea", "Bea Stone", Role.ADVISOR, firm="acme"), password_hash=hashed)
    store.users.add(User("rosa", "Rosa Rivera", Role.CLIENT, households=("rivera",)), password_hash=hashed)
    store.users.add(User("sam", "Sam Smith", Role.CLIENT, households=("smith",)), password_hash=hashed)
    tokens = {u: issue_token(store, u, name="tests") for u in USERS}
    cycle = make_cycle(planner, store)
    proposals = {}
    for hid in ("rivera", "smith"):
        proposals[hid] = cycle.plan(hid, PLAN_DAY, proposal_id=f"p-{hid}").id
    store.close()
    return World(path, tokens, proposals)


@pytest.fixture
def store(world, tmp_path) -> Iterator:
    """A fresh copy of the template database for this test."""
    from engine.store import Store

    path = tmp_path / "service.db"
    shutil.copy(world.path, path)
    s = Store(f"sqlite:///{path}")
    yield s
    s.close()


@pytest.fixture
def app(store, planner):
    from service import create_app

    return create_app(store, lambda: make_cycle(planner, store), brokers_for=lambda h, p: _sim_broker(planner, h))


@pytest.fixture
def client(app) -> Iterator:
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture
def auth(world):
    """``auth("alex")`` → the Authorization header of alex's API token."""
    return lambda user: {"Authorization": f"Bearer {world.tokens[user]}"}
