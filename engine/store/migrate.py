"""Alembic, configured in code so migrations run from an installed wheel (no alembic.ini needed).

    upgrade("sqlite:////tmp/robo.db")        # create or bring the schema to the newest revision
    current("sqlite:////tmp/robo.db")        # → the revision id the database is at (None when empty)
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from engine.store.db import make_engine

__all__ = ["MIGRATIONS", "alembic_config", "current", "downgrade", "head", "revisions", "upgrade"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic ``Config`` pointing at the shipped migrations (and at ``url`` when given)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head() -> str:
    """The newest revision id shipped with this package."""
    rev = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert rev is not None  # the package always ships at least the initial revision
    return rev


def revisions() -> list[str]:
    """Every shipped revision id, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def upgrade_engine(engine: Engine, revision: str = "head") -> str | None:
    """Migrate the database behind ``engine`` to ``revision``; returns the revision it is at afterwards."""
    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
    return current_engine(engine)


def downgrade_engine(engine: Engine, revision: str) -> str | None:
    """Migrate the database behind ``engine`` down to ``revision`` (``"base"``: drop every table)."""
    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)
    return current_engine(engine)


def current_engine(engine: Engine) -> str | None:
    """The revision the database behind ``engine`` is at (None before the first migration)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(url: str, revision: str = "head") -> str | None:
    """Migrate the database at ``url`` to ``revision`` (default the newest); returns the revision it is at."""
    engine = make_engine(url)
    try:
        return upgrade_engine(engine, revision)
    finally:
        engine.dispose()


def downgrade(url: str, revision: str) -> str | None:
    """Migrate the database at ``url`` down to ``revision`` (``"base"`` drops every store table)."""
    engine = make_engine(url)
    try:
        return downgrade_engine(engine, revision)
    finally:
        engine.dispose()


def current(url: str) -> str | None:
    """The revision the database at ``url`` is at (None before the first migration)."""
    engine = make_engine(url)
    try:
        return current_engine(engine)
    finally:
        engine.dispose()
