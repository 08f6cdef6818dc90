"""Planning configuration: glide paths, class split, life-event rules, approval thresholds, market assumptions.

    paths = load_glide_paths()                 # config/glide_paths.yaml (+ per-household overrides)
    market = load_capital_market()             # the single loader of capital-market assumptions

Fractions are 0.05 = 5 %; money is today's USD; returns are annual arithmetic, nominal.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.config.loader import config_dir, default_file, load_yaml
from engine.errors import ConfigError
from engine.model import AssetClass, GoalKind, LifeEventKind

__all__ = [
    "ApprovalThresholds",
    "CapitalMarket",
    "EventRules",
    "GlidePaths",
    "PlanningSettings",
    "load_capital_market",
    "load_event_rules",
    "load_glide_paths",
]

log = logging.getLogger(__name__)

Knots = list[tuple[float, float]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_knots(v: Knots) -> Knots:
    if not v:
        raise ValueError("a glide path needs at least one [years, fraction] knot")
    years = [k[0] for k in v]
    if any(y < 0 for y in years) or years != sorted(years) or len(set(years)) != len(years):
        raise ValueError("knot years must be ≥ 0 and strictly increasing")
    if any(not 0.0 <= k[1] <= 1.0 for k in v):
        raise ValueError("knot fractions must lie in [0, 1]")
    return v


class _PathSchema(_Strict):
    equity: Knots
    cash: Knots = [(0.0, 0.0)]

    @field_validator("equity", "cash")
    @classmethod
    def _knots(cls, v: Knots) -> Knots:
        return _check_knots(v)


class _SplitSchema(_Strict):
    equity: dict[AssetClass, float]
    bonds: dict[AssetClass, float]
    cash: dict[AssetClass, float] = {AssetClass.CASH: 1.0}

    @field_validator("equity", "bonds", "cash")
    @classmethod
    def _sums_to_one(cls, v: dict[AssetClass, float]) -> dict[AssetClass, float]:
        if any(w < 0 for w in v.values()) or abs(sum(v.values()) - 1.0) > 1e-6:
            raise ValueError("weights must be ≥ 0 and sum to 1")
        return v


class _BandsSchema(_Strict):
    min_band: float = Field(0.02, ge=0, le=1)
    max_band: float = Field(0.05, ge=0, le=1)
    relative: float = Field(0.25, ge=0, le=1)


class _GlideSchema(_Strict):
    version: Literal[1] = 1
    paths: dict[GoalKind, _PathSchema]
    class_split: _SplitSchema
    bands: _BandsSchema = _BandsSchema()
    households: dict[str, dict[GoalKind, _PathSchema]] = {}


def _interp(knots: tuple[tuple[float, float], ...], years: Any) -> Any:
    xs = np.array([k[0] for k in knots])
    ys = np.array([k[1] for k in knots])
    return np.interp(years, xs, ys)


@dataclass(frozen=True, slots=True)
class GlidePaths:
    """Equity and cash share (fractions) of a goal's sleeve by years to the goal, and the class split."""

    equity: Mapping[GoalKind, tuple[tuple[float, float], ...]]
    cash: Mapping[GoalKind, tuple[tuple[float, float], ...]]
    split: Mapping[str, Mapping[AssetClass, float]]
    bands: tuple[float, float, float] = (0.02, 0.05, 0.25)

    def equity_share(self, kind: GoalKind, years: Any) -> Any:
        """Equity fraction at ``years`` (float or array) to the goal; flat beyond the knots."""
        return _interp(self.equity[kind], np.maximum(years, 0.0))

    def cash_share(self, kind: GoalKind, years: Any) -> Any:
        """Cash fraction at ``years`` to the goal, never more than 1 − equity."""
        eq = self.equity_share(kind, years)
        return np.minimum(_interp(self.cash[kind], np.maximum(years, 0.0)), 1.0 - eq)

    def class_mix(self, equity: float, cash: float = 0.0) -> dict[AssetClass, float]:
        """Asset-class weights (sum 1) for an equity and cash fraction; the rest is bonds."""
        equity = float(np.clip(equity, 0.0, 1.0))
        cash = float(np.clip(cash, 0.0, 1.0 - equity))
        bonds = 1.0 - equity - cash
        mix: dict[AssetClass, float] = {}
        for block, share in (("equity", equity), ("bonds", bonds), ("cash", cash)):
            for cls, w in self.split[block].items():
                if share * w > 0:
                    mix[cls] = mix.get(cls, 0.0) + share * w
        return mix

    def band(self, weight: float) -> tuple[float, float]:
        """Class band (min, max weight) around a strategic weight."""
        lo_band, hi_band, rel = self.bands
        half = max(lo_band, min(hi_band, rel * weight))
        return (max(0.0, weight - half), min(1.0, weight + half))

    def with_overrides(self, equity: Mapping[GoalKind, Knots], cash: Mapping[GoalKind, Knots]) -> GlidePaths:
        """A copy with some kinds' knots replaced (per-household editing)."""
        eq = {**self.equity, **{k: tuple(map(tuple, v)) for k, v in equity.items()}}
        ca = {**self.cash, **{k: tuple(map(tuple, v)) for k, v in cash.items()}}
        return GlidePaths(eq, ca, self.split, self.bands)


