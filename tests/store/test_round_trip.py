"""Every field of every stored domain type survives the store (issue 23, item 3 "One schema").

Hypothesis draws households (members with Social Security and pensions, accounts, lots, loss sales, goals, life
events, risk, values, tax), proposals with orders, fills and realizations over every field, stores them on SQLite
(and PostgreSQL when ROBO_TEST_DATABASE_URL is set), reads them back and asserts equality. The guard below fails,
naming the field, when a stored type gains a field the strategies never set to a non-default value — so a new field
cannot be silently left out of the store (the way ``Lot.replaceable`` once was, which became a wash-sale bug).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from engine.model import (
    Account,
    DirectIndex,
    Fill,
    Goal,
    Household,
    IncomeStream,
    LifeEvent,
    LossSale,
    Lot,
    Member,
    Order,
    Proposal,
    ProposalStatus,
    RiskProfile,
    SocialSecurity,
    TaxProfile,
    Values,
)
from engine.store import Store
from engine.store.realizations import realization_key
from engine.tax import Realization
from tests.store.strategies import fills, households, proposals, realizations

#: Every domain type the store persists (directly or as a part of an aggregate).
STORED: tuple[type, ...] = (
    Household, Member, SocialSecurity, IncomeStream, Account, Lot, LossSale, Goal, LifeEvent, RiskProfile, Values,
    TaxProfile, Proposal, Order, Fill, Realization, DirectIndex,
)

_ROUND_TRIP = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"  # the store is shared across a test's examples


@_ROUND_TRIP
@given(h=households())
def test_households_round_trip_every_field(store: Store, h: Household) -> None:
    h = dataclasses.replace(h, id=_unique(h.id))
    store.households.add(h)
    assert store.households.get(h.id) == h
    changed = dataclasses.replace(h, name=h.name + "!", lots=h.lots[1:], events=h.events[:1])
    store.households.update(changed)
    assert store.households.get(h.id) == changed


@_ROUND_TRIP
@given(data=st.data())
def test_proposals_round_trip_every_field_with_their_orders(store: Store, household: Household,
                                                            data: st.DataObject) -> None:
    if not store.households.list():
        store.households.add(household)
    p = data.draw(proposals(_unique("p"), household.id))
    p = dataclasses.replace(p, status=ProposalStatus.PROPOSED)  # a new proposal starts proposed (the state machine)
    store.proposals.add(p)
    assert store.proposals.get(p.id) == p
    assert [r.order for r in store.orders.for_proposal(p.id)] == list(p.orders)


@_ROUND_TRIP
@given(data=st.data())
def test_fills_round_trip_every_field(store: Store, data: st.DataObject) -> None:
    household = _unique("h")
    stored = [data.draw(fills(_unique("f"))) for _ in range(data.draw(st.integers(1, 3)))]
    for fill in stored:
        assert store.fills.add(fill, household=household) is True
        assert store.fills.add(fill, household=household) is False  # idempotent: the same fill again is a no-op
    assert sorted(store.fills.for_household(household), key=lambda f: f.id) == sorted(stored, key=lambda f: f.id)


@_ROUND_TRIP
@given(data=st.data())
def test_realizations_round_trip_every_field(store: Store, data: st.DataObject) -> None:
    """Sales and amendments (here: of sales stored before the store kept realizations, so read back as they are)."""
    household = _unique("h")
    sales = _by_key(data.draw(st.lists(realizations(2026), max_size=4)), amendment=False)
    amendments = _by_key((dataclasses.replace(r, id=f"amend-{r.id}") for r in
                          data.draw(st.lists(realizations(2026), max_size=2))), amendment=True)
    assert store.realizations.add_many(household, sales.values(), amendments.values()) == len(sales) + len(amendments)
    back = store.realizations.for_year(household, 2026, include_sheltered=True)
    expected = [*sales.values(), *amendments.values()]
    assert sorted(back, key=_order) == sorted(expected, key=_order)


def _by_key(rs: Iterable[Realization], *, amendment: bool) -> dict[str, Realization]:
    return {realization_key(r, amendment=amendment): r for r in rs}


def _order(r: Realization) -> tuple[Any, ...]:
    # By value (the key formats Decimals as given, so 0E-18 and 0, equal values, give different keys).
    return (r.id, r.account, r.symbol, r.sold, r.acquired, r.shares, r.proceeds, r.basis, r.disallowed, r.lost,
            r.term.value, r.lot_id, r.reportable, r.replacements)


# ---------------------------------------------------------------------------------------------
# The guard: a field the strategies never set is a field the round trip does not prove
# ---------------------------------------------------------------------------------------------


def _non_default(obj: Any, f: dataclasses.Field[Any]) -> bool:
    value = getattr(obj, f.name)
    if f.default is not dataclasses.MISSING:
        return bool(value != f.default)
    if f.default_factory is not dataclasses.MISSING:
        return bool(value != f.default_factory())
    return True  # a required field is always set


def _collect(value: Any, seen: dict[type, set[str]]) -> None:
    """Record, per dataclass type reached from ``value``, the fields that hold a non-default value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = seen.setdefault(type(value), set())
        for f in dataclasses.fields(value):
            if _non_default(value, f):
                names.add(f.name)
            _collect(getattr(value, f.name), seen)
    elif isinstance(value, tuple | list | frozenset):
        for item in value:
            _collect(item, seen)


def test_the_strategies_set_every_field_of_every_stored_type() -> None:
    seen: dict[type, set[str]] = {}
    everything = st.tuples(households(), proposals("p", "h"), fills("f"), realizations(2026))

    @settings(max_examples=80, deadline=None, derandomize=True, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(everything)
    def collect(drawn: tuple[Any, ...]) -> None:
        _collect(drawn, seen)

    collect()
    unknown = sorted(t.__name__ for t in seen if t not in STORED)
    assert not unknown, f"dataclasses reached from stored objects but not listed in STORED: {unknown}"
    missing = [
        f"{cls.__name__}.{f.name}"
        for cls in STORED
        for f in dataclasses.fields(cls)
        if f.name not in seen.get(cls, set())
    ]
    assert not missing, (
        f"fields never given a non-default value by tests/store/strategies.py: {missing} — "
        "generate them there (and persist them in engine/store) so the round trip proves they survive"
    )


def test_the_guard_names_a_field_the_strategies_leave_at_its_default() -> None:
    """The guard can fail: a lot whose ``replaceable`` is never set is reported by name."""
    seen: dict[type, set[str]] = {}
    _collect(Lot("l1", "a", "VTI", 1, 1, date(2026, 1, 2)), seen)
    assert "replaceable" not in seen[Lot] and "basis_source" not in seen[Lot] and "symbol" in seen[Lot]


@pytest.mark.parametrize("cls", STORED, ids=lambda c: c.__name__)
def test_every_stored_type_is_a_dataclass(cls: type) -> None:
    assert dataclasses.fields(cls)
