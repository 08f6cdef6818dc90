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
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

import numpy as np

from backtests.market import MarketSnapshot
from backtests.scenario import Frequency, StrategyKind, StrategySpec
from engine.errors import ConfigError, PlanningError
from engine.model import AccountType, Household, RunKind, Universe

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
    "engine_config",
    "harvest_config",
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
    market: Any = None  # the point-in-time market the Engine reads (``SteppedMarket``)
    engine: Any = None  # the run's ``engine.Engine`` (plans for the adaptive strategy, executes for all)


@dataclass(frozen=True, slots=True)
class PortfolioState:
    """The household at today's close before trading: USD per account, fund weights of household value."""

    day: date
    row: int
    account_values: np.ndarray  # USD per account, cash included
    cash: np.ndarray  # USD per account
    weights: np.ndarray  # fraction of household value per fund slot (harvest substitutes count as their slot)
    total: float  # USD, household value
    events: tuple[Any, ...] = ()  # LifeEvents applied since the last decision day
    household: Household | None = None  # the household as of today (after events)
    ledger: Any = None  # the engine's LotLedger (read-only use) for engine strategies
    market: Any = None  # the point-in-time market the Engine reads
    pending_cash: Decimal = Decimal(0)  # USD deposited since the last execution, not yet invested
    mandate: Any = None  # the mandate a life event produced today (engine.goals.apply_event), else None
    proposal_id: str = ""  # a deterministic id for a proposal planned today


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
    """True when ``engine.engine.Engine`` (the facade: check → plan → approve → execute) can be imported."""
    try:
        from engine.engine import Engine  # noqa: F401
    except ImportError:  # pragma: no cover
        return False
    return True


#: Backtest planning settings, measured on the demo adaptive run (19 years, 3 accounts, CPU seconds on this
#: 2-core machine): estimates + mandate reused 30 days with Ledoit-Wolf 77 s, with the sample covariance
#: 66 s, reused a quarter (91 days) with the sample covariance 50 s. Reuse never looks ahead (an older
#: estimate saw only older prices); the goal Monte Carlo runs 2,000 paths instead of the planning default.
BACKTEST_ESTIMATES_MAX_AGE_DAYS = 91
BACKTEST_MANDATE_MAX_AGE_DAYS = 91
BACKTEST_MANDATE_PATHS = 2000
BACKTEST_RISK_MODEL = "sample"


def engine_config(scenario: Any, spec: StrategySpec | None) -> Any:
    """The ``EngineConfig`` a backtest runs: the strategy's harvest / asset-location switches, backtest speed
    settings (quarterly estimates and mandates, sample covariance), the scenario's calendar and the
    engine's order rules (the same for every strategy)."""
    from engine.engine import EngineConfig
    from engine.rebalancer import Frequency as EngineFrequency
    from engine.rebalancer import OrderRules

    replan = scenario.triggers.replan if scenario is not None else Frequency.MONTHLY
    calendar = {Frequency.MONTHLY: EngineFrequency.MONTHLY, Frequency.QUARTERLY: EngineFrequency.QUARTERLY,
                Frequency.ANNUAL: EngineFrequency.ANNUALLY}.get(replan, EngineFrequency.QUARTERLY)
    adaptive = spec is not None and spec.kind is StrategyKind.ADAPTIVE
    half = (scenario.costs.spread_bps / 2 + scenario.costs.slippage_bps) / 1e4 if scenario is not None else 5e-4
    return EngineConfig(
        harvest=bool(spec.harvest) if adaptive else False,
        asset_location=bool(spec.asset_location) if adaptive else True,
        calendar=calendar,
        spread=half,
        order_rules=OrderRules(cash_buffer=scenario.costs.cash_buffer if scenario is not None else 0.0025),
        estimates_max_age_days=BACKTEST_ESTIMATES_MAX_AGE_DAYS,
        mandate_max_age_days=BACKTEST_MANDATE_MAX_AGE_DAYS,
        mandate_paths=BACKTEST_MANDATE_PATHS,
        risk=BACKTEST_RISK_MODEL,
        notional_buys=False,  # share orders sized on the planning day's close, as the simulator has always filled
        harvest_thresholds=harvest_config(scenario),  # the daily harvest run reads the scenario's thresholds
    )


