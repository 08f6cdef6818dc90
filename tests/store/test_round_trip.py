"""Every field of every stored type survives the store (issue 23, item 3 "One schema").

Hypothesis draws households (members with Social Security and pensions, accounts, lots, loss sales, goals, life
events, risk, values, tax), proposals with orders, fills and realizations over every field, stores them through
their repositories on SQLite (and PostgreSQL when ROBO_TEST_DATABASE_URL is set), reads them back and asserts
equality. Every row mapper of engine/store (``RowMapper``) is also round-tripped on its own through its table —
the records (audit entries, runs, transitions, firms, users, tokens, idempotency keys, job runs, pauses,
wake-ups, alerts) included. The guards below fail, naming what is missing, when a mapper has no strategy here,
when a mapped type is not listed in ``STORED``, or when a stored type gains a field the strategies never set to a
non-default value — so a new field cannot be silently left out of the store (the way ``Lot.replaceable`` once
was, which became a wash-sale bug). A field with no column fails earlier still: its mapper refuses to be built.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import uuid
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select
from sqlalchemy import text as sql

import engine.store
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
from engine.store import (
    AuditEntry,
    Firm,
    IdempotencyRecord,
    ProposalTransition,
    RunRecord,
    Store,
    TokenRecord,
    User,
)
from engine.store.jobs import JobRun, Pause, SchedulerAlert, Wakeup
from engine.store.mapping import RowMapper
from engine.store.realizations import realization_key
from engine.tax import Realization
from tests.store.strategies import (
    direct_indexes,
    fills,
    households,
    ids,
    instants,
    json_values,
    orders,
    proposals,
    realizations,
    records,
    text,
)

#: Every type the store persists (directly, as a part of an aggregate, or in a JSON document).
STORED: tuple[type, ...] = (
    Household, Member, SocialSecurity, IncomeStream, Account, Lot, LossSale, Goal, LifeEvent, RiskProfile, Values,
    TaxProfile, Proposal, Order, Fill, Realization, DirectIndex, AuditEntry, RunRecord, ProposalTransition, Firm, User,
    TokenRecord, IdempotencyRecord, JobRun, Pause, Wakeup, SchedulerAlert,
)


def _part(name: str) -> st.SearchStrategy[Any]:
    """One of a drawn household's ``name`` (members, lots …)."""
    return households().filter(lambda h: bool(getattr(h, name))).flatmap(lambda h: st.sampled_from(getattr(h, name)))


#: A strategy for the objects of every row mapper of engine/store, by ``module.NAME``.
MAPPED: dict[str, Callable[[], st.SearchStrategy[Any]]] = {
    "households.HOUSEHOLDS": households,
    "households.MEMBERS": lambda: _part("members"),
    "households.ACCOUNTS": lambda: _part("accounts"),
    "households.LOTS": lambda: _part("lots"),
    "households.LOSS_SALES": lambda: _part("loss_sales"),
    "households.GOALS": lambda: _part("goals"),
    "households.EVENTS": lambda: _part("events"),
    "proposals.PROPOSALS": lambda: proposals("p1", "h1"),
    "proposals.TRANSITIONS": lambda: records(ProposalTransition),
    "orders.ORDERS": lambda: orders("o1"),
    "fills.FILLS": lambda: fills("f1"),
    "realizations.REALIZATIONS": lambda: realizations(2026),
    "audit.AUDIT": lambda: records(AuditEntry, before=json_values, after=json_values),
    "runs.RUNS": lambda: records(RunRecord, summary=json_values),
    "people.FIRMS": lambda: records(Firm, id=ids, name=text.filter(str.strip)),
    "people.USERS": lambda: records(User, id=ids, firm=ids),
    "people.TOKENS": lambda: records(TokenRecord),
    "people.IDEMPOTENCY": lambda: records(IdempotencyRecord, response=json_values,
                                          method=st.sampled_from(["POST", "PUT", "PATCH", "DELETE"])),
    "jobs.JOB_RUNS": lambda: records(JobRun, produced=json_values),
    "jobs.PAUSES": lambda: records(Pause),
    "jobs.WAKEUPS": lambda: records(Wakeup),
    "jobs.ALERTS": lambda: records(SchedulerAlert),
}

