"""The repositories by their old address (kept for code that imports them from here); each now lives in the
module of its aggregate: ``households.py``, ``proposals.py``, ``orders.py``, ``fills.py``, ``runs.py`` and
``audit.py``, with the shared plumbing in ``base.py`` and the row mappings in ``mapping.py``."""

from engine.store.audit import AuditLog
from engine.store.fills import FillRepository
from engine.store.households import HouseholdRepository
from engine.store.orders import OrderRepository
from engine.store.proposals import ProposalRepository
from engine.store.runs import RunRepository, config_hash

__all__ = [
    "AuditLog",
    "FillRepository",
    "HouseholdRepository",
    "OrderRepository",
    "ProposalRepository",
    "RunRepository",
    "config_hash",
]
