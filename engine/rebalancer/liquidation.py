"""Raise cash for a withdrawal with the least tax: which lots to sell, in which accounts, in what order.

    picks = plan_liquidation(amount, lots, prices, account_types, rates)

Order of preference (the conventional tax-aware withdrawal order, refined lot by lot):
1. taxable lots at a loss (short-term losses first: they offset ordinary-rate gains), then taxable lots with
   the lowest tax per dollar raised (long-term gains at the lower rate before short-term gains);
2. traditional accounts (every dollar is ordinary income);
3. Roth accounts last (tax-free growth is the most valuable thing to keep).
Cash already in the accounts (above ``keep_cash``) is used before anything is sold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_UP, Decimal

from engine.model import AccountType, Lot

__all__ = ["LiquidationPick", "plan_liquidation"]

_ACCOUNT_ORDER = {AccountType.TAXABLE: 0, AccountType.TRADITIONAL: 1, AccountType.HSA: 2, AccountType.PLAN_529: 2,
                  AccountType.ROTH: 3}


@dataclass(frozen=True, slots=True)
class LiquidationPick:
    """Shares of one lot to sell, the USD it raises and the estimated tax (negative for a harvested loss)."""

    lot_id: str
    account: str
    symbol: str
    shares: Decimal
    proceeds: Decimal
    tax: Decimal
    reason: str


def _long_term(lot: Lot, on: date) -> bool:
    try:
        anniversary = lot.acquired.replace(year=lot.acquired.year + 1)
    except ValueError:  # Feb 29 → Mar 1 of the next year
        anniversary = date(lot.acquired.year + 1, 3, 1)
    return on > anniversary


def plan_liquidation(
    amount: Decimal,
    lots: Sequence[Lot],
    prices: Mapping[str, Decimal],
    account_types: Mapping[str, AccountType],
    *,
    on: date,
    st_rate: float,
    lt_rate: float,
    ordinary_rate: float | None = None,
    cash: Mapping[str, Decimal] | None = None,
    keep_cash: Mapping[str, Decimal] | None = None,
    fractionable: Mapping[str, bool] | None = None,
) -> tuple[list[LiquidationPick], Decimal]:
    """Lots to sell so that cash + proceeds cover ``amount`` USD at the least estimated tax.

    Returns the picks (in sell order) and the shortfall in USD (0 when the amount can be raised).
    ``st_rate``/``lt_rate``/``ordinary_rate`` are marginal rates as fractions; ordinary defaults to ``st_rate``.
    """
    ordinary = st_rate if ordinary_rate is None else ordinary_rate
    need = Decimal(amount)
    for acct, c in (cash or {}).items():
        spare = Decimal(c) - Decimal((keep_cash or {}).get(acct, 0))
        if spare > 0:
            need -= spare
    if need <= 0:
        return [], Decimal(0)

    def cost(lot: Lot) -> tuple[int, float, str]:
        kind = account_types[lot.account]
        price = prices[lot.symbol]
        value = lot.shares * price
        if kind is AccountType.TAXABLE:
            gain = float(value - lot.basis)
            rate = lt_rate if _long_term(lot, on) else st_rate
            per_dollar = gain * rate / float(value) if value > 0 else 0.0
            # Short-term losses first (worth the ordinary rate), then long-term losses, then gains by tax/$.
            return (0, per_dollar, "harvests a loss" if gain < 0 else "lowest tax per dollar in taxable")
        if kind is AccountType.ROTH:
            return (_ACCOUNT_ORDER[kind], 0.0, "Roth last: tax-free growth is kept longest")
        return (_ACCOUNT_ORDER[kind], ordinary, "tax-deferred: withdrawn as ordinary income")

    ranked = sorted(lots, key=lambda lot: (*cost(lot)[:2], lot.acquired, lot.id))
    picks: list[LiquidationPick] = []
    for lot in ranked:
        if need <= 0:
            break
        price = prices[lot.symbol]
        if price <= 0:
            continue
        shares = min(lot.shares, (need / price))
        can_fraction = (fractionable or {}).get(lot.symbol, True)
        if can_fraction:
            shares = min(lot.shares, shares.quantize(Decimal("1e-9"), rounding=ROUND_UP))
        else:
            shares = min(lot.shares, shares.to_integral_value(rounding=ROUND_UP))
        if shares <= 0:
            continue
        proceeds = shares * price
        kind = account_types[lot.account]
        if kind is AccountType.TAXABLE:
            basis = lot.basis * shares / lot.shares
            rate = lt_rate if _long_term(lot, on) else st_rate
            tax = (proceeds - basis) * Decimal(str(rate))
        elif kind is AccountType.ROTH:
            tax = Decimal(0)
        else:
            tax = proceeds * Decimal(str(ordinary))
        picks.append(
            LiquidationPick(lot.id, lot.account, lot.symbol, shares, proceeds.quantize(Decimal("0.01")),
                            tax.quantize(Decimal("0.01")), cost(lot)[2])
        )
        need -= proceeds
    return picks, max(need, Decimal(0)).quantize(Decimal("0.01"))
