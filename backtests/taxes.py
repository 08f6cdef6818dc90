"""Year-end taxes of a backtest from the real lot ledger: ``engine.tax.tax_on`` with carryforwards.

    taxes = TaxYear(profile, state_rate)               # one per run
    taxes.accrue_income(qualified, ordinary, exempt)   # USD of taxable-account income, daily
    result = taxes.settle(ledger, 2021, profile)       # → YearTax; carryforwards roll into next year

Capital gains are the ledger's reportable realizations of the year (wash sales already disallowed),
netted short/long term with the carried losses, the $3,000 deduction and brackets of ``tax_on``.
Fund income (dividends, bond interest) is modelled from the universe yields: the adjusted prices
already reinvest it, so only its tax is charged (qualified at long-term rates, ordinary at ordinary
rates — both through ``tax_on`` — and federally exempt muni interest at the state rate). Traditional
account withdrawals are ordinary income at the household's marginal rate (no NIIT).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from engine.model import TaxProfile
from engine.tax import LotLedger, MarginalRates, Realization, Term, marginal_rates, tax_on

__all__ = ["TaxYear", "YearTax"]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class YearTax:
    """One year's tax settlement in USD; negative ``tax`` means the portfolio lowered other taxes."""

    year: int
    st_gain: float
    lt_gain: float
    qualified_div: float
    ordinary_div: float
    exempt_div: float
    distributions: float
    deduction: float
    st_carry: float
    lt_carry: float
    capital_gains_tax: float
    dividend_tax: float
    distribution_tax: float
    tax: float


class TaxYear:
    """The running tax year of one household: income accrued, distributions, and the carried losses (USD).

    ``outside_st`` / ``outside_lt`` are USD of gains the household realizes each year outside the portfolio:
    the portfolio's losses offset them first (netted on one Schedule D), and the portfolio's tax is the
    household's tax with the portfolio minus its tax with the outside gains alone.
    """

    def __init__(self, profile: TaxProfile, state_rate: float | None = None, *, outside_st: float = 0.0,
                 outside_lt: float = 0.0) -> None:
        self.profile = profile if state_rate is None else replace(profile, state_rate=state_rate)
        self.outside = (Decimal(repr(outside_st)), Decimal(repr(outside_lt)))
        self.state_override = state_rate
        self.st_carry = profile.st_loss_carryforward
        self.lt_carry = profile.lt_loss_carryforward
        self.qualified = self.ordinary = self.exempt = self.distributions = 0.0
        self._rates = marginal_rates(self.profile)

    @property
    def rates(self) -> MarginalRates:
        """Marginal rates (fractions) of the current profile."""
        return self._rates

    def use_profile(self, profile: TaxProfile) -> None:
        """A life event changed the household's tax profile (income, filing status); carryforwards stay."""
        p = profile if self.state_override is None else replace(profile, state_rate=self.state_override)
        if p != self.profile:
            self.profile = p
            self._rates = marginal_rates(p)

    def accrue_income(self, qualified: float, ordinary: float, exempt: float) -> None:
        """Add one day's fund income in taxable accounts (USD per character)."""
        self.qualified += qualified
        self.ordinary += ordinary
        self.exempt += exempt

    def distribution(self, amount: float) -> float:
        """A traditional-account withdrawal (USD); returns its tax at the ordinary marginal rate (no NIIT)."""
        self.distributions += amount
        return amount * (self._rates.ordinary - self._rates.niit)

    def income_tax_so_far(self) -> float:
        """This year's tax on accrued fund income at marginal rates (USD; an estimate before settlement)."""
        r = self._rates
        return self.qualified * r.long_term + self.ordinary * r.ordinary + self.exempt * r.exempt

    def gains_tax(self, ledger: LotLedger, year: int) -> float:
        """Tax (USD) on the year's realizations so far, with the carried losses (an estimate before settlement)."""
        return self._portfolio_tax(ledger.realized(year=year))

    def gains_tax_and_carry(self, ledger: LotLedger, year: int) -> tuple[float, float]:
        """``gains_tax`` and the capital losses (USD) that would carry into next year if the year ended now."""
        reals = ledger.realized(year=year)
        bill = tax_on([*reals, *self._outside()], self._carried())
        return self._portfolio_tax(reals), float(bill.st_carryforward + bill.lt_carryforward)

    @property
    def carried(self) -> float:
        """Capital losses (USD, both terms) carried into the current year."""
        return float(self.st_carry + self.lt_carry)

    def _portfolio_tax(self, reals: list, qualified: Decimal = _ZERO, ordinary: Decimal = _ZERO) -> float:
        """The household's tax with the portfolio (realizations, income, carried losses) minus its tax
        without any portfolio (USD). ``tax_on`` is incremental over a baseline that already deducts the
        carried losses; the portfolio's tax must count that deduction too, since the portfolio made it.
        Outside gains are on both sides: the portfolio is charged only what it changes."""
        outside = self._outside()
        bill = tax_on([*reals, *outside], self._carried(), qualified_dividends=qualified, ordinary_dividends=ordinary)
        bare = tax_on(outside, replace(self.profile, st_loss_carryforward=_ZERO, lt_loss_carryforward=_ZERO))
        return float(bill.total + bill.baseline - bare.total - bare.baseline)

    def _outside(self) -> list[Realization]:
        """The year's outside gains as two reportable realizations (short and long term)."""
        out = []
        for gain, term in zip(self.outside, (Term.SHORT, Term.LONG), strict=True):
            if gain > 0:
                out.append(Realization(id=f"outside-{term.value}", account="outside", symbol="OUTSIDE",
                                       shares=Decimal(1), acquired=date(2000, 1, 1), sold=date(2000, 12, 31),
                                       proceeds=gain, basis=_ZERO, disallowed=_ZERO, term=term, lot_id="outside"))
        return out

    def settle(self, ledger: LotLedger, year: int) -> YearTax:
        """Close ``year``: tax its realizations and income, roll the carryforwards, reset the accruals."""
        reals = ledger.realized(year=year)
        profile = self._carried()
        q = Decimal(repr(round(self.qualified, 2)))
        o = Decimal(repr(round(self.ordinary, 2)))
        full = tax_on([*reals, *self._outside()], profile, qualified_dividends=q, ordinary_dividends=o)
        gains_tax = self._portfolio_tax(reals)
        total = self._portfolio_tax(reals, q, o)
        exempt_tax = self.exempt * self._rates.exempt
        dist_tax = self.distributions * (self._rates.ordinary - self._rates.niit)
        div_tax = total - gains_tax + exempt_tax
        out = YearTax(
            year=year, st_gain=float(full.short_term - self.outside[0]),
            lt_gain=float(full.long_term - self.outside[1]),
            qualified_div=self.qualified, ordinary_div=self.ordinary, exempt_div=self.exempt,
            distributions=self.distributions, deduction=float(full.loss_deduction),
            st_carry=float(full.st_carryforward), lt_carry=float(full.lt_carryforward),
            capital_gains_tax=gains_tax, dividend_tax=div_tax, distribution_tax=dist_tax,
            # Distribution tax is charged when the money leaves (flows after tax), not again here.
            tax=total + exempt_tax,
        )
        self.st_carry, self.lt_carry = full.st_carryforward, full.lt_carryforward
        self.qualified = self.ordinary = self.exempt = self.distributions = 0.0
        return out

    def _carried(self) -> TaxProfile:
        return replace(self.profile, st_loss_carryforward=self.st_carry, lt_loss_carryforward=self.lt_carry)
