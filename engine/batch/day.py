"""The day's shared context: prices and estimates computed once, then shipped once to every worker.

    day = Day.build(MarketData.embedded(), date(2026, 7, 31))     # or Day.from_engine(engine, as_of)
    day.prices["VTI"], day.estimates.mu          # USD per share; annual expected returns (fractions)

A ``Day`` is immutable and picklable; the process pool hands it to each worker's initializer and Dask
scatters it once (``broadcast=True``), so no household recomputes the estimates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from engine.model import RunKind, Universe

if TYPE_CHECKING:
    from engine.data import MarketData
    from engine.estimates import Estimates

__all__ = ["BATCH_MANDATE_PATHS", "Day"]

BATCH_MANDATE_PATHS = 2_000
"""Goal Monte Carlo paths per household in a batch's own engine (planning default: 20,000).

The paths only set the goals' success probabilities (explanation lines and the probability-floor
approval reason): the strategic mix, bands, risk aversion and reserve come from the glide paths, the
DP and the risk assessment, so orders and targets do not depend on them. 2,000 paths give a standard
error of at most 1.1 percentage points; every household of a batch uses the same seed, so the goal Monte
Carlo draws its normals once per process and re-uses them (engine/goals), ~8 ms of a ~13 ms mandate.
"""


@dataclass(frozen=True, slots=True)
class Day:
    """Everything all households share on ``as_of``: tradable tickers, their prices (USD), estimates.

    ``engine`` is the planning facade (``engine.Engine``); it travels with the day so that each worker
    holds exactly one, its per-day cache (prices, estimates) already filled.
    """

    as_of: date
    universe: Universe
    tickers: tuple[str, ...]
    prices: Mapping[str, float]
    estimates: Estimates
    engine: Any
    notes: tuple[str, ...] = field(default=())
    run_kind: RunKind = RunKind.FULL_REBALANCE  # what every household's plan is: a full rebalance, the harvest run…

    @classmethod
    def build(
        cls,
        market: MarketData,
        as_of: date,
        universe: Universe | None = None,
        *,
        config: Any = None,
    ) -> Day:
        """A new ``Engine`` on ``market`` and its day at ``as_of`` (prices up to ``as_of`` only).

        Without ``config`` the engine plans mandates with ``BATCH_MANDATE_PATHS`` Monte Carlo paths.

        Raises:
            DataError: no fund of the universe has a price, or the newest price is older than allowed.
        """
        from engine.planner import EngineConfig, Planner

        config = config or EngineConfig(mandate_paths=BATCH_MANDATE_PATHS)
        return cls.from_engine(Planner(market, universe, config=config), as_of)

    @classmethod
    def from_engine(cls, engine: Any, as_of: date) -> Day:
        """The day as ``engine`` sees it (its cached prices and estimates), carrying a store-less copy of it.

        The copy drops the engine's store: workers only plan, the batch persists (a database connection
        does not travel to other processes).

        Raises:
            DataError: no fund of the universe has a price, or the newest price is older than allowed.
        """
        planner = getattr(engine, "planner", engine)  # an Engine facade, or the pure planner itself
        ctx = planner.day(as_of)
        engine = planner  # workers only plan: the pure planner holds no store and no broker
        universe = engine.universe.subset(ctx.tradable)
        prices = {t: float(p) for t, p in ctx.prices.items()}
        return cls(as_of, universe, tuple(ctx.tradable), prices, ctx.estimates, engine=engine)
