"""US federal + flat state income tax on capital gains: brackets, marginal rates, incremental tax, tax drag.

    rates = marginal_rates(household.tax)              # MarginalRates(short_term=0.373, long_term=0.281, ...)
    bill = tax_on(ledger.realized(2026), household.tax) # incremental USD tax of those realizations

Tables come from ``config/tax/us_2026.yaml`` (IRS Rev. Proc. 2025-32). ``TaxProfile.ordinary_income`` is
the household's other income, *gross* (before the standard deduction): it is treated as AGI before
capital gains, and the standard deduction is subtracted here. The state tax is the profile's flat
``state_rate`` applied to the change in AGI (no state deduction, no state brackets).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.config import default_file, load_yaml
from engine.errors import ConfigError
from engine.model import AccountType, Asset, FilingStatus, TaxProfile
from engine.tax.ledger import CENT, Realization, Term

__all__ = [
    "MarginalRates",
    "TaxBill",
    "TaxTables",
    "load_tax_tables",
    "marginal_rates",
    "tax_drag",
    "tax_on",
]

_ZERO = Decimal(0)


class _BracketsSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    single: list[tuple[Decimal, Decimal]]
    married_joint: list[tuple[Decimal, Decimal]]
    married_separate: list[tuple[Decimal, Decimal]]
    head_of_household: list[tuple[Decimal, Decimal]]

    @field_validator("*")
    @classmethod
    def _ascending(cls, rows: list[tuple[Decimal, Decimal]]) -> list[tuple[Decimal, Decimal]]:
        if not rows or rows[0][0] != 0:
            raise ValueError("brackets must start at 0")
        if any(b[0] <= a[0] for a, b in pairwise(rows)):
            raise ValueError("bracket thresholds must increase")
        if any(not 0 <= r <= 1 for _, r in rows):
            raise ValueError("rates are fractions in [0, 1]")
        return rows


class _PerStatus(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    single: Decimal = Field(ge=0)
    married_joint: Decimal = Field(ge=0)
    married_separate: Decimal = Field(ge=0)
    head_of_household: Decimal = Field(ge=0)


class _NiitSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rate: Decimal = Field(ge=0, le=1)
    threshold: _PerStatus


class _TablesSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: Literal[1] = 1
    year: int = Field(ge=2018, le=2100)
    source: str = Field(min_length=1)
    ordinary_brackets: _BracketsSchema
    capital_gain_brackets: _BracketsSchema
    standard_deduction: _PerStatus
    niit: _NiitSchema
    capital_loss_limit: _PerStatus


Brackets = tuple[tuple[Decimal, Decimal], ...]


@dataclass(frozen=True, slots=True)
class TaxTables:
    """One year's federal parameters (USD thresholds, fraction rates), by filing status."""

    year: int
    source: str
    ordinary: Mapping[FilingStatus, Brackets]
    capital_gains: Mapping[FilingStatus, Brackets]
    standard_deduction: Mapping[FilingStatus, Decimal]
    niit_rate: Decimal
    niit_threshold: Mapping[FilingStatus, Decimal]
    capital_loss_limit: Mapping[FilingStatus, Decimal]


def load_tax_tables(path: str | Path | None = None) -> TaxTables:
    """Tax tables from a YAML file (default: ``config/tax/us_2026.yaml``); errors name the file and field."""
    if path is None:
        return _default_tables(str(default_file("tax/us_2026.yaml")))
    return _tables_from(load_yaml(path, _TablesSchema))


@lru_cache(maxsize=4)
def _default_tables(path: str) -> TaxTables:
    return _tables_from(load_yaml(path, _TablesSchema))


def _tables_from(s: _TablesSchema) -> TaxTables:
    def per(model: BaseModel) -> dict[FilingStatus, object]:
        return {FilingStatus(k): v for k, v in model.model_dump().items()}

    def brackets(model: _BracketsSchema) -> dict[FilingStatus, Brackets]:
        return {FilingStatus(k): tuple((Decimal(a), Decimal(r)) for a, r in v) for k, v in model.model_dump().items()}

    return TaxTables(
        year=s.year,
        source=s.source,
        ordinary=brackets(s.ordinary_brackets),
        capital_gains=brackets(s.capital_gain_brackets),
        standard_deduction=per(s.standard_deduction),  # type: ignore[arg-type]
        niit_rate=s.niit.rate,
        niit_threshold=per(s.niit.threshold),  # type: ignore[arg-type]
        capital_loss_limit=per(s.capital_loss_limit),  # type: ignore[arg-type]
    )


def _tables(tables: TaxTables | None) -> TaxTables:
    return tables if tables is not None else load_tax_tables()


