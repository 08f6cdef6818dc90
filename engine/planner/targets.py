"""The planner's small pure steps: holdings and their market value, lot takes, liquidation targets, approval flags.

    values = account_values(household, ledger.open_lots(), day.prices)   # USD per account at market, cash included
    needs, reasons = approval_flags(rules, household, mandate, plan, day.prices, current, first_run=True)

One valuation for every caller: a household's accounts are worth their cash plus each open lot's shares at the
planning day's price (market value, never book value).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from engine.model import Household, Lot, Order
from engine.planner.config import FIRST_RUN_REASON, ApprovalRules

if TYPE_CHECKING:
    from engine.goals import Mandate
    from engine.optimizer import LotSale
    from engine.rebalancer import OrderPlan

__all__ = [
    "account_values",
    "approval_flags",
    "holdings",
    "liquidation_targets",
    "lot_take",
    "sell_out_dust",
    "weights",
]

Key = tuple[str, str]


def account_values(household: Household, lots: Iterable[Lot], prices: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """USD per account at market on the planning day: cash plus shares × price (a lot with no price counts 0)."""
    values = {a.id: a.cash for a in household.accounts}
    for lot in lots:
        price = prices.get(lot.symbol)
        if price is not None:
            values[lot.account] = values.get(lot.account, Decimal(0)) + lot.shares * price
    return values


def holdings(lots: Iterable[Lot]) -> dict[Key, Decimal]:
    """Shares per (account, symbol) summed over open lots."""
    out: dict[Key, Decimal] = {}
    for lot in lots:
        key = (lot.account, lot.symbol)
        out[key] = out.get(key, Decimal(0)) + lot.shares
    return out


def weights(shares: Mapping[Key, Decimal], prices: Mapping[str, Decimal], cash: Decimal) -> dict[Key, float]:
    """Each position's market value as a fraction of the household's value (cash included in the total)."""
    values = {k: float(v * prices[k[1]]) for k, v in shares.items() if k[1] in prices}
    total = sum(values.values()) + float(cash)
    return {k: v / total for k, v in values.items() if v > 0} if total > 0 else {}


def lot_take(sale: LotSale, held: Mapping[str, Lot], price: Decimal, min_notional: Decimal) -> Decimal:
    """Exact shares to sell of one lot: the whole lot when what the solve would leave is dust.

    The solver stops a hair inside a lot's bound (about 1e-7 of its value), which would leave
    fractions of a share no order could ever sell (below the minimum notional); those go with the sale.
    """
    lot = held.get(sale.lot_id)
    take = Decimal(str(round(sale.shares, 9)))
    if lot is None:
        return take
    if take >= lot.shares or (lot.shares - take) * price < min_notional:
        return lot.shares
    return take


def sell_out_dust(
    targets: dict[Key, Decimal],
    sell_lots: Mapping[Key, Sequence[str]],
    lots: Sequence[Lot],
    prices: Mapping[str, Decimal],
    min_notional: Decimal,
) -> None:
    """A position sold down to less than the minimum notional is sold out (every lot of it is being sold).

    Such a remainder (a solver's hair of a buy netted against whole lots sold) could never be sold alone.
    """
    for key, ids in sell_lots.items():
        left = targets.get(key, Decimal(0))
        if 0 < left and left * prices[key[1]] < min_notional:
            named = set(ids)
            if all(lot.id in named for lot in lots if (lot.account, lot.symbol) == key):
                targets[key] = Decimal(0)


def approval_flags(
    rules: ApprovalRules,
    household: Household,
    mandate: Mandate,
    plan: OrderPlan,
    prices: Mapping[str, Decimal],
    current: Mapping[Key, Decimal],
    *,
    first_run: bool,
) -> tuple[bool, list[str]]:
    """Whether a human must approve, and why: the mandate's reasons, a first run, big turnover, a big order.

    ``first_run`` is True when the household has never been traded for (the cycle knows it from the store).
    """
    reasons = list(mandate.approval_reasons)
    if rules.first_run and first_run and plan.orders:
        reasons.append(FIRST_RUN_REASON)
    value: dict[str, Decimal] = {a.id: a.cash for a in household.accounts}
    for (acct, sym), sh in current.items():
        if sym in prices:
            value[acct] = value.get(acct, Decimal(0)) + sh * prices[sym]
    total = sum(value.values(), Decimal(0))
    traded = sum((_notional(o, prices) for o in plan.orders), Decimal(0))
    if total > 0 and traded / total > Decimal(str(rules.max_turnover)):
        reasons.append(f"turnover {traded / total:.0%} of household value exceeds {rules.max_turnover:.0%}")
    max_order = Decimal(str(rules.max_order_fraction))
    for o in plan.orders:
        acct_value = value.get(o.account, Decimal(0))
        notional = _notional(o, prices)
        if acct_value > 0 and notional / acct_value > max_order:
            reasons.append(f"{o.side.value} {o.symbol} ${notional:,.0f} is {notional / acct_value:.0%} of account "
                           f"{o.account}")
            break
    needs = bool(reasons) or bool(mandate.needs_approval)
    return needs, list(dict.fromkeys(reasons))


def _notional(order: Order, prices: Mapping[str, Decimal]) -> Decimal:
    if order.notional is not None:
        return Decimal(order.notional)
    return (order.qty or Decimal(0)) * prices.get(order.symbol, Decimal(0))


def liquidation_targets(
    household: Household,
    lots: Sequence[Lot],
    prices: Mapping[str, Decimal],
    as_of: date,
    amount: Decimal,
    *,
    cash_buffer: float,
    fractionable: Mapping[str, bool],
) -> tuple[dict[Key, Decimal], dict[Key, list[str]], list[str]]:
    """Targets that raise ``amount`` USD (plus the cash buffer) with the least tax, the lots sold, and why."""
    from engine.rebalancer import plan_liquidation
    from engine.tax import marginal_rates

    rates = marginal_rates(household.tax)
    types = {a.id: a.type for a in household.accounts}
    priced = [lot for lot in lots if lot.symbol in prices]
    picks, shortfall = plan_liquidation(
        amount * (1 + Decimal(str(cash_buffer))),
        priced,
        prices,
        types,
        on=as_of,
        st_rate=float(rates.short_term),
        lt_rate=float(rates.long_term),
        ordinary_rate=float(rates.ordinary),
        cash={a.id: a.cash for a in household.accounts},
        fractionable=fractionable,
    )
    targets = holdings(lots)
    sell_lots: dict[Key, list[str]] = {}
    lines = [f"Raise ${amount:,.2f} for a withdrawal with the least tax:"]
    for p in picks:
        key = (p.account, p.symbol)
        targets[key] = targets[key] - p.shares
        sell_lots.setdefault(key, []).append(p.lot_id)
        lines.append(
            f"  sell {p.shares.normalize()} {p.symbol} in {p.account} (lot {p.lot_id}): ${p.proceeds:,.2f}, "
            f"est. tax ${p.tax:,.2f} — {p.reason}"
        )
    if shortfall > 0:
        lines.append(f"  shortfall: ${shortfall:,.2f} cannot be raised from the household's holdings")
    return targets, sell_lots, lines
