"""The one cycle: lots say where their basis came from; life events say whether their rule has run.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 20:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lots") as batch:
        batch.add_column(sa.Column("basis_source", sa.String(), server_default="ledger", nullable=False))
    with op.batch_alter_table("life_events") as batch:
        batch.add_column(sa.Column("applied", sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("life_events") as batch:
        batch.drop_column("applied")
    with op.batch_alter_table("lots") as batch:
        batch.drop_column("basis_source")
