"""Backtest scenarios: YAML in ``backtests/scenarios/``, validated like all configuration.

    scenario = load_scenario("demo")                 # a shipped name, or a path to a YAML file
    scenario.household.id, scenario.start, scenario.strategies[0].kind, scenario.hash

A scenario names the universe, the period, the household (inline, ``sample`` or a path), the strategies
to compare, the cash-flow schedule, the life-event timeline, trading costs, tax settings and triggers.
Money is USD, rates and weights are fractions (0.05 = 5 %), dates YYYY-MM-DD.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.config import household_from_dict, load_household, load_universe
from engine.config.exact import Money
from engine.config.loader import read_yaml, validate
from engine.errors import ConfigError
from engine.model import AccountType, Household, LifeEvent, LifeEventKind, Universe

__all__ = [
    "SCENARIO_DIR",
    "CashFlowSpec",
    "CostSpec",
    "EventSpec",
    "Frequency",
    "Scenario",
    "StrategyKind",
    "StrategySpec",
    "TaxPayment",
    "TaxSpec",
    "TriggerSpec",
    "list_scenarios",
    "load_scenario",
    "scenario_from_dict",
]

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"


class Frequency(StrEnum):
    """How often a cash flow repeats or a calendar rebalance runs (first trading day of the period)."""

    ONCE = "once"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUAL = "annual"


class StrategyKind(StrEnum):
    """The strategies a scenario can compare."""

    ADAPTIVE = "adaptive"          # the real Engine (plan → execute), with or without harvesting/location
    STATIC = "static"              # fixed mix, calendar rebalanced
    THRESHOLD = "threshold"        # model portfolio, rebalanced when drift exceeds a band
    GLIDE_PATH = "glide_path"      # target-date style: equity share falls towards the target year


class TaxPayment(StrEnum):
    """Where year-end taxes come from."""

    TAXABLE_CASH = "taxable_cash"  # paid from the taxable account (selling if its cash is short)
    OWED = "owed"                  # recorded as owed (a liability in the after-tax value), never sold for


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CostSpec(_Strict):
    commission: float = Field(0.0, ge=0, le=100, description="USD per order")
    spread_bps: float = Field(2.0, ge=0, le=500, description="full bid-ask spread; half is paid per trade")
    slippage_bps: float = Field(1.0, ge=0, le=500, description="extra market impact per trade")
    cash_buffer: float = Field(0.0025, ge=0, le=0.2, description="fraction of each account kept in cash")


class TaxSpec(_Strict):
    """How taxes are settled; the rates come from the household's tax profile and the engine's tax tables
    (``engine.tax.tax_on``: brackets, NIIT, carryforwards, the $3,000 deduction)."""

    pay_from: TaxPayment = TaxPayment.TAXABLE_CASH
    state_rate: float | None = Field(None, ge=0, le=0.2, description="None: the household's state rate")
    dividend_drag: bool = True
    outside_st_gains: float = Field(0.0, ge=0, description="USD/year of short-term gains realized outside the "
                                    "portfolio (what harvested losses may offset first; the published TLH "
                                    "estimates assume such gains)")
    outside_lt_gains: float = Field(0.0, ge=0, description="USD/year of long-term gains realized outside")


class TriggerSpec(_Strict):
    harvest_threshold: float = Field(0.05, ge=0, le=0.9, description="loss as a fraction of basis")
    harvest_min_usd: float = Field(200.0, ge=0)
    wash_sale_days: int = Field(30, ge=0, le=90)
    invest_cash_min: float = Field(100.0, ge=0, description="USD of idle cash that triggers an invest-cash run")
    cooldown_days: int = Field(3, ge=0, le=60, description="trading days between two trigger-driven runs")
    replan: Frequency = Frequency.MONTHLY


class CashFlowSpec(_Strict):
    kind: Literal["contribution", "withdrawal"]
    amount: Money = Field(gt=0, description="USD per occurrence")
    every: Frequency = Frequency.MONTHLY
    start: date
    end: date | None = None
    account: str | None = Field(None, description="required for contributions; withdrawals follow the order")
    growth: float = Field(0.0, ge=-0.5, le=0.5, description="annual growth of the amount (inflation, raises)")
    label: str = ""

    @model_validator(mode="after")
    def _account_for_contribution(self) -> CashFlowSpec:
        if self.kind == "contribution" and not self.account:
            raise ValueError("a contribution needs an account")
        if self.end is not None and self.end < self.start:
            raise ValueError("end is before start")
        return self


class EventSpec(_Strict):
    kind: LifeEventKind
    on: date
    member: str | None = None
    amount: Money | None = Field(None, ge=0)
    account: str | None = Field(None, description="where a lump sum (inheritance) lands")
    contribution_scale: float | None = Field(None, ge=0, le=10, description="multiplies later contributions")
    details: dict[str, Any] = {}
    label: str = ""

    @model_validator(mode="before")
    @classmethod
    def _yaml_on_is_true(cls, data: Any) -> Any:
        # YAML 1.1 reads a bare `on:` key as the boolean True; take it back as the date field.
        if isinstance(data, dict) and True in data and "on" not in data:
            data = {("on" if k is True else k): v for k, v in data.items()}
        return data


class StrategySpec(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: StrategyKind
    harvest: bool = False
    asset_location: bool = True
    weights: dict[str, float] = {}
    rebalance: Frequency = Frequency.QUARTERLY
    band: float = Field(0.05, gt=0, le=0.5, description="absolute drift band per fund")
    equity_mix: dict[str, float] = {}
    bond_mix: dict[str, float] = {}
    target_year: int | None = Field(None, ge=1990, le=2100)
    glide: list[tuple[float, float]] = Field(
        default=[(40.0, 0.9), (25.0, 0.9), (0.0, 0.5), (-7.0, 0.3)],
        description="(years to target, equity share) knots, linearly interpolated",
    )
    tax_alpha_baseline: str | None = None

    @model_validator(mode="after")
    def _weights_fit_kind(self) -> StrategySpec:
        for name in ("weights", "equity_mix", "bond_mix"):
            w = getattr(self, name)
            if w and (any(v < 0 for v in w.values()) or abs(sum(w.values()) - 1.0) > 1e-6):
                raise ValueError(f"{name} must be non-negative and sum to 1 (got {sum(w.values()):.4f})")
        if self.kind in (StrategyKind.STATIC, StrategyKind.THRESHOLD) and not self.weights:
            raise ValueError(f"a {self.kind.value} strategy needs weights")
        if self.kind is StrategyKind.GLIDE_PATH and not (self.equity_mix and self.bond_mix):
            raise ValueError("a glide_path strategy needs equity_mix and bond_mix")
        return self


class CsvDataSpec(_Strict):
    """Prices from a CSV of adjusted closes (``engine.data.CsvSource``): wide or long layout."""

    csv: str = Field(min_length=1, description="path, relative to the scenario file")
    max_daily_move: float | None = Field(0.60, gt=0, description="largest one-day move accepted; null: no limit")
    check_calendar: bool = True


class ScenarioSchema(_Strict):
    version: Literal[1] = 1
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    start: date
    end: date | Literal["latest"] = "latest"
    universe: list[str] = []
    household: str | dict[str, Any]
    seed: int = 0
    costs: CostSpec = CostSpec()
    taxes: TaxSpec = TaxSpec()
    triggers: TriggerSpec = TriggerSpec()
    data: Literal["embedded", "yahoo"] | CsvDataSpec = "embedded"
    withdrawal_order: list[AccountType] = [AccountType.TAXABLE, AccountType.TRADITIONAL, AccountType.ROTH]
    cash_flows: list[CashFlowSpec] = []
    events: list[EventSpec] = []
    strategies: Annotated[list[StrategySpec], Field(min_length=1)]


@dataclass(frozen=True, slots=True)
class Scenario:
    """A validated scenario: its schema values, the household and universe it names, and its hash."""

    name: str
    description: str
    start: date
    end: date | None
    universe: Universe
    household: Household
    seed: int
    costs: CostSpec
    taxes: TaxSpec
    triggers: TriggerSpec
    withdrawal_order: tuple[AccountType, ...]
    cash_flows: tuple[CashFlowSpec, ...]
    events: tuple[EventSpec, ...]
    strategies: tuple[StrategySpec, ...]
    source: str
    config: dict[str, Any]
    hash: str
    data: Any = "embedded"  # "embedded", "yahoo" or a CsvDataSpec with its path resolved

    def price_source(self) -> Any:
        """The engine ``PriceSource`` the scenario names (``data``), or None for the embedded prices."""
        if self.data == "embedded":
            return None
        if self.data == "yahoo":
            from engine.data import YahooSource

            return YahooSource()
        from engine.data import CsvSource

        return CsvSource(self.data.csv, max_daily_move=self.data.max_daily_move,
                         check_calendar=self.data.check_calendar)

    def strategy(self, name: str) -> StrategySpec:
        """The strategy spec of this name (raises ``ConfigError``)."""
        for s in self.strategies:
            if s.name == name:
                return s
        raise ConfigError(
            f"scenario {self.name} has no strategy {name!r}",
            field="strategies",
            value=name,
            fix=f"use one of: {', '.join(s.name for s in self.strategies)}",
        )

    def with_strategies(self, names: list[str]) -> Scenario:
        """A copy restricted to the named strategies (in the given order)."""
        from dataclasses import replace

        return replace(self, strategies=tuple(self.strategy(n) for n in names))

    def life_events(self) -> tuple[LifeEvent, ...]:
        """The timeline as domain ``LifeEvent``s (for ``engine.goals.apply_event``)."""
        return tuple(
            LifeEvent(kind=e.kind, on=e.on, member=e.member, amount=e.amount, details=dict(e.details))
            for e in self.events
        )


def list_scenarios() -> list[str]:
    """Names of the shipped scenarios."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def load_scenario(path_or_name: str | Path, *, universe: Universe | None = None) -> Scenario:
    """Load and validate a scenario: a YAML path, or a shipped name (``demo``, ``retiree``, ``esg``, ``tlh``).

    Raises:
        ConfigError: the file is missing or invalid; the message names the file, field and fix.
    """
    p = Path(path_or_name)
    if not p.suffix and not p.is_file():
        shipped = SCENARIO_DIR / f"{p.name}.yaml"
        if not shipped.exists():
            raise ConfigError(
                f"no scenario {str(path_or_name)!r}",
                fix=f"pass a YAML path or one of: {', '.join(list_scenarios())}",
            )
        p = shipped
    return scenario_from_dict(read_yaml(p), file=str(p), base=p.parent, universe=universe)


