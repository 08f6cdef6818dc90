"""Tax Impact Preview: what a set of sells (and buys) would realize and cost in tax, before anything trades.

    p = preview(ledger, [("brokerage", "VTI", 40, "250.00")], date(2026, 3, 2), household.tax)
    print("\\n".join(p.lines()))

The preview books the trades on a copy of the ledger (sells first, then buys, as the rebalancer
submits them), so wash sales — including buys that disallow losses sold up to 30 days earlier — are
exactly what the ledger would book. ``estimated_tax`` is the change in the year's tax (USD).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from engine.errors import TaxRuleError
from engine.model import Order, OrderSide, Proposal, TaxProfile, to_decimal
from engine.tax.ledger import WASH_SALE_DAYS, Amount, LotLedger, LotMethod, Realization, Term, WashSale, fmt_shares
from engine.tax.rates import TaxBill, TaxTables, load_tax_tables, tax_on

__all__ = ["TaxImpactPreview", "preview"]

_ZERO = Decimal(0)

SellSpec = Order | tuple[str, str, Amount, Amount] | tuple[str, str, Amount, Amount, Sequence[str] | None]
"""A sell: an order, or (account, symbol, shares, price[, lot ids])."""
BuySpec = Order | tuple[str, str, Amount, Amount] | tuple[str, str]
"""A buy: an order, (account, symbol, shares, price), or (account, symbol) for a buy of unknown size."""


@dataclass(frozen=True, slots=True)
class TaxImpactPreview:
    """The tax consequences of proposed trades on ``on``; USD amounts, losses as positive numbers.

    ``estimated_tax`` is the change in the year's federal + NIIT + state tax (negative: a saving), with
    the year's earlier realizations and the profile's carryforwards taken into account.
    ``buy_blocks`` maps each symbol sold at a loss to the first day it (or an identical fund) may be
    bought again in any account without disallowing the loss.
    """

    on: date
    realizations: tuple[Realization, ...]
    short_term_gain: Decimal
    short_term_loss: Decimal
    long_term_gain: Decimal
    long_term_loss: Decimal
    disallowed: Decimal
    estimated_tax: Decimal
    bill: TaxBill
    wash_sales: tuple[WashSale, ...]
    buy_blocks: Mapping[str, date]
    warnings: tuple[str, ...]

    @property
    def net_gain(self) -> Decimal:
        """Reportable net gain of the proposed sells, USD."""
        return self.short_term_gain - self.short_term_loss + self.long_term_gain - self.long_term_loss

    def lines(self) -> list[str]:
        """The preview in words and numbers, one line per fact."""
        out = [
            f"Tax impact on {self.on}: short-term +${self.short_term_gain:,.2f} / −${self.short_term_loss:,.2f}, "
            f"long-term +${self.long_term_gain:,.2f} / −${self.long_term_loss:,.2f}; "
            f"disallowed (wash sales) ${self.disallowed:,.2f}; estimated tax change ${self.estimated_tax:,.2f}",
        ]
        out += list(self.warnings)
        return out


def _sells_and_buys(
    sells: Proposal | Iterable[SellSpec], buys: Iterable[BuySpec]
) -> tuple[list[SellSpec], list[BuySpec]]:
    if isinstance(sells, Proposal):
        orders = list(sells.orders)
        buying: list[BuySpec] = [o for o in orders if o.side is OrderSide.BUY]
        return [o for o in orders if o.side is OrderSide.SELL], buying + list(buys)
    return list(sells), list(buys)


def _price(symbol: str, prices: Mapping[str, Amount] | None, what: str) -> Decimal:
    if prices is None or symbol not in prices:
        raise TaxRuleError(f"{what}: no price for {symbol}; pass prices={{'{symbol}': ...}}", symbol=symbol)
    return to_decimal(prices[symbol], f"prices[{symbol}]")


def preview(
    ledger: LotLedger,
    sells: Proposal | Iterable[SellSpec],
    on: date,
    profile: TaxProfile,
    *,
    buys: Iterable[BuySpec] = (),
    prices: Mapping[str, Amount] | None = None,
    method: LotMethod = LotMethod.TAX_MIN,
    tables: TaxTables | None = None,
) -> TaxImpactPreview:
    """Preview the tax of ``sells`` then ``buys`` on ``on`` without touching ``ledger``.

    A sell is an ``Order`` (priced from ``prices``, lots from ``order.lots``), or a tuple
    ``(account, symbol, shares, price[, lots])``; a ``Proposal`` supplies both sells and buys. A buy is an
    ``Order``, ``(account, symbol, shares, price)``, or just ``(account, symbol)``: an unsized buy is
    assumed large enough to absorb every open loss of its wash-sale group (the worst case).

    Raises:
        TaxRuleError: a sell the ledger would refuse, or an order without a price.
    """
    sell_specs, buy_specs = _sells_and_buys(sells, buys)
    scratch = ledger.copy()
    washes_before = len(scratch.wash_sales())
    made: list[Realization] = []
    for spec in sell_specs:
        if isinstance(spec, Order):
            qty = spec.qty
            if qty is None:
                px = _price(spec.symbol, prices, "sell order")
                qty = spec.notional / px  # type: ignore[operator]
            lots: Sequence[str] | None = spec.lots or None
            made += scratch.sell(spec.account, spec.symbol, qty, _price(spec.symbol, prices, "sell order"), on,
                                 method=method, lots=lots)
        else:
            account, symbol, shares, price, *rest = spec
            lots = rest[0] if rest and rest[0] else None
            made += scratch.sell(account, symbol, shares, price, on, method=method, lots=lots)
    warnings: list[str] = []
    for buy in buy_specs:
        if isinstance(buy, Order):
            px = _price(buy.symbol, prices, "buy order")
            qty = buy.qty if buy.qty is not None else buy.notional / px  # type: ignore[operator]
            scratch.buy(buy.account, buy.symbol, qty, px, on)
        elif len(buy) >= 4:
            account, symbol, shares, price = buy[:4]
            scratch.buy(account, symbol, shares, price, on)
        else:
            account, symbol = buy[:2]
            window = scratch.wash_sale_window(symbol, on)
            if window.buy_blocked:
                scratch.buy(account, symbol, window.pending_shares, 1, on)
                warnings.append(
                    f"buying {symbol.upper()} in {account} today disallows up to ${window.pending_loss:,.2f} of losses "
                    f"(the buy's size decides how much)"
                )
    new_washes = tuple(scratch.wash_sales()[washes_before:])
    ids = {r.id for r in made}
    final = [r for r in scratch.realized(include_sheltered=True) if r.id in ids]
    reportable = [r for r in final if r.reportable]

    def total(term: Term, sign: int) -> Decimal:
        return sum((abs(r.gain) for r in reportable if r.term is term and r.gain * sign > 0), _ZERO)

    if tables is None:
        tables = load_tax_tables()  # found once for both bills
    # Loss sales loaded from an earlier run are not realized again; only what a buy here disallows on them counts.
    before = tax_on([*ledger.realized(on.year), *ledger.amendments(on.year)], profile, tables)
    after = tax_on([*scratch.realized(on.year), *scratch.amendments(on.year)], profile, tables)
    for w in new_washes:
        where = (
            f"its basis rises by ${w.basis_added:,.2f}"
            if w.basis_added > 0
            else "in a tax-deferred account: the loss is lost for good"
        )
        warnings.append(
            f"wash sale: ${w.disallowed:,.2f} of the loss on lot {w.loss_lot} ({w.symbol}, sold {w.sold}) "
            "disallowed by "
            f"{fmt_shares(w.shares)} sh {w.replacement_symbol} bought in {w.replacement_account} on "
            f"{w.replacement_purchased} (lot {w.replacement_lot}); {where}"
        )
    blocks: dict[str, date] = {}
    losses = [r for r in reportable if r.gain < 0]
    blocked = scratch.blocked_buys({r.symbol for r in losses}, on)  # one pass, not one window per loss
    for r in losses:
        if r.symbol in blocked:
            until = r.sold + timedelta(days=WASH_SALE_DAYS + 1)
            for s in sorted(scratch.identical_to(r.symbol)):
                blocks[s] = max(blocks.get(s, until), until)
    for s, until in sorted(blocks.items()):
        warnings.append(f"do not buy {s} in any account before {until}, or part of today's loss is disallowed")
    sheltered = [r for r in final if not r.reportable]
    if sheltered:
        warnings.append(f"{len(sheltered)} sale(s) in tax-deferred accounts: no tax now")
    return TaxImpactPreview(
        on=on,
        realizations=tuple(final),
        short_term_gain=total(Term.SHORT, 1),
        short_term_loss=total(Term.SHORT, -1),
        long_term_gain=total(Term.LONG, 1),
        long_term_loss=total(Term.LONG, -1),
        disallowed=sum((w.disallowed for w in new_washes), _ZERO),
        estimated_tax=after.total - before.total,
        bill=after,
        wash_sales=new_washes,
        buy_blocks=blocks,
        warnings=tuple(warnings),
    )
