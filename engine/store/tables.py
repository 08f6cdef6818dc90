"""The one ``Base`` metadata of the store: every table, typed with ``Mapped[...]``.

    from engine.store.tables import Base, HouseholdRow
    Base.metadata.sorted_tables          # what the Alembic migrations must produce

To add a table: add a ``...Row`` class here, then ``alembic revision --autogenerate`` against a database
at head (see ``engine/store/migrations/README.md``) and review the script. Money and shares use
``Money`` (exact NUMERIC(38, 18)); instants use ``UTCDateTime``; free-form documents use ``JSONValue``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    DDL,
    Boolean,
    Date,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    event,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from engine.store.types import JSONValue, Money, UTCDateTime

__all__ = [
    "AUDIT_GUARD_DDL",
    "AccountRow",
    "AuditRow",
    "Base",
    "FillRow",
    "GoalRow",
    "HouseholdRow",
    "LifeEventRow",
    "LossSaleRow",
    "LotRow",
    "MemberRow",
    "OrderRow",
    "ProposalRow",
    "ProposalTransitionRow",
    "RealizationRow",
    "RunRow",
]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base; its ``metadata`` is the target of the Alembic migrations."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        Decimal: Money(),
        datetime: UTCDateTime(),
        date: Date(),
        float: Double(),
        str: String(),
        dict[str, Any]: JSONValue(),
        Any: JSONValue(),
    }


# ---------------------------------------------------------------------------------------------
# Households and what they hold
# ---------------------------------------------------------------------------------------------


class HouseholdRow(Base):
    """One household; risk answers and values are JSON, the tax profile is columns."""

    __tablename__ = "households"

    id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str]
    risk_willingness: Mapped[int] = mapped_column(Integer)
    risk_answers: Mapped[Any]
    values: Mapped[Any]
    filing_status: Mapped[str]
    state: Mapped[str]
    state_rate: Mapped[float]
    ordinary_income: Mapped[Decimal]
    st_loss_carryforward: Mapped[Decimal]
    lt_loss_carryforward: Mapped[Decimal]
    monthly_savings: Mapped[Decimal]
    monthly_expenses: Mapped[Decimal]
    emergency_months: Mapped[float]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


def _household_fk() -> Any:
    return mapped_column(ForeignKey("households.id", ondelete="CASCADE"), primary_key=True)


class MemberRow(Base):
    __tablename__ = "members"

    household_id: Mapped[str] = _household_fk()
    id: Mapped[str] = mapped_column(primary_key=True)
    position: Mapped[int]
    name: Mapped[str]
    birth_date: Mapped[date]
    income: Mapped[Decimal]
    retirement_age: Mapped[int]
    income_stability: Mapped[str]


class AccountRow(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        ForeignKeyConstraint(["household_id", "owner"], ["members.household_id", "members.id"]),
    )

    household_id: Mapped[str] = _household_fk()
    id: Mapped[str] = mapped_column(primary_key=True)
    position: Mapped[int]
    type: Mapped[str]
    name: Mapped[str]
    owner: Mapped[str | None]
    cash: Mapped[Decimal]
    broker_account: Mapped[str | None]


class LotRow(Base):
    """A tax lot; ``shares`` and ``basis`` (USD) exact."""

    __tablename__ = "lots"
    __table_args__ = (
        ForeignKeyConstraint(["household_id", "account_id"], ["accounts.household_id", "accounts.id"]),
    )

    household_id: Mapped[str] = _household_fk()
    id: Mapped[str] = mapped_column(primary_key=True)
    position: Mapped[int]
    account_id: Mapped[str]
    symbol: Mapped[str]
    shares: Mapped[Decimal]
    basis: Mapped[Decimal]
    acquired: Mapped[date]
    purchased: Mapped[date]
    replaceable: Mapped[bool] = mapped_column(server_default=true())  # False: it replaced a washed loss
    basis_source: Mapped[str] = mapped_column(server_default="ledger")  # "broker": adopted avg_entry_price


class LossSaleRow(Base):
    """A recent sale at a loss whose wash-sale window may be open: unmatched ``shares`` and ``loss`` (USD) exact."""

    __tablename__ = "loss_sales"
    __table_args__ = (
        ForeignKeyConstraint(["household_id", "account_id"], ["accounts.household_id", "accounts.id"]),
    )

    household_id: Mapped[str] = _household_fk()
    id: Mapped[str] = mapped_column(primary_key=True)
    position: Mapped[int]
    account_id: Mapped[str]
    symbol: Mapped[str]
    sold: Mapped[date]
    acquired: Mapped[date]
    shares: Mapped[Decimal]
    loss: Mapped[Decimal]
    lot_id: Mapped[str | None]


class GoalRow(Base):
    __tablename__ = "goals"

    household_id: Mapped[str] = _household_fk()
    id: Mapped[str] = mapped_column(primary_key=True)
    position: Mapped[int]
    kind: Mapped[str]
    name: Mapped[str]
    target: Mapped[Decimal]
    target_date: Mapped[date]
    priority: Mapped[int]
    accounts: Mapped[Any]
    current_savings: Mapped[Decimal]
    monthly_contribution: Mapped[Decimal]
    flexibility: Mapped[float]
    annual_income: Mapped[Decimal | None]
    years: Mapped[int | None]


class LifeEventRow(Base):
    """A life event; ``position`` keeps the household's order (event ids need not be unique)."""

    __tablename__ = "life_events"

    household_id: Mapped[str] = _household_fk()
    position: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    id: Mapped[str]
    kind: Mapped[str]
    on_date: Mapped[date]
    member: Mapped[str | None]
    amount: Mapped[Decimal | None]
    details: Mapped[Any]
    applied: Mapped[bool] = mapped_column(server_default=true())  # False: recorded, its rule not yet run