def load_glide_paths(path: str | Path | None = None, *, household: str | None = None) -> GlidePaths:
    """Glide paths from ``config/glide_paths.yaml`` (or ``path``), with ``household``'s overrides applied.

    Raises:
        ConfigError: the file is missing a goal kind, or a knot list is invalid.
    """
    p = Path(path) if path else default_file("glide_paths.yaml")
    s = load_yaml(p, _GlideSchema)
    missing = sorted(set(GoalKind) - set(s.paths))
    if missing:
        raise ConfigError(
            "glide paths missing for goal kinds",
            file=str(p),
            field="paths",
            value=missing,
            fix="add an equity knot list for each goal kind",
        )
    gp = GlidePaths(
        equity={k: tuple(v.equity) for k, v in s.paths.items()},
        cash={k: tuple(v.cash) for k, v in s.paths.items()},
        split={"equity": s.class_split.equity, "bonds": s.class_split.bonds, "cash": s.class_split.cash},
        bands=(s.bands.min_band, s.bands.max_band, s.bands.relative),
    )
    if household and household in s.households:
        over = s.households[household]
        gp = gp.with_overrides({k: v.equity for k, v in over.items()}, {k: v.cash for k, v in over.items()})
    return gp


# ---------------------------------------------------------------------------------------------
# Life-event rules, approval thresholds, planning settings
# ---------------------------------------------------------------------------------------------


class _ApprovalSchema(_Strict):
    equity_move: float = Field(0.10, ge=0, le=1)
    probability_floor: float = Field(0.50, ge=0, le=1)
    withdrawal_usd: float = Field(50000, ge=0)
    withdrawal_fraction: float = Field(0.10, ge=0, le=1)


class _PlanningSchema(_Strict):
    paths: int = Field(20000, ge=100, le=2_000_000)
    seed: int = 20240601
    target_probability: float = Field(0.80, gt=0, lt=1)
    off_track_probability: float = Field(0.70, ge=0, le=1)
    dp_band: float = Field(0.15, ge=0, le=1)
    retirement_real_rate: float = Field(0.03, ge=-0.05, le=0.15)
    reserve_horizon_months: int = Field(12, ge=0, le=60)
    drift_threshold: float = Field(0.05, ge=0, le=1)
    retirement_model: Literal["full", "plain"] = "full"
    survivor_spending: float = Field(0.7, ge=0, le=1)


class _RulesSchema(_Strict):
    version: Literal[1] = 1
    rules: dict[LifeEventKind, dict[str, Any]]
    approval: _ApprovalSchema = _ApprovalSchema()
    planning: _PlanningSchema = _PlanningSchema()


