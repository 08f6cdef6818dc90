"""Brokers: the ``Broker`` protocol, a deterministic ``SimulatedBroker``, ``AlpacaBroker``, and the safety rails.

    from brokers import SimulatedBroker, GuardedBroker, SafetyPolicy, submit_all, wait_for_final
    broker = GuardedBroker(SimulatedBroker(closes, accounts={"brokerage": 10_000}, start=day), SafetyPolicy(...))

``AlpacaBroker`` is imported lazily (``brokers.AlpacaBroker`` or ``from brokers.alpaca import AlpacaBroker``),
so the simulator and the rails never load alpaca-py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from brokers.base import (
    AccountInfo,
    AssetInfo,
    Broker,
    BrokerOrder,
    BrokerOrderStatus,
    BrokerPosition,
    Discrepancy,
    DiscrepancyKind,
    MarketClock,
    OrderQuery,
    reconcile,
    total_by_symbol,
)
from brokers.execution import submit_all, wait_for_final
from brokers.factory import BrokerKind, household_brokers, rails_for, simulated_for
from brokers.safety import GuardedBroker, MarketRule, SafetyPolicy, SafetyRails
from brokers.simulated import CostModel, FillAt, SimulatedBroker

if TYPE_CHECKING:
    from brokers.alpaca import AlpacaBroker, TradingMode

__all__ = [
    "AccountInfo",
    "AlpacaBroker",
    "AssetInfo",
    "Broker",
    "BrokerKind",
    "BrokerOrder",
    "BrokerOrderStatus",
    "BrokerPosition",
    "CostModel",
    "Discrepancy",
    "DiscrepancyKind",
    "FillAt",
    "GuardedBroker",
    "MarketClock",
    "MarketRule",
    "OrderQuery",
    "SafetyPolicy",
    "SafetyRails",
    "SimulatedBroker",
    "TradingMode",
    "household_brokers",
    "rails_for",
    "reconcile",
    "simulated_for",
    "submit_all",
    "total_by_symbol",
    "wait_for_final",
]


def __getattr__(name: str) -> Any:
    if name in ("AlpacaBroker", "TradingMode"):
        from brokers import alpaca

        return getattr(alpaca, name)
    raise AttributeError(f"module 'brokers' has no attribute {name!r}")
