"""Plain typed domain objects shared by every room of the engine (stdlib only).

    from engine.model import Household, Account, AccountType
    acct = Account(id="brokerage", name="Joint brokerage", type=AccountType.TAXABLE)

Money and shares are ``Decimal`` (exact); weights and rates are ``float`` fractions (0.05 = 5 %).
Dates of trading days are ``datetime.date``; instants are timezone-aware UTC ``datetime``.
Every object is frozen; build a changed copy with ``dataclasses.replace``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from numbers import Real
from typing import Any, Final, Literal, get_args

from engine.errors import ValidationError
from engine.model.direct import DirectIndex

__all__ = [
    "CARBON_INTENSITY",
    "CLAIM_AGE",
    "DIVIDEND_YIELD",
    "EMERGENCY_MONTHS",
    "ESG_SCORE",
    "EXPENSE_RATIO",
    "FRACTION",
    "GOAL_PRIORITY",
    "GOAL_YEARS",
    "PENSION_START_AGE",
    "PLAN_TO_AGE",
    "PROPOSAL_TRANSITIONS",
    "RETIREMENT_AGE",
    "RISK_WILLINGNESS",
    "SEXES",
    "STATE_RATE",
    "WITHDRAWAL_ORDERS",
    "Account",
    "AccountType",
    "Asset",
    "AssetClass",
    "BasisSource",
    "FilingStatus",
    "Fill",
    "Goal",
    "GoalKind",
    "Household",
    "IncomeStability",
    "IncomeStream",
    "LifeEvent",
    "LifeEventKind",
    "LossSale",
    "Lot",
    "Member",
    "Order",
    "OrderSide",
    "OrderType",
    "Position",
    "Proposal",
    "ProposalStatus",
    "RiskProfile",
    "RunKind",
    "Sex",
    "SocialSecurity",
    "TaxProfile",
    "TimeInForce",
    "Universe",
    "Values",
    "WithdrawalOrder",
    "to_decimal",
]


# ---------------------------------------------------------------------------------------------
# Bounds: the one source of the ranges the model checks; the YAML schemas (engine.config.loader) read them too
# ---------------------------------------------------------------------------------------------

#: Inclusive (low, high) ranges of bounded fields.
FRACTION: Final = (0.0, 1.0)  # weights, shares and rates as fractions: 0.05 = 5 %
RETIREMENT_AGE: Final = (40, 80)  # Member.retirement_age, whole years
CLAIM_AGE: Final = (62, 70)  # Member.claim_age: SSA retirement benefits from 62; delayed credits stop at 70
PENSION_START_AGE: Final = (0, 100)  # IncomeStream.start_age, years of its member's age
PLAN_TO_AGE: Final = (70, 120)  # Goal.plan_to_age, years
GOAL_PRIORITY: Final = (1, 10)  # Goal.priority, 1 = most important
GOAL_YEARS: Final = (1, 60)  # Goal.years of retirement income
RISK_WILLINGNESS: Final = (1, 10)  # RiskProfile.willingness, questionnaire scale
ESG_SCORE: Final = (0.0, 10.0)  # Asset.esg_score and Values.min_esg_score, MSCI-style 0–10 scale
CARBON_INTENSITY: Final = (0.0, 1e5)  # Asset.carbon_intensity and Values.max_carbon, tCO2e per $M invested
EXPENSE_RATIO: Final = (0.0, 0.05)  # Asset.expense_ratio, fraction per year
DIVIDEND_YIELD: Final = (0.0, 0.25)  # Asset.dividend_yield, fraction of price per year
STATE_RATE: Final = (0.0, 0.2)  # TaxProfile.state_rate, marginal state income-tax rate
EMERGENCY_MONTHS: Final = (0.0, 36.0)  # Household.emergency_months of expenses held in reserve

Sex = Literal["male", "female"]  # picks the life table (SSA period life table columns)
WithdrawalOrder = Literal["taxable_first", "fill_bracket"]  # Goal.withdrawal_order in retirement
SEXES: Final[tuple[str, ...]] = get_args(Sex)
WITHDRAWAL_ORDERS: Final[tuple[str, ...]] = get_args(WithdrawalOrder)


# ---------------------------------------------------------------------------------------------
# Vocabularies
# ---------------------------------------------------------------------------------------------


class AssetClass(StrEnum):
    """Broad asset classes the strategic mix and the class bands are expressed in."""

    US_EQUITY = "us_equity"
    INTL_EQUITY = "intl_equity"
    EM_EQUITY = "em_equity"
    REAL_ESTATE = "real_estate"
    US_BONDS = "us_bonds"
    INTL_BONDS = "intl_bonds"
    TIPS = "tips"
    MUNI_BONDS = "muni_bonds"
    HIGH_YIELD = "high_yield"
    COMMODITIES = "commodities"
    CASH = "cash"

    @property
    def is_equity(self) -> bool:
        """True for the growth classes counted as 'equity share' by glide paths (REITs included)."""
        return self in _EQUITY_CLASSES


_EQUITY_CLASSES = frozenset(
    {AssetClass.US_EQUITY, AssetClass.INTL_EQUITY, AssetClass.EM_EQUITY, AssetClass.REAL_ESTATE}
)


class AccountType(StrEnum):
    """How an account is taxed."""

    TAXABLE = "taxable"
    TRADITIONAL = "traditional"
    ROTH = "roth"
    HSA = "hsa"
    PLAN_529 = "529"

    @property
    def tax_deferred(self) -> bool:
        """Growth is not taxed year by year (everything but a taxable brokerage account)."""
        return self is not AccountType.TAXABLE

    @property
    def tax_free_withdrawals(self) -> bool:
        """Qualified withdrawals are tax free (Roth, HSA for medical, 529 for education)."""
        return self in (AccountType.ROTH, AccountType.HSA, AccountType.PLAN_529)


class FilingStatus(StrEnum):
    """US federal filing status."""

    SINGLE = "single"
    MARRIED_JOINT = "married_joint"
    MARRIED_SEPARATE = "married_separate"
    HEAD_OF_HOUSEHOLD = "head_of_household"


class IncomeStability(StrEnum):
    """How dependable the household's earned income is; feeds risk capacity."""

    STABLE = "stable"
    VARIABLE = "variable"
    UNSTABLE = "unstable"
    NONE = "none"


