"""Load and validate YAML configuration into domain objects; every error names file, field and fix.

    universe = load_universe()                     # the shipped config/universe.yaml
    household = load_household("my_household.yaml")
"""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeVar

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field

from engine.errors import ConfigError
from engine.errors import ValidationError as DomainValidationError
from engine.model import (
    Account,
    AccountType,
    Asset,
    AssetClass,
    BasisSource,
    FilingStatus,
    Goal,
    GoalKind,
    Household,
    IncomeStability,
    LifeEvent,
    LifeEventKind,
    LossSale,
    Lot,
    Member,
    RiskProfile,
    TaxProfile,
    Universe,
    Values,
)

Schema = TypeVar("Schema", bound=BaseModel)

_DEFAULTS = Path(__file__).resolve().parent / "defaults"


def config_dir() -> Path:
    """The configuration folder: ``ROBO_CONFIG_DIR`` if set, else the defaults shipped in the package."""
    override = os.environ.get("ROBO_CONFIG_DIR")
    return Path(override).expanduser() if override else _DEFAULTS


def default_file(name: str) -> Path:
    """Path of a config file by its name relative to the config folder (falls back to the shipped one)."""
    path = config_dir() / name
    if not path.exists() and (_DEFAULTS / name).exists():
        return _DEFAULTS / name
    if not path.exists():
        raise ConfigError(
            "configuration file not found",
            file=str(path),
            fix=f"create it or unset ROBO_CONFIG_DIR to use the shipped {name}",
        )
    return path


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file; syntax errors become ``ConfigError`` with the line and column."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError("file not found", file=str(p), fix="check the path") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            f"broken YAML{where}: {problem}", file=str(p), fix="fix the YAML syntax there"
        ) from exc


def validate(data: Any, schema: type[Schema], *, file: str | None = None) -> Schema:
    """Validate plain data against a pydantic schema; the first error becomes a ``ConfigError``."""
    try:
        return schema.model_validate(data)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        fix = _fix_hint(err)
        raise ConfigError(
            f"invalid value: {err['msg']}{more}",
            file=file,
            field=loc,
            value=err.get("input") if not isinstance(err.get("input"), dict) else None,
            fix=fix,
        ) from exc


def load_yaml(path: str | Path, schema: type[Schema]) -> Schema:
    """Read a YAML file and validate it against ``schema``; errors name the file and the field."""
    return validate(read_yaml(path), schema, file=str(path))


def _fix_hint(err: Any) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "remove this field or check its spelling"
    if kind == "missing":
        return "add this field"
    if kind == "enum":
        return "choose one of the values listed"
    if kind.startswith(("greater_than", "less_than")):
        return "use a value within the allowed range"
    if "date" in kind:
        return "write dates as YYYY-MM-DD"
    return "see the comments in the shipped file for valid values"


# ---------------------------------------------------------------------------------------------
# Universe
# ---------------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AssetSchema(_Strict):
    name: str = ""
    asset_class: AssetClass
    sub_class: str = ""
    fractionable: bool = True
    expense_ratio: float = Field(0.0, ge=0, le=0.05)
    dividend_yield: float = Field(0.0, ge=0, le=0.25)
    qualified_share: float = Field(1.0, ge=0, le=1)
    tax_exempt_share: float = Field(0.0, ge=0, le=1)
    substitute_group: str | None = None
    tags: list[str] = []


class UniverseSchema(_Strict):
    version: Literal[1] = 1
    identical: list[list[str]] = []
    assets: dict[str, AssetSchema] = Field(min_length=1)


def universe_from_dict(data: Any, *, file: str | None = None) -> Universe:
    """Build a ``Universe`` from parsed YAML (see ``config/universe.yaml``)."""
    schema = validate(data, UniverseSchema, file=file)
    assets = {
        t.upper(): Asset(ticker=t, **spec.model_dump(exclude={"tags"}), tags=frozenset(spec.tags))
        for t, spec in schema.assets.items()
    }
    try:
        return Universe(assets, tuple(frozenset(x.upper() for x in g) for g in schema.identical))
    except DomainValidationError as exc:
        raise ConfigError(exc.reason, file=file, field="identical", value=exc.value) from exc


def load_universe(path: str | Path | None = None) -> Universe:
    """Load the universe (default: ``config/universe.yaml``)."""
    p = Path(path) if path else default_file("universe.yaml")
    return universe_from_dict(read_yaml(p), file=str(p))


# ---------------------------------------------------------------------------------------------
# Household
# ---------------------------------------------------------------------------------------------

Money = Decimal


