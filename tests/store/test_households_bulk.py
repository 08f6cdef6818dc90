"""``store.households.add_many``: a bulk import stores, audits and reads back every household exactly as ``add``
does one by one, in one transaction (all or none). Runs on SQLite and, with ROBO_TEST_DATABASE_URL, PostgreSQL."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from engine.errors import Conflict, NotFound, ValidationError
from engine.model import Household
from engine.store import Firm, Store
from engine.store.tables import Base
from tests.store.strategies import households


def _row_counts(store: Store) -> dict[str, int]:
    with store._engine.connect() as conn:
        return {t.name: conn.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def _copies(household: Household, n: int) -> list[Household]:
    return [dataclasses.replace(household, id=f"{household.id}-{i}", name=f"{household.name} {i}") for i in range(n)]


def _rows_of(store: Store, household_id: str) -> dict[str, list[dict]]:
    """Every stored row of one household, per table, without its id and timestamps (what must not differ)."""
    out = {}
    with store._engine.connect() as conn:
        for t in Base.metadata.sorted_tables:
            key = t.c.get("household_id") if t.name != "households" else t.c.id
            if key is None or t.name in ("audit_log", "proposals", "runs", "fills"):
                continue
            rows = conn.execute(select(t).where(key == household_id)).mappings().all()
            drop = {"household_id", "created_at", "updated_at"} | ({"id"} if t.name == "households" else set())
            out[t.name] = sorted(({k: v for k, v in r.items() if k not in drop} for r in rows), key=repr)
    return out


def test_bulk_writes_the_same_rows_as_one_by_one(store: Store, household: Household) -> None:
    """The same households through add (ids a-…) and through add_many (ids b-…): identical rows and reads."""
    one = [dataclasses.replace(h, id=f"a-{i}") for i, h in enumerate(_copies(household, 3))]
    bulk = [dataclasses.replace(h, id=f"b-{i}") for i, h in enumerate(_copies(household, 3))]
    for h in one:
        store.households.add(h, actor="ops")
    store.households.add_many(bulk, actor="ops")
    for a, b in zip(one, bulk, strict=True):
        assert _rows_of(store, a.id) == _rows_of(store, b.id)
        assert store.households.get(b.id) == dataclasses.replace(store.households.get(a.id), id=b.id) == b
    adds = {e.entity_id: e for e in store.audit.list(action="household.add")}
    for a, b in zip(one, bulk, strict=True):
        assert adds[b.id].after == adds[a.id].after | {"id": b.id} and adds[b.id].actor == "ops"


def test_add_many_round_trips_and_audits_each(store: Store, household: Household) -> None:
    batch = _copies(household, 7)
    store.households.add_many(batch, actor="importer")
    assert [store.households.get(h.id) for h in batch] == batch
    entries = store.audit.list(action="household.add")
    assert [e.entity_id for e in entries] == [h.id for h in batch] and {e.actor for e in entries} == {"importer"}
    # the audit's "after" is what add writes for the same household
    store.households.add(dataclasses.replace(household, id="single", name=f"{household.name} 0"), actor="importer")
    [single] = store.audit.list(entity_id="single", action="household.add")
    assert single.after == entries[0].after | {"id": "single"}
    counts = _row_counts(store)
    assert (counts["households"], counts["lots"], counts["goals"]) == (8, 8 * len(household.lots),
                                                                      8 * len(household.goals))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hs=st.lists(households(), min_size=1, max_size=4))
def test_generated_households_round_trip_in_bulk(store: Store, hs: list[Household]) -> None:
    tag = uuid.uuid4().hex[:8]  # the store is shared across examples
    hs = [dataclasses.replace(h, id=f"{h.id}-{tag}-{i}") for i, h in enumerate(hs)]
    store.households.add_many(hs)
    assert [store.households.get(h.id) for h in hs] == hs


def test_a_stored_id_refuses_the_whole_batch(store: Store, household: Household) -> None:
    batch = _copies(household, 3)
    store.households.add(batch[1])
    before = _row_counts(store)
    with pytest.raises(Conflict, match=f"{batch[1].id!r} is already stored"):
        store.households.add_many(batch)
    assert _row_counts(store) == before  # nothing of the batch, not even the new ones


def test_an_id_twice_in_the_batch_is_refused(store: Store, household: Household) -> None:
    with pytest.raises(ValidationError) as info:
        store.households.add_many([household, household])
    assert info.value.field == "households.id" and info.value.value == [household.id]
    assert set(_row_counts(store).values()) == {0}


def test_a_firm_serves_the_batch_from_the_same_transaction(store: Store, household: Household) -> None:
    with pytest.raises(NotFound):
        store.households.add_many(_copies(household, 2), firm="nosuch")
    assert store.households.list() == []
    store.users.add_firm(Firm("big", "Big Advisors"))
    store.households.add_many(_copies(household, 3), firm="big", actor="ops")
    assert store.users.households_of_firm("big") == [f"{household.id}-{i}" for i in range(3)]
    assigned = store.audit.list(action="household.assign_firm")
    assert len(assigned) == 3 and {e.actor for e in assigned} == {"ops"}
    # add(firm=...) does the same for one household
    store.households.add(dataclasses.replace(household, id="solo"), firm="big")
    assert store.users.firm_of("solo") == "big"


def test_an_empty_batch_does_nothing(store: Store) -> None:
    store.households.add_many([])
    assert set(_row_counts(store).values()) == {0}