@dataclass(frozen=True, slots=True)
class ApprovalThresholds:
    """When a proposal needs a human: equity move (fraction), probability floor, withdrawal size (USD / fraction)."""

    equity_move: float = 0.10
    probability_floor: float = 0.50
    withdrawal_usd: float = 50000.0
    withdrawal_fraction: float = 0.10


@dataclass(frozen=True, slots=True)
class PlanningSettings:
    """Monte Carlo size and seed, target probability, DP band around the glide path, reserve horizon."""

    paths: int = 20000
    seed: int = 20240601
    target_probability: float = 0.80
    off_track_probability: float = 0.70
    dp_band: float = 0.15
    retirement_real_rate: float = 0.03
    reserve_horizon_months: int = 12
    drift_threshold: float = 0.05
    retirement_model: str = "full"
    survivor_spending: float = 0.7


@dataclass(frozen=True, slots=True)
class EventRules:
    """Per-kind rule parameters (see ``config/life_events.yaml``), approval thresholds and planning settings."""

    rules: Mapping[LifeEventKind, Mapping[str, Any]]
    approval: ApprovalThresholds = field(default_factory=ApprovalThresholds)
    planning: PlanningSettings = field(default_factory=PlanningSettings)

    def rule(self, kind: LifeEventKind) -> Mapping[str, Any]:
        """The parameters of one kind's rule (empty when the file has none)."""
        return self.rules.get(kind, {})