class SocialSecuritySchema(_Strict):
    """One of: pia (USD/month at full retirement age), earnings_file (CSV year,earnings or SSA XML), auto."""

    pia: Money | None = Field(None, ge=0)
    earnings_file: str | None = None
    auto: bool = False


class IncomeStreamSchema(_Strict):
    name: str = Field(min_length=1)
    annual: Money = Field(ge=0)
    start_age: float = Field(65.0, ge=0, le=100)
    cola: bool = True
    survivor: float = Field(0.0, ge=0, le=1)


class MemberSchema(_Strict):
    id: str = Field(min_length=1)
    name: str
    birth_date: date
    income: Money = Field(Decimal(0), ge=0)
    retirement_age: int = Field(65, ge=40, le=80)
    income_stability: IncomeStability = IncomeStability.STABLE
    sex: Literal["male", "female"] | None = None
    social_security: Literal["auto"] | SocialSecuritySchema | None = None
    claim_age: float | None = Field(None, ge=62, le=70)
    pensions: list[IncomeStreamSchema] = []


class AccountSchema(_Strict):
    id: str = Field(min_length=1)
    name: str = ""
    type: AccountType
    owner: str | None = None
    cash: Money = Field(Decimal(0), ge=0)
    broker_account: str | None = None


class LotSchema(_Strict):
    id: str = Field(min_length=1)
    account: str
    symbol: str
    shares: Money = Field(gt=0)
    basis: Money = Field(ge=0)
    acquired: date
    purchased: date | None = None
    replaceable: bool = True  # false: the lot already replaced a washed loss (it cannot wash another)
    basis_source: BasisSource = BasisSource.LEDGER  # broker: the basis is the broker's avg_entry_price


class LossSaleSchema(_Strict):
    """A sale at a loss in the last 30 days (here or at another firm) whose loss a purchase could still wash."""

    id: str = Field(min_length=1)
    account: str
    symbol: str = Field(min_length=1)
    sold: date
    acquired: date
    shares: Money = Field(gt=0)
    loss: Money = Field(gt=0)
    lot_id: str | None = None


class GoalSchema(_Strict):
    id: str = Field(min_length=1)
    kind: GoalKind
    name: str = ""
    target: Money = Field(Decimal(0), ge=0)
    target_date: date
    priority: int = Field(1, ge=1, le=10)
    accounts: list[str] = []
    current_savings: Money = Field(Decimal(0), ge=0)
    monthly_contribution: Money = Field(Decimal(0), ge=0)
    flexibility: float = Field(1.0, ge=0, le=1)
    annual_income: Money | None = Field(None, ge=0)
    years: int | None = Field(None, ge=1, le=60)
    withdrawal_order: Literal["taxable_first", "fill_bracket"] = "taxable_first"
    guardrails: bool = False
    plan_to_age: int | None = Field(None, ge=70, le=120)


class EventSchema(_Strict):
    @pydantic.model_validator(mode="before")
    @classmethod
    def _yaml_on_key(cls, data: Any) -> Any:
        # YAML 1.1 reads a bare `on:` key as the boolean True; take it back as the field name.
        if isinstance(data, dict) and True in data and "on" not in data:
            data = {("on" if k is True else k): v for k, v in data.items()}
        return data

    id: str = ""
    kind: LifeEventKind
    on: date
    member: str | None = None
    amount: Money | None = Field(None, ge=0)
    details: dict[str, Any] = {}
    applied: bool = True  # false: recorded, its rule not yet run (the next cycle applies it)


class RiskSchema(_Strict):
    willingness: int = Field(5, ge=1, le=10)
    answers: dict[str, int] = {}


class ValuesSchema(_Strict):
    exclude_tags: list[str] = []
    exclude_tickers: list[str] = []
    min_esg_score: float | None = Field(None, ge=0, le=10)
    max_carbon: float | None = Field(None, ge=0)
    carbon_relative: bool = False
    tilt: float = Field(0.0, ge=0, le=1)


class TaxSchema(_Strict):
    filing_status: FilingStatus = FilingStatus.SINGLE
    state: str = ""
    state_rate: float = Field(0.0, ge=0, le=0.2)
    ordinary_income: Money = Field(Decimal(0), ge=0)
    st_loss_carryforward: Money = Field(Decimal(0), ge=0)
    lt_loss_carryforward: Money = Field(Decimal(0), ge=0)


