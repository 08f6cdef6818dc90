"""The ``Broker`` protocol and its value types, re-exported from ``engine.model.broker`` (their one home).

    from brokers.base import Broker, BrokerOrder, reconcile
    isinstance(SimulatedBroker(...), Broker)    # True: the protocol is runtime-checkable

They live in ``engine.model`` so the engine facade can type against them without importing ``brokers``.
"""

from __future__ import annotations

from engine.model.broker import (
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

__all__ = [
    "AccountInfo",
    "AssetInfo",
    "Broker",
    "BrokerOrder",
    "BrokerOrderStatus",
    "BrokerPosition",
    "Discrepancy",
    "DiscrepancyKind",
    "MarketClock",
    "OrderQuery",
    "reconcile",
    "total_by_symbol",
]
