"""Corporate actions on tax lots: splits, cash and stock mergers, spin-offs and delistings (exact Decimal USD).

    out = apply_action(household.lots, SpinOff("ABT", "ABBV", ratio=1, on=date(2013, 1, 2), basis_fraction="0.5"))
    out.lots        # every lot after the action (the parent's basis reduced, a new ABBV lot per ABT lot)
    out.sales       # cash events (cash merger, cash in lieu, delisting) with proceeds, basis, gain and term

The rules, each with its source:

- **Split** (IRC §307(a); Treas. Reg. §1.307-1): shares scale by the ratio, total basis and dates stay.
- **Cash merger** (IRC §1001): a sale of every share at the deal price on the closing date; gain or loss per lot,
  short or long term by the lot's holding period (§1222).
- **Stock merger** (tax-free reorganization, IRC §354/§368): old shares become ``ratio`` new shares per old; the
  new shares take the old basis (§358(a)(1)) and holding period (§1223(1)). A fractional share paid in cash is
  treated as issued and then redeemed (Rev. Rul. 66-365): a sale of the fraction, its basis allocated pro rata.
- **Spin-off** (IRC §355): ``ratio`` new shares per old share, no income. The old basis is split between parent
  and spun-off shares in proportion to their fair market values right after the distribution (IRC §358(b)(2),
  (c); Treas. Reg. §1.358-2(a)(2)(iv)). The issuer states the split on **Form 8937** (line 15, "percentage of old
  basis"): pass it as ``basis_fraction``; without it the engine uses the data's prices on the distribution day
  (``parent_price``, ``spun_price``), which is the same rule applied to the closing prices and what most
  issuers use. Holding period tacks (§1223(1)).
- **Delisting**: the position is liquidated at the last traded price on the delisting day (recorded as a sale with
  the reason). A last price of 0 is a worthless security: the loss is taken as of the last day of that tax year
  (IRC §165(g)(1)).

Lots that result from a merger or spin-off keep their original ``purchased`` date: the engine's assumption is that
shares received in a reorganization are not a *purchase* that could wash a loss under §1091 (docs/direct-indexing.md).
The ledger (``engine.tax.ledger.LotLedger``) has no public way to swap lots without a sale, so mergers and
spin-offs are applied to a household's lot list (``apply_action``) and the ledger is rebuilt from it
(``LotLedger.from_household``); splits and cash-outs can also go straight through the ledger (``apply_to_ledger``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import StrEnum

import pandas as pd

from engine.errors import TaxRuleError
from engine.model import AccountType, Lot
from engine.tax.ledger import LotLedger, LotMethod, Realization, Term, holding_term

__all__ = [
    "ActionKind",
    "ActionOutcome",
    "CashMerger",
    "CorporateAction",
    "CorporateSale",
    "Delisting",
    "SpinOff",
    "Split",
    "StockMerger",
    "apply_action",
    "apply_actions",
    "apply_to_ledger",
    "splits_from_data",
]

CENT = Decimal("0.01")


def _cents(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_EVEN)


def _dec(value: object, what: str, symbol: str, *, positive: bool = True, allow_zero: bool = False) -> Decimal:
    """Exact Decimal from text or int (floats go through their shortest repr, never binary expansion)."""
    try:
        x = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise TaxRuleError(f"{what} of the {symbol} action must be a number, got {value!r}", symbol=symbol) from exc
    if not x.is_finite() or (positive and (x < 0 or (x == 0 and not allow_zero))):
        bound = "≥ 0" if allow_zero else "> 0"
        raise TaxRuleError(f"{what} of the {symbol} action must be {bound}, got {value!r}", symbol=symbol)
    return x


class ActionKind(StrEnum):
    """Kinds of corporate action the lot engine applies."""

    SPLIT = "split"
    CASH_MERGER = "cash_merger"
    STOCK_MERGER = "stock_merger"
    SPIN_OFF = "spin_off"
    DELISTING = "delisting"


@dataclass(frozen=True)
class Split:
    """``ratio`` new shares per old share (2 = 2-for-1, 0.1 = 1-for-10), effective ``on``."""

    symbol: str
    ratio: Decimal
    on: date
    kind: ActionKind = field(default=ActionKind.SPLIT, init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbol", self.symbol.strip().upper())
        object.__setattr__(self, "ratio", _dec(self.ratio, "ratio", self.symbol))


@dataclass(frozen=True)
class CashMerger:
    """The company is bought for ``price`` USD per share in cash, closing ``on``."""

    symbol: str
    price: Decimal
    on: date
    kind: ActionKind = field(default=ActionKind.CASH_MERGER, init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbol", self.symbol.strip().upper())
        object.__setattr__(self, "price", _dec(self.price, "price", self.symbol, allow_zero=True))


@dataclass(frozen=True)
class StockMerger:
    """Each share of ``symbol`` becomes ``ratio`` shares of ``new_symbol`` on ``on``.

    ``cash_in_lieu_price`` (USD per new share): pay fractions of a new share in cash per account, as most
    transfer agents do; None keeps fractional shares (brokers that hold fractions).
    """

    symbol: str
    new_symbol: str
    ratio: Decimal
    on: date
    cash_in_lieu_price: Decimal | None = None
    kind: ActionKind = field(default=ActionKind.STOCK_MERGER, init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbol", self.symbol.strip().upper())
        object.__setattr__(self, "new_symbol", self.new_symbol.strip().upper())
        object.__setattr__(self, "ratio", _dec(self.ratio, "ratio", self.symbol))
        if self.cash_in_lieu_price is not None:
            object.__setattr__(self, "cash_in_lieu_price",
                               _dec(self.cash_in_lieu_price, "cash_in_lieu_price", self.symbol, allow_zero=True))
        if self.new_symbol == self.symbol:
            raise TaxRuleError(f"stock merger of {self.symbol} into itself; use Split for a share-count change",
                               symbol=self.symbol)


@dataclass(frozen=True)
class SpinOff:
    """Holders of ``symbol`` receive ``ratio`` shares of ``new_symbol`` per share on ``on`` (IRC §355).

    Basis: ``basis_fraction`` (the share of old basis moving to the new stock, from the issuer's Form 8937) or,
    without it, fair values ``parent_price`` and ``spun_price`` (USD per share, e.g. the first closes after the
    distribution).
    """

    symbol: str
    new_symbol: str
    ratio: Decimal
    on: date
    basis_fraction: Decimal | None = None
    parent_price: Decimal | None = None
    spun_price: Decimal | None = None
    kind: ActionKind = field(default=ActionKind.SPIN_OFF, init=False)

    def __post_init__(self) -> None:
        s = self.symbol.strip().upper()
        object.__setattr__(self, "symbol", s)
        object.__setattr__(self, "new_symbol", self.new_symbol.strip().upper())
        object.__setattr__(self, "ratio", _dec(self.ratio, "ratio", s))
        if self.basis_fraction is not None:
            frac = _dec(self.basis_fraction, "basis_fraction", s, allow_zero=True)
            if frac >= 1:
                raise TaxRuleError(f"basis_fraction of the {s} spin-off must be in [0, 1), got {frac}", symbol=s)
            object.__setattr__(self, "basis_fraction", frac)
        elif self.parent_price is None or self.spun_price is None:
            raise TaxRuleError(
                f"spin-off of {self.new_symbol} from {s} on {self.on}: give basis_fraction (Form 8937, line 15) or "
                "both parent_price and spun_price (fair values after the distribution)", symbol=s,
            )
        else:
            object.__setattr__(self, "parent_price", _dec(self.parent_price, "parent_price", s))
            object.__setattr__(self, "spun_price", _dec(self.spun_price, "spun_price", s, allow_zero=True))

    @property
    def fraction(self) -> Decimal:
        """Share of the old basis that moves to the spun-off shares (IRC §358(c): by relative fair value)."""
        if self.basis_fraction is not None:
            return self.basis_fraction
        assert self.parent_price is not None and self.spun_price is not None  # __post_init__: both without it
        spun = self.ratio * self.spun_price
        return spun / (self.parent_price + spun)


@dataclass(frozen=True)
class Delisting:
    """``symbol`` stops trading; lots are liquidated at ``last_price`` USD on ``on`` (0 = worthless)."""

    symbol: str
    last_price: Decimal
    on: date
    reason: str = "delisted"
    kind: ActionKind = field(default=ActionKind.DELISTING, init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbol", self.symbol.strip().upper())
        object.__setattr__(self, "last_price", _dec(self.last_price, "last_price", self.symbol, allow_zero=True))


CorporateAction = Split | CashMerger | StockMerger | SpinOff | Delisting


@dataclass(frozen=True, slots=True)
class CorporateSale:
    """A disposal forced by a corporate action: proceeds and basis in USD (cents), term by holding period.

    ``sold`` is the tax date (for a worthless stock the last day of the year, §165(g)); ``reportable`` is False
    in tax-deferred accounts.
    """

    lot_id: str
    account: str
    symbol: str
    shares: Decimal
    proceeds: Decimal
    basis: Decimal
    acquired: date
    sold: date
    term: Term
    action: ActionKind
    reportable: bool
    note: str

    @property
    def gain(self) -> Decimal:
        """Proceeds − basis in USD (negative: a loss)."""
        return self.proceeds - self.basis


@dataclass(frozen=True)
class ActionOutcome:
    """The lots after an action (``lots``), which were closed or opened, the cash sales and a plain note."""

    action: CorporateAction
    lots: tuple[Lot, ...]
    closed: tuple[str, ...]
    opened: tuple[Lot, ...]
    sales: tuple[CorporateSale, ...]
    note: str

    @property
    def cash(self) -> dict[str, Decimal]:
        """Cash paid into each account (USD)."""
        out: dict[str, Decimal] = {}
        for s in self.sales:
            out[s.account] = out.get(s.account, Decimal(0)) + s.proceeds
        return out


def _sale(lot: Lot, shares: Decimal, basis: Decimal, proceeds: Decimal, sold: date, action: ActionKind,
          reportable: bool, note: str) -> CorporateSale:
    return CorporateSale(lot.id, lot.account, lot.symbol, shares, proceeds, basis, lot.acquired, sold,
                         holding_term(lot.acquired, sold), action, reportable, note)


def apply_action(
    lots: Sequence[Lot],
    action: CorporateAction,
    account_types: Mapping[str, AccountType] | None = None,
) -> ActionOutcome:
    """Apply ``action`` to ``lots`` (any accounts, any symbols); lots of other symbols pass through unchanged.

    ``account_types`` marks sales in tax-deferred accounts as not reportable (default: every account taxable).

    Raises:
        TaxRuleError: a lot of the symbol acquired after the action's date, or a new lot id already in use.
    """
    types = dict(account_types or {})
    hit = [lot for lot in lots if lot.symbol == action.symbol]
    late = [lot.id for lot in hit if lot.acquired > action.on or (lot.purchased or lot.acquired) > action.on]
    if late:
        raise TaxRuleError(f"{action.kind} of {action.symbol} on {action.on}: lots {late[:3]} were bought after it; "
                           "apply actions in date order", symbol=action.symbol)
    rest = [lot for lot in lots if lot.symbol != action.symbol]

    def taxable(account: str) -> bool:
        return types.get(account, AccountType.TAXABLE) is AccountType.TAXABLE

    sales: list[CorporateSale] = []
    kept: list[Lot] = []
    opened: list[Lot] = []
    closed: list[str] = []
    if isinstance(action, Split):
        kept = [replace(lot, shares=lot.shares * action.ratio) for lot in hit]
        note = f"{action.symbol} split {action.ratio} for 1 on {action.on}: {len(hit)} lots, basis unchanged (§307)"
    elif isinstance(action, (CashMerger, Delisting)):
        price = action.price if isinstance(action, CashMerger) else action.last_price
        worthless = isinstance(action, Delisting) and price == 0
        sold = date(action.on.year, 12, 31) if worthless else action.on
        kind = action.kind
        why = (f"cash merger at ${price}/share (§1001)" if isinstance(action, CashMerger)
               else f"{action.reason}: worthless, loss as of {sold} (§165(g))" if worthless
               else f"{action.reason}: liquidated at the last price ${price}")
        for lot in hit:
            sales.append(_sale(lot, lot.shares, lot.basis, _cents(lot.shares * price), sold, kind,
                               taxable(lot.account), why))
            closed.append(lot.id)
        note = f"{action.symbol} on {action.on}: {why}; {len(hit)} lots closed"
    elif isinstance(action, StockMerger):
        by_account: dict[str, list[Lot]] = {}
        for lot in hit:
            by_account.setdefault(lot.account, []).append(lot)
        for account, group in by_account.items():
            new = [(lot, lot.shares * action.ratio) for lot in group]
            total = sum((q for _, q in new), Decimal(0))
            frac = total - total.to_integral_value(rounding=ROUND_DOWN) if action.cash_in_lieu_price is not None \
                else Decimal(0)
            # Cash in lieu comes out of the most recently acquired lots (the engine's stated choice).
            order = sorted(range(len(new)), key=lambda i: (new[i][0].acquired, new[i][0].id), reverse=True)
            cut = {i: Decimal(0) for i in range(len(new))}
            left = frac
            for i in order:
                if left <= 0:
                    break
                take = min(left, new[i][1])
                cut[i], left = take, left - take
            for i, (lot, qty) in enumerate(new):
                closed.append(lot.id)
                basis_out = Decimal(0)
                if cut[i] > 0:
                    basis_out = _cents(lot.basis * cut[i] / qty)
                    proceeds = _cents(cut[i] * (action.cash_in_lieu_price or Decimal(0)))  # cut only with a price
                    sales.append(CorporateSale(
                        lot.id, account, action.new_symbol, cut[i], proceeds, basis_out, lot.acquired, action.on,
                        holding_term(lot.acquired, action.on), action.kind, taxable(account),
                        f"cash in lieu of {cut[i]} {action.new_symbol} share (Rev. Rul. 66-365)",
                    ))
                if qty - cut[i] > 0:
                    opened.append(Lot(f"{lot.id}>{action.new_symbol}", account, action.new_symbol, qty - cut[i],
                                      lot.basis - basis_out, lot.acquired, lot.purchased, lot.replaceable,
                                      lot.basis_source))
        note = (f"{action.symbol} merged into {action.new_symbol} at {action.ratio} per share on {action.on}: "
                "basis and holding period carried over (§358(a)(1), §1223(1))")
    elif isinstance(action, SpinOff):
        f = action.fraction
        for lot in hit:
            moved = _cents(lot.basis * f)
            kept.append(replace(lot, basis=lot.basis - moved))
            opened.append(Lot(f"{lot.id}:{action.new_symbol}", lot.account, action.new_symbol,
                              lot.shares * action.ratio, moved, lot.acquired, lot.purchased, lot.replaceable,
                              lot.basis_source))
        source = "Form 8937" if action.basis_fraction is not None else (
            f"fair values {action.parent_price} and {action.ratio}×{action.spun_price}")
        note = (f"{action.new_symbol} spun off from {action.symbol} on {action.on} ({action.ratio} per share): "
                f"{f:.6f} of basis moved by {source} (§358(c), Treas. Reg. §1.358-2(a)(2)(iv))")
    else:  # pragma: no cover - the union is closed
        raise TaxRuleError(f"unknown corporate action {action!r}")
    taken = {lot.id for lot in lots}
    dup = [lot.id for lot in opened if lot.id in taken]
    if dup:
        raise TaxRuleError(f"new lot ids {dup[:3]} are already in use; rename the old lots", lots=dup)
    return ActionOutcome(action, tuple(rest + kept + opened), tuple(closed), tuple(opened), tuple(sales), note)


def apply_actions(
    lots: Sequence[Lot],
    actions: Iterable[CorporateAction],
    account_types: Mapping[str, AccountType] | None = None,
) -> tuple[tuple[Lot, ...], list[ActionOutcome]]:
    """Apply ``actions`` in date order (stable for one day); returns the final lots and each outcome."""
    current: Sequence[Lot] = lots
    outcomes = []
    for action in sorted(actions, key=lambda a: a.on):
        out = apply_action(current, action, account_types)
        outcomes.append(out)
        current = out.lots
    return tuple(current), outcomes


def apply_to_ledger(ledger: LotLedger, action: CorporateAction) -> list[Realization]:
    """Book a split, cash merger or delisting at a price in ``ledger`` through its public API.

    Cash-outs go through ``LotLedger.sell`` (every lot, specific identification), so the wash-sale rule applies
    to a loss as to any sale. Returns the realizations (none for a split).

    Raises:
        TaxRuleError: a stock merger or spin-off (the ledger has no lot swap without a sale: apply them to the
            household's lots with ``apply_action`` and rebuild the ledger), or a worthless delisting (its tax
            date is the year end, §165(g), which the ledger cannot book out of date order).
    """
    if isinstance(action, Split):
        ledger.split(action.symbol, action.ratio, action.on)
        return []
    if isinstance(action, (CashMerger, Delisting)):
        price = action.price if isinstance(action, CashMerger) else action.last_price
        if price == 0:
            raise TaxRuleError(f"{action.symbol} became worthless on {action.on}: its loss dates to the year end "
                               "(§165(g)); apply it with apply_action and book the sale in the year-end run",
                               symbol=action.symbol)
        out: list[Realization] = []
        for account in ledger.accounts:
            ids = [lot.id for lot in ledger.open_lots(account, action.symbol)]
            if ids:
                shares = ledger.shares(account, action.symbol)
                out += ledger.sell(account, action.symbol, shares, price, action.on, LotMethod.SPECIFIC, lots=ids)
        return out
    raise TaxRuleError(
        f"{action.kind} of {action.symbol} on {action.on} swaps lots without a sale, which the ledger cannot do; "
        "apply it to the household's lots with apply_action and rebuild the ledger (LotLedger.from_household)",
        symbol=action.symbol,
    )


def splits_from_data(actions: pd.DataFrame) -> tuple[list[Split], pd.DataFrame]:
    """Ordinary splits from a dividends/splits table (``date, ticker, split_coefficient[, flag]``).

    Flagged rows (``nonstandard_split_ratio``, ``split_and_dividend_same_day``, ``large_distribution``: spin-offs
    encoded as splits in the S&P 500 set, per its README) are not applied: they are returned for review instead.
    """
    rows = actions[actions["split_coefficient"].astype(float) != 1.0]
    flags = rows["flag"].fillna("") if "flag" in rows.columns else pd.Series("", index=rows.index)
    review = rows[flags != ""]
    ok = rows.drop(review.index)
    splits = [Split(str(r.ticker), Decimal(repr(float(r.split_coefficient))), pd.Timestamp(r.date).date())
              for r in ok.itertuples(index=False)]
    return splits, review