class HouseholdSchema(_Strict):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str
    members: list[MemberSchema] = Field(min_length=1)
    accounts: list[AccountSchema] = Field(min_length=1)
    lots: list[LotSchema] = []
    loss_sales: list[LossSaleSchema] = []
    goals: list[GoalSchema] = []
    events: list[EventSchema] = []
    risk: RiskSchema = RiskSchema()
    values: ValuesSchema = ValuesSchema()
    tax: TaxSchema = TaxSchema()
    monthly_savings: Money = Field(Decimal(0), ge=0)
    monthly_expenses: Money = Field(Decimal(0), ge=0)
    emergency_months: float = Field(3.0, ge=0, le=36)


def _member_fields(m: MemberSchema, file: str | None) -> dict[str, Any]:
    """A member's fields; a relative earnings_file is resolved against the household file's folder."""
    out = m.model_dump()
    ss = out.get("social_security")
    if isinstance(ss, dict) and ss.get("earnings_file") and file:
        p = Path(ss["earnings_file"]).expanduser()
        if not p.is_absolute():
            out["social_security"] = {**ss, "earnings_file": str(Path(file).resolve().parent / p)}
    return out


def household_from_dict(
    data: Any, *, file: str | None = None, universe: Universe | None = None
) -> Household:
    """Build a ``Household`` from parsed YAML; with ``universe``, lots must name known tickers."""
    s = validate(data, HouseholdSchema, file=file)
    try:
        household = Household(
            id=s.id,
            name=s.name,
            members=tuple(Member(**_member_fields(m, file)) for m in s.members),
            accounts=tuple(Account(**a.model_dump()) for a in s.accounts),
            lots=tuple(Lot(**lot.model_dump()) for lot in s.lots),
            goals=tuple(Goal(**{**g.model_dump(), "accounts": tuple(g.accounts)}) for g in s.goals),
            events=tuple(LifeEvent(**e.model_dump()) for e in s.events),
            risk=RiskProfile(**s.risk.model_dump()),
            values=Values(
                exclude_tags=frozenset(s.values.exclude_tags),
                exclude_tickers=frozenset(s.values.exclude_tickers),
                min_esg_score=s.values.min_esg_score,
                max_carbon=s.values.max_carbon,
                carbon_relative=s.values.carbon_relative,
                tilt=s.values.tilt,
            ),
            tax=TaxProfile(**s.tax.model_dump()),
            monthly_savings=s.monthly_savings,
            monthly_expenses=s.monthly_expenses,
            emergency_months=s.emergency_months,
            loss_sales=tuple(LossSale(**sale.model_dump()) for sale in s.loss_sales),
        )
    except DomainValidationError as exc:
        raise ConfigError(exc.reason, file=file, field=exc.field, value=exc.value, fix=exc.fix) from exc
    if universe is not None:
        for lot in household.lots:
            if lot.symbol not in universe:
                raise ConfigError(
                    f"lot {lot.id} holds a ticker outside the universe",
                    file=file,
                    field=f"lots[{lot.id}].symbol",
                    value=lot.symbol,
                    fix="add the fund to config/universe.yaml or correct the ticker",
                )
    for sale in household.loss_sales:
        if household.account(sale.account).type is not AccountType.TAXABLE:
            raise ConfigError(
                f"loss sale {sale.id} is in {sale.account}, a {household.account(sale.account).type.value} account: "
                "a sale inside a tax-deferred account realizes no tax loss, so there is nothing to protect",
                file=file,
                field=f"loss_sales[{sale.id}].account",
                value=sale.account,
                fix="list only sales at a loss in taxable accounts",
            )
    return household


def load_household(path: str | Path | None = None, *, universe: Universe | None = None) -> Household:
    """Load a household YAML (default: the shipped ``config/households/sample.yaml``)."""
    p = Path(path) if path else default_file("households/sample.yaml")
    return household_from_dict(read_yaml(p), file=str(p), universe=universe)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "value") and isinstance(value.value, str):
        return value.value
    return value


def household_to_dict(household: Household) -> dict[str, Any]:
    """The household as plain YAML-ready data; ``household_from_dict`` reads it back identically."""
    from dataclasses import asdict, fields

    out: dict[str, Any] = {}
    for f in fields(household):
        v = getattr(household, f.name)
        if f.name in ("members", "accounts", "lots", "goals", "events", "loss_sales"):
            out[f.name] = [{k: _plain(x) for k, x in asdict(item).items()} for item in v]
        elif f.name in ("risk", "values", "tax"):
            out[f.name] = {k: _plain(x) for k, x in asdict(v).items()}
        else:
            out[f.name] = _plain(v)
    return out


def dump_household(household: Household) -> str:
    """The household as YAML text."""
    return yaml.safe_dump(household_to_dict(household), sort_keys=False, allow_unicode=True)
