"""Loss sales: recent sales at a loss kept with the household, so the wash-sale rule holds across nightly runs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 13:46:34.846898
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import engine.store.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "loss_sales",
        sa.Column("household_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("symbol", sa.String(), nullable=False),
        sa.Column("sold", sa.Date(), nullable=False),
        sa.Column("acquired", sa.Date(), nullable=False),
        sa.Column("shares", engine.store.types.Money(precision=38, scale=18), nullable=False),
        sa.Column("loss", engine.store.types.Money(precision=38, scale=18), nullable=False),
        sa.Column("lot_id", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["household_id", "account_id"],
            ["accounts.household_id", "accounts.id"],
            name=op.f("fk_loss_sales_household_id_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_loss_sales_household_id_households"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("household_id", "id", name=op.f("pk_loss_sales")),
    )


def downgrade() -> None:
    op.drop_table("loss_sales")
