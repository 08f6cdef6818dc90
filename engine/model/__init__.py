"""Plain typed domain objects (stdlib only): assets, accounts, households, lots, orders, proposals.

    from engine.model import Household, AccountType
    household.account("brokerage").type is AccountType.TAXABLE
"""

from engine.model.broker import *  # noqa: F403
from engine.model.broker import __all__ as _broker_all
from engine.model.core import *  # noqa: F403
from engine.model.core import __all__ as _core_all
from engine.model.direct import BENCHMARKS, EXCLUSION_PRESETS, STOCK_ESG_SCORE, DirectIndex

__all__ = [*_core_all, *_broker_all, "BENCHMARKS", "EXCLUSION_PRESETS", "STOCK_ESG_SCORE", "DirectIndex"]