#: Values of the columns that are a row's own, not a field's (its household, its place, its times …).
KEYS: dict[str, st.SearchStrategy[Any]] = {
    "household_id": ids, "proposal_id": ids, "position": st.integers(0, 1000), "status": ids, "key": ids,
    "amendment": st.booleans(), "password_hash": text, "secret_hash": ids, "created_at": instants,
    "updated_at": instants, "recorded_at": instants, "completed_at": st.none() | instants,
}


def _mappers() -> dict[str, RowMapper[Any]]:
    """Every module-level ``RowMapper`` of engine/store, once each, by the first ``module.NAME`` in MAPPED that
    holds it (or its first name, when no strategy is listed for it: the coverage test then names it)."""
    names: dict[int, list[str]] = {}
    mappers: dict[int, RowMapper[Any]] = {}
    for info in pkgutil.iter_modules(engine.store.__path__):
        module = importlib.import_module(f"engine.store.{info.name}")
        for name, value in vars(module).items():
            if isinstance(value, RowMapper):
                names.setdefault(id(value), []).append(f"{info.name}.{name}")
                mappers[id(value)] = value
    out: dict[str, RowMapper[Any]] = {}
    for key, mapper in mappers.items():
        listed = [n for n in names[key] if n in MAPPED]
        out[(listed or names[key])[0]] = mapper
    return out


MAPPERS = _mappers()

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
    # One household covers its parts (members, lots …); each other mapper's objects come from its own strategy.
    whole = [strategy() for name, strategy in MAPPED.items()
             if not name.startswith("households.") or name == "households.HOUSEHOLDS"]
    # A sleeve needs a taxable account, which few drawn households have: its fields are drawn on their own too.
    whole.append(direct_indexes(("brokerage",)))
    everything = st.tuples(*whole)

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


# ---------------------------------------------------------------------------------------------
# Every row mapper, on its own, through its table
# ---------------------------------------------------------------------------------------------


def test_every_row_mapper_has_a_strategy_and_every_mapped_type_is_listed() -> None:
    assert sorted(MAPPERS) == sorted(MAPPED), "list a strategy in MAPPED for every RowMapper of engine/store"
    mapped = {m.domain for m in MAPPERS.values()} | {sub.domain for m in MAPPERS.values() for _, sub in m._nested}
    assert not sorted(t.__name__ for t in mapped - set(STORED)), "list every mapped type in STORED"


@pytest.mark.parametrize("name", sorted(MAPPED))
def test_every_row_mapper_round_trips_every_field_through_its_table(store: Store, name: str) -> None:
    """The mapper's values go into its table and come back equal (Money, UTCDateTime and JSON columns included).

    Each example runs in a transaction that is rolled back, with foreign keys unchecked: a row is checked alone.
    """
    mapper = MAPPERS[name]

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(obj=MAPPED[name](), data=st.data())
    def check(obj: Any, data: st.DataObject) -> None:
        keys = {k: data.draw(KEYS[k], label=k) for k in mapper.keys}
        with store._sessions() as session, session.begin():
            if session.bind.dialect.name == "sqlite":
                session.execute(sql("PRAGMA defer_foreign_keys = ON"))  # checked at commit; rolled back instead
            else:
                session.execute(sql("SET LOCAL session_replication_role = replica"))  # no FK triggers
            session.execute(insert(mapper.table), [mapper.values(obj, **keys)])
            row = session.scalars(select(mapper.table)).one()
            document = json_round_trip(mapper.document(obj))
            back = mapper.to_domain(row, {c: getattr(obj, c) for c in mapper.children}, document)
            assert {k: getattr(row, k) for k in keys} == keys
            session.rollback()
        generated = {f.name: getattr(back, f.name) for f in dataclasses.fields(back) if f.name in mapper.generated}
        assert back == dataclasses.replace(obj, **generated)

    check()


def json_round_trip(doc: dict[str, Any]) -> dict[str, Any]:
    """A document as a JSON column gives it back (text and all)."""
    import json

    from engine.store.types import decode_json, encode_json

    return dict(decode_json(json.loads(json.dumps(encode_json(doc)))))
