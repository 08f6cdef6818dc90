"""The pure planner: household, day, ledger, market → ``Proposal`` (no store, no broker).

    from engine.planner import Planner
    proposal = Planner(MarketData.embedded()).plan(household, date(2026, 7, 31))

``engine.cycle.Cycle`` is the one service that persists, approves and executes what the planner proposes.
"""

from engine.planner.config import FIRST_RUN_REASON, TRADED, ApprovalRules, Day, EngineConfig
from engine.planner.core import Planner
from engine.planner.targets import account_values

__all__ = ["FIRST_RUN_REASON", "TRADED", "ApprovalRules", "Day", "EngineConfig", "Planner", "account_values"]