def harvest_config(scenario: Any) -> Any:
    """The scenario's harvest thresholds as the engine's ``HarvestConfig``: the loss floors (USD and fraction
    of basis), the cost per side (half spread + slippage) and ``wash_sale_days``. Every strategy that
    harvests — the adaptive engine's daily run and the benchmarks' daily scan — uses these."""
    from engine.tax import HarvestConfig

    if scenario is None:
        return HarvestConfig()
    trig, costs = scenario.triggers, scenario.costs
    return HarvestConfig(min_loss_usd=Decimal(repr(trig.harvest_min_usd)), min_loss_fraction=trig.harvest_threshold,
                         cost_fraction=(costs.spread_bps / 2 + costs.slippage_bps) / 1e4,
                         fee_per_trade=Decimal(repr(costs.commission)), wash_sale_days=trig.wash_sale_days)


class AdaptiveEngine:
    """The live engine cycle, day by day: ``Engine.check`` and, when a trigger fires, ``Engine.plan``.

    The harness approves (counting proposals a human would have had to approve) and executes the
    returned ``Proposal`` with ``Engine.execute``. ``harvest`` / ``asset_location`` of the spec switch the
    Engine's loss harvesting and asset location (``EngineConfig``) for the 'without' comparisons. With
    ``harvest`` the engine's daily harvest scan runs every trading day (``RunKind.TAX_LOSS_HARVEST``
    proposals, outside the full-rebalance cooldown) with the scenario's thresholds (``harvest_config``).
    """

    def __init__(self, spec: StrategySpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.harvest = False  # the Engine runs its own daily harvest (check → plan); the harness's scan stays off
        self._ctx: StrategyContext | None = None
        self._last_full: date | None = None
        self._last_run: date | None = None
        self._previous: date | None = None

    def initialize(self, context: StrategyContext) -> None:
        if context.engine is None:
            raise PlanningError(f"strategy {self.name}: the adaptive strategy needs the run's engine.Engine",
                                fix="run it through backtests.run_strategy")
        self._ctx = context
        self._last_full = self._last_run = self._previous = None

    def decide(self, snapshot: MarketSnapshot, state: PortfolioState) -> Decision | None:
        """Check the triggers on ``state.day``; plan a proposal when one fires (raises OptimizationError)."""
        assert self._ctx is not None and state.household is not None
        engine = self._ctx.engine
        day = state.day
        trigger = engine.check(
            state.household, day, ledger=state.ledger, last_rebalance=self._last_full,
            last_automatic_run=self._last_run, previous_day=self._previous, pending_cash=state.pending_cash,
            new_events=state.events, mandate=state.mandate,
        )
        self._previous = day
        if trigger is None:
            return None
        self._last_run = day
        if trigger.run_kind is RunKind.FULL_REBALANCE:
            # A failed plan counts as a run for the cooldown too: the trigger would fire again every day
            # until the household changes, and each infeasible solve is diagnosed (the engine's cooldown).
            self._last_full = day
        proposal = engine.plan(state.household, day, decision=trigger, ledger=state.ledger,
                               proposal_id=state.proposal_id or None, mandate=state.mandate)
        strategic = np.zeros(len(self._ctx.tickers))
        index = {t: i for i, t in enumerate(self._ctx.tickers)}
        for (_acct, sym), w in proposal.targets.items():
            if sym in index:
                strategic[index[sym]] += w
        return Decision(trigger.reason, proposal=proposal, strategic=strategic if strategic.sum() > 0 else None)

    def finalize(self) -> None:
        self._ctx = None


def build_strategy(spec: StrategySpec) -> Strategy:
    """The strategy object for a scenario's strategy spec."""
    kinds: dict[StrategyKind, type] = {
        StrategyKind.STATIC: StaticMix,
        StrategyKind.THRESHOLD: ThresholdRebalanced,
        StrategyKind.GLIDE_PATH: GlidePath,
        StrategyKind.ADAPTIVE: AdaptiveEngine,
    }
    return kinds[spec.kind](spec)