def load_event_rules(path: str | Path | None = None) -> EventRules:
    """Rules from ``config/life_events.yaml`` (or ``path``).

    Raises:
        ConfigError: the file is malformed (names the field and a fix).
    """
    p = Path(path) if path else default_file("life_events.yaml")
    s = load_yaml(p, _RulesSchema)
    for kind, params in s.rules.items():
        for key, value in (params or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
                raise ConfigError(
                    "rule parameters must be ≥ 0",
                    file=str(p),
                    field=f"rules.{kind}.{key}",
                    value=value,
                    fix="use a non-negative number",
                )
    return EventRules(
        rules={k: dict(v or {}) for k, v in s.rules.items()},
        approval=ApprovalThresholds(**s.approval.model_dump()),
        planning=PlanningSettings(**s.planning.model_dump()),
    )


# ---------------------------------------------------------------------------------------------
# Capital-market assumptions
# ---------------------------------------------------------------------------------------------

# Long-run nominal assumptions (annual arithmetic mean, volatility), in the range of published 10-year
# capital-market assumptions (Vanguard, BlackRock, JPMorgan LTCMA). Used until
# config/capital_market_assumptions.yaml exists; ``load_capital_market`` is the single switch.
_DEFAULT_CLASSES: dict[AssetClass, tuple[float, float]] = {
    AssetClass.US_EQUITY: (0.075, 0.165),
    AssetClass.INTL_EQUITY: (0.080, 0.180),
    AssetClass.EM_EQUITY: (0.090, 0.230),
    AssetClass.REAL_ESTATE: (0.070, 0.200),
    AssetClass.US_BONDS: (0.045, 0.055),
    AssetClass.INTL_BONDS: (0.040, 0.050),
    AssetClass.TIPS: (0.042, 0.060),
    AssetClass.MUNI_BONDS: (0.035, 0.045),
    AssetClass.HIGH_YIELD: (0.060, 0.090),
    AssetClass.COMMODITIES: (0.050, 0.180),
    AssetClass.CASH: (0.030, 0.010),
}
_GROUP = {
    AssetClass.US_EQUITY: "eq",
    AssetClass.INTL_EQUITY: "eq",
    AssetClass.EM_EQUITY: "eq",
    AssetClass.REAL_ESTATE: "re",
    AssetClass.US_BONDS: "bd",
    AssetClass.INTL_BONDS: "bd",
    AssetClass.TIPS: "bd",
    AssetClass.MUNI_BONDS: "bd",
    AssetClass.HIGH_YIELD: "hy",
    AssetClass.COMMODITIES: "cm",
    AssetClass.CASH: "ca",
}
_GROUP_CORR = {
    ("eq", "eq"): 0.80,
    ("eq", "re"): 0.65,
    ("eq", "bd"): 0.10,
    ("eq", "hy"): 0.60,
    ("eq", "cm"): 0.30,
    ("re", "bd"): 0.20,
    ("re", "hy"): 0.55,
    ("re", "cm"): 0.25,
    ("bd", "bd"): 0.70,
    ("bd", "hy"): 0.35,
    ("bd", "cm"): 0.00,
    ("hy", "cm"): 0.30,
}


@dataclass(frozen=True, slots=True)
class CapitalMarket:
    """Per-class expected return and volatility (annual, nominal, arithmetic), correlations, inflation."""

    classes: tuple[AssetClass, ...]
    mu: np.ndarray
    vol: np.ndarray
    corr: np.ndarray
    inflation: float = 0.025
    source: str = "built-in defaults"

    @property
    def cov(self) -> np.ndarray:
        """Annual covariance matrix."""
        return self.corr * np.outer(self.vol, self.vol)

    def moments(self, weights: Mapping[AssetClass, float]) -> tuple[float, float]:
        """(expected return, volatility) of a class mix, annual nominal."""
        w = np.array([float(weights.get(c, 0.0)) for c in self.classes])
        return float(w @ self.mu), float(np.sqrt(max(w @ self.cov @ w, 0.0)))

    def covariance(self, a: Mapping[AssetClass, float], b: Mapping[AssetClass, float]) -> float:
        """Annual covariance of two class mixes."""
        wa = np.array([float(a.get(c, 0.0)) for c in self.classes])
        wb = np.array([float(b.get(c, 0.0)) for c in self.classes])
        return float(wa @ self.cov @ wb)


def _default_market() -> CapitalMarket:
    classes = tuple(_DEFAULT_CLASSES)
    n = len(classes)
    corr = np.eye(n)
    for i, a in enumerate(classes):
        for j, b in enumerate(classes):
            if i != j:
                ga, gb = _GROUP[a], _GROUP[b]
                corr[i, j] = _GROUP_CORR.get((ga, gb), _GROUP_CORR.get((gb, ga), 0.0))
    mu = np.array([_DEFAULT_CLASSES[c][0] for c in classes])
    vol = np.array([_DEFAULT_CLASSES[c][1] for c in classes])
    return CapitalMarket(classes, mu, vol, corr)


def load_capital_market(path: str | Path | None = None) -> CapitalMarket:
    """Capital-market assumptions as arrays for planning, read by the one loader in ``engine.config``.

    ``path`` defaults to ``config/capital_market_assumptions.yaml``; classes the file leaves out keep the
    built-in defaults. A bad file raises ``ConfigError`` (never a silent fallback). Cached per file and
    modification time, so planning many households reads the YAML once.
    """
    from engine.config.market_assumptions import load_capital_market_assumptions

    p = Path(path) if path else config_dir() / "capital_market_assumptions.yaml"
    if not p.exists():
        if path:
            raise ConfigError("file not found", file=str(p), fix="check the path")
        return _default_market()
    return _cached_market(str(p.resolve()), p.stat().st_mtime_ns, load_capital_market_assumptions)


@functools.lru_cache(maxsize=8)
def _cached_market(path: str, _mtime: int, loader: Any) -> CapitalMarket:
    cma = loader(path)
    base = _default_market()
    index = {c: i for i, c in enumerate(base.classes)}
    mu, vol, corr = base.mu.copy(), base.vol.copy(), base.corr.copy()
    for cls, r in cma.expected_return.items():
        if cls in index:
            mu[index[cls]] = float(r)
            vol[index[cls]] = float(cma.volatility[cls])
    known = [c for c in cma.correlation.index if c in index]
    for a in known:
        for b in known:
            corr[index[a], index[b]] = float(cma.correlation.loc[a, b])
    if np.linalg.eigvalsh(corr).min() < -1e-8:
        raise ConfigError("the class correlations, merged with the defaults, are not positive semi-definite",
                          file=path, fix="give correlations for every class in the file")
    return CapitalMarket(base.classes, mu, vol, corr, float(cma.inflation), path)