def scenario_from_dict(
    data: Any, *, file: str | None = None, base: Path | None = None, universe: Universe | None = None
) -> Scenario:
    """Validate parsed YAML into a ``Scenario`` (household references resolved relative to ``base``)."""
    s = validate(data, ScenarioSchema, file=file)
    full = universe or load_universe()
    tickers = [t.upper() for t in s.universe] or full.tickers
    unknown = [t for t in tickers if t not in full]
    if unknown:
        raise ConfigError(
            "tickers outside the universe", file=file, field="universe", value=unknown,
            fix="add them to config/universe.yaml or remove them from the scenario",
        )
    uni = full.subset(tickers)
    household = _household(s.household, file=file, base=base, universe=uni, as_of=s.start)
    end = None if s.end == "latest" else s.end
    if end is not None and end <= s.start:
        raise ConfigError("end must be after start", file=file, field="end", value=str(end))
    _check_refs(s, household, uni, file)
    # The hash covers the validated scenario *and* the household it resolved to.
    from engine.config import household_to_dict

    config = json.loads(s.model_dump_json())
    config["household"] = household_to_dict(household)
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()
    data: Any = s.data
    if isinstance(data, CsvDataSpec):
        path = Path(data.csv).expanduser()
        if not path.is_absolute() and base is not None:
            path = base / path
        if not path.is_file():
            raise ConfigError("the price file the scenario names does not exist", file=file, field="data.csv",
                              value=str(path), fix="give a CSV of adjusted closes (path relative to the scenario)")
        data = data.model_copy(update={"csv": str(path)})
    return Scenario(
        name=s.name, description=s.description, start=s.start, end=end, universe=uni,
        household=household, seed=s.seed, costs=s.costs, taxes=s.taxes, triggers=s.triggers,
        withdrawal_order=tuple(s.withdrawal_order), cash_flows=tuple(s.cash_flows),
        events=tuple(s.events), strategies=tuple(s.strategies), source=file or "<dict>",
        config=config, hash=digest, data=data,
    )


