"""Strategies the harness compares: the adaptive Engine and simple benchmarks, behind one small protocol.

    strategy = build_strategy(spec)                      # from a scenario's StrategySpec
    strategy.initialize(context); decision = strategy.decide(snapshot, state)

Every strategy has the same life cycle (``initialize`` → ``decide`` each trading day → ``finalize``) and
reads only a ``MarketSnapshot`` (cut at the day) and a typed ``PortfolioState``. Benchmarks return a
household mix (fractions per fund, summing to 1, the same in every account); the adaptive strategy returns
the Engine's ``Proposal``. The harness turns both into trades through the same broker + ledger path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol, runtime_checkable

import numpy as np

from backtests.market import MarketSnapshot
from backtests.scenario import Frequency, StrategyKind, StrategySpec
from engine.errors import ConfigError, PlanningError
from engine.model import AccountType, Household, Universe

__all__ = [
    "AdaptiveEngine",
    "Decision",
    "GlidePath",
    "PortfolioState",
    "StaticMix",
    "Strategy",
    "StrategyContext",
    "ThresholdRebalanced",
    "available_mix",
    "build_strategy",
    "engine_available",
]


@dataclass(frozen=True, slots=True)
class StrategyContext:
    """What a strategy may know up front: the funds, accounts, household and scenario settings."""

    tickers: tuple[str, ...]
    universe: Universe
    household: Household
    account_ids: tuple[str, ...]
    account_types: tuple[AccountType, ...]
    start: date
    seed: int
    scenario: Any = None
    market: Any = None  # a point-in-time guarded market-data object for the Engine (None for benchmarks)


@dataclass(frozen=True, slots=True)
class PortfolioState:
    """The household at today's close before trading: USD per account, fund weights of household value."""

    day: date
    row: int
    account_values: np.ndarray  # USD per account, cash included
    cash: np.ndarray  # USD per account
    weights: np.ndarray  # fraction of household value per fund slot (harvest substitutes count as their slot)
    total: float  # USD, household value
    events: tuple[Any, ...] = ()  # EventSpec of life events effective today
    household: Household | None = None  # the household as of today (after events)
    ledger: Any = None  # the bookkeeping (read-only use) for engine strategies
    market: Any = None  # market data cut at ``day`` (PointInTimeGuard) for the Engine's estimates


@dataclass(frozen=True, slots=True)
class Decision:
    """A strategy's instruction for today.

    ``mix`` is a household mix over ``tickers`` (fractions summing to 1, held in every account alike);
    ``targets`` maps (account, ticker) → fraction of household value (asset location); ``proposal`` an
    Engine ``Proposal`` to execute through ``Engine.execute``. ``strategic`` is the long-run mix the
    tracking error is measured against (fractions per fund).
    """

    reason: str
    mix: np.ndarray | None = None
    targets: Mapping[tuple[str, str], float] | None = None
    proposal: Any = None
    strategic: np.ndarray | None = None


@runtime_checkable
class Strategy(Protocol):
    """One life cycle for every strategy: set up once, decide each trading day, finish."""

    name: str
    harvest: bool

    def initialize(self, context: StrategyContext) -> None: ...

    def decide(self, snapshot: MarketSnapshot, state: PortfolioState) -> Decision | None: ...

    def finalize(self) -> None: ...


def available_mix(weights: Mapping[str, float], tickers: tuple[str, ...], tradable: np.ndarray,
                  universe: Universe) -> np.ndarray:
    """A mix over ``tickers`` using only funds that exist today (fractions summing to 1).

    A fund without a price yet is replaced by the first tradable fund of its substitute group, then of its
    sub-class, then of its asset class (configuration order); with none, its weight is spread pro rata.
    """
    out = np.zeros(len(tickers))
    index = {t: i for i, t in enumerate(tickers)}
    for t, w in weights.items():
        i = index.get(t.upper())
        if i is not None and tradable[i]:
            out[i] += w
            continue
        sub = _stand_in(t.upper(), tickers, tradable, universe)
        if sub is not None:
            out[sub] += w
    s = out.sum()
    return out / s if s > 0 else out


