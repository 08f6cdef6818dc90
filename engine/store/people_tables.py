"""The web service's tables: firms, which firm serves a household, users, user–household links, tokens, idempotency.

    from engine.store.people_tables import UserRow
    UserRow.__table__.c.password_hash          # an argon2 hash (the service hashes; the store never sees a password)

Registered on the store's one ``Base`` (imported at the end of ``engine/store/tables.py``); created by migration
``0008``. Secrets are never stored: passwords as argon2 hashes, API and session tokens as SHA-256 of their secret.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.tables import Base

__all__ = ["ApiTokenRow", "FirmRow", "HouseholdFirmRow", "IdempotencyRow", "UserHouseholdRow", "UserRow"]


class FirmRow(Base):
    """An advisory firm; ``clients_may_approve`` lets its clients approve their own household's proposals."""

    __tablename__ = "firms"

    id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str]
    clients_may_approve: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]


class HouseholdFirmRow(Base):
    """The firm that serves a household (one firm per household); its advisors see the household."""

    __tablename__ = "household_firms"

    household_id: Mapped[str] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), primary_key=True)
    firm_id: Mapped[str] = mapped_column(ForeignKey("firms.id", ondelete="CASCADE"), index=True)


class UserRow(Base):
    """A person who signs in: ``role`` is a ``Role`` value; advisors belong to a firm."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str]
    role: Mapped[str] = mapped_column(String(16))
    firm_id: Mapped[str | None] = mapped_column(ForeignKey("firms.id"), index=True)
    password_hash: Mapped[str]
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class UserHouseholdRow(Base):
    """A client's own household (a client may hold more than one, e.g. a trust beside the family)."""

    __tablename__ = "user_households"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), primary_key=True,
                                              index=True)


class ApiTokenRow(Base):
    """An API or session token: the id is public (it is in the token), only the secret's SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str]
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class IdempotencyRow(Base):
    """One ``Idempotency-Key`` of one user: the request's fingerprint and, once finished, the response."""

    __tablename__ = "idempotency_keys"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str]
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[Any | None]
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
