"""Targets → trades → orders, and the triggers that decide when (CONTRIBUTING.md habit 8).

    plan = build_orders(proposal_id, current, targets, prices, cash, universe.assets)
    decision = default_policy()(state)
"""

from engine.rebalancer.liquidation import LiquidationPick, plan_liquidation
from engine.rebalancer.orders import (
    OrderPlan,
    OrderRules,
    SkippedTrade,
    build_orders,
    client_order_id,
    quantize_qty,
    resize_buys,
)
from engine.rebalancer.triggers import (
    DEFAULT_CASH_FLOW_DRIFT,
    DEFAULT_SELL_DRIFT,
    Frequency,
    PortfolioState,
    Trigger,
    TriggerDecision,
    all_of,
    any_of,
    calendar,
    cash_flow,
    cooldown,
    default_policy,
    drift,
    drift_exceeds,
    harvest_daily,
    harvest_opportunity,
    life_event,
    once_per_day,
)

__all__ = [
    "DEFAULT_CASH_FLOW_DRIFT",
    "DEFAULT_SELL_DRIFT",
    "Frequency",
    "LiquidationPick",
    "OrderPlan",
    "OrderRules",
    "PortfolioState",
    "SkippedTrade",
    "Trigger",
    "TriggerDecision",
    "all_of",
    "any_of",
    "build_orders",
    "calendar",
    "cash_flow",
    "client_order_id",
    "cooldown",
    "default_policy",
    "drift",
    "drift_exceeds",
    "harvest_daily",
    "harvest_opportunity",
    "life_event",
    "once_per_day",
    "plan_liquidation",
    "quantize_qty",
    "resize_buys",
]
