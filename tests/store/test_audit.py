"""The audit log is append-only: no repository path, no ORM flush, no bulk statement, no raw SQL changes a row."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DatabaseError

from engine.errors import StoreError, ValidationError
from engine.store import AuditLog, Store
from engine.store.tables import AuditRow


def test_append_and_list_filters(store: Store) -> None:
    a = store.audit.append(actor="alex", action="note", entity="household", entity_id="rivera", household="rivera",
                           after={"text": "called the advisor"})
    b = store.audit.append(actor="ops", action="kill_switch", entity="system", entity_id="trading", before=False,
                           after=True)
    assert a.seq < b.seq and a.at.tzinfo is not None
    assert a.after == {"text": "called the advisor"} and b.before is False and b.after is True
    assert store.audit.list() == [a, b]
    assert store.audit.list(household="rivera") == [a]
    assert store.audit.list(entity="system", entity_id="trading") == [b]
    assert store.audit.list(action="note") == [a]
    assert store.audit.list(limit=1) == [b]


def test_append_requires_who_and_what(store: Store) -> None:
    with pytest.raises(ValidationError, match=r"audit.actor"):
        store.audit.append(actor="", action="x", entity="e", entity_id="1")
    assert store.audit.list() == []


def test_repository_has_no_update_or_delete_path() -> None:
    public = {name for name in dir(AuditLog) if not name.startswith("_")}
    assert public == {"append", "list"}


def _one_entry(store: Store) -> None:
    store.audit.append(actor="alex", action="note", entity="household", entity_id="rivera")


def test_orm_flush_of_a_changed_or_deleted_row_is_refused(store: Store) -> None:
    _one_entry(store)
    with store._sessions() as session:
        row = session.get(AuditRow, 1)
        row.actor = "mallory"
        with pytest.raises(StoreError, match=r"append-only"):
            session.commit()
    with store._sessions() as session:
        session.delete(session.get(AuditRow, 1))
        with pytest.raises(StoreError, match=r"append-only"):
            session.commit()
    assert [e.actor for e in store.audit.list()] == ["alex"]


def test_bulk_statements_through_a_session_are_refused(store: Store) -> None:
    _one_entry(store)
    with store._sessions() as session:
        with pytest.raises(StoreError, match=r"append-only"):
            session.execute(update(AuditRow).values(actor="mallory"))
        with pytest.raises(StoreError, match=r"append-only"):
            session.execute(delete(AuditRow.__table__))
    assert [e.actor for e in store.audit.list()] == ["alex"]


@pytest.mark.parametrize("sql", ["UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"])
def test_database_triggers_refuse_raw_sql(store: Store, sql: str) -> None:
    _one_entry(store)
    with pytest.raises(DatabaseError, match=r"append-only"):
        with store._engine.begin() as conn:
            conn.execute(text(sql))
    assert [e.actor for e in store.audit.list()] == ["alex"]