def _stand_in(t: str, tickers: tuple[str, ...], tradable: np.ndarray, universe: Universe) -> int | None:
    asset = universe[t]
    tests = (
        lambda a: asset.substitute_group is not None and a.substitute_group == asset.substitute_group,
        lambda a: a.asset_class == asset.asset_class and a.sub_class == asset.sub_class,
        lambda a: a.asset_class == asset.asset_class,
    )
    for test in tests:
        for i, cand in enumerate(tickers):
            if cand != t and tradable[i] and cand in universe and test(universe[cand]):
                return i
    return None


def _period_key(day: date, freq: Frequency) -> tuple[int, int]:
    if freq is Frequency.MONTHLY:
        return (day.year, day.month)
    if freq is Frequency.QUARTERLY:
        return (day.year, (day.month - 1) // 3)
    if freq is Frequency.ANNUAL:
        return (day.year, 0)
    return (0, 0)


@dataclass
class _MixStrategy:
    """Shared plumbing of the benchmarks: the fund mix of the day, calendar keys, availability."""

    spec: StrategySpec
    name: str = ""
    harvest: bool = False
    _ctx: StrategyContext | None = field(default=None, repr=False)
    _last_key: tuple[int, int] | None = None
    _last_tradable: np.ndarray | None = None
    _target: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.name = self.spec.name
        self.harvest = self.spec.harvest

    def initialize(self, context: StrategyContext) -> None:
        self._ctx = context
        self._last_key = None
        self._last_tradable = None
        self._target = None

    def finalize(self) -> None:
        self._ctx = None

    def _weights(self, day: date) -> Mapping[str, float]:
        return self.spec.weights

    def _mix(self, snapshot: MarketSnapshot) -> np.ndarray:
        assert self._ctx is not None
        return available_mix(self._weights(snapshot.day), self._ctx.tickers, snapshot.tradable,
                             self._ctx.universe)

    def _new_funds(self, snapshot: MarketSnapshot) -> bool:
        tradable = snapshot.tradable
        changed = self._last_tradable is None or bool((tradable & ~self._last_tradable).any())
        self._last_tradable = tradable.copy()
        return changed

    def _calendar_due(self, day: date, freq: Frequency) -> bool:
        key = _period_key(day, freq)
        due = self._last_key is None or key != self._last_key
        return due


class StaticMix(_MixStrategy):
    """A fixed mix (e.g. 60/40), rebalanced on the first trading day of each calendar period."""

    def decide(self, snapshot: MarketSnapshot, state: PortfolioState) -> Decision | None:
        new = self._new_funds(snapshot)
        if not (self._calendar_due(state.day, self.spec.rebalance) or new):
            return None
        self._last_key = _period_key(state.day, self.spec.rebalance)
        mix = self._mix(snapshot)
        self._target = mix
        return Decision(f"calendar ({self.spec.rebalance.value})" if not new else "new funds", mix=mix,
                        strategic=mix)


class ThresholdRebalanced(_MixStrategy):
    """A model portfolio rebalanced when any fund drifts more than ``band`` (absolute) from its target."""

    def decide(self, snapshot: MarketSnapshot, state: PortfolioState) -> Decision | None:
        new = self._new_funds(snapshot)
        if self._target is None or new:
            self._target = self._mix(snapshot)
            return Decision("initial" if not new else "new funds", mix=self._target, strategic=self._target)
        if state.total <= 0:
            return None
        drift = float(np.max(np.abs(state.weights - self._target)))
        if drift > self.spec.band:
            return Decision(f"drift {drift:.1%} > band {self.spec.band:.0%}", mix=self._target,
                            strategic=self._target)
        return None


class GlidePath(_MixStrategy):
    """Target-date style: the equity share follows the glide knots towards ``target_year``; quarterly."""

    def _target_year(self) -> int:
        if self.spec.target_year is not None:
            return self.spec.target_year
        assert self._ctx is not None
        for g in self._ctx.household.goals:
            if g.kind.value == "retirement":
                return g.target_date.year
        raise ConfigError(
            f"glide path {self.name} needs target_year (the household has no retirement goal)",
            field=f"strategies.{self.name}.target_year",
            fix="set target_year or add a retirement goal",
        )

    def equity_share(self, day: date) -> float:
        """Equity fraction on ``day`` by linear interpolation of the glide knots (years to target)."""
        years = self._target_year() - (day.year + (day.timetuple().tm_yday - 1) / 365.25)
        knots = sorted(self.spec.glide)
        xs = [k[0] for k in knots]
        ys = [k[1] for k in knots]
        return float(np.interp(years, xs, ys))

    def _weights(self, day: date) -> Mapping[str, float]:
        e = self.equity_share(day)
        w: dict[str, float] = {}
        for t, x in self.spec.equity_mix.items():
            w[t] = w.get(t, 0.0) + e * x
        for t, x in self.spec.bond_mix.items():
            w[t] = w.get(t, 0.0) + (1 - e) * x
        return w

    def decide(self, snapshot: MarketSnapshot, state: PortfolioState) -> Decision | None:
        new = self._new_funds(snapshot)
        if not (self._calendar_due(state.day, self.spec.rebalance) or new):
            return None
        self._last_key = _period_key(state.day, self.spec.rebalance)
        mix = self._mix(snapshot)
        self._target = mix
        return Decision(f"glide {self.equity_share(state.day):.0%} equity", mix=mix, strategic=mix)


def engine_available() -> bool:
    """True once ``engine.Engine`` (the facade: plan → Proposal, execute) has landed."""
    try:
        import engine

        return hasattr(engine, "Engine")
    except ImportError:  # pragma: no cover
        return False


class AdaptiveEngine:
    """The real Engine cycle: ``Engine.plan(household, as_of, ...)`` on trigger days → a ``Proposal``.

    ``harvest`` and ``asset_location`` switch the Engine's loss harvesting and asset location (for the
    'without' comparisons). Raises ``PlanningError`` at ``initialize`` until ``engine.Engine`` exists.
    """

    def __init__(self, spec: StrategySpec) -> None:
        self.spec = spec
        self.name = spec.name
        # The Engine harvests inside its own cycle; the harness's interim scan stays off for it.
        self.harvest = False
        self._engine: Any = None
        self._ctx: StrategyContext | None = None
        self._last_key: tuple[int, int] | None = None

    def initialize(self, context: StrategyContext) -> None:
        if not engine_available():
            raise PlanningError(
                f"strategy {self.name}: the adaptive strategy drives engine.Engine, which has not landed yet",
                fix="run the benchmark strategies only (--strategies static_60_40,...) until engine/engine.py exists",
            )
        import engine

        self._ctx = context
        self._engine = engine.Engine(  # type: ignore[attr-defined]
            universe=context.universe, market=context.market,
            harvest=self.spec.harvest, asset_location=self.spec.asset_location,
        )
        self._last_key = None

    def decide(self, snapshot: MarketSnapshot, state: PortfolioState) -> Decision | None:
        assert self._ctx is not None and state.household is not None
        key = _period_key(state.day, self._ctx.scenario.triggers.replan if self._ctx.scenario else Frequency.MONTHLY)
        if key == self._last_key and not state.events:
            return None
        self._last_key = key
        proposal = self._engine.plan(state.household, state.day, market=state.market, ledger=state.ledger)
        return Decision(getattr(proposal, "trigger", "replan"), proposal=proposal,
                        targets=getattr(proposal, "targets", None))

    def finalize(self) -> None:
        self._engine = None


def build_strategy(spec: StrategySpec) -> Strategy:
    """The strategy object for a scenario's strategy spec."""
    kinds: dict[StrategyKind, type] = {
        StrategyKind.STATIC: StaticMix,
        StrategyKind.THRESHOLD: ThresholdRebalanced,
        StrategyKind.GLIDE_PATH: GlidePath,
        StrategyKind.ADAPTIVE: AdaptiveEngine,
    }
    return kinds[spec.kind](spec)
