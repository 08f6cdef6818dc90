"""Engines for the store: SQLite folders created, SQLite foreign keys on, a hint when the PostgreSQL driver is missing.

    engine = make_engine("sqlite:////tmp/robo.db")
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:5432/robo")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from engine.errors import ConfigError

__all__ = ["make_engine", "redact"]


def redact(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (None for other databases, in-memory SQLite and malformed URLs)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.database.startswith("file:") or parsed.query.get("mode") == "memory":
        return None
    return Path(parsed.database).expanduser()


def make_engine(url: str, *, create: bool = True, **kwargs: Any) -> Engine:
    """A SQLAlchemy engine for ``url``; a SQLite file's folder is created (unless ``create=False``), foreign keys
    are enforced.

    Raises:
        ConfigError: the URL is malformed or its driver is not installed (with the install hint).
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            "malformed database URL",
            field="ROBO_DATABASE_URL",
            value=redact(url),
            fix="use e.g. sqlite:////path/robo.db or postgresql+psycopg://user@host:5432/db",
        ) from exc
    if create and parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        try:
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the database folder: {exc.strerror or exc}",
                field="ROBO_DATABASE_URL",
                value=redact(url),
                fix="point the URL at a writable folder",
            ) from exc
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        hint = (
            "pip install 'adaptive-robo[postgres]'"
            if parsed.get_backend_name() == "postgresql"
            else "install the database driver named in the URL"
        )
        raise ConfigError(
            f"no database driver for {parsed.drivername!r}", field="ROBO_DATABASE_URL", value=redact(url), fix=hint
        ) from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
