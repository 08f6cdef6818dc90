"""INTERIM bookkeeping: a stand-in for ``brokers.SimulatedBroker`` + ``engine.tax.LotLedger`` + the tax engine.

    book = Book(accounts, tickers, costs=costs, rates=rates, identical=groups)
    book.buy(a, j, 1_000.0, price, day)        # fills at close ± half-spread + slippage, books a lot

**To be swapped out** as soon as brokers/ and engine/tax land (see backtests/README section in the
report): fills will come from ``SimulatedBroker`` with an advanceable clock, lots and wash sales from
``LotLedger``, year-end tax from ``engine.tax.tax_on(realizations, profile)``. Until then this module keeps
the harness honest with the same rules, in float USD for speed:

- taxable accounts keep lots (HIFO relief), realized gains split short/long term (> 365 days);
- wash sales (±``wash_days`` around a loss sale, across all accounts, identical groups): the loss is
  disallowed and added to the replacement lot's basis (lost for good when the replacement is in an IRA);
- dividends/bond income accrue daily from the universe yields in taxable accounts (the adjusted prices
  already reinvest them, so only their *tax* is modelled, and reinvested income raises basis);
- year-end netting with carryforwards and the $3,000 deduction against ordinary income.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from engine.model import AccountType

__all__ = ["Book", "Rates", "YearTax", "tax_for_year"]

_NEVER = -(10**9)


@dataclass(frozen=True, slots=True)
class Rates:
    """Marginal rates as fractions: ordinary income and long-term gains (federal + state + NIIT)."""

    ordinary: float
    ltcg: float
    exempt: float = 0.0  # tax on federally exempt income (state part of muni interest), fraction
    loss_limit: float = 3000.0  # USD of net capital loss deductible against ordinary income per year


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


def tax_for_year(
    year: int, st: float, lt: float, qdiv: float, odiv: float, xdiv: float, dist: float,
    st_cf: float, lt_cf: float, rates: Rates,
) -> YearTax:
    """Net gains with carryforwards (character kept), deduct up to the limit, price everything (USD)."""
    s = st - st_cf
    lg = lt - lt_cf
    if s < 0 < lg:  # short-term losses offset long-term gains; a remainder stays short-term
        net = lg + s
        s, lg = (0.0, net) if net >= 0 else (net, 0.0)
    elif lg < 0 < s:  # long-term losses offset short-term gains; a remainder stays long-term
        net = s + lg
        s, lg = (net, 0.0) if net >= 0 else (0.0, net)
    # Now each of s, lg is either ≥ 0 or both carry remaining losses.
    st_loss = -min(s, 0.0)
    lt_loss = -min(lg, 0.0)
    deduction = min(rates.loss_limit, st_loss + lt_loss)
    use_st = min(deduction, st_loss)
    st_carry = st_loss - use_st
    lt_carry = lt_loss - (deduction - use_st)
    cg_tax = max(s, 0.0) * rates.ordinary + max(lg, 0.0) * rates.ltcg - deduction * rates.ordinary
    div_tax = qdiv * rates.ltcg + odiv * rates.ordinary + xdiv * rates.exempt
    dist_tax = dist * rates.ordinary
    return YearTax(
        year, st, lt, qdiv, odiv, xdiv, dist, deduction, st_carry, lt_carry,
        cg_tax, div_tax, dist_tax, cg_tax + div_tax + dist_tax,
    )


@dataclass(slots=True)
class _Year:
    st: float = 0.0
    lt: float = 0.0
    qdiv: float = 0.0
    odiv: float = 0.0
    xdiv: float = 0.0
    dist: float = 0.0
    harvested: float = 0.0
    costs: float = 0.0
    traded: float = 0.0
    wash_disallowed: float = 0.0


@dataclass(slots=True)
class _Pending:
    sale_ord: int
    loss_per_share: float
    shares_left: float
    long_term: bool
    why: str = ""


@dataclass(slots=True)
class Book:
    """Positions, cash, lots and the running tax year of one household (float USD, interim)."""

    account_ids: tuple[str, ...]
    account_types: tuple[AccountType, ...]
    tickers: tuple[str, ...]
    rates: Rates
    half_spread_bps: float = 1.0
    slippage_bps: float = 1.0
    commission: float = 0.0
    wash_days: int = 30
    identical: tuple[frozenset[str], ...] = ()
    shares: np.ndarray = field(init=False)
    basis: np.ndarray = field(init=False)
    cash: np.ndarray = field(init=False)
    lots: dict[tuple[int, int], list[list[float]]] = field(init=False)
    last_buy: np.ndarray = field(init=False)
    group: np.ndarray = field(init=False)
    pending: dict[int, list[_Pending]] = field(init=False)
    year: _Year = field(init=False)
    st_cf: float = 0.0
    lt_cf: float = 0.0
    owed: float = 0.0
    taxable: np.ndarray = field(init=False)
    trades: list[tuple] = field(init=False)
    realizations: list[tuple] = field(init=False)
    wash_sales: list[tuple] = field(init=False)
    div_basis: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        a, n = len(self.account_ids), len(self.tickers)
        self.shares = np.zeros((a, n))
        self.basis = np.zeros((a, n))
        self.div_basis = np.zeros((a, n))
        self.cash = np.zeros(a)
        self.lots = {}
        self.last_buy = np.full((a, n), _NEVER, dtype=np.int64)
        gid = list(range(n))
        for g in self.identical:
            members = [self.tickers.index(t) for t in g if t in self.tickers]
            for m in members[1:]:
                gid[m] = members[0]
        self.group = np.asarray(gid)
        self.pending = {}
        self.year = _Year()
        self.taxable = np.array([t is AccountType.TAXABLE for t in self.account_types])
        self.trades, self.realizations, self.wash_sales = [], [], []

    # -- reads ---------------------------------------------------------------------------------

    def account_values(self, prices: np.ndarray) -> np.ndarray:
        """USD per account (positions at ``prices`` + cash); NaN prices count only where nothing is held."""
        p = np.where(np.isfinite(prices), prices, 0.0)
        return self.shares @ p + self.cash

    def recent_buy(self, j: int, day_ord: int) -> bool:
        """True if any fund identical to ``j`` was bought in any account within the wash window."""
        members = self.group == self.group[j]
        return bool((self.last_buy[:, members] >= day_ord - self.wash_days).any())

    def recent_loss_sale(self, j: int, day_ord: int) -> bool:
        """True if a loss sale of a fund identical to ``j`` is still inside its wash window."""
        return any(p.sale_ord >= day_ord - self.wash_days and p.shares_left > 0
                   for p in self.pending.get(int(self.group[j]), ()))

    # -- cash ----------------------------------------------------------------------------------

    def deposit(self, a: int, amount: float) -> None:
        self.cash[a] += amount

    # -- trading -------------------------------------------------------------------------------

    def buy(self, a: int, j: int, dollars: float, price: float, day_ord: int, why: str) -> float:
        """Spend up to ``dollars`` (capped by cash, after commission) on fund ``j``; returns USD spent."""
        dollars = min(dollars, self.cash[a] - self.commission)
        if dollars <= 0.01 or not math.isfinite(price):
            return 0.0
        fill = price * (1.0 + (self.half_spread_bps + self.slippage_bps) * 1e-4)
        qty = dollars / fill
        cost = dollars - qty * price + self.commission
        self.cash[a] -= dollars + self.commission
        self.shares[a, j] += qty
        basis = dollars + self.commission
        # Wash sale after a loss sale: the disallowed loss moves into this lot's basis.
        g = int(self.group[j])
        for p in self.pending.get(g, ()):
            if p.shares_left > 0 and day_ord - p.sale_ord <= self.wash_days:
                matched = min(qty, p.shares_left)
                disallowed = matched * p.loss_per_share
                p.shares_left -= matched
                self._disallow(disallowed, p.long_term, day_ord, a, j, "after", origin=p.why)
                if self.taxable[a]:
                    basis += disallowed
        if self.taxable[a]:
            self.lots.setdefault((a, j), []).append([qty, basis, float(day_ord), float(day_ord)])
            self.basis[a, j] += basis
        self.last_buy[a, j] = day_ord
        self.year.costs += cost
        self.year.traded += dollars
        self.trades.append((day_ord, a, j, "buy", qty, fill, dollars, cost, why))
        return dollars

    def sell(self, a: int, j: int, qty: float, price: float, day_ord: int, why: str,
             *, losses_only: bool = False) -> float:
        """Sell ``qty`` shares (HIFO lots in taxable accounts); returns net USD proceeds."""
        qty = min(qty, self.shares[a, j])
        if qty <= 1e-9 or not math.isfinite(price):
            return 0.0
        fill = price * (1.0 - (self.half_spread_bps + self.slippage_bps) * 1e-4)
        if self.taxable[a]:
            qty = self._relieve(a, j, qty, fill, day_ord, why, losses_only)
            if qty <= 1e-12:
                return 0.0
        gross = qty * fill
        proceeds = gross - self.commission
        self.shares[a, j] -= qty
        if self.shares[a, j] < 1e-9:
            self.shares[a, j] = 0.0
        self.cash[a] += proceeds
        cost = qty * price - gross + self.commission
        self.year.costs += cost
        self.year.traded += qty * price
        self.trades.append((day_ord, a, j, "sell", qty, fill, qty * price, cost, why))
        return proceeds

    def _relieve(self, a: int, j: int, qty: float, fill: float, day_ord: int, why: str,
                 losses_only: bool) -> float:
        lots = self.lots.get((a, j), [])
        lots.sort(key=lambda lot: lot[1] / lot[0], reverse=True)  # highest cost first (HIFO)
        plan: list[tuple[list[float], float]] = []
        left = qty
        for lot in lots:
            if left <= 1e-12:
                break
            if losses_only and lot[1] / lot[0] <= fill:
                continue
            take = min(lot[0], left)
            plan.append((lot, take))
            left -= take
        window = day_ord - self.wash_days
        # Replacement shares: bought inside the window before the sale and not sold by this order.
        pool = self._recent_elsewhere(a, j, window)
        sold_from = {id(lot): take for lot, take in plan}
        pool += sum(lot[0] - sold_from.get(id(lot), 0.0) for lot in lots if lot[3] >= window)
        per_share_commission = self.commission / max(qty, 1e-9)
        sold = 0.0
        for lot, take in plan:
            b = lot[1] * take / lot[0]
            proceeds = take * (fill - per_share_commission)
            long_term = day_ord - int(lot[2]) > 365
            matched = 0.0
            if proceeds < b and pool > 0:
                matched = min(take, pool)
                pool -= matched
            self._realize(a, j, take, proceeds, b, long_term, day_ord, why, matched)
            self.basis[a, j] -= b
            lot[0] -= take
            lot[1] -= b
            sold += take
        keep = [lot for lot in lots if lot[0] > 1e-9]
        self.lots[(a, j)] = keep
        if not keep:
            self.basis[a, j] = 0.0
        return sold

    def _recent_elsewhere(self, a: int, j: int, window: int) -> float:
        shares = 0.0
        for m in np.flatnonzero(self.group == self.group[j]):
            for b in range(len(self.account_ids)):
                if b == a and m == j:
                    continue
                if self.taxable[b]:
                    shares += sum(lot[0] for lot in self.lots.get((b, int(m)), ()) if lot[3] >= window)
                elif self.last_buy[b, m] >= window:
                    shares += float(self.shares[b, m])
        return shares

    def _realize(self, a: int, j: int, qty: float, proceeds: float, basis: float, long_term: bool,
                 day_ord: int, why: str, replaced: float) -> None:
        gain = proceeds - basis
        disallowed = 0.0
        if gain < 0:
            if why == "harvest":
                self.year.harvested += -gain
            if replaced > 0:  # wash sale: a replacement was bought inside the window before the sale
                disallowed = -gain * replaced / qty
                self._disallow(disallowed, long_term, day_ord, a, j, "before", add_to_gain=False, origin=why)
            if qty - replaced > 1e-9:
                self.pending.setdefault(int(self.group[j]), []).append(
                    _Pending(day_ord, -gain / qty, qty - replaced, long_term, why)
                )
        booked = gain + disallowed
        if long_term:
            self.year.lt += booked
        else:
            self.year.st += booked
        self.realizations.append(
            (day_ord, a, j, qty, proceeds, basis, gain, "long" if long_term else "short", disallowed, why)
        )

    def _disallow(self, amount: float, long_term: bool, day_ord: int, a: int, j: int, when: str,
                  *, add_to_gain: bool = True, origin: str = "") -> None:
        if amount <= 0:
            return
        if add_to_gain:
            if long_term:
                self.year.lt += amount
            else:
                self.year.st += amount
        self.year.wash_disallowed += amount
        self.wash_sales.append((day_ord, a, j, amount, when, origin))

    # -- income and taxes ------------------------------------------------------------------------

    def accrue_income(self, prices: np.ndarray, q_rate: np.ndarray, o_rate: np.ndarray,
                      x_rate: np.ndarray) -> None:
        """One day of dividend/interest income in taxable accounts (per-day yield fractions per fund)."""
        if not self.taxable.any():
            return
        p = np.where(np.isfinite(prices), prices, 0.0)
        held = self.shares[self.taxable] * p  # USD per taxable account × fund
        self.year.qdiv += float((held @ q_rate).sum())
        self.year.odiv += float((held @ o_rate).sum())
        self.year.xdiv += float((held @ x_rate).sum())
        self.div_basis[self.taxable] += held * (q_rate + o_rate + x_rate)

    def distribution(self, amount: float) -> None:
        """A withdrawal from a traditional account: ordinary income this year (USD)."""
        self.year.dist += amount

    def estimate(self, year: int) -> YearTax:
        """This year's tax so far, as if the year ended now."""
        y = self.year
        return tax_for_year(year, y.st, y.lt, y.qdiv, y.odiv, y.xdiv, y.dist, self.st_cf, self.lt_cf, self.rates)

    def close_year(self, year: int) -> tuple[YearTax, _Year]:
        """Settle the year: carryforwards roll, reinvested income raises basis; returns (tax, totals)."""
        result = self.estimate(year)
        self.st_cf, self.lt_cf = result.st_carry, result.lt_carry
        # Reinvested (taxed) income raises the basis of the lots that earned it, pro rata to shares.
        for (a, j), lots in self.lots.items():
            add = self.div_basis[a, j]
            total = sum(lot[0] for lot in lots)
            if add > 0 and total > 0:
                for lot in lots:
                    lot[1] += add * lot[0] / total
                self.basis[a, j] += add
        self.div_basis[:] = 0.0
        done, self.year = self.year, _Year()
        return result, done
