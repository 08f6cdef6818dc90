"""The day's shared context: prices and estimates computed once, then shipped once to every worker.

    day = Day.build(MarketData.embedded(), date(2026, 7, 31))
    day.prices["VTI"], day.estimates.mu          # USD per share; annual expected returns (fractions)

A ``Day`` is immutable and picklable; the process pool hands it to each worker's initializer and Dask
scatters it once (``broadcast=True``), so no household recomputes the estimates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import DataError
from engine.model import Universe

if TYPE_CHECKING:
    from engine.data import MarketData
    from engine.estimates import Estimates

__all__ = ["Day"]


@dataclass(frozen=True, slots=True)
class Day:
    """Everything all households share on ``as_of``: tradable tickers, their prices (USD), estimates.

    ``engine`` is the planning facade (``engine.Engine``) when one is used; it travels with the day so
    that each worker holds exactly one, with its per-day cache already filled.
    """

    as_of: date
    universe: Universe
    tickers: tuple[str, ...]
    prices: Mapping[str, float]
    estimates: Estimates
    engine: Any = None
    notes: tuple[str, ...] = field(default=())

    @classmethod
    def build(
        cls,
        market: MarketData,
        as_of: date,
        universe: Universe | None = None,
        *,
        lookback_years: float = 10,
        max_data_age_days: int = 5,
    ) -> Day:
        """Prices and estimates at ``as_of`` from prices up to ``as_of`` only (point in time).

        Raises:
            DataError: no fund of the universe has a price, or the newest price is older than allowed.
        """
        from engine.config import load_universe
        from engine.estimates import estimate

        universe = universe or load_universe()
        view = market.as_of(as_of)
        last = view.latest()
        tickers = tuple(t for t in universe.tickers if t in last.index and np.isfinite(last[t]) and last[t] > 0)
        if not tickers:
            raise DataError(f"no fund of the universe has a price on or before {as_of}", day=as_of)
        stale = (as_of - view.last_day).days
        if stale > max_data_age_days:
            raise DataError(
                f"the newest price is from {view.last_day}, {stale} days before {as_of}; refresh the data "
                "(robo data update) before running the batch",
                day=as_of,
            )
        sub = universe.subset(tickers)
        est = estimate(view.history(list(tickers)), as_of, sub, lookback_years=lookback_years)
        prices = {t: float(last[t]) for t in tickers}
        return cls(as_of, sub, tickers, prices, est)

    @classmethod
    def from_engine(cls, engine: Any, as_of: date) -> Day:
        """The day as the ``Engine`` facade sees it (its cached prices and estimates), carrying the engine."""
        ctx = engine.day(as_of)
        universe = engine.universe.subset(ctx.tradable)
        prices = {t: float(p) for t, p in ctx.prices.items()}
        return cls(as_of, universe, tuple(ctx.tradable), prices, ctx.estimates, engine=engine)
