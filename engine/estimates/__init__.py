"""Expected returns and risk (the only home of PyPortfolioOpt), point in time, short histories blended.

    est = estimate(prices, date(2024, 6, 28), load_universe(), returns=ReturnModel.MEAN_HISTORICAL)
    est.mu, est.cov, est.volatility       # annual simple returns, annual covariance, annual vol (fractions)
"""

from engine.config.market_assumptions import (
    CapitalMarketAssumptions,
    load_capital_market_assumptions,
    market_assumptions_from_dict,
)
from engine.estimates.core import TRADING_DAYS, asset_prior, estimate, nearest_psd
from engine.estimates.factors import FactorParts, factor_decomposition, synthetic_universe_estimates
from engine.estimates.types import Credibility, Estimates, FactorKind, ReturnModel, RiskModel, View, is_psd

__all__ = [
    "TRADING_DAYS",
    "CapitalMarketAssumptions",
    "Credibility",
    "Estimates",
    "FactorKind",
    "FactorParts",
    "ReturnModel",
    "RiskModel",
    "View",
    "asset_prior",
    "estimate",
    "factor_decomposition",
    "is_psd",
    "load_capital_market_assumptions",
    "market_assumptions_from_dict",
    "nearest_psd",
    "synthetic_universe_estimates",
]