class GoalKind(StrEnum):
    """Kinds of financial goals."""

    RETIREMENT = "retirement"
    HOME = "home"
    EDUCATION = "education"
    EMERGENCY = "emergency"
    MAJOR_PURCHASE = "major_purchase"
    WEALTH = "wealth"
    LEGACY = "legacy"


class LifeEventKind(StrEnum):
    """Life events that re-shape a household's plan."""

    MARRIAGE = "marriage"
    DIVORCE = "divorce"
    CHILD = "child"
    NEW_JOB = "new_job"
    JOB_LOSS = "job_loss"
    INHERITANCE = "inheritance"
    HOME_PURCHASE = "home_purchase"
    RETIREMENT = "retirement"
    RELOCATION = "relocation"
    DEATH_OF_SPOUSE = "death_of_spouse"
    DISABILITY = "disability"

    @property
    def critical(self) -> bool:
        """Critical events always need a human's approval of the resulting proposal."""
        return self in (LifeEventKind.DEATH_OF_SPOUSE, LifeEventKind.DIVORCE, LifeEventKind.DISABILITY)


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class TimeInForce(StrEnum):
    DAY = "day"
    GTC = "gtc"


class RunKind(StrEnum):
    """Rebalance run kinds, named as Alpaca's Broker-API rebalancer names them."""

    FULL_REBALANCE = "full_rebalance"
    INVEST_CASH = "invest_cash"
    PARTIAL_LIQUIDATION = "partial_liquidation"
    TAX_LOSS_HARVEST = "tax_loss_harvest"  # the daily harvest run (engine.tax.harvest_run), not a rebalancer kind


class BasisSource(StrEnum):
    """Where a lot's cost basis came from: the ledger's own trades, or the broker's reported average price."""

    LEDGER = "ledger"
    BROKER = "broker"


