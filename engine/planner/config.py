"""How the planner and the cycle behave: ``EngineConfig`` (planning and execution knobs), ``ApprovalRules``.

    config = EngineConfig(approval=ApprovalRules(max_turnover=0.10), cooldown_days=30)
    planner = Planner(MarketData.embedded(), config=config)

Every field has a documented default in the unit it names (fractions of household value, USD, days, seconds).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from engine.model import ProposalStatus
from engine.rebalancer import Frequency, OrderRules
from engine.tax import HarvestConfig

if TYPE_CHECKING:
    from engine.estimates import Estimates

__all__ = ["FIRST_RUN_REASON", "TRADED", "ApprovalRules", "Day", "EngineConfig"]

FIRST_RUN_REASON = "first automated run for this household"
"""The approval reason of a household's first proposal with orders (``ApprovalRules.first_run``)."""

TRADED = (ProposalStatus.EXECUTED, ProposalStatus.PARTIALLY_EXECUTED)
"""Proposal statuses that mean the household has been traded for before."""


@dataclass(frozen=True, slots=True)
class ApprovalRules:
    """When a human must approve: first run, big turnover, a big order, and the mandate's own reasons.

    ``max_turnover`` is buys + sells as a fraction of household value; ``max_order_fraction`` an order's
    notional as a fraction of its account's value.
    """

    first_run: bool = True
    max_turnover: float = 0.25
    max_order_fraction: float = 0.20


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """How the engine plans; every field has a documented default (fractions, USD, days).

    ``estimates_max_age_days`` / ``mandate_max_age_days`` let a cycle reuse estimates or a household's
    mandate computed up to that many calendar days earlier (0: recompute every day). Reuse never looks
    ahead: an older estimate saw only older prices. Backtests use 30 (monthly re-estimation).
    ``mandate_paths`` sets the goal Monte Carlo's path count (None: the planning default). ``notional_buys``
    sends buys of fractionable assets as notional (USD) orders, so a buy never needs more cash than it has.
    ``proposal_max_age_days``: a proposal planned more calendar days before the newest prices expires instead of
    executing (its prices and tax lots are stale: re-plan). ``harvest_thresholds``: the daily harvest run's loss
    floors, costs and wash-sale wait (``engine.tax.HarvestConfig``; None: its defaults).
    """

    harvest: bool = True
    asset_location: bool = True
    lookback_years: int = 10
    order_rules: OrderRules = field(default_factory=OrderRules)
    approval: ApprovalRules = field(default_factory=ApprovalRules)
    sell_drift: float = 0.03
    cash_flow_drift: float = 0.02
    calendar: Frequency = Frequency.QUARTERLY
    cooldown_days: int = 30
    turnover_limit: float | None = None
    tax_budget: float | None = None
    max_position: float = 0.40
    spread: float = 0.0005
    max_data_age_days: int = 5
    fill_timeout_s: float = 60.0
    estimates_max_age_days: int = 0
    mandate_max_age_days: int = 0
    returns: str = "black_litterman"
    risk: str = "ledoit_wolf"
    mandate_paths: int | None = None
    notional_buys: bool = True
    proposal_max_age_days: int = 5
    harvest_thresholds: HarvestConfig | None = None



@dataclass(frozen=True, slots=True)
class Day:
    """Everything shared by all households on one day: prices (USD per share), tradable tickers, estimates."""

    as_of: date
    prices: Mapping[str, Decimal]
    tradable: tuple[str, ...]
    estimates: Estimates
