"""``Store``: one database (SQLite by default, PostgreSQL by URL) and its repositories.

    store = Store.from_settings(); store.upgrade()
    store.households.add(household); store.households.get(household.id)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import ORMExecuteState, sessionmaker

from engine.errors import StoreError
from engine.settings import Settings
from engine.store.audit import AuditLog
from engine.store.db import make_engine, redact
from engine.store.fills import FillRepository
from engine.store.households import HouseholdRepository
from engine.store.jobs import JobRunRepository
from engine.store.migrate import current_engine, upgrade_engine
from engine.store.orders import OrderRepository
from engine.store.people import UserRepository
from engine.store.proposals import ProposalRepository
from engine.store.realizations import RealizationRepository
from engine.store.runs import RunRepository
from engine.store.summaries import SummaryRepository
from engine.store.tables import AuditRow

__all__ = ["Store"]


class Store:
    """The store at ``url`` (None: ``Settings().resolved_database_url``, a SQLite file under ROBO_HOME).

    Repositories: ``households``, ``proposals``, ``orders``, ``fills``, ``runs``, ``audit``, ``job_runs``,
    ``users`` (firms, users, tokens, idempotency keys), ``summaries`` (scoped, paged lists), ``realizations``
    (every realized gain and loss, for Form 8949). Call
    ``upgrade()`` once to create or migrate the tables. Close with ``close()`` or use as a context manager.

    Raises:
        ConfigError: the URL is malformed or its driver is missing (with the install hint).
    """

    def __init__(self, url: str | None = None, *, echo: bool = False, create: bool = True) -> None:
        self.url = url if url is not None else Settings().resolved_database_url
        if not create:
            _require_existing(self.url)
        self._engine = make_engine(self.url, echo=echo, create=create)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        event.listen(self._sessions, "do_orm_execute", _refuse_audit_changes)
        self.audit = AuditLog(self._sessions)
        self.households = HouseholdRepository(self._sessions, self.audit)
        self.proposals = ProposalRepository(self._sessions, self.audit)
        self.orders = OrderRepository(self._sessions, self.audit)
        self.fills = FillRepository(self._sessions, self.audit)
        self.runs = RunRepository(self._sessions, self.audit)
        self.job_runs = JobRunRepository(self._sessions, self.audit)  # the scheduler's runs (engine/store/jobs.py)
        self.users = UserRepository(self._sessions, self.audit)  # people and permissions (engine/store/people.py)
        self.summaries = SummaryRepository(self._sessions)  # scoped, paged lists (engine/store/summaries.py)
        self.realizations = RealizationRepository(self._sessions, self.audit)  # every gain/loss, for Form 8949

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, create: bool = True) -> Store:
        """The store named by the settings (``ROBO_DATABASE_URL`` or SQLite under ``ROBO_HOME``).

        ``create=False`` is for read-only commands: a SQLite file that does not exist is ``NotFound`` instead of
        being created (with its folders) — a mistyped URL must not leave an empty database behind.
        """
        return cls((settings or Settings()).resolved_database_url, create=create)

    def upgrade(self, revision: str = "head") -> str | None:
        """Run the Alembic migrations up to ``revision`` (default the newest); returns the revision reached.

        Raises:
            ConfigError: ``revision`` is not a shipped revision (the message lists them).
            StoreError: the database cannot be reached or refused the migration.
        """
        from alembic.util import CommandError

        try:
            return upgrade_engine(self._engine, revision)
        except CommandError as exc:
            from engine.errors import ConfigError
            from engine.store.migrate import revisions

            raise ConfigError(f"unknown migration revision ({exc})", field="revision", value=revision,
                              fix=f"use 'head' or one of: {', '.join(revisions())}") from None
        except SQLAlchemyError as exc:
            raise self._unreachable(exc) from exc

    def current(self) -> str | None:
        """The migration revision the database is at (None before ``upgrade``)."""
        try:
            return current_engine(self._engine)
        except SQLAlchemyError as exc:
            raise self._unreachable(exc) from exc

    def _unreachable(self, exc: SQLAlchemyError) -> StoreError:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
        return StoreError(
            f"cannot use the database at {redact(self.url)}: {first} — check ROBO_DATABASE_URL / --url and that "
            "the server runs",
            url=redact(self.url),
        )

    def close(self) -> None:
        """Release the connection pool."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({redact(self.url)!r})"


def _require_existing(url: str) -> None:
    """``NotFound`` when ``url`` names a SQLite file that does not exist (nothing is created)."""
    from engine.errors import NotFound
    from engine.store.db import sqlite_file

    path = sqlite_file(url)
    if path is not None and not path.is_file():
        raise NotFound(
            f"no database at {path} (no tables yet) — check ROBO_DATABASE_URL / --url, or create it: "
            "run `robo db upgrade` or `robo household import FILE`",
            url=redact(url),
        )


def _refuse_audit_changes(state: ORMExecuteState) -> None:
    """Session-level guard: bulk UPDATE/DELETE statements on the audit log are refused."""
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) == AuditRow.__tablename__:
        raise StoreError(
            "the audit log is append-only — record a new entry instead of changing one",
            fix="use store.audit.append(...)",
        )


@event.listens_for(AuditRow, "before_update")
@event.listens_for(AuditRow, "before_delete")
def _refuse_audit_row_change(_mapper: Any, _connection: Any, target: AuditRow) -> None:
    """Mapper-level guard: a loaded audit row can never be flushed as UPDATE or DELETE."""
    raise StoreError(
        f"the audit log is append-only (entry {target.seq}) — record a new entry instead of changing one",
        fix="use store.audit.append(...)",
    )


