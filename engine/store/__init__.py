"""The store: SQLAlchemy tables, repositories and Alembic migrations (the only home of SQLAlchemy).

    from engine.store import Store
    store = Store(); store.upgrade(); store.households.add(household)

SQLite under ``ROBO_HOME`` by default; PostgreSQL via ``ROBO_DATABASE_URL`` (``pip install 'adaptive-robo[postgres]'``).
"""

from engine.store.audit import AuditLog
from engine.store.fills import FillRepository
from engine.store.households import HouseholdRepository
from engine.store.migrate import current, head, upgrade
from engine.store.orders import OrderRepository
from engine.store.people import (
    Firm,
    IdempotencyRecord,
    Role,
    TokenKind,
    TokenRecord,
    User,
    UserRepository,
    sign_in_key,
)
from engine.store.proposals import ProposalRepository
from engine.store.realizations import RealizationRepository
from engine.store.records import (
    AuditEntry,
    OrderRecord,
    OrderStatus,
    ProposalTransition,
    RunRecord,
    RunStatus,
)
from engine.store.runs import RunRepository, config_hash
from engine.store.store import Store
from engine.store.summaries import HouseholdSummaryRecord, ProposalSummaryRecord, Scope, SummaryRepository

__all__ = [
    "AuditEntry",
    "AuditLog",
    "FillRepository",
    "Firm",
    "HouseholdRepository",
    "HouseholdSummaryRecord",
    "IdempotencyRecord",
    "OrderRecord",
    "OrderRepository",
    "OrderStatus",
    "ProposalRepository",
    "ProposalSummaryRecord",
    "ProposalTransition",
    "RealizationRepository",
    "Role",
    "RunRecord",
    "RunRepository",
    "RunStatus",
    "Scope",
    "Store",
    "SummaryRepository",
    "TokenKind",
    "TokenRecord",
    "User",
    "UserRepository",
    "config_hash",
    "current",
    "head",
    "sign_in_key",
    "upgrade",
]
