"""The append-only audit log: who did what to which entity, when, with the JSON before and after.

    store.audit.append(actor="alex", action="note", entity="household", entity_id="rivera", after={"x": 1})
    store.audit.list(household="rivera")[-1].action      # 'note'

Rows are never updated or deleted (the ORM, the session and database triggers refuse it: see store.py and
tables.py). Repositories write their entries through ``_write`` / ``_write_many`` in their own transaction.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import ValidationError
from engine.store.base import Repository, bulk_insert, normalized, utc_now
from engine.store.mapping import RowMapper
from engine.store.records import AuditEntry
from engine.store.tables import AuditRow

__all__ = ["AUDIT", "AuditLog", "audit_entry"]

#: Audit entries ↔ ``audit_log`` rows (``seq`` is the database's).
AUDIT: RowMapper[AuditEntry] = RowMapper(AuditEntry, AuditRow, renames={"household": "household_id"},
                                         generated=("seq",))


def audit_entry(row: AuditRow) -> AuditEntry:
    """The entry an ``audit_log`` row holds."""
    return AUDIT.to_domain(row)


class AuditLog(Repository):
    """The append-only audit log: ``append`` and ``list`` only; rows are never updated or deleted."""

    def append(self, *, actor: str, action: str, entity: str, entity_id: str, household: str | None = None,
               before: Any = None, after: Any = None) -> AuditEntry:
        """Append one entry (``before``/``after`` any JSON-able value, dataclasses included) and return it."""
        with self._tx() as session:
            row = self._write(session, actor=actor, action=action, entity=entity, entity_id=entity_id,
                              household=household, before=before, after=after)
            session.flush()
            return audit_entry(row)

    def list(self, *, household: str | None = None, entity: str | None = None, entity_id: str | None = None,
             action: str | None = None, limit: int | None = None) -> builtins.list[AuditEntry]:
        """Entries matching every given filter, oldest first (``limit`` keeps the newest ``limit``)."""
        stmt = select(AuditRow)
        if household is not None:
            stmt = stmt.where(AuditRow.household_id == household)
        if entity is not None:
            stmt = stmt.where(AuditRow.entity == entity)
        if entity_id is not None:
            stmt = stmt.where(AuditRow.entity_id == entity_id)
        if action is not None:
            stmt = stmt.where(AuditRow.action == action)
        stmt = stmt.order_by(AuditRow.seq.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._tx() as session:
            return [audit_entry(r) for r in reversed(session.scalars(stmt).all())]

    def _write(self, session: Session, *, actor: str, action: str, entity: str, entity_id: str,
               household: str | None, before: Any, after: Any) -> AuditRow:
        row = AuditRow(**_audit_values(actor=actor, action=action, entity=entity, entity_id=entity_id,
                                       household=household, before=before, after=after, at=utc_now()))
        session.add(row)
        return row

    def _write_many(self, session: Session, entries: Sequence[dict[str, Any]]) -> None:
        """Append many entries (``_write``'s keyword arguments each) with one bulk INSERT, in order."""
        at = utc_now()
        values = [_audit_values(**e, at=at, normalize=False) for e in entries]
        session.flush()  # entries written one by one earlier in the transaction keep their lower seq
        bulk_insert(session, AuditRow, values)


def _audit_values(*, actor: str, action: str, entity: str, entity_id: str, household: str | None, before: Any,
                  after: Any, at: datetime, normalize: bool = True) -> dict[str, Any]:
    """An audit row's values, checked as every entry is (non-empty actor, action, entity and entity id).

    ``normalize=False`` leaves ``before``/``after`` to the JSON column, which encodes them the same way on
    insert (and refuses what is not JSON-able); the ORM row needs them normalized to read back as stored.
    """
    for name, value in (("actor", actor), ("action", action), ("entity", entity), ("entity_id", entity_id)):
        if not isinstance(value, str) or not value.strip():
            raise ValidationError("must be a non-empty string", field=f"audit.{name}", value=value)
    if normalize:
        before, after = normalized(before), normalized(after)
    entry = AuditEntry(seq=0, at=at, actor=actor, action=action, entity=entity, entity_id=entity_id,
                       household=household, before=before, after=after)
    return AUDIT.values(entry)
