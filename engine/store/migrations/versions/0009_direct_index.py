"""A household's direct-index sleeve: one JSON document per household (engine/store/direct_index.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 22:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import engine.store.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "household_direct_index",
        sa.Column("household_id", sa.String(), nullable=False),
        sa.Column("settings", engine.store.types.JSONValue(), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_household_direct_index_household_id_households"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("household_id", name=op.f("pk_household_direct_index")),
    )


def downgrade() -> None:
    op.drop_table("household_direct_index")