class ProposalStatus(StrEnum):
    """Life cycle of a proposal: proposed → approved / rejected → executing → executed / partial / failed."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    EXECUTING = "executing"
    EXECUTED = "executed"
    PARTIALLY_EXECUTED = "partially_executed"
    FAILED = "failed"

    def can_become(self, other: ProposalStatus) -> bool:
        """True when the state machine allows the move from this status to ``other``."""
        return other in PROPOSAL_TRANSITIONS[self]

    @property
    def final(self) -> bool:
        """No move is allowed from this status (rejected, expired, executed, partially executed, failed)."""
        return not PROPOSAL_TRANSITIONS[self]


# The one proposal state machine: proposed → approved / rejected / expired; approved → executing / expired;
# executing → executed / partially_executed / failed. Everything else is a Conflict (the store and the cycle
# both read this table).
PROPOSAL_TRANSITIONS: dict[ProposalStatus, frozenset[ProposalStatus]] = {
    ProposalStatus.PROPOSED: frozenset({ProposalStatus.APPROVED, ProposalStatus.REJECTED, ProposalStatus.EXPIRED}),
    ProposalStatus.APPROVED: frozenset({ProposalStatus.EXECUTING, ProposalStatus.EXPIRED}),
    ProposalStatus.EXECUTING: frozenset(
        {ProposalStatus.EXECUTED, ProposalStatus.PARTIALLY_EXECUTED, ProposalStatus.FAILED}
    ),
    ProposalStatus.REJECTED: frozenset(),
    ProposalStatus.EXPIRED: frozenset(),
    ProposalStatus.EXECUTED: frozenset(),
    ProposalStatus.PARTIALLY_EXECUTED: frozenset(),
    ProposalStatus.FAILED: frozenset(),
}


# ---------------------------------------------------------------------------------------------
# Checks shared by the value objects
# ---------------------------------------------------------------------------------------------


def to_decimal(value: Any, field_name: str = "value") -> Decimal:
    """Exact ``Decimal`` from int, str, Decimal or a finite float (through its shortest repr, not binary).

    Raises:
        ValidationError: the value is not a finite number.
    """
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise ValidationError("expected a number, not a boolean", field=field_name, value=value)
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError("must be a finite number", field=field_name, value=value)
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValidationError("is not a number", field=field_name, value=value) from exc
    else:
        raise ValidationError(
            f"expected a number, got {type(value).__name__}", field=field_name, value=value
        )
    if not result.is_finite():
        raise ValidationError("must be a finite number", field=field_name, value=value)
    return result


_ZERO = Decimal(0)
_QTY_STEP = Decimal("1e-9")


def _set_decimal(obj: object, name: str, *, minimum: Decimal | None = None, strict: bool = False) -> None:
    value = getattr(obj, name)
    if type(value) is not Decimal or not value.is_finite():  # a finite Decimal is kept as it is: no conversion
        value = to_decimal(value, f"{type(obj).__name__}.{name}")
        object.__setattr__(obj, name, value)
    if minimum is not None and (value <= minimum if strict else value < minimum):
        rel = ">" if strict else "≥"
        raise ValidationError(
            f"must be {rel} {minimum}", field=f"{type(obj).__name__}.{name}", value=str(value)
        )


def _set_optional_decimal(obj: object, name: str, *, minimum: Decimal | None = None) -> None:
    if getattr(obj, name) is not None:
        _set_decimal(obj, name, minimum=minimum)


def _require_aware(obj: object, name: str) -> None:
    value = getattr(obj, name)
    if not isinstance(value, datetime):
        raise ValidationError(
            "must be a datetime", field=f"{type(obj).__name__}.{name}", value=value
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(
            "naive datetime",
            field=f"{type(obj).__name__}.{name}",
            value=value.isoformat(),
            fix="pass a timezone-aware datetime, e.g. datetime.now(timezone.utc)",
        )


def _require_date(obj: object, name: str) -> None:
    value = getattr(obj, name)
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValidationError(
            "must be a datetime.date (a trading day), not a datetime or string",
            field=f"{type(obj).__name__}.{name}",
            value=value,
        )


def _enum(obj: object, name: str, enum: type[StrEnum]) -> None:
    value = getattr(obj, name)
    if type(value) is enum:  # already a member
        return
    try:
        object.__setattr__(obj, name, enum(value))
    except ValueError as exc:
        valid = ", ".join(m.value for m in enum)
        raise ValidationError(
            f"unknown {enum.__name__}",
            field=f"{type(obj).__name__}.{name}",
            value=value,
            fix=f"use one of: {valid}",
        ) from exc


def _fraction(obj: object, name: str, lo: float = 0.0, hi: float = 1.0) -> None:
    value = getattr(obj, name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError("must be a number", field=f"{type(obj).__name__}.{name}", value=value)
    if not lo <= float(value) <= hi:
        raise ValidationError(
            f"must lie in [{lo}, {hi}] (a fraction, 0.05 = 5 %)",
            field=f"{type(obj).__name__}.{name}",
            value=value,
        )
    object.__setattr__(obj, name, float(value))


def _within(obj: object, name: str, bounds: tuple[float, float], fix: str | None = None) -> None:
    """``ValidationError`` unless the (optional) number ``obj.name`` lies in the inclusive ``bounds``."""
    value = getattr(obj, name)
    if value is None:
        return
    lo, hi = bounds
    number = not isinstance(value, bool) and isinstance(value, Real | Decimal)
    if not (number and math.isfinite(value) and lo <= value <= hi):
        raise ValidationError(f"must lie in [{lo}, {hi}]", field=f"{type(obj).__name__}.{name}", value=value, fix=fix)


def _nonempty(obj: object, name: str) -> None:
    value = getattr(obj, name)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("must be a non-empty string", field=f"{type(obj).__name__}.{name}", value=value)


# ---------------------------------------------------------------------------------------------
# Market and accounts
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Asset:
    """A tradable fund: class, costs, income yields (for tax drag) and values attributes.

    ``dividend_yield`` is the annual distribution yield as a fraction of price; ``qualified_share``
    the part of it taxed at long-term rates; ``tax_exempt_share`` the part exempt from federal tax
    (municipal bonds). ``substitute_group`` names the loss-harvesting group (not substantially
    identical funds with similar exposure).
    """

    ticker: str
    asset_class: AssetClass
    name: str = ""
    sub_class: str = ""
    fractionable: bool = True
    expense_ratio: float = 0.0
    dividend_yield: float = 0.0
    qualified_share: float = 1.0
    tax_exempt_share: float = 0.0
    substitute_group: str | None = None
    tags: frozenset[str] = frozenset()
    esg_score: float | None = None
    carbon_intensity: float | None = None
    controversy: bool = False

    def __post_init__(self) -> None:
        _nonempty(self, "ticker")
        object.__setattr__(self, "ticker", self.ticker.strip().upper())
        _enum(self, "asset_class", AssetClass)
        _fraction(self, "expense_ratio", *EXPENSE_RATIO)
        _fraction(self, "dividend_yield", *DIVIDEND_YIELD)
        _fraction(self, "qualified_share")
        _fraction(self, "tax_exempt_share")
        object.__setattr__(self, "tags", frozenset(self.tags))
        if self.esg_score is not None:
            _fraction(self, "esg_score", *ESG_SCORE)
        if self.carbon_intensity is not None:
            _fraction(self, "carbon_intensity", *CARBON_INTENSITY)


@dataclass(frozen=True, slots=True)
class SocialSecurity:
    """Where a member's Social Security benefit comes from: a PIA (USD/month at full retirement age, from the
    SSA statement), an earnings record file (``year,earnings`` CSV or SSA's XML), or ``auto`` (estimated
    from the current income and age)."""

    pia: Decimal | None = None
    earnings_file: str | None = None
    auto: bool = False

    def __post_init__(self) -> None:
        _set_optional_decimal(self, "pia", minimum=Decimal(0))
        given = (self.pia is not None) + (self.earnings_file is not None) + bool(self.auto)
        if given != 1:
            raise ValidationError(
                "give exactly one of pia, earnings_file or auto",
                field="Member.social_security",
                value={"pia": self.pia, "earnings_file": self.earnings_file, "auto": self.auto},
                fix="e.g. social_security: {pia: 2400}, {earnings_file: earnings.csv} or auto",
            )


@dataclass(frozen=True, slots=True)
class IncomeStream:
    """A pension or annuity: ``annual`` USD/year (today's dollars when ``cola``, else fixed nominal dollars)
    from ``start_age`` of its member; ``survivor`` is the fraction a surviving spouse keeps (0–1)."""

    name: str
    annual: Decimal
    start_age: float = 65.0
    cola: bool = True
    survivor: float = 0.0

    def __post_init__(self) -> None:
        _nonempty(self, "name")
        _set_decimal(self, "annual", minimum=Decimal(0))
        _fraction(self, "survivor")
        _within(self, "start_age", PENSION_START_AGE)


@dataclass(frozen=True, slots=True)
class Member:
    """A person in the household; ``income`` is gross annual USD.

    Retirement income: ``social_security`` (None: no benefit) claimed at ``claim_age`` years (62–70, default
    the full retirement age), ``pensions`` as income streams; ``sex`` picks the life table (None: the average).
    """

    id: str
    name: str
    birth_date: date
    income: Decimal = Decimal(0)
    retirement_age: int = 65
    income_stability: IncomeStability = IncomeStability.STABLE
    sex: Sex | None = None
    social_security: SocialSecurity | None = None
    claim_age: float | None = None
    pensions: tuple[IncomeStream, ...] = ()

    def __post_init__(self) -> None:
        _nonempty(self, "id")
        _require_date(self, "birth_date")
        _set_decimal(self, "income", minimum=Decimal(0))
        _enum(self, "income_stability", IncomeStability)
        _within(self, "retirement_age", RETIREMENT_AGE)
        if self.sex is not None and self.sex not in SEXES:
            raise ValidationError("must be male or female (or left out)", field="Member.sex", value=self.sex)
        ss: Any = self.social_security  # YAML hands in "auto", a mapping or the object itself
        if ss == "auto" or ss is True:
            object.__setattr__(self, "social_security", SocialSecurity(auto=True))
        elif isinstance(ss, Mapping):
            object.__setattr__(self, "social_security", SocialSecurity(**ss))
        elif ss is not None and not isinstance(ss, SocialSecurity):
            raise ValidationError(
                "must be auto, {pia: USD/month} or {earnings_file: path}", field="Member.social_security", value=ss
            )
        _within(self, "claim_age", CLAIM_AGE,
                fix="retirement benefits can be claimed from 62; delayed credits stop at 70")
        streams = tuple(IncomeStream(**p) if isinstance(p, Mapping) else p for p in self.pensions)
        object.__setattr__(self, "pensions", streams)

    def age_on(self, day: date) -> int:
        """Whole years of age on ``day``."""
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years


@dataclass(frozen=True, slots=True)
class Account:
    """A brokerage or retirement account; ``cash`` in USD, ``owner`` a member id."""

    id: str
    type: AccountType
    name: str = ""
    owner: str | None = None
    cash: Decimal = Decimal(0)
    broker_account: str | None = None

    def __post_init__(self) -> None:
        _nonempty(self, "id")
        _enum(self, "type", AccountType)
        _set_decimal(self, "cash", minimum=_ZERO)


@dataclass(frozen=True, slots=True)
class Lot:
    """One tax lot: ``basis`` is the total cost basis in USD (after any wash-sale adjustment).

    ``acquired`` is the date the holding period counts from (after tacking); ``purchased`` the trade date.
    ``replaceable`` is False once these shares have replaced a washed loss: a share washes one loss only
    (IRC §1091), so the flag must survive a store round trip or a later loss could be washed into it again.
    ``basis_source`` says where the basis came from: the ledger's own fills, or the broker's ``avg_entry_price``
    when a household adopted a broker account's positions (no per-lot history: check it before filing).
    """

    id: str
    account: str
    symbol: str
    shares: Decimal
    basis: Decimal
    acquired: date
    purchased: date | None = None
    replaceable: bool = True
    basis_source: BasisSource = BasisSource.LEDGER

    def __post_init__(self) -> None:
        _nonempty(self, "id")
        _nonempty(self, "account")
        _nonempty(self, "symbol")
        object.__setattr__(self, "symbol", self.symbol.strip().upper())
        _set_decimal(self, "shares", minimum=_ZERO, strict=True)
        _set_decimal(self, "basis", minimum=_ZERO)
        _require_date(self, "acquired")
        if self.purchased is None:
            object.__setattr__(self, "purchased", self.acquired)
        _require_date(self, "purchased")
        if not isinstance(self.replaceable, bool):
            raise ValidationError("must be true or false", field="Lot.replaceable", value=self.replaceable)
        _enum(self, "basis_source", BasisSource)

    @property
    def cost_per_share(self) -> Decimal:
        """Basis per share in USD."""
        return self.basis / self.shares


@dataclass(frozen=True, slots=True)
class LossSale:
    """A sale at a loss whose wash-sale window may still be open, kept so later runs do not wash it.

    ``shares`` are the shares sold not yet matched with a replacement purchase and ``loss`` the USD of
    loss still washable on them (> 0). ``acquired`` is when the sold shares' holding period began (a
    replacement inherits it); ``lot_id`` names the lot sold, when known.
    """

    id: str
    account: str
    symbol: str
    sold: date
    acquired: date
    shares: Decimal
    loss: Decimal
    lot_id: str | None = None

    def __post_init__(self) -> None:
        _nonempty(self, "id")
        _nonempty(self, "account")
        _nonempty(self, "symbol")
        object.__setattr__(self, "symbol", self.symbol.strip().upper())
        _require_date(self, "sold")
        _require_date(self, "acquired")
        if self.acquired > self.sold:
            raise ValidationError(
                f"loss sale {self.id} was sold on {self.sold}, before its shares were acquired",
                field="LossSale.acquired",
                value=self.acquired.isoformat(),
                fix="use the date the sold shares' holding period began (on or before the sale)",
            )
        _set_decimal(self, "shares", minimum=_ZERO, strict=True)
        _set_decimal(self, "loss", minimum=_ZERO, strict=True)
        if self.lot_id is not None:
            _nonempty(self, "lot_id")


@dataclass(frozen=True, slots=True)
class Position:
    """Shares of one symbol held in one account (the sum of its lots)."""

    account: str
    symbol: str
    shares: Decimal
    basis: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbol", self.symbol.strip().upper())
        _set_decimal(self, "shares", minimum=_ZERO)
        _set_decimal(self, "basis", minimum=_ZERO)


# ---------------------------------------------------------------------------------------------
# Household, goals, events
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Goal:
    """A financial goal in today's dollars.

    ``target`` is the amount needed at ``target_date`` (for retirement: ``annual_income`` per year for
    ``years`` years from ``target_date``; ``target`` may then be 0 and is derived by planning).
    ``priority`` 1 is the most important. ``flexibility`` is the fraction of the target that still
    counts as partly met (0.8 = 80 %). ``monthly_contribution`` is planned new money in USD/month.
    """

    id: str
    kind: GoalKind
    target: Decimal
    target_date: date
    name: str = ""
    priority: int = 1
    accounts: tuple[str, ...] = ()
    current_savings: Decimal = Decimal(0)
    monthly_contribution: Decimal = Decimal(0)
    flexibility: float = 1.0
    annual_income: Decimal | None = None
    years: int | None = None
    withdrawal_order: WithdrawalOrder = "taxable_first"
    guardrails: bool = False
    plan_to_age: int | None = None

    def __post_init__(self) -> None:
        _nonempty(self, "id")
        _enum(self, "kind", GoalKind)
        if self.withdrawal_order not in WITHDRAWAL_ORDERS:
            raise ValidationError(
                f"must be {' or '.join(WITHDRAWAL_ORDERS)}", field="Goal.withdrawal_order", value=self.withdrawal_order
            )
        _within(self, "plan_to_age", PLAN_TO_AGE)
        _set_decimal(self, "target", minimum=Decimal(0))
        _require_date(self, "target_date")
        _set_decimal(self, "current_savings", minimum=Decimal(0))
        _set_decimal(self, "monthly_contribution", minimum=Decimal(0))
        _set_optional_decimal(self, "annual_income", minimum=Decimal(0))
        _fraction(self, "flexibility")
        object.__setattr__(self, "accounts", tuple(self.accounts))
        _within(self, "priority", GOAL_PRIORITY)
        if self.kind is GoalKind.RETIREMENT and self.annual_income is None and self.target == 0:
            raise ValidationError(
                "a retirement goal needs annual_income (USD/year) or a target",
                field="Goal.annual_income",
                fix="set annual_income and years",
            )
        _within(self, "years", GOAL_YEARS)


@dataclass(frozen=True, slots=True)
class LifeEvent:
    """Something that happened (or will) in the household's life, effective on ``on``.

    ``amount`` is USD where the kind has one (inheritance, new salary); ``details`` carries the
    kind-specific extras (e.g. ``{"state": "TX", "state_rate": "0"}`` for a relocation). ``applied`` is False
    for an event recorded but not yet run through its rule (``store.households.record_event``): the next cycle
    applies it to the household's facts, exactly as ``robo event`` would, and marks it applied.
    """

    kind: LifeEventKind
    on: date
    member: str | None = None
    amount: Decimal | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    id: str = ""
    applied: bool = True

    def __post_init__(self) -> None:
        _enum(self, "kind", LifeEventKind)
        if not isinstance(self.applied, bool):
            raise ValidationError("must be true or false", field="LifeEvent.applied", value=self.applied)
        _require_date(self, "on")
        _set_optional_decimal(self, "amount", minimum=Decimal(0))
        object.__setattr__(self, "details", dict(self.details))
        if not self.id:
            object.__setattr__(self, "id", f"{self.kind.value}-{self.on.isoformat()}")


@dataclass(frozen=True, slots=True)
class RiskProfile:
    """Willingness to take risk (1–10, from the questionnaire) and its raw answers."""

    willingness: int = 5
    answers: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _within(self, "willingness", RISK_WILLINGNESS)
        object.__setattr__(self, "answers", dict(self.answers))


@dataclass(frozen=True, slots=True)
class Values:
    """The household's ESG preferences.

    ``max_carbon`` is tCO2e per $M invested; with ``carbon_relative`` it is instead a fraction of the
    unconstrained portfolio's carbon (0.7 = 30 % lower). ``tilt`` in [0, 1] scales the ESG-score reward.
    """

    exclude_tags: frozenset[str] = frozenset()
    exclude_tickers: frozenset[str] = frozenset()
    min_esg_score: float | None = None
    max_carbon: float | None = None
    carbon_relative: bool = False
    tilt: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "exclude_tags", frozenset(self.exclude_tags))
        object.__setattr__(
            self, "exclude_tickers", frozenset(t.upper() for t in self.exclude_tickers)
        )
        if self.min_esg_score is not None:
            _fraction(self, "min_esg_score", *ESG_SCORE)
        if self.max_carbon is not None:
            _fraction(self, "max_carbon", *CARBON_INTENSITY)
        _fraction(self, "tilt")


@dataclass(frozen=True, slots=True)
class TaxProfile:
    """What the tax engine needs: filing status, state, other taxable income and carried losses (USD)."""

    filing_status: FilingStatus = FilingStatus.SINGLE
    state: str = ""
    state_rate: float = 0.0
    ordinary_income: Decimal = Decimal(0)
    st_loss_carryforward: Decimal = Decimal(0)
    lt_loss_carryforward: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        _enum(self, "filing_status", FilingStatus)
        _fraction(self, "state_rate", *STATE_RATE)
        _set_decimal(self, "ordinary_income", minimum=Decimal(0))
        _set_decimal(self, "st_loss_carryforward", minimum=Decimal(0))
        _set_decimal(self, "lt_loss_carryforward", minimum=Decimal(0))


@dataclass(frozen=True, slots=True)
class Household:
    """A household: people, accounts with their lots and cash, goals, risk, values, taxes, events.

    ``loss_sales`` are recent sales at a loss whose wash-sale window may still be open: kept with the
    household so that a ledger rebuilt from it (every store-backed run) still sees them.
    """

    id: str
    name: str
    members: tuple[Member, ...]
    accounts: tuple[Account, ...]
    goals: tuple[Goal, ...] = ()
    lots: tuple[Lot, ...] = ()
    risk: RiskProfile = field(default_factory=RiskProfile)
    values: Values = field(default_factory=Values)
    tax: TaxProfile = field(default_factory=TaxProfile)
    events: tuple[LifeEvent, ...] = ()
    monthly_savings: Decimal = Decimal(0)
    monthly_expenses: Decimal = Decimal(0)
    emergency_months: float = 3.0
    loss_sales: tuple[LossSale, ...] = ()
    direct_index: DirectIndex | None = None  # a sleeve holding an index as single stocks (engine/model/direct.py)

    def __post_init__(self) -> None:
        _nonempty(self, "id")
        for name in ("members", "accounts", "goals", "lots", "events", "loss_sales"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        _set_decimal(self, "monthly_savings", minimum=Decimal(0))
        _set_decimal(self, "monthly_expenses", minimum=Decimal(0))
        _within(self, "emergency_months", EMERGENCY_MONTHS)
        if not self.accounts:
            raise ValidationError("a household needs at least one account", field="Household.accounts")
        _unique(self.id, "members", [m.id for m in self.members])
        _unique(self.id, "accounts", [a.id for a in self.accounts])
        _unique(self.id, "goals", [g.id for g in self.goals])
        _unique(self.id, "lots", [lot.id for lot in self.lots])
        _unique(self.id, "loss_sales", [sale.id for sale in self.loss_sales])
        account_ids = {a.id for a in self.accounts}
        member_ids = {m.id for m in self.members}
        for acct in self.accounts:
            if acct.owner is not None and acct.owner not in member_ids:
                raise ValidationError(
                    f"account {acct.id} names an unknown owner",
                    field=f"accounts[{acct.id}].owner",
                    value=acct.owner,
                    fix=f"use one of the member ids: {', '.join(sorted(member_ids))}",
                )
        for lot in self.lots:
            if lot.account not in account_ids:
                raise ValidationError(
                    f"lot {lot.id} is in an unknown account",
                    field=f"lots[{lot.id}].account",
                    value=lot.account,
                    fix=f"use one of: {', '.join(sorted(account_ids))}",
                )
        lot_ids = {lot.id for lot in self.lots} if self.loss_sales else set()
        for sale in self.loss_sales:
            if sale.account not in account_ids:
                raise ValidationError(
                    f"loss sale {sale.id} is in an unknown account",
                    field=f"loss_sales[{sale.id}].account",
                    value=sale.account,
                    fix=f"use one of: {', '.join(sorted(account_ids))}",
                )
            if sale.id in lot_ids:
                raise ValidationError(
                    f"loss sale {sale.id} has the id of a lot (the ledger keeps lots and sales under one set of ids)",
                    field=f"loss_sales[{sale.id}].id",
                    value=sale.id,
                    fix="give the loss sale an id no lot uses",
                )
        for goal in self.goals:
            for acct_id in goal.accounts:
                if acct_id not in account_ids:
                    raise ValidationError(
                        f"goal {goal.id} is funded from an unknown account",
                        field=f"goals[{goal.id}].accounts",
                        value=acct_id,
                        fix=f"use one of: {', '.join(sorted(account_ids))}",
                    )
        if self.direct_index is not None:
            for acct_id in self.direct_index.accounts:
                if acct_id not in account_ids:
                    raise ValidationError(
                        "the direct-index sleeve names an unknown account", field="direct_index.accounts",
                        value=acct_id, fix=f"use one of: {', '.join(sorted(account_ids))}")
                if self.account(acct_id).type is not AccountType.TAXABLE:
                    raise ValidationError(
                        f"the direct-index sleeve's account {acct_id} is not taxable: lot-level harvesting is worth "
                        "nothing where gains are not taxed", field="direct_index.accounts", value=acct_id,
                        fix="hold the sleeve in a taxable account")

    def account(self, account_id: str) -> Account:
        """The account with this id (raises ``ValidationError`` if there is none)."""
        for acct in self.accounts:
            if acct.id == account_id:
                return acct
        raise ValidationError(
            f"household {self.id} has no account {account_id!r}", field="account", value=account_id
        )

    def member(self, member_id: str) -> Member:
        """The member with this id (raises ``ValidationError`` if there is none)."""
        for m in self.members:
            if m.id == member_id:
                return m
        raise ValidationError(
            f"household {self.id} has no member {member_id!r}", field="member", value=member_id
        )

    def positions(self) -> list[Position]:
        """Lots summed per (account, symbol), sorted."""
        totals: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
        for lot in self.lots:
            sh, bs = totals.get((lot.account, lot.symbol), (Decimal(0), Decimal(0)))
            totals[(lot.account, lot.symbol)] = (sh + lot.shares, bs + lot.basis)
        return [Position(a, s, sh, bs) for (a, s), (sh, bs) in sorted(totals.items())]

    @property
    def cash(self) -> Decimal:
        """Cash across all accounts, USD."""
        return sum((a.cash for a in self.accounts), Decimal(0))


def _unique(household: str, what: str, ids: Iterable[str]) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ValidationError(
                f"household {household} has two {what} with id {i!r}",
                field=f"Household.{what}",
                value=i,
                fix="give each an unique id",
            )
        seen.add(i)


# ---------------------------------------------------------------------------------------------
# Orders, fills, proposals
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Order:
    """An order for one account: exactly one of ``qty`` (shares) or ``notional`` (USD).

    ``client_order_id`` is deterministic (proposal id + position) so a retry never places it twice.
    ``lots`` names the lots a sell relieves (specific identification) in the optimizer's plan.
    """

    client_order_id: str
    account: str
    symbol: str
    side: OrderSide
    qty: Decimal | None = None
    notional: Decimal | None = None
    type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.DAY
    limit_price: Decimal | None = None
    lots: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _nonempty(self, "client_order_id")
        object.__setattr__(self, "symbol", self.symbol.strip().upper())
        _enum(self, "side", OrderSide)
        _enum(self, "type", OrderType)
        _enum(self, "time_in_force", TimeInForce)
        if (self.qty is None) == (self.notional is None):
            raise ValidationError(
                "an order needs exactly one of qty or notional",
                field="Order.qty",
                value=(self.qty, self.notional),
            )
        _set_optional_decimal(self, "qty")
        _set_optional_decimal(self, "notional")
        for name in ("qty", "notional"):
            v = getattr(self, name)
            if v is not None and v <= 0:
                raise ValidationError("must be > 0", field=f"Order.{name}", value=str(v))
        if self.qty is not None and self.qty != self.qty.quantize(_QTY_STEP):
            raise ValidationError(
                "more than 9 decimals", field="Order.qty", value=str(self.qty), fix="round to 1e-9"
            )
        _set_optional_decimal(self, "limit_price", minimum=_ZERO)
        if self.type is OrderType.LIMIT and self.limit_price is None:
            raise ValidationError("a limit order needs limit_price", field="Order.limit_price")
        object.__setattr__(self, "lots", tuple(self.lots))


@dataclass(frozen=True, slots=True)
class Fill:
    """An execution: ``qty`` shares at ``price`` USD, ``fees`` USD, at a UTC instant."""

    client_order_id: str
    account: str
    symbol: str
    side: OrderSide
    qty: Decimal
    price: Decimal
    at: datetime
    fees: Decimal = Decimal(0)
    id: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbol", self.symbol.strip().upper())
        _enum(self, "side", OrderSide)
        _set_decimal(self, "qty", minimum=_ZERO, strict=True)
        _set_decimal(self, "price", minimum=_ZERO, strict=True)
        _set_decimal(self, "fees", minimum=_ZERO)
        _require_aware(self, "at")
        if not self.id:
            object.__setattr__(self, "id", f"{self.client_order_id}@{self.at.isoformat()}")

    @property
    def gross(self) -> Decimal:
        """qty × price in USD, before fees."""
        return self.qty * self.price


@dataclass(frozen=True, slots=True)
class Proposal:
    """What the engine proposes for one household on one day, and why.

    ``targets`` maps (account, symbol) to a weight of household value; ``tax_preview`` is the tax
    engine's preview of the sells; ``explanation`` lines say why each target moved.
    """

    id: str
    household: str
    as_of: date
    created: datetime
    trigger: str
    run_kind: RunKind
    targets: Mapping[tuple[str, str], float]
    orders: tuple[Order, ...]
    explanation: tuple[str, ...] = ()
    tax_preview: Any = None
    needs_approval: bool = False
    approval_reasons: tuple[str, ...] = ()
    status: ProposalStatus = ProposalStatus.PROPOSED
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _nonempty(self, "id")
        _require_date(self, "as_of")
        _require_aware(self, "created")
        _enum(self, "run_kind", RunKind)
        _enum(self, "status", ProposalStatus)
        object.__setattr__(self, "targets", dict(self.targets))
        object.__setattr__(self, "orders", tuple(self.orders))
        object.__setattr__(self, "explanation", tuple(self.explanation))
        object.__setattr__(self, "approval_reasons", tuple(self.approval_reasons))
        object.__setattr__(self, "details", dict(self.details))
        ids = [o.client_order_id for o in self.orders]
        if len(set(ids)) != len(ids):
            raise ValidationError("duplicate client_order_id in proposal", field="Proposal.orders")


@dataclass(frozen=True, slots=True)
class Universe:
    """The investable assets, keyed by ticker, with substitute groups and wash-sale identical groups."""

    assets: Mapping[str, Asset]
    identical: tuple[frozenset[str], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "assets", dict(self.assets))
        object.__setattr__(self, "identical", tuple(frozenset(g) for g in self.identical))
        for group in self.identical:
            unknown = sorted(group - self.assets.keys())
            if unknown:
                raise ValidationError(
                    "identical group names tickers outside the universe",
                    field="Universe.identical",
                    value=unknown,
                )

    @property
    def tickers(self) -> list[str]:
        """Tickers in configuration order."""
        return list(self.assets)

    def __getitem__(self, ticker: str) -> Asset:
        try:
            return self.assets[ticker.upper()]
        except KeyError:
            from engine.errors import UnknownTicker

            raise UnknownTicker(
                f"{ticker!r} is not in the universe; add it to config/universe.yaml",
                ticker=ticker,
            ) from None

    def __contains__(self, ticker: object) -> bool:
        return isinstance(ticker, str) and ticker.upper() in self.assets

    def __len__(self) -> int:
        return len(self.assets)

    def by_class(self) -> dict[AssetClass, list[str]]:
        """Tickers grouped by asset class, in configuration order."""
        out: dict[AssetClass, list[str]] = {}
        for t, a in self.assets.items():
            out.setdefault(a.asset_class, []).append(t)
        return out

    def substitutes(self, ticker: str) -> list[str]:
        """Other tickers of the same substitute group (loss-harvesting replacements), in order."""
        group = self[ticker].substitute_group
        if group is None:
            return []
        return [t for t, a in self.assets.items() if a.substitute_group == group and t != ticker]

    def subset(self, tickers: Iterable[str]) -> Universe:
        """A universe of just these tickers (identical groups trimmed to them)."""
        keep = [t.upper() for t in tickers]
        assets = {t: self[t] for t in keep}
        groups = tuple(g & assets.keys() for g in self.identical if len(g & assets.keys()) > 1)
        return Universe(assets, groups)
