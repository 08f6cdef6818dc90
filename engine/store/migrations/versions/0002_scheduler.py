"""Scheduler tables: job runs keyed (job, household, trading day, ref) unique, pauses, wake-ups, alerts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 08:02:41.676226
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import engine.store.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("job", sa.String(length=40), nullable=False),
        sa.Column("household_id", sa.String(), nullable=False),
        sa.Column("trading_day", sa.Date(), nullable=False),
        sa.Column("ref", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("takeovers", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("started_at", engine.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", engine.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", engine.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", engine.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("produced", engine.store.types.JSONValue(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        sa.UniqueConstraint(
            "job", "household_id", "trading_day", "ref", name=op.f("uq_job_runs_job_household_id_trading_day_ref")
        ),
    )
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_runs_household_id"), ["household_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_job_runs_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_job_runs_trading_day"), ["trading_day"], unique=False)

    op.create_table(
        "scheduler_alerts",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", engine.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("job", sa.String(), nullable=False),
        sa.Column("household_id", sa.String(), nullable=False),
        sa.Column("trading_day", sa.Date(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_scheduler_alerts")),
    )
    with op.batch_alter_table("scheduler_alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scheduler_alerts_household_id"), ["household_id"], unique=False)

    op.create_table(
        "scheduler_pauses",
        sa.Column("household_id", sa.String(), nullable=False),
        sa.Column("paused_at", engine.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("household_id", name=op.f("pk_scheduler_pauses")),
    )
    op.create_table(
        "scheduler_wakeups",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("household_id", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("ref", sa.String(), nullable=False),
        sa.Column("created_at", engine.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", engine.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("run_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduler_wakeups")),
        sa.UniqueConstraint("household_id", "ref", name=op.f("uq_scheduler_wakeups_household_id_ref")),
    )
    with op.batch_alter_table("scheduler_wakeups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scheduler_wakeups_household_id"), ["household_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("scheduler_wakeups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scheduler_wakeups_household_id"))

    op.drop_table("scheduler_wakeups")
    op.drop_table("scheduler_pauses")
    with op.batch_alter_table("scheduler_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scheduler_alerts_household_id"))

    op.drop_table("scheduler_alerts")
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_runs_trading_day"))
        batch_op.drop_index(batch_op.f("ix_job_runs_status"))
        batch_op.drop_index(batch_op.f("ix_job_runs_household_id"))

    op.drop_table("job_runs")
