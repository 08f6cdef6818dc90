"""Money and share columns widen to NUMERIC(38, 18): exact lot bases (9-decimal shares × 6-decimal prices).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None

# Every Money column at revision 0002 (SQLite stores them as exact text and needs no change).
COLUMNS: dict[str, tuple[str, ...]] = {
    "fills": ("qty", "price", "fees"),
    "households": ("ordinary_income", "st_loss_carryforward", "lt_loss_carryforward", "monthly_savings",
                   "monthly_expenses"),
    "goals": ("target", "current_savings", "monthly_contribution", "annual_income"),
    "life_events": ("amount",),
    "members": ("income",),
    "accounts": ("cash",),
    "orders": ("qty", "notional", "limit_price"),
    "lots": ("shares", "basis"),
}


def _alter(precision: int, scale: int, text_length: int) -> None:
    bind = op.get_bind()
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                if bind.dialect.name == "sqlite":
                    batch.alter_column(column, type_=sa.String(text_length))
                else:
                    batch.alter_column(column, type_=sa.Numeric(precision, scale))


def upgrade() -> None:
    _alter(38, 18, 48)


def downgrade() -> None:
    _alter(28, 10, 40)
