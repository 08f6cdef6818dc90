"""The one cycle service: sync → plan → persist → approve → execute → book fills → save holdings → audit.

    from engine.cycle import Cycle
    cycle = Cycle(Planner(market), store=store, brokers=broker_for, rails=SafetyRails.from_settings())
    report = cycle.execute(cycle.approve(cycle.plan("rivera"), actor="alex"))

Callers choose *when* (scheduler, backtest clock), *for whom* (batch) and *who approves*; the steps live here.
"""

from engine.cycle.execute import BrokerRun, book_fills, reconcile_accounts
from engine.cycle.reports import ExecutionReport, SyncReport
from engine.cycle.routes import AWAY, BrokerSource, Route, Routes, route_of
from engine.cycle.service import Cycle

__all__ = [
    "AWAY",
    "BrokerRun",
    "BrokerSource",
    "Cycle",
    "ExecutionReport",
    "Route",
    "Routes",
    "SyncReport",
    "book_fills",
    "reconcile_accounts",
    "route_of",
]
