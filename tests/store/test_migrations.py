"""Migrating an empty database to head yields exactly the ORM metadata, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from engine.store import Store, current, head, upgrade
from engine.store.migrate import MIGRATIONS, downgrade
from engine.store.tables import Base

EXPECTED_TABLES = {
    "households",
    "members",
    "accounts",
    "lots",
    "loss_sales",
    "goals",
    "life_events",
    "proposals",
    "proposal_transitions",
    "orders",
    "fills",
    "runs",
    "audit_log",
    "realizations",  # every realized gain and loss, for Form 8949 (migration 0007)
    # the scheduler's tables (engine/store/scheduler_tables.py, migration 0002)
    "job_runs",
    "scheduler_pauses",
    "scheduler_wakeups",
    "scheduler_alerts",
    # the web service's tables (engine/store/people_tables.py, migration 0008)
    "firms",
    "household_firms",
    "users",
    "user_households",
    "api_tokens",
    "idempotency_keys",
    "household_direct_index",
}


def test_metadata_holds_every_table() -> None:
    assert set(Base.metadata.tables) == EXPECTED_TABLES


def test_migrations_ship_inside_the_package() -> None:
    assert (MIGRATIONS / "env.py").is_file()
    assert (MIGRATIONS / "script.py.mako").is_file()
    assert sorted(p.name for p in (MIGRATIONS / "versions").glob("0*.py"))[0] == "0001_initial_tables.py"
    newest = sorted(p.name for p in (MIGRATIONS / "versions").glob("0*.py"))[-1]
    assert head() == newest.split("_")[0]  # one chain: the newest file is the head


def test_empty_database_migrates_to_the_orm_metadata(db_url: str) -> None:
    assert current(db_url) is None
    assert upgrade(db_url) == head()
    store = Store(db_url)
    try:
        with store._engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
            tables = set(inspect(conn).get_table_names())
        assert diffs == []
        assert tables == EXPECTED_TABLES | {"alembic_version"}
        assert store.current() == head()
    finally:
        store.close()


def test_upgrade_is_idempotent(db_url: str) -> None:
    assert upgrade(db_url) == head()
    assert upgrade(db_url) == head()
    assert current(db_url) == head()


def test_downgrade_to_base_removes_every_table(db_url: str) -> None:
    upgrade(db_url)
    assert downgrade(db_url, "base") is None
    store = Store(db_url)
    try:
        with store._engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    finally:
        store.close()
    assert upgrade(db_url) == head()  # and back up again: the downgrade left nothing behind (triggers, functions)
