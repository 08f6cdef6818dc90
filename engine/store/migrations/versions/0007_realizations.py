"""Realizations: every realized gain and loss kept across runs, so a year's Form 8949 comes from the store.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 20:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import engine.store.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    money = engine.store.types.Money(precision=38, scale=18)
    op.create_table(
        "realizations",
        sa.Column("household_id", sa.String(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("realization_id", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("symbol", sa.String(), nullable=False),
        sa.Column("lot_id", sa.String(), nullable=False),
        sa.Column("shares", money, nullable=False),
        sa.Column("acquired", sa.Date(), nullable=False),
        sa.Column("sold", sa.Date(), nullable=False),
        sa.Column("proceeds", money, nullable=False),
        sa.Column("basis", money, nullable=False),
        sa.Column("disallowed", money, nullable=False),
        sa.Column("lost", money, nullable=False),
        sa.Column("term", sa.String(), nullable=False),
        sa.Column("reportable", sa.Boolean(), nullable=False),
        sa.Column("amendment", sa.Boolean(), nullable=False),
        sa.Column("replacements", engine.store.types.JSONValue(), nullable=False),
        sa.Column("recorded_at", engine.store.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", engine.store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("household_id", "key", name=op.f("pk_realizations")),
    )
    op.create_index("ix_realizations_household_id_sold", "realizations", ["household_id", "sold"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_realizations_household_id_sold", table_name="realizations")
    op.drop_table("realizations")
