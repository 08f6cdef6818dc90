"""Market data: price sources (embedded, CSV, Yahoo, Alpaca), validation, the NYSE calendar, point-in-time access.

    market = MarketData.embedded(["VTI", "BND"]).as_of(date(2020, 3, 31))   # nothing after 2020-03-31
    stats = annualized_stats(market.prices, years=10)                        # CAGR and volatility per fund
"""

from engine.data.calendar import (
    is_early_close,
    is_trading_day,
    next_trading_day,
    previous_trading_day,
    session_close,
    session_open,
    trading_day_on_or_before,
    trading_days,
)
from engine.data.market import (
    TRADING_DAYS_PER_YEAR,
    MarketData,
    MarketSnapshot,
    annualized_stats,
    load_market_data,
)
from engine.data.sources import (
    AlpacaSource,
    CsvSource,
    EmbeddedSource,
    PriceSource,
    YahooSource,
    embedded_path,
)
from engine.data.validate import validate_prices

__all__ = [
    "TRADING_DAYS_PER_YEAR",
    "AlpacaSource",
    "CsvSource",
    "EmbeddedSource",
    "MarketData",
    "MarketSnapshot",
    "PriceSource",
    "YahooSource",
    "annualized_stats",
    "embedded_path",
    "is_early_close",
    "is_trading_day",
    "load_market_data",
    "next_trading_day",
    "previous_trading_day",
    "session_close",
    "session_open",
    "trading_day_on_or_before",
    "trading_days",
    "validate_prices",
]
