"""What every repository shares: one transaction per call, errors translated at the boundary, bulk helpers.

    class FillRepository(Repository):
        def add(self, fill): with self._tx() as session: ...   # all or nothing; DB errors → StoreError & co.

Each aggregate's repository lives in its own module (``households.py``, ``proposals.py``, ``orders.py``,
``fills.py``, ``runs.py``, ``audit.py`` …) and maps its rows with ``engine.store.mapping``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, Result, Table, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError, StatementError
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Session, sessionmaker

from engine.errors import Conflict, EngineError, StoreError
from engine.store.types import decode_json, encode_json

if TYPE_CHECKING:
    from engine.store.audit import AuditLog

__all__ = ["SYSTEM", "Repository", "bulk_insert", "changed", "normalized", "present", "store_error", "utc_now"]

SYSTEM = "system"
"""The actor of changes no person made."""

_UPGRADE_FIX = "run `robo db upgrade` (or Store.upgrade()) to create or update the tables"
_IN_LIST = 500  # values per IN (...) list: well under SQLite's bound-parameter limit on any build


def utc_now() -> datetime:
    """The current instant, aware UTC (every stored timestamp)."""
    return datetime.now(UTC)


def store_error(cls: type[StoreError], what: str, fix: str, **context: Any) -> StoreError:
    """A store error whose message ends with its fix."""
    return cls(f"{what} — {fix}", fix=fix, **context)


def normalized(value: Any) -> Any:
    """The value as the JSON column gives it back (dataclasses as dicts); raises ValidationError if not JSON-able."""
    return None if value is None else decode_json(encode_json(value))


def changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE statement's ``result`` changed (a compare-and-set's verdict)."""
    return cast(CursorResult[Any], result).rowcount


def _missing_table(exc: DBAPIError) -> bool:
    orig = exc.orig
    return getattr(orig, "sqlstate", None) == "42P01" or "no such table" in str(orig)


def present(session: Session, column: InstrumentedAttribute[str], values: Iterable[str]) -> set[str]:
    """Which of ``values`` the key ``column`` already holds (queried ``_IN_LIST`` at a time)."""
    wanted = sorted(set(values))
    found: set[str] = set()
    for i in range(0, len(wanted), _IN_LIST):
        found.update(session.scalars(select(column).where(column.in_(wanted[i : i + _IN_LIST]))).all())
    return found


def bulk_insert(session: Session, table: type[DeclarativeBase], values: Sequence[dict[str, Any]]) -> None:
    """One Core ``executemany`` INSERT of rows given by ORM attribute name (no ORM objects, no per-row round trip
    to fetch keys); the columns' types (Money, UTCDateTime, JSON) still convert every value."""
    if not values:
        return
    column = {c.key: c.columns[0].key for c in sa_inspect(table).column_attrs}
    session.execute(cast(Table, table.__table__).insert(), [{column[k]: v for k, v in row.items()} for row in values])


class Repository:
    """Shared plumbing: one transaction per call with errors translated at the boundary."""

    def __init__(self, sessions: sessionmaker[Session], audit: AuditLog | None = None) -> None:
        self._sessions = sessions
        self._audit = audit

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        try:
            with self._sessions.begin() as session:
                yield session
        except EngineError:
            raise
        except StatementError as exc:
            if isinstance(exc.orig, EngineError):
                raise exc.orig from exc
            if isinstance(exc, DBAPIError) and _missing_table(exc):
                raise store_error(StoreError, "the database has no store tables yet", _UPGRADE_FIX) from exc
            if isinstance(exc, IntegrityError):
                raise store_error(
                    Conflict,
                    f"the database refused the write: {str(exc.orig).splitlines()[0]}",
                    "check for a duplicate id or a reference to a missing record",
                ) from exc
            if isinstance(exc, OperationalError):  # refused connection, bad credentials, a locked or read-only file
                raise store_error(StoreError, f"cannot use the database: {str(exc.orig).splitlines()[0]}",
                            "check ROBO_DATABASE_URL / --url and that the server runs") from exc
            raise store_error(StoreError, f"database error: {str(exc.orig).splitlines()[0]}", "see the log") from exc
        except SQLAlchemyError as exc:
            raise store_error(StoreError, f"database error: {exc}", "check ROBO_DATABASE_URL and the server") from exc

    @property
    def _log(self) -> AuditLog:
        """The audit log this repository writes to (every repository but the log itself and read models has one)."""
        assert self._audit is not None, "this repository was built without the audit log"
        return self._audit

    def _record(self, session: Session, *, actor: str, action: str, entity: str, entity_id: str,
                household: str | None, before: Any = None, after: Any = None) -> None:
        """One audit entry in the caller's transaction."""
        self._log._write(session, actor=actor, action=action, entity=entity, entity_id=entity_id,
                         household=household, before=before, after=after)
