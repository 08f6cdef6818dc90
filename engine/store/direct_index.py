"""A household's direct-index sleeve in the store: one row per household holding the sleeve's settings as JSON.

    rows = direct_index_rows(household)          # (DirectIndexRow, [values]) for the household's child rows
    sleeve = load_direct_index(session, household_id)    # the stored sleeve, or None

Registered on the store's one ``Base`` (imported at the end of ``engine/store/tables.py``); created by migration
``0009``. The settings are ``DirectIndex.to_dict()``'s plain data, so a stored sleeve reads back exactly.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.model import DirectIndex, Household
from engine.store.tables import Base

__all__ = ["DirectIndexRow", "direct_index_rows", "load_direct_index"]


class DirectIndexRow(Base):
    """The household's direct-index sleeve (``engine.model.DirectIndex``) as its plain-data document."""

    __tablename__ = "household_direct_index"

    household_id: Mapped[str] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), primary_key=True)
    settings: Mapped[dict[str, Any]]


def direct_index_rows(h: Household) -> list[tuple[type[Any], list[dict[str, Any]]]]:
    """The sleeve's row (none without a sleeve), in ``_child_rows``' shape."""
    rows = [] if h.direct_index is None else [{"household_id": h.id, "settings": h.direct_index.to_dict()}]
    return [(DirectIndexRow, rows)]


def load_direct_index(session: Session, household_id: str) -> DirectIndex | None:
    """The household's stored sleeve, or None when it has none."""
    doc = session.scalars(select(DirectIndexRow.settings).where(DirectIndexRow.household_id == household_id)).first()
    return None if doc is None else DirectIndex.from_dict(doc)
