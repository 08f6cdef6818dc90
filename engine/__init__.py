"""adaptive-robo: one household's goals, values and taxes turned into target holdings and orders.

    from engine import Engine, MarketData, load_household
    proposal = Engine(MarketData.embedded()).plan(load_household(), date(2026, 7, 30))

The domain model, errors, settings and config loaders are imported eagerly (stdlib, pydantic, yaml);
everything heavier (the optimizer's cvxpy, the store's SQLAlchemy, pandas data) loads on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from engine.config import load_household, load_universe
from engine.errors import *  # noqa: F403
from engine.errors import __all__ as _errors_all
from engine.model import *  # noqa: F403
from engine.model import __all__ as _model_all
from engine.settings import Settings

if TYPE_CHECKING:  # what the lazy names below resolve to, so type checkers and IDEs see the real types
    from engine.batch import BatchOptions as BatchOptions
    from engine.batch import run_batch as run_batch
    from engine.batch.synthetic import synthetic as synthetic
    from engine.data import AlpacaSource as AlpacaSource
    from engine.data import CsvSource as CsvSource
    from engine.data import EmbeddedSource as EmbeddedSource
    from engine.data import MarketData as MarketData
    from engine.data import MarketSnapshot as MarketSnapshot
    from engine.data import PriceSource as PriceSource
    from engine.data import YahooSource as YahooSource
    from engine.data import trading_days as trading_days
    from engine.engine import ApprovalRules as ApprovalRules
    from engine.engine import Engine as Engine
    from engine.engine import EngineConfig as EngineConfig
    from engine.engine import ExecutionReport as ExecutionReport
    from engine.engine import SyncReport as SyncReport
    from engine.esg import apply_values as apply_values
    from engine.esg import load_esg as load_esg
    from engine.esg import values_report as values_report
    from engine.estimates import Estimates as Estimates
    from engine.estimates import estimate as estimate
    from engine.goals import Mandate as Mandate
    from engine.goals import apply_event as apply_event
    from engine.goals import build_mandate as build_mandate
    from engine.goals import optimal_goal_policy as optimal_goal_policy
    from engine.goals import plan_household as plan_household
    from engine.goals import what_if as what_if
    from engine.optimizer import Frontier as Frontier
    from engine.optimizer import OptimizationResult as OptimizationResult
    from engine.optimizer import solve_household as solve_household
    from engine.rebalancer import build_orders as build_orders
    from engine.rebalancer import default_policy as default_policy
    from engine.store import Store as Store
    from engine.tax import LotLedger as LotLedger
    from engine.tax import LotMethod as LotMethod
    from engine.tax import Realization as Realization
    from engine.tax import TaxLossHarvester as TaxLossHarvester
    from engine.tax import Term as Term
    from engine.tax import marginal_rates as marginal_rates
    from engine.tax import preview as preview
    from engine.tax import tax_on as tax_on

__version__ = "0.1.0"  # the one version source: pyproject.toml reads it, `robo --version` prints it

# Public name → module that defines it (loaded lazily on first attribute access).
_LAZY = {
    "Engine": "engine.engine",
    "EngineConfig": "engine.engine",
    "ApprovalRules": "engine.engine",
    "ExecutionReport": "engine.engine",
    "SyncReport": "engine.engine",
    "MarketData": "engine.data",
    "MarketSnapshot": "engine.data",
    "PriceSource": "engine.data",
    "EmbeddedSource": "engine.data",
    "CsvSource": "engine.data",
    "YahooSource": "engine.data",
    "AlpacaSource": "engine.data",
    "trading_days": "engine.data",
    "Estimates": "engine.estimates",
    "estimate": "engine.estimates",
    "Mandate": "engine.goals",
    "build_mandate": "engine.goals",
    "apply_event": "engine.goals",
    "optimal_goal_policy": "engine.goals",
    "plan_household": "engine.goals",
    "what_if": "engine.goals",
    "load_esg": "engine.esg",
    "apply_values": "engine.esg",
    "values_report": "engine.esg",
    "LotLedger": "engine.tax",
    "LotMethod": "engine.tax",
    "Term": "engine.tax",
    "Realization": "engine.tax",
    "TaxLossHarvester": "engine.tax",
    "preview": "engine.tax",
    "tax_on": "engine.tax",
    "marginal_rates": "engine.tax",
    "Frontier": "engine.optimizer",
    "OptimizationResult": "engine.optimizer",
    "solve_household": "engine.optimizer",
    "build_orders": "engine.rebalancer",
    "default_policy": "engine.rebalancer",
    "Store": "engine.store",
    "BatchOptions": "engine.batch",
    "run_batch": "engine.batch",
    "synthetic": "engine.batch",
}

__all__ = [
    *_errors_all,
    *_model_all,
    *sorted(_LAZY),
    "Settings",
    "__version__",
    "load_household",
    "load_universe",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