def _tax_between(brackets: Brackets, lo: Decimal, hi: Decimal) -> Decimal:
    """Tax on the slice of taxable income (lo, hi] under ``brackets`` (USD, unrounded)."""
    total = _ZERO
    for i, (start, rate) in enumerate(brackets):
        end = brackets[i + 1][0] if i + 1 < len(brackets) else None
        a = max(lo, start)
        b = hi if end is None else min(hi, end)
        if b > a:
            total += (b - a) * rate
    return total


def _rate_at(brackets: Brackets, income: Decimal) -> Decimal:
    """Rate on the next dollar above ``income``."""
    rate = brackets[0][1]
    for start, r in brackets:
        if income >= start:
            rate = r
    return rate


@dataclass(frozen=True, slots=True)
class MarginalRates:
    """Marginal rates (fractions) on the next dollar, federal + state + NIIT where it applies.

    ``short_term`` taxes short-term gains and non-qualified income; ``long_term`` long-term gains and
    qualified dividends; ``ordinary`` equals ``short_term`` (ordinary income, e.g. bond interest);
    ``exempt`` is the tax on federally exempt interest (the state rate: national muni funds hold mostly
    out-of-state bonds). Carryforwards are ignored (they shelter gains first, but not forever).
    """

    short_term: float
    long_term: float
    ordinary: float
    exempt: float
    federal_ordinary: float
    federal_long_term: float
    niit: float
    state: float
    filing_status: FilingStatus

    def for_term(self, term: Term) -> float:
        """The rate for a gain or loss of ``term``."""
        return self.long_term if term is Term.LONG else self.short_term


def marginal_rates(profile: TaxProfile, tables: TaxTables | None = None) -> MarginalRates:
    """Marginal rates (fractions) at the household's other income (``profile.ordinary_income``, gross USD)."""
    t = _tables(tables)
    status = profile.filing_status
    agi = profile.ordinary_income
    taxable = max(_ZERO, agi - t.standard_deduction[status])
    fed_ord = _rate_at(t.ordinary[status], taxable)
    fed_lt = _rate_at(t.capital_gains[status], taxable)
    niit = t.niit_rate if agi >= t.niit_threshold[status] else _ZERO
    state = Decimal(repr(profile.state_rate))
    st = fed_ord + niit + state
    lt = fed_lt + niit + state
    return MarginalRates(
        short_term=float(st),
        long_term=float(lt),
        ordinary=float(st),
        exempt=float(state),
        federal_ordinary=float(fed_ord),
        federal_long_term=float(fed_lt),
        niit=float(niit),
        state=float(state),
        filing_status=status,
    )


@dataclass(frozen=True, slots=True)
class TaxBill:
    """Incremental tax in USD of a set of realizations (and optional investment income) on top of the
    household's other income; negative ``total`` means the losses lower the household's tax.

    ``short_term``/``long_term`` are the realizations' net gains per term (before carryforwards);
    ``net_short_term``/``net_long_term`` after carryforwards and IRS netting (Schedule D);
    ``loss_deduction`` the capital loss deducted from ordinary income (≤ $3,000); ``st_carryforward``
    and ``lt_carryforward`` what carries into next year. Components are incremental over ``baseline``
    (the tax with no realizations), rounded to cents.
    """

    short_term: Decimal
    long_term: Decimal
    net_short_term: Decimal
    net_long_term: Decimal
    loss_deduction: Decimal
    st_carryforward: Decimal
    lt_carryforward: Decimal
    federal: Decimal
    niit: Decimal
    state: Decimal
    total: Decimal
    baseline: Decimal
    disallowed: Decimal = _ZERO


@dataclass(frozen=True, slots=True)
class _Parts:
    net_st: Decimal
    net_lt: Decimal
    deduction: Decimal
    carry_st: Decimal
    carry_lt: Decimal
    federal: Decimal
    niit: Decimal
    state: Decimal

    @property
    def total(self) -> Decimal:
        return self.federal + self.niit + self.state


