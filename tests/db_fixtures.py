"""Database fixtures shared by the store and scheduler suites: a migrated store on SQLite and PostgreSQL.

The PostgreSQL URL comes from ROBO_TEST_DATABASE_URL (``postgres_url`` in tests/conftest.py); each test gets a
fresh, randomly named schema that is dropped afterwards, so xdist workers never collide.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from engine.store import Store


@pytest.fixture
def pg_schema_url(postgres_url: str) -> Iterator[str]:
    """A URL whose search_path is a fresh, randomly named schema (dropped afterwards): xdist-safe."""
    name = f"robo_store_{uuid.uuid4().hex[:16]}"
    admin = create_engine(postgres_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={name}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each backend (the PostgreSQL one skips without ROBO_TEST_DATABASE_URL)."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_schema_url")


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A store migrated to head, on each backend."""
    s = Store(db_url)
    s.upgrade()
    yield s
    s.close()
