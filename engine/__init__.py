"""adaptive-robo: one household's goals, values and taxes turned into target holdings and orders.

    from engine import Engine, MarketData, load_household
    proposal = Engine(MarketData.embedded()).plan(load_household(), date(2026, 7, 30))

The domain model, errors, settings and config loaders are imported eagerly (stdlib, pydantic, yaml);
everything heavier (the optimizer's cvxpy, the store's SQLAlchemy, pandas data) loads on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from engine.config import load_household, load_universe
from engine.errors import *  # noqa: F403
from engine.errors import __all__ as _errors_all
from engine.model import *  # noqa: F403
from engine.model import __all__ as _model_all
from engine.settings import Settings

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