def _household(
    ref: str | dict[str, Any], *, file: str | None, base: Path | None, universe: Universe, as_of: date
) -> Household:
    """The scenario's household (inline, ``sample`` or a path), checked against the scenario's first day."""
    if isinstance(ref, dict):
        return household_from_dict(ref, file=f"{file}#household" if file else None, universe=universe, as_of=as_of)
    if ref == "sample":
        return load_household(universe=universe, as_of=as_of)
    p = Path(ref)
    if not p.is_absolute() and base is not None:
        p = base / p
    return load_household(p, universe=universe, as_of=as_of)


def _check_refs(s: ScenarioSchema, household: Household, uni: Universe, file: str | None) -> None:
    accounts = {a.id for a in household.accounts}
    for i, cf in enumerate(s.cash_flows):
        if cf.account is not None and cf.account not in accounts:
            raise ConfigError(
                "cash flow names an unknown account", file=file, field=f"cash_flows.{i}.account",
                value=cf.account, fix=f"use one of: {', '.join(sorted(accounts))}",
            )
    members = {m.id for m in household.members}
    for i, ev in enumerate(s.events):
        if ev.member is not None and ev.member not in members and ev.kind is not LifeEventKind.MARRIAGE:
            raise ConfigError(
                "event names an unknown member", file=file, field=f"events.{i}.member",
                value=ev.member, fix=f"use one of: {', '.join(sorted(members))}",
            )
        if ev.on < s.start or (s.end != "latest" and ev.on > s.end):
            raise ConfigError(
                "event falls outside the scenario's period", file=file, field=f"events.{i}.on",
                value=ev.on.isoformat(), fix=f"move it on or after start ({s.start}) and before end",
            )
        if ev.account is not None and ev.account not in accounts:
            raise ConfigError(
                "event names an unknown account", file=file, field=f"events.{i}.account",
                value=ev.account, fix=f"use one of: {', '.join(sorted(accounts))}",
            )
        if ev.amount is not None and ev.kind is LifeEventKind.INHERITANCE and ev.account is None:
            raise ConfigError(
                "an inheritance needs the account it lands in", file=file, field=f"events.{i}.account",
                fix="add account: <a taxable account id>",
            )
    names = [st.name for st in s.strategies]
    if len(set(names)) != len(names):
        raise ConfigError("two strategies share a name", file=file, field="strategies", value=names)
    for i, st in enumerate(s.strategies):
        for field_name in ("weights", "equity_mix", "bond_mix"):
            bad = [t for t in getattr(st, field_name) if t.upper() not in uni]
            if bad:
                raise ConfigError(
                    f"strategy {st.name} uses tickers outside the scenario universe", file=file,
                    field=f"strategies.{i}.{field_name}", value=bad,
                    fix="add them to the scenario's universe list",
                )
        if st.tax_alpha_baseline is not None and st.tax_alpha_baseline not in names:
            raise ConfigError(
                "tax_alpha_baseline names no strategy of this scenario", file=file,
                field=f"strategies.{i}.tax_alpha_baseline", value=st.tax_alpha_baseline,
            )