def _year_tax(
    t: TaxTables,
    profile: TaxProfile,
    st: Decimal,
    lt: Decimal,
    qualified: Decimal = _ZERO,
    nonqualified: Decimal = _ZERO,
) -> _Parts:
    """The year's whole federal + NIIT + state tax (USD, unrounded) given capital gains and investment income."""
    status = profile.filing_status
    s = st - profile.st_loss_carryforward
    lg = lt - profile.lt_loss_carryforward
    # Schedule D netting: within each term first (done by the sums), then across terms.
    st_gain = lt_gain = st_loss = lt_loss = _ZERO
    if s >= 0 and lg >= 0:
        st_gain, lt_gain = s, lg
    elif s < 0 and lg < 0:
        st_loss, lt_loss = -s, -lg
    elif s < 0 <= lg:
        net = s + lg
        lt_gain, st_loss = (net, _ZERO) if net >= 0 else (_ZERO, -net)
    else:  # lg < 0 <= s
        net = s + lg
        st_gain, lt_loss = (net, _ZERO) if net >= 0 else (_ZERO, -net)
    deduction = min(t.capital_loss_limit[status], st_loss + lt_loss)  # §1211(b): at most $3,000 ($1,500 MFS)
    ordinary = profile.ordinary_income + nonqualified
    agi = ordinary + st_gain + lt_gain + qualified - deduction
    # §1212(b)(2): what carries over is the net loss less the deduction *used*: the deduction or, if smaller,
    # the adjusted taxable income (taxable income — which may be negative — plus the §1211(b) deduction),
    # never below zero. A household whose income is below its standard deduction carries more forward.
    adjusted_taxable = agi - t.standard_deduction[status] + deduction
    used = min(deduction, max(_ZERO, adjusted_taxable))
    used_st = min(st_loss, used)  # the deduction uses short-term losses first (Schedule D worksheet)
    carry_st, carry_lt = st_loss - used_st, lt_loss - (used - used_st)
    taxable = max(_ZERO, agi - t.standard_deduction[status])
    preferential = min(lt_gain + qualified, taxable)
    ordinary_taxable = taxable - preferential
    federal = _tax_between(t.ordinary[status], _ZERO, ordinary_taxable) + _tax_between(
        t.capital_gains[status], ordinary_taxable, taxable
    )
    nii = st_gain + lt_gain + qualified + nonqualified
    niit = t.niit_rate * min(nii, max(_ZERO, agi - t.niit_threshold[status]))
    state = Decimal(repr(profile.state_rate)) * max(_ZERO, agi)
    return _Parts(st_gain - st_loss, lt_gain - lt_loss, deduction, carry_st, carry_lt, federal, niit, state)


def tax_on(
    realizations: Iterable[Realization],
    profile: TaxProfile,
    tables: TaxTables | None = None,
    *,
    qualified_dividends: Decimal = _ZERO,
    ordinary_dividends: Decimal = _ZERO,
) -> TaxBill:
    """Incremental federal + NIIT + state tax (USD) of ``realizations`` for a household with ``profile``.

    Reportable realizations are summed per term, netted with the profile's carryforwards and across
    terms per IRS ordering; a net loss offsets up to $3,000 of ordinary income and the rest carries
    forward with its character. ``qualified_dividends`` / ``ordinary_dividends`` (USD) add investment
    income taxed at long-term / ordinary rates (both count for NIIT).
    """
    t = _tables(tables)
    st = lt = disallowed = _ZERO
    for r in realizations:
        if not r.reportable:
            continue
        disallowed += r.disallowed
        if r.term is Term.LONG:
            lt += r.gain
        else:
            st += r.gain
    base = _year_tax(t, profile, _ZERO, _ZERO)
    full = _year_tax(t, profile, st, lt, Decimal(qualified_dividends), Decimal(ordinary_dividends))

    def c(x: Decimal) -> Decimal:
        return x.quantize(CENT)

    federal, niit, state = c(full.federal - base.federal), c(full.niit - base.niit), c(full.state - base.state)
    return TaxBill(
        short_term=st,
        long_term=lt,
        net_short_term=full.net_st,
        net_long_term=full.net_lt,
        loss_deduction=full.deduction,
        st_carryforward=full.carry_st,
        lt_carryforward=full.carry_lt,
        federal=federal,
        niit=niit,
        state=state,
        total=federal + niit + state,
        baseline=c(base.total),
        disallowed=disallowed,
    )


def tax_drag(
    asset: Asset, account_type: AccountType, profile: TaxProfile, tables: TaxTables | None = None,
    *, rates: MarginalRates | None = None,
) -> float:
    """Annual fraction of value lost to tax on the asset's income when held in ``account_type``.

    Taxable: ``dividend_yield`` × (qualified share × long-term rate + tax-exempt share × state rate +
    the rest × ordinary rate). Roth, HSA, 529: 0 (never taxed). Traditional: 0 per year — the tax is
    deferred to withdrawal, where it falls on the whole value as ordinary income, not on the yield.
    """
    if AccountType(account_type) is not AccountType.TAXABLE:
        return 0.0
    r = rates or marginal_rates(profile, tables)
    y = asset.dividend_yield
    q, e = asset.qualified_share, asset.tax_exempt_share
    if q + e > 1 + 1e-12:
        raise ConfigError(
            f"{asset.ticker}: qualified_share + tax_exempt_share exceed 1",
            field=f"assets.{asset.ticker}",
            value=(q, e),
            fix="the two shares split the same distribution; make them sum to at most 1",
        )
    ordinary_share = max(0.0, 1.0 - q - e)
    return y * (q * r.long_term + e * r.exempt + ordinary_share * r.ordinary)
