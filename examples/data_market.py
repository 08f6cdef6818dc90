"""Market data in five steps: embedded prices, the NYSE calendar, a point-in-time cut, stats, your own CSV.

Runs offline (no network, no keys). `robo data update VTI BND` refreshes prices from Yahoo Finance.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from engine.data import (
    CsvSource,
    EmbeddedSource,
    MarketData,
    annualized_stats,
    is_early_close,
    is_trading_day,
    session_close,
)
from engine.errors import LookAheadError

source = EmbeddedSource()
market = MarketData(source.prices(["VTI", "VEA", "BND", "TIP", "ESGV"]), source=source.name)
print(market)
print(source.description())

print("\nNYSE calendar: 2024-07-04 trading?", is_trading_day(date(2024, 7, 4)),
      "| 2024-11-29 early close?", is_early_close(date(2024, 11, 29)),
      "at", session_close(date(2024, 11, 29)).isoformat())

# Point in time: a backtest deciding at the close of 2020-03-31 sees nothing later.
past = market.as_of(date(2020, 3, 31))
snap = past.snapshot(date(2020, 3, 31))
print(f"\nAs of {snap.day}: VTI {snap.price('VTI'):.2f}, BND {snap.price('BND'):.2f} (adjusted closes)")
try:
    past.price("VTI", date(2020, 4, 1))
except LookAheadError as exc:
    print("Refused:", exc)

stats = annualized_stats(market.prices, years=10)
print("\nCAGR and volatility (simple daily returns × √252), 10 years to", market.last_day)
print(stats.to_string(formatters={"annual_return": "{:+.2%}".format, "annual_volatility": "{:.2%}".format}))

# Your own prices: a long CSV (date, ticker, close) reads into the same wide shape.
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "my_prices.csv"
    long = market.history(["VTI", "BND"], start=date(2024, 7, 1), end=date(2024, 7, 8))
    long.reset_index().melt(id_vars="Date", var_name="ticker", value_name="close").to_csv(path, index=False)
    mine = CsvSource(path).prices()
    print(f"\nCSV source {mine.shape[0]} days × {mine.shape[1]} funds; daily returns:")
    print(MarketData(mine).returns().round(4).to_string())