# ---------------------------------------------------------------------------------------------
# Proposals, orders, fills
# ---------------------------------------------------------------------------------------------


class ProposalRow(Base):
    """A proposal; targets are ``[[account, symbol, weight], ...]``, explanation and tax preview JSON."""

    __tablename__ = "proposals"

    id: Mapped[str] = mapped_column(primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"), index=True)
    as_of: Mapped[date]
    created: Mapped[datetime]
    trigger: Mapped[str]
    run_kind: Mapped[str]
    targets: Mapped[Any]
    explanation: Mapped[Any]
    tax_preview: Mapped[Any | None]
    needs_approval: Mapped[bool] = mapped_column(Boolean)
    approval_reasons: Mapped[Any]
    status: Mapped[str] = mapped_column(index=True)
    details: Mapped[Any]
    updated_at: Mapped[datetime]


class ProposalTransitionRow(Base):
    """One status change of a proposal (who, why, when)."""

    __tablename__ = "proposal_transitions"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.id"), index=True)
    from_status: Mapped[str]
    to_status: Mapped[str]
    actor: Mapped[str]
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


class OrderRow(Base):
    """An order of a proposal, keyed by its deterministic ``client_order_id``; ``status`` an ``OrderStatus``."""

    __tablename__ = "orders"

    client_order_id: Mapped[str] = mapped_column(primary_key=True)
    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.id"), index=True)
    position: Mapped[int]
    account: Mapped[str]
    symbol: Mapped[str]
    side: Mapped[str]
    qty: Mapped[Decimal | None]
    notional: Mapped[Decimal | None]
    type: Mapped[str]
    time_in_force: Mapped[str]
    limit_price: Mapped[Decimal | None]
    lots: Mapped[Any]
    status: Mapped[str]
    updated_at: Mapped[datetime]


class FillRow(Base):
    """An execution, keyed by the fill id (adding the same fill twice is a no-op)."""

    __tablename__ = "fills"

    id: Mapped[str] = mapped_column(primary_key=True)
    client_order_id: Mapped[str] = mapped_column(index=True)
    household_id: Mapped[str] = mapped_column(index=True)
    account: Mapped[str]
    symbol: Mapped[str]
    side: Mapped[str]
    qty: Mapped[Decimal]
    price: Mapped[Decimal]
    fees: Mapped[Decimal]
    at: Mapped[datetime]
    recorded_at: Mapped[datetime]


# ---------------------------------------------------------------------------------------------
# Runs and the audit log
# ---------------------------------------------------------------------------------------------


class RealizationRow(Base):
    """A realized gain or loss (one lot's part of a sale), kept across runs for Form 8949; money exact.

    ``key`` (a SHA-256 of what identifies the sale: account, fund, lot, dates, shares, proceeds, basis and
    the ledger's id) makes storing the same realization twice an update, not a second row. ``amendment``
    rows carry a loss disallowed by a later run's purchase on a sale stored earlier (``realization_id``
    names it); ``disallowed`` and ``lost`` change as later purchases wash more of a loss.
    """

    __tablename__ = "realizations"
    __table_args__ = (Index("ix_realizations_household_id_sold", "household_id", "sold"),)

    household_id: Mapped[str] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    realization_id: Mapped[str]
    account: Mapped[str]
    symbol: Mapped[str]
    lot_id: Mapped[str]
    shares: Mapped[Decimal]
    acquired: Mapped[date]
    sold: Mapped[date]
    proceeds: Mapped[Decimal]
    basis: Mapped[Decimal]
    disallowed: Mapped[Decimal]
    lost: Mapped[Decimal]
    term: Mapped[str]
    reportable: Mapped[bool]
    amendment: Mapped[bool]
    replacements: Mapped[Any]
    recorded_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RunRow(Base):
    """A run with its provenance: configuration, its SHA-256 and the package version."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(index=True)
    household_id: Mapped[str | None] = mapped_column(index=True)
    config: Mapped[Any]
    config_hash: Mapped[str] = mapped_column(String(64))
    package_version: Mapped[str]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str]
    summary: Mapped[Any | None]


class AuditRow(Base):
    """One audit entry. Append-only: the ORM, the repositories and database triggers refuse UPDATE/DELETE."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "entity", "entity_id"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str]
    action: Mapped[str]
    household_id: Mapped[str | None] = mapped_column(index=True)
    entity: Mapped[str]
    entity_id: Mapped[str]
    before: Mapped[Any | None]
    after: Mapped[Any | None]


# Database-level guard of the audit log, used by the migrations and by ``Base.metadata.create_all``.
AUDIT_GUARD_DDL: dict[str, tuple[str, ...]] = {
    "sqlite": (
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    ),
    "postgresql": (
        "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$",
        "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
    ),
}

for _dialect, _statements in AUDIT_GUARD_DDL.items():
    for _sql in _statements:
        _guard = DDL(_sql)  # type: ignore[no-untyped-call]  # SQLAlchemy's DDL.__init__ has no annotations
        event.listen(AuditRow.__table__, "after_create", _guard.execute_if(dialect=_dialect))

# The scheduler's tables share this metadata (job runs, pauses, wake-ups, alerts); see scheduler_tables.py.
# The web service's tables (firms, users, tokens, idempotency keys); see people_tables.py.
# A household's direct-index sleeve; see direct_index.py.
from engine.store import direct_index as _direct_index  # noqa: E402, F401
from engine.store import people_tables as _people_tables  # noqa: E402, F401
from engine.store import scheduler_tables as _scheduler_tables  # noqa: E402, F401
