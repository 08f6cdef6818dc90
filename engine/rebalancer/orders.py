"""From target holdings to broker-ready orders: minimums, rounding, sells first, buys sized to cash.

    plan = build_orders("p-20260331-rivera", current, targets, prices, cash, assets)
    plan.orders          # sells first, then buys; deterministic client order ids

Rules (the defaults match Alpaca's): trades under ``min_trade`` dollars or ``min_trade_weight`` of
household value are skipped; non-fractionable assets trade whole shares (the residue stays in cash);
orders under the $1 minimum notional are dropped; quantities carry at most 9 decimals; buys are
sized to the cash each account has after its sells, less a buffer (25 bp of the account's value).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from engine.model import Asset, Order, OrderSide

__all__ = [
    "OrderPlan",
    "OrderRules",
    "SkippedTrade",
    "build_orders",
    "client_order_id",
    "quantize_qty",
    "resize_buys",
]

_QTY = Decimal("1e-9")
_ZERO = Decimal(0)
MAX_CLIENT_ORDER_ID = 128  # Alpaca's limit
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class OrderRules:
    """Order-construction rules; money in USD, ``cash_buffer`` and ``min_trade_weight`` as fractions."""

    min_trade: Decimal = Decimal("10")
    min_trade_weight: float = 0.0005
    min_notional: Decimal = Decimal("1")
    cash_buffer: float = 0.0025
    qty_decimals: int = 9

    def __post_init__(self) -> None:
        object.__setattr__(self, "min_trade", Decimal(self.min_trade))
        object.__setattr__(self, "min_notional", Decimal(self.min_notional))


@dataclass(frozen=True, slots=True)
class SkippedTrade:
    """A trade the rules dropped, with why (shown in the proposal's explanation)."""

    account: str
    symbol: str
    side: OrderSide
    dollars: Decimal
    reason: str


@dataclass(frozen=True, slots=True)
class OrderPlan:
    """Orders (sells first, then buys), what was skipped, and the cash left per account (USD)."""

    orders: tuple[Order, ...]
    skipped: tuple[SkippedTrade, ...] = ()
    cash_after: Mapping[str, Decimal] = field(default_factory=dict)

    @property
    def sells(self) -> tuple[Order, ...]:
        return tuple(o for o in self.orders if o.side is OrderSide.SELL)

    @property
    def buys(self) -> tuple[Order, ...]:
        return tuple(o for o in self.orders if o.side is OrderSide.BUY)


def client_order_id(proposal_id: str, index: int) -> str:
    """Deterministic id from the proposal and the order's position: retries can never duplicate it.

    Raises:
        ValidationError: the id would exceed Alpaca's 128 characters (use a shorter proposal id).
    """
    cid = f"{proposal_id}-{index:03d}"
    if len(cid) > MAX_CLIENT_ORDER_ID:
        from engine.errors import ValidationError

        raise ValidationError(
            f"client order id is {len(cid)} characters; brokers accept at most {MAX_CLIENT_ORDER_ID}",
            field="proposal_id", value=proposal_id, fix="use a shorter proposal id",
        )
    return cid


def quantize_qty(qty: Decimal, fractionable: bool, decimals: int = 9) -> Decimal:
    """Round a share quantity toward zero: whole shares, or at most ``decimals`` places."""
    if not fractionable:
        return qty.to_integral_value(rounding=ROUND_DOWN)
    return qty.quantize(_QTY if decimals == 9 else Decimal(1).scaleb(-decimals), rounding=ROUND_DOWN)


def _dec(x: object) -> Decimal:
    """``Decimal(x)``, without copying a value that already is one."""
    return x if type(x) is Decimal else Decimal(x)  # type: ignore[arg-type,return-value]


def build_orders(
    proposal_id: str,
    current: Mapping[tuple[str, str], Decimal],
    targets: Mapping[tuple[str, str], Decimal],
    prices: Mapping[str, Decimal],
    cash: Mapping[str, Decimal],
    assets: Mapping[str, Asset],
    *,
    rules: OrderRules = OrderRules(),
    sell_lots: Mapping[tuple[str, str], Sequence[str]] | None = None,
    allow_sells: bool = True,
    allow_buys: bool = True,
) -> OrderPlan:
    """Orders that move ``current`` shares toward ``targets`` shares per (account, symbol).

    Args:
        current, targets: shares per (account id, ticker); missing keys mean zero.
        prices: last price per ticker, USD.
        cash: cash per account before trading, USD.
        assets: universe assets (for ``fractionable``).
        sell_lots: lot ids to relieve per (account, ticker) from the optimizer's lot-level plan.
        allow_sells / allow_buys: ``invest_cash`` runs forbid sells; liquidations forbid buys.

    Buys in an account are scaled down together if its cash after sells (less the buffer) is short.
    """
    sell_lots = sell_lots or {}
    keys = sorted(set(current) | set(targets))
    missing = sorted({sym for _, sym in keys if sym not in prices})
    if missing:
        from engine.errors import DataError

        raise DataError(
            f"no price for {', '.join(missing)}; orders cannot be sized — refresh the data or drop the holding",
            ticker=missing[0],
        )
    account_value: dict[str, Decimal] = {a: _dec(c) for a, c in cash.items()}
    for (acct, sym), sh in current.items():
        account_value[acct] = account_value.get(acct, _ZERO) + _dec(sh) * prices[sym]
    household_value = sum(account_value.values(), Decimal(0))
    min_dollars = max(rules.min_trade, household_value * Decimal(str(rules.min_trade_weight)))

    skipped: list[SkippedTrade] = []
    sells: list[tuple[str, str, Decimal]] = []
    buys: list[tuple[str, str, Decimal]] = []
    for acct, sym in keys:
        have = _dec(current.get((acct, sym), 0))
        want = _dec(targets.get((acct, sym), 0))
        if want < 0:
            want = _ZERO
        delta = want - have
        if delta == 0:
            continue
        price = prices[sym]
        side = OrderSide.BUY if delta > 0 else OrderSide.SELL
        fractionable = assets[sym].fractionable if sym in assets else True
        if side is OrderSide.SELL and want == 0:
            qty = have  # selling out: all of it, fractional remainder included
        else:
            qty = quantize_qty(abs(delta), fractionable, rules.qty_decimals)
            if side is OrderSide.SELL:
                qty = min(qty, have)
        dollars = (qty * price).quantize(_CENT)
        if qty <= 0:
            skipped.append(SkippedTrade(acct, sym, side, abs(delta) * price, "less than one whole share"))
            continue
        if dollars < min_dollars and not (side is OrderSide.SELL and want == 0 and dollars >= rules.min_notional):
            skipped.append(SkippedTrade(acct, sym, side, dollars, f"below the ${min_dollars:,.2f} minimum trade"))
            continue
        if dollars < rules.min_notional:
            skipped.append(SkippedTrade(acct, sym, side, dollars, f"below the ${rules.min_notional} minimum notional"))
            continue
        if side is OrderSide.SELL and not allow_sells:
            skipped.append(SkippedTrade(acct, sym, side, dollars, "sells not allowed in this run kind"))
            continue
        if side is OrderSide.BUY and not allow_buys:
            skipped.append(SkippedTrade(acct, sym, side, dollars, "buys not allowed in this run kind"))
            continue
        (buys if side is OrderSide.BUY else sells).append((acct, sym, qty))

    # Cash per account after the sells fill at the last price, less the buffer.
    cash_after = {a: _dec(c) for a, c in cash.items()}
    for acct, sym, qty in sells:
        cash_after[acct] = cash_after.get(acct, _ZERO) + qty * prices[sym]
    buys, more_skips, cash_after = _fit_buys(buys, prices, assets, cash_after, account_value, rules)
    skipped.extend(more_skips)

    orders: list[Order] = []
    legs = [(OrderSide.SELL, *leg) for leg in sells] + [(OrderSide.BUY, *leg) for leg in buys]
    for side, acct, sym, qty in legs:
        orders.append(
            Order(
                client_order_id=client_order_id(proposal_id, len(orders)),
                account=acct,
                symbol=sym,
                side=side,
                qty=qty,
                lots=tuple(sell_lots.get((acct, sym), ())) if side is OrderSide.SELL else (),
            )
        )
    return OrderPlan(tuple(orders), tuple(skipped), cash_after)


def _fit_buys(
    buys: list[tuple[str, str, Decimal]],
    prices: Mapping[str, Decimal],
    assets: Mapping[str, Asset],
    cash_after: dict[str, Decimal],
    account_value: Mapping[str, Decimal],
    rules: OrderRules,
) -> tuple[list[tuple[str, str, Decimal]], list[SkippedTrade], dict[str, Decimal]]:
    out: list[tuple[str, str, Decimal]] = []
    skipped: list[SkippedTrade] = []
    by_account: dict[str, list[tuple[str, Decimal]]] = {}
    for acct, sym, qty in buys:
        by_account.setdefault(acct, []).append((sym, qty))
    for acct, items in by_account.items():
        buffer = account_value.get(acct, Decimal(0)) * Decimal(str(rules.cash_buffer))
        available = max(cash_after.get(acct, Decimal(0)) - buffer, Decimal(0))
        need = sum((q * prices[s] for s, q in items), Decimal(0))
        scale = Decimal(1) if need <= available or need == 0 else available / need
        spent = Decimal(0)
        for sym, qty in items:
            fractionable = assets[sym].fractionable if sym in assets else True
            q = quantize_qty(qty * scale, fractionable, rules.qty_decimals)
            cost = q * prices[sym]
            if q <= 0 or cost < rules.min_notional:
                dollars = (qty * prices[sym]).quantize(_CENT)
                skipped.append(SkippedTrade(acct, sym, OrderSide.BUY, dollars, "not enough cash after sells"))
                continue
            out.append((acct, sym, q))
            spent += cost
        cash_after[acct] = cash_after.get(acct, Decimal(0)) - spent
    return out, skipped, cash_after


def resize_buys(
    buys: Sequence[Order],
    available: Mapping[str, Decimal],
    prices: Mapping[str, Decimal],
    assets: Mapping[str, Asset],
    *,
    rules: OrderRules = OrderRules(),
) -> tuple[list[Order], list[SkippedTrade]]:
    """Shrink planned buys (never grow them) to the cash each account really has after its sells filled.

    ``available`` is USD per account already net of the buffer. Client order ids are kept, so a
    resized order is still the same order for idempotency.
    """
    from dataclasses import replace

    out: list[Order] = []
    skipped: list[SkippedTrade] = []
    by_account: dict[str, list[Order]] = {}
    for o in buys:
        by_account.setdefault(o.account, []).append(o)
    for acct, orders in by_account.items():
        cap = max(available.get(acct, Decimal(0)), Decimal(0))
        need = sum((o.qty * prices[o.symbol] for o in orders if o.qty is not None), Decimal(0))
        scale = Decimal(1) if need <= cap or need == 0 else cap / need
        for o in orders:
            assert o.qty is not None  # orders built here always carry qty
            fractionable = assets[o.symbol].fractionable if o.symbol in assets else True
            q = quantize_qty(o.qty * scale, fractionable, rules.qty_decimals)
            if q <= 0 or q * prices[o.symbol] < rules.min_notional:
                dollars = (o.qty * prices[o.symbol]).quantize(_CENT)
                skipped.append(SkippedTrade(acct, o.symbol, o.side, dollars, "not enough cash after sells"))
                continue
            out.append(o if q == o.qty else replace(o, qty=q))
    return out, skipped
