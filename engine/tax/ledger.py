"""The exact lot ledger of a household: Decimal shares and USD, lot relief, household-wide wash sales.

    ledger = LotLedger({"brokerage": AccountType.TAXABLE, "ira": AccountType.TRADITIONAL})
    ledger.buy("brokerage", "VTI", 100, "10", date(2026, 1, 5))
    ledger.sell("brokerage", "VTI", 100, "7.50", date(2026, 3, 2))   # [Realization(gain=-250.00, ...)]

Money is kept in cents (quantized half-even where it enters: a buy's cost, a sale's proceeds, a
proportional split) and every split hands the remainder to the other side, so basis is conserved to
the cent. Shares are exact ``Decimal``. Events must arrive in date order; a buy can still reach back
30 days and disallow an earlier loss (IRC §1091), which updates that realization and the new lot.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING

from engine.errors import TaxRuleError, ValidationError
from engine.model import AccountType, LossSale, Lot, to_decimal

if TYPE_CHECKING:
    from engine.model import Household, Universe

__all__ = [
    "WASH_SALE_DAYS",
    "AcquisitionKind",
    "Amount",
    "LotLedger",
    "LotMethod",
    "Realization",
    "Term",
    "WashSale",
    "WashSaleWindow",
    "add_years",
    "fmt_shares",
    "holding_term",
    "long_term_from",
]

CENT = Decimal("0.01")
WASH_SALE_DAYS = 30
"""Days before and after a loss sale in which an acquisition of identical shares is a wash sale."""

_ZERO = Decimal(0)

Amount = Decimal | int | float | str
"""A number of shares, a price or USD as the ledger accepts it; ``to_decimal`` reads it exactly (floats by repr)."""


class Term(StrEnum):
    """Holding-period character of a gain or loss."""

    SHORT = "short"
    LONG = "long"


class LotMethod(StrEnum):
    """Which lots a sale relieves. ``FIFO`` is what the IRS applies when shares are not identified."""

    FIFO = "fifo"
    LIFO = "lifo"
    HIFO = "hifo"
    SPECIFIC = "specific"
    TAX_MIN = "tax_min"


class AcquisitionKind(StrEnum):
    """How a lot entered the ledger (every kind can be a wash-sale replacement)."""

    OPENING = "opening"
    BUY = "buy"
    REINVEST = "reinvest"
    TRANSFER_IN = "transfer_in"


def add_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later; Feb 29 becomes Feb 28 in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


_ONE_DAY = timedelta(days=1)
_LONG, _SHORT = Term.LONG, Term.SHORT


@lru_cache(maxsize=8192)
def long_term_from(acquired: date) -> date:
    """First sale date on which shares acquired on ``acquired`` are held more than one year.

    The holding period starts the day after acquisition and is counted in calendar months, so shares
    bought 2025-01-05 are long-term from 2026-01-06, and shares bought 2024-02-29 from 2025-03-01.
    Cached: every plan asks it for each lot, and a batch's lots share a few thousand acquisition dates.
    """
    return add_years(acquired, 1) + _ONE_DAY


def holding_term(acquired: date, sold: date) -> Term:
    """``Term.LONG`` if shares acquired on ``acquired`` and sold on ``sold`` were held more than one year."""
    return _LONG if sold >= long_term_from(acquired) else _SHORT


def fmt_shares(x: Decimal) -> str:
    """Shares as plain text without exponent or trailing zeros (``50``, ``12.5``)."""
    return format(x.normalize(), "f")


def _cents(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class Realization:
    """One lot's part of a sale; money in USD.

    ``basis`` is the relieved basis (after earlier wash-sale adjustments), ``disallowed`` the wash-sale
    loss disallowed on this sale (≥ 0), ``gain`` the reportable gain (negative: loss). ``lost`` is the
    part of ``disallowed`` that went to an IRA replacement and is gone for good (Rev. Rul. 2008-5).
    ``reportable`` is False for sales inside tax-deferred accounts (they create no gain or loss).
    """

    id: str
    account: str
    symbol: str
    shares: Decimal
    acquired: date
    sold: date
    proceeds: Decimal
    basis: Decimal
    disallowed: Decimal
    term: Term
    lot_id: str
    reportable: bool = True
    lost: Decimal = _ZERO
    replacements: tuple[str, ...] = ()

    @property
    def gain(self) -> Decimal:
        """Reportable gain or loss in USD: proceeds − basis + disallowed."""
        return self.proceeds - self.basis + self.disallowed

    @property
    def wash_sale(self) -> bool:
        """True when part of the loss was disallowed (Form 8949 code W)."""
        return self.disallowed > 0


@dataclass(frozen=True, slots=True)
class WashSale:
    """One match of a loss sale with replacement shares: ``disallowed`` USD moved (or lost, in an IRA)."""

    realization: str
    loss_lot: str
    sold: date
    symbol: str
    replacement_lot: str
    replacement_account: str
    replacement_symbol: str
    replacement_purchased: date
    shares: Decimal
    disallowed: Decimal
    basis_added: Decimal

    @property
    def permanent(self) -> bool:
        """True when the replacement sits in a tax-deferred account, so the loss never comes back."""
        return self.basis_added == 0 and self.disallowed > 0


@dataclass(frozen=True, slots=True)
class WashSaleWindow:
    """What the wash-sale rule blocks on ``on`` for a group of substantially identical symbols.

    ``buy_blocked``: a loss sale in the group within the last 30 days still has unmatched shares, so a
    buy today (in any account) would disallow up to ``pending_loss`` USD; the block ends after
    ``buy_blocked_until``. ``loss_sale_blocked``: shares of the group bought within the last 30 days
    are still held (in any account), so a loss sale today would be washed; the block ends after
    ``loss_sale_blocked_until``.
    """

    symbols: frozenset[str]
    on: date
    buy_blocked: bool
    buy_blocked_until: date | None
    pending_loss: Decimal
    pending_shares: Decimal
    loss_sale_blocked: bool
    loss_sale_blocked_until: date | None
    recent_buys: tuple[str, ...]
    reasons: tuple[str, ...]


@dataclass(slots=True)
class _LotRec:
    id: str
    account: str
    symbol: str
    shares: Decimal
    basis: Decimal
    acquired: date
    purchased: date
    origin: str
    seq: int
    kind: AcquisitionKind
    replaceable: bool = True
    cached: Lot | None = None  # the frozen view; reset by every change of shares, basis or dates
    owner: object = None  # the token of the ledger that may change this record in place (see LotLedger.copy)

    def view(self) -> Lot:
        if self.cached is None:
            self.cached = Lot(self.id, self.account, self.symbol, self.shares, self.basis, self.acquired,
                              self.purchased, self.replaceable)
        return self.cached

    def clone(self) -> _LotRec:
        return _LotRec(self.id, self.account, self.symbol, self.shares, self.basis, self.acquired, self.purchased,
                       self.origin, self.seq, self.kind, self.replaceable, self.cached)


@dataclass(slots=True)
class _RealRec:
    id: str
    account: str
    symbol: str
    shares: Decimal
    acquired: date
    sold: date
    proceeds: Decimal
    basis: Decimal
    lot_id: str
    origin: str
    seq: int
    reportable: bool
    disallowed: Decimal = _ZERO
    lost: Decimal = _ZERO
    pending_shares: Decimal = _ZERO
    pending_loss: Decimal = _ZERO
    replacements: list[str] = field(default_factory=list)
    cached: Realization | None = None  # the frozen view; reset when a wash sale changes what it shows
    owner: object = None  # the token of the ledger that may change this record in place (see LotLedger.copy)
    carried: LossSale | None = None  # a sale realized before this ledger, loaded for its wash-sale window only
    acquisition: tuple[date, int] = (date.min, 0)  # when the sold shares were bought: the wash-sale matching order

    def view(self) -> Realization:
        if self.cached is not None:
            return self.cached
        self.cached = Realization(
            id=self.id,
            account=self.account,
            symbol=self.symbol,
            shares=self.shares,
            acquired=self.acquired,
            sold=self.sold,
            proceeds=self.proceeds,
            basis=self.basis,
            disallowed=self.disallowed,
            term=holding_term(self.acquired, self.sold),
            lot_id=self.lot_id,
            reportable=self.reportable,
            lost=self.lost,
            replacements=tuple(self.replacements),
        )
        return self.cached

    def clone(self) -> _RealRec:
        return _RealRec(self.id, self.account, self.symbol, self.shares, self.acquired, self.sold, self.proceeds,
                        self.basis, self.lot_id, self.origin, self.seq, self.reportable, self.disallowed, self.lost,
                        self.pending_shares, self.pending_loss, list(self.replacements), self.cached,
                        carried=self.carried, acquisition=self.acquisition)


class LotLedger:
    """Every lot of every account in a household, its sales and its wash sales (exact Decimal USD).

    ``accounts`` maps account id → ``AccountType``; ``identical`` lists groups of symbols the wash-sale
    rule treats as substantially identical (a symbol is always identical to itself). All mutating calls
    validate first and raise ``TaxRuleError`` with the ledger unchanged.
    """

    def __init__(self, accounts: Mapping[str, AccountType], identical: Iterable[Collection[str]] = ()) -> None:
        self._accounts: dict[str, AccountType] = {}
        for acct, kind in accounts.items():
            try:
                self._accounts[str(acct)] = AccountType(kind)
            except ValueError as exc:
                raise TaxRuleError(
                    f"account {acct!r} has unknown type {kind!r}; use one of "
                    + ", ".join(t.value for t in AccountType),
                    account=acct,
                ) from exc
        self._groups: dict[str, frozenset[str]] = {}
        for group in identical:
            members = frozenset(str(s).strip().upper() for s in group)
            merged = set(members)
            for s in members:
                merged |= self._groups.get(s, frozenset())
            frozen = frozenset(merged)
            for s in frozen:
                self._groups[s] = frozen
        self._lots: dict[str, _LotRec] = {}
        self._reals: list[_RealRec] = []
        self._washes: list[WashSale] = []
        self._seq = 0
        self._ids: set[str] = set()
        self._last: date | None = None
        self._token = object()  # marks the records this ledger may change in place

    # ------------------------------------------------------------------------------------------
    # Construction
    # ------------------------------------------------------------------------------------------

    @classmethod
    def from_household(cls, household: Household, universe: Universe | None = None) -> LotLedger:
        """A ledger of ``household``'s accounts, lots and recent loss sales; identical groups from ``universe``.

        The loss sales (``household.loss_sales``) keep their wash-sale windows open across runs that each
        rebuild the ledger from the stored household.
        """
        ledger = cls({a.id: a.type for a in household.accounts}, universe.identical if universe else ())
        for lot in household.lots:
            ledger.add_lot(lot)
        for sale in household.loss_sales:
            ledger.add_loss_sale(sale)
        return ledger

    def add_lot(self, lot: Lot, kind: AcquisitionKind = AcquisitionKind.OPENING) -> Lot:
        """Load an existing lot as it stands (opening positions); no wash-sale matching is done.

        A lot that already replaced a washed loss (``lot.replaceable`` False) never washes another one.
        """
        self._require_account(lot.account)
        if lot.id in self._ids:
            raise TaxRuleError(f"lot id {lot.id!r} is already in the ledger; give each lot a unique id", lot=lot.id)
        basis = _cents(lot.basis)
        rec = self._new_lot(
            lot.account, lot.symbol, lot.shares, basis, lot.acquired, lot.purchased or lot.acquired, kind, lot.id,
            replaceable=lot.replaceable,
        )
        if type(lot) is Lot and lot.purchased is not None and lot.basis.as_tuple().exponent == -2:
            rec.cached = lot  # the lot as given is already the view (same values, basis already in cents)
        return rec.view()

    def add_loss_sale(self, sale: LossSale) -> None:
        """Load a loss sale realized before this ledger (an earlier run) with its unmatched shares and loss.

        ``blocked_buys``, ``wash_sale_window`` and later purchases treat it exactly as a sale booked here, but
        ``realized()`` does not report it again (it was realized on its day; see ``amendments``). A sale in a
        tax-deferred account realizes no tax loss, so there it is ignored, as ``sell`` would.

        Raises:
            TaxRuleError: unknown account, or an id the ledger already uses for a lot or a sale.
        """
        self._require_account(sale.account)
        if sale.id in self._ids:
            raise TaxRuleError(
                f"loss sale id {sale.id!r} is already in the ledger; give each lot and sale a unique id", sale=sale.id
            )
        if self._accounts[sale.account] is not AccountType.TAXABLE:
            return
        self._ids.add(sale.id)
        self._seq += 1
        lot_id = sale.lot_id or sale.id
        self._reals.append(
            _RealRec(
                id=sale.id,
                account=sale.account,
                symbol=sale.symbol,
                shares=sale.shares,
                acquired=sale.acquired,
                sold=sale.sold,
                proceeds=_ZERO,
                basis=_ZERO,
                lot_id=lot_id,
                origin=lot_id,
                seq=self._seq,
                reportable=True,
                pending_shares=sale.shares,
                pending_loss=sale.loss,
                owner=self._token,
                carried=sale,
            )
        )

    def copy(self) -> LotLedger:
        """An independent copy (for previews and what-ifs); the original is never touched by it.

        Copy on write: both ledgers share every lot and sale record, and whichever changes one first
        changes a private clone of it (a preview touches a few lots, not all of them).
        """
        other = LotLedger.__new__(LotLedger)
        other._accounts = dict(self._accounts)
        other._groups = dict(self._groups)
        other._lots = dict(self._lots)
        other._reals = list(self._reals)
        other._washes = list(self._washes)
        other._seq = self._seq
        other._ids = set(self._ids)
        other._last = self._last
        other._token = object()
        self._token = object()  # the records are shared now: neither ledger may change them in place
        return other

    snapshot = copy

    # ------------------------------------------------------------------------------------------
    # Queries
    # ------------------------------------------------------------------------------------------

    @property
    def accounts(self) -> dict[str, AccountType]:
        """Account id → account type."""
        return dict(self._accounts)

    @property
    def last_event(self) -> date | None:
        """Date of the latest buy, sale, transfer or split booked (events must not go back before it)."""
        return self._last

    def account_type(self, account: str) -> AccountType:
        """The type of ``account`` (raises ``TaxRuleError`` for an unknown account)."""
        self._require_account(account)
        return self._accounts[account]

    def identical_to(self, symbols: str | Iterable[str]) -> frozenset[str]:
        """Every symbol substantially identical to any of ``symbols`` (themselves included)."""
        names = [symbols] if isinstance(symbols, str) else list(symbols)
        out: set[str] = set()
        for s in names:
            key = s.strip().upper()
            out |= self._groups.get(key, frozenset({key}))
        return frozenset(out)

    def open_lots(self, account: str | None = None, symbol: str | None = None) -> list[Lot]:
        """Open lots, optionally of one account and/or symbol, in (account, symbol, purchase) order."""
        sym = symbol.strip().upper() if symbol else None
        recs = [
            r for r in self._lots.values()
            if (account is None or r.account == account) and (sym is None or r.symbol == sym)
        ]
        recs.sort(key=lambda r: (r.account, r.symbol, r.purchased, r.seq, r.id))
        return [r.view() for r in recs]

    def __contains__(self, lot_id: object) -> bool:
        """True when ``lot_id`` is an open lot."""
        return lot_id in self._lots

    def lot(self, lot_id: str) -> Lot:
        """The open lot ``lot_id`` (raises ``TaxRuleError`` if it is not open)."""
        try:
            return self._lots[lot_id].view()
        except KeyError:
            raise TaxRuleError(f"no open lot {lot_id!r}; list them with open_lots()", lot=lot_id) from None

    def shares(self, account: str, symbol: str) -> Decimal:
        """Shares of ``symbol`` held in ``account``."""
        sym = symbol.strip().upper()
        return sum((r.shares for r in self._lots.values() if r.account == account and r.symbol == sym), _ZERO)

    def realized(
        self, year: int | None = None, account: str | None = None, *, include_sheltered: bool = False
    ) -> list[Realization]:
        """Realizations in sale order, optionally of one tax year and/or account.

        Sales inside tax-deferred accounts (not reportable) are left out unless ``include_sheltered``; so are
        loss sales loaded with ``add_loss_sale`` (realized before this ledger: what it changed on them is in
        ``amendments``).
        """
        return [
            r.view() for r in self._reals
            if r.carried is None
            and (year is None or r.sold.year == year)
            and (account is None or r.account == account)
            and (include_sheltered or r.reportable)
        ]

    def amendments(self, year: int | None = None) -> list[Realization]:
        """What wash sales in this ledger changed on loss sales realized before it (loaded with ``add_loss_sale``).

        One ``Realization`` per such sale with a loss disallowed here: zero proceeds and basis, ``disallowed``
        the USD disallowed, so its ``gain`` is the loss taken back. ``tax_on(realized(y) + amendments(y))``
        is then the tax change of this ledger's events, without counting the earlier losses a second time.
        """
        return [
            r.view() for r in self._reals
            if r.carried is not None and r.disallowed > 0 and (year is None or r.sold.year == year)
        ]

    def open_loss_sales(self, on: date) -> tuple[LossSale, ...]:
        """Loss sales a purchase on ``on`` or later could still wash (kept with the household for the next run).

        Those sold within the 30 days before ``on`` (or after it) with shares and loss not yet matched by a replacement.
        """
        lo = on - timedelta(days=WASH_SALE_DAYS)
        out: list[LossSale] = []
        for r in self._reals:
            if r.pending_shares <= 0 or r.pending_loss <= 0 or r.sold < lo or not r.reportable:
                continue
            if r.carried is not None:
                out.append(replace(r.carried, shares=r.pending_shares, loss=r.pending_loss))
            else:
                out.append(LossSale(r.id, r.account, r.symbol, r.sold, r.acquired, r.pending_shares, r.pending_loss,
                                    r.lot_id))
        return tuple(out)

    def buy_block_reasons(self, on: date) -> list[str]:
        """Why buys are blocked on ``on``: one line per loss sale in the last 30 days with unmatched shares.

        Each line names the identical group no account may buy, the loss at stake and the first free day.
        """
        lo = on - timedelta(days=WASH_SALE_DAYS)
        lines = []
        for r in self._reals:
            if r.pending_shares > 0 and lo <= r.sold <= on:
                group = "/".join(sorted(self.identical_to(r.symbol)))
                lines.append(
                    f"wash-sale rule: no buy of {group} in any account before "
                    f"{r.sold + timedelta(days=WASH_SALE_DAYS + 1)}: {r.symbol} sold at a loss of "
                    f"${r.pending_loss:,.2f} ({fmt_shares(r.pending_shares)} sh not yet replaced) in {r.account} "
                    f"on {r.sold}"
                )
        return lines

    def wash_sales(self, year: int | None = None) -> list[WashSale]:
        """Every wash-sale match, in the order found; ``year`` filters on the loss sale's year."""
        return [w for w in self._washes if year is None or w.sold.year == year]

    @property
    def permanently_disallowed(self) -> Decimal:
        """USD of losses disallowed into tax-deferred replacements, gone for good (Rev. Rul. 2008-5)."""
        return sum((r.lost for r in self._reals), _ZERO)

    def wash_sale_window(self, symbol_group: str | Iterable[str], on: date) -> WashSaleWindow:
        """What the wash-sale rule blocks on ``on`` for ``symbol_group`` (and all identical symbols), household-wide."""
        group = self.identical_to(symbol_group)
        lo = on - timedelta(days=WASH_SALE_DAYS)
        pending = [
            r for r in self._reals
            if r.symbol in group and r.pending_shares > 0 and lo <= r.sold <= on
        ]
        recent = sorted(
            (r for r in self._lots.values() if r.symbol in group and r.replaceable and lo <= r.purchased <= on),
            key=lambda r: (r.purchased, r.seq),
        )
        reasons: list[str] = []
        buy_until = max((r.sold for r in pending), default=None)
        if buy_until is not None:
            buy_until += timedelta(days=WASH_SALE_DAYS)
            for r in pending:
                reasons.append(
                    f"buy of {'/'.join(sorted(group))} blocked: {r.symbol} sold at a loss of ${r.pending_loss:,.2f} "
                    f"({fmt_shares(r.pending_shares)} sh unmatched) in {r.account} on {r.sold}, "
                    f"window open to {r.sold + timedelta(days=WASH_SALE_DAYS)}"
                )
        sale_until = max((r.purchased for r in recent), default=None)
        if sale_until is not None:
            sale_until += timedelta(days=WASH_SALE_DAYS)
            for b in recent:
                reasons.append(
                    f"loss sale of {'/'.join(sorted(group))} blocked: {fmt_shares(b.shares)} sh {b.symbol} "
                    f"bought in {b.account} on {b.purchased} (lot {b.id}), window open to "
                    f"{b.purchased + timedelta(days=WASH_SALE_DAYS)}"
                )
        return WashSaleWindow(
            symbols=group,
            on=on,
            buy_blocked=bool(pending),
            buy_blocked_until=buy_until,
            pending_loss=sum((r.pending_loss for r in pending), _ZERO),
            pending_shares=sum((r.pending_shares for r in pending), _ZERO),
            loss_sale_blocked=bool(recent),
            loss_sale_blocked_until=sale_until,
            recent_buys=tuple(r.id for r in recent),
            reasons=tuple(reasons),
        )

    def blocked_buys(self, symbols: Iterable[str], on: date) -> frozenset[str]:
        """Those of ``symbols`` whose purchase on ``on`` (in any account) would wash a recent loss.

        ``wash_sale_window(s, on).buy_blocked`` for each symbol, from one pass over the sales (not one per symbol).
        """
        lo = on - timedelta(days=WASH_SALE_DAYS)
        pending = {r.symbol for r in self._reals if r.pending_shares > 0 and lo <= r.sold <= on}
        if not pending:
            return frozenset()
        return frozenset(s.upper() for s in symbols if not pending.isdisjoint(self.identical_to(s)))

    def blocked_loss_sales(self, symbols: Iterable[str], on: date) -> frozenset[str]:
        """Those of ``symbols`` whose sale at a loss on ``on`` would be washed by shares bought in the last 30 days.

        ``wash_sale_window(s, on).loss_sale_blocked`` for each symbol, from one pass over the lots.
        """
        lo = on - timedelta(days=WASH_SALE_DAYS)
        recent = {r.symbol for r in self._lots.values() if r.replaceable and lo <= r.purchased <= on}
        if not recent:
            return frozenset()
        return frozenset(s.upper() for s in symbols if not recent.isdisjoint(self.identical_to(s)))

    def replacements_for(self, lot_ids: Sequence[str], on: date) -> list[Lot]:
        """Held lots that would wash a loss sale of all of ``lot_ids`` on ``on`` (empty: the loss is clean).

        Shares sold together are not replacements for each other, nor are shares of the same purchase.
        """
        recs = [self._lots[i] for i in lot_ids if i in self._lots]
        if len(recs) != len(set(lot_ids)):
            missing = sorted(set(lot_ids) - self._lots.keys())
            raise TaxRuleError(f"unknown lots {missing}; list them with open_lots()", lots=missing)
        selling = {r.id for r in recs}
        origins = {r.origin for r in recs}
        group = self.identical_to({r.symbol for r in recs})
        lo, hi = on - timedelta(days=WASH_SALE_DAYS), on + timedelta(days=WASH_SALE_DAYS)
        return [
            r.view() for r in sorted(self._lots.values(), key=lambda r: (r.purchased, r.seq))
            if r.id not in selling and r.origin not in origins and r.symbol in group
            and r.replaceable and lo <= r.purchased <= hi
        ]

    # ------------------------------------------------------------------------------------------
    # Events
    # ------------------------------------------------------------------------------------------

    def buy(
        self, account: str, symbol: str, shares: Amount, price: Amount, on: date, fees: Amount = 0, *,
        lot_id: str | None = None
    ) -> Lot:
        """Buy ``shares`` at ``price`` USD/share plus ``fees`` USD; returns the new lot.

        The buy disallows any unmatched loss on identical shares sold in the 30 days before (in any
        account): the matched shares carry the loss in their basis and the old holding period (in a
        taxable account), or lose it (in an IRA). A partly matched purchase is split: the matched part
        is a sibling lot ``<id>.w<n>``; the returned lot keeps the id (the whole purchase when fully matched).
        """
        sym, qty, px, fee = self._check_trade(account, symbol, shares, price, on, fees, "buy")
        if px <= 0:
            raise TaxRuleError(f"buy of {sym} in {account} on {on}: price must be > 0, got {px}", account=account)
        return self._acquire(account, sym, qty, _cents(qty * px + fee), on, on, on, AcquisitionKind.BUY, lot_id)

    def reinvest(self, account: str, symbol: str, amount: Amount, price: Amount, on: date) -> Lot:
        """Reinvest a dividend of ``amount`` USD at ``price`` USD/share (shares rounded down to 1e-6).

        A reinvestment is an acquisition: it can wash a recent loss like any buy.
        """
        sym, cash, px, _ = self._check_trade(account, symbol, amount, price, on, 0, "reinvest")
        if px <= 0:
            raise TaxRuleError(f"reinvest of {sym} in {account} on {on}: price must be > 0", account=account)
        qty = (cash / px).quantize(Decimal("0.000001"), rounding=ROUND_DOWN)
        if qty <= 0:
            raise TaxRuleError(
                f"reinvesting ${cash} in {sym} at ${px} buys no shares; skip it or book it as cash", account=account
            )
        return self._acquire(account, sym, qty, _cents(cash), on, on, on, AcquisitionKind.REINVEST, None)

    def transfer_in(
        self,
        account: str,
        symbol: str,
        shares: Amount,
        basis: Amount,
        acquired: date,
        on: date,
        purchased: date | None = None,
        *,
        lot_id: str | None = None,
    ) -> Lot:
        """Receive shares from outside with their carried ``basis`` (total USD) and ``acquired`` date.

        ``purchased`` (default ``acquired``) is the original trade date; it decides whether the lot is a
        wash-sale replacement for a loss sold within 30 days of it.
        """
        sym, qty, _, _ = self._check_trade(account, symbol, shares, 1, on, 0, "transfer_in")
        cost = self._money(basis, "basis", account, on)
        if not isinstance(acquired, date) or acquired > on:
            raise TaxRuleError(
                f"transfer_in of {sym} to {account} on {on}: acquired date {acquired} must be on or before {on}",
                account=account,
            )
        bought = purchased or acquired
        if bought > on:
            raise TaxRuleError(f"transfer_in of {sym}: purchased {bought} is after {on}", account=account)
        return self._acquire(account, sym, qty, _cents(cost), acquired, bought, on, AcquisitionKind.TRANSFER_IN, lot_id)

    def split(self, symbol: str, ratio: Amount, on: date) -> list[Lot]:
        """A stock split of ``ratio`` new shares per old (2 = 2-for-1, 0.1 = 1-for-10) in every account.

        Shares scale, total basis and dates stay; unmatched wash-sale loss shares scale alike.
        """
        sym = symbol.strip().upper()
        r = self._number(ratio, "ratio", None, on)
        if r <= 0:
            raise TaxRuleError(f"split of {sym} on {on}: ratio must be > 0, got {r}", symbol=sym)
        self._check_date(on, f"split of {sym}")
        hit = [rec for rec in self._lots.values() if rec.symbol == sym]
        for rec in hit:  # checked before anything changes: a refused split leaves the ledger as it was
            new = rec.shares * r
            if new.as_tuple().exponent < -18:  # type: ignore[operator]
                raise TaxRuleError(
                    f"split of {sym} on {on} by {r}: lot {rec.id} would hold {new} shares, more than 18 decimals, "
                    "which no store column holds exactly; book the share count the broker reports (it rounds "
                    "split shares and pays cash in lieu) with a ratio that gives it exactly",
                    symbol=sym, lot=rec.id,
                )
        touched = [self._own_lot(rec) for rec in hit]
        for rec in touched:
            rec.shares *= r
            rec.cached = None
        for i, real in enumerate(self._reals):
            if real.symbol == sym and real.pending_shares > 0:
                self._own_real(i).pending_shares *= r
        self._last = on
        return [rec.view() for rec in touched]

    def sell(
        self,
        account: str,
        symbol: str,
        shares: Amount,
        price: Amount,
        on: date,
        method: LotMethod = LotMethod.TAX_MIN,
        lots: Sequence[str] | None = None,
        fees: Amount = 0,
    ) -> list[Realization]:
        """Sell ``shares`` at ``price`` USD/share less ``fees`` USD; one realization per relieved lot.

        ``lots`` (ids) means specific identification, taken in the order given. A loss in a taxable
        account is disallowed to the extent identical shares were bought within 30 days before (held
        in any account); later buys within 30 days disallow the rest as they arrive.

        Raises:
            TaxRuleError: unknown account or lot, shares ≤ 0, more shares than held, a lot bought after
                ``on``, or a date before the last event. The ledger is unchanged.
        """
        sym, qty, px, fee = self._check_trade(account, symbol, shares, price, on, fees, "sell")
        try:
            method = method if type(method) is LotMethod else LotMethod(method)
        except ValueError as exc:
            raise TaxRuleError(
                f"unknown lot method {method!r}; use one of " + ", ".join(m.value for m in LotMethod)
            ) from exc
        picks = self._choose(account, sym, qty, px, on, method, lots)
        gross = qty * px
        total_proceeds = _cents(gross - fee)
        if total_proceeds < 0:
            raise TaxRuleError(
                f"sell of {sym} in {account} on {on}: fees ${fee} exceed the proceeds ${_cents(gross)}",
                account=account,
            )
        reportable = self._accounts[account] is AccountType.TAXABLE
        made: list[_RealRec] = []
        left_proceeds, left_shares = total_proceeds, qty
        for rec, take in picks:
            proceeds = left_proceeds if take == left_shares else _cents(total_proceeds * take / qty)
            left_proceeds -= proceeds
            left_shares -= take
            basis = rec.basis if take == rec.shares else _cents(rec.basis * take / rec.shares)
            self._seq += 1
            real = _RealRec(
                id=self._fresh_id(f"S{self._seq}"),
                account=account,
                symbol=sym,
                shares=take,
                acquired=rec.acquired,
                sold=on,
                proceeds=proceeds,
                basis=basis,
                lot_id=rec.id,
                origin=rec.origin,
                seq=self._seq,
                reportable=reportable,
                owner=self._token,
                acquisition=(rec.purchased, rec.seq),
            )
            if reportable and basis > proceeds:
                real.pending_shares, real.pending_loss = take, basis - proceeds
            rec = self._own_lot(rec)
            rec.shares -= take
            rec.basis -= basis
            rec.cached = None
            if rec.shares == 0:
                del self._lots[rec.id]
            made.append(real)
        self._reals.extend(made)
        # Treas. Reg. §1.1091-1(b)/(c): replacement shares are matched with the loss shares in the order the
        # loss shares were acquired (earliest first), not in the order the sale picked its lots.
        for real in sorted(made, key=lambda r: r.acquisition):
            if real.pending_shares > 0:
                self._match_loss(real)
        self._last = on
        return [r.view() for r in made]

    # ------------------------------------------------------------------------------------------
    # Internals
    # ------------------------------------------------------------------------------------------

    def _require_account(self, account: str) -> None:
        if account not in self._accounts:
            raise TaxRuleError(
                f"unknown account {account!r}; the ledger knows {', '.join(sorted(self._accounts)) or 'none'}",
                account=account,
            )

    def _check_date(self, on: object, what: str) -> None:
        if not isinstance(on, date) or isinstance(on, datetime):
            raise TaxRuleError(f"{what}: the date must be a datetime.date, got {on!r}")
        if self._last is not None and on < self._last:
            raise TaxRuleError(
                f"{what} on {on} is before the last booked event ({self._last}); book events in date order",
                day=on,
            )

    def _number(self, value: Amount, name: str, account: str | None, on: date) -> Decimal:
        try:
            return to_decimal(value, name)
        except ValidationError as exc:
            raise TaxRuleError(f"{name} {value!r} on {on} is not a number", account=account) from exc

    def _money(self, value: Amount, name: str, account: str, on: date) -> Decimal:
        x = self._number(value, name, account, on)
        if x < 0:
            raise TaxRuleError(f"{name} must be ≥ 0 USD, got {x} (account {account}, {on})", account=account)
        return x

    def _check_trade(
        self, account: str, symbol: str, shares: Amount, price: Amount, on: date, fees: Amount, what: str
    ) -> tuple[str, Decimal, Decimal, Decimal]:
        self._require_account(account)
        if not isinstance(symbol, str) or not symbol.strip():
            raise TaxRuleError(f"{what} in {account}: symbol must be a non-empty string", account=account)
        sym = symbol.strip().upper()
        self._check_date(on, f"{what} of {sym} in {account}")
        qty = self._number(shares, "shares", account, on)
        if qty <= 0:
            raise TaxRuleError(
                f"{what} of {sym} in {account} on {on}: shares must be > 0, got {qty}", account=account, day=on
            )
        px = self._money(price, "price", account, on)
        fee = self._money(fees, "fees", account, on)
        return sym, qty, px, fee

    def _fresh_id(self, base: str) -> str:
        candidate, n = base, 1
        while candidate in self._ids:
            n += 1
            candidate = f"{base}.{n}"
        self._ids.add(candidate)
        return candidate

    def _new_lot(
        self,
        account: str,
        symbol: str,
        shares: Decimal,
        basis: Decimal,
        acquired: date,
        purchased: date,
        kind: AcquisitionKind,
        lot_id: str | None,
        origin: str | None = None,
        replaceable: bool = True,
    ) -> _LotRec:
        self._seq += 1
        if lot_id is not None and lot_id in self._ids:
            raise TaxRuleError(f"lot id {lot_id!r} is already used; pass another or none", lot=lot_id)
        lid = self._fresh_id(lot_id or f"L{self._seq}")
        rec = _LotRec(lid, account, symbol, shares, basis, acquired, purchased, origin or lid, self._seq, kind,
                      replaceable, None, self._token)
        self._lots[lid] = rec
        return rec

    def _acquire(
        self,
        account: str,
        symbol: str,
        shares: Decimal,
        basis: Decimal,
        acquired: date,
        purchased: date,
        on: date,
        kind: AcquisitionKind,
        lot_id: str | None,
    ) -> Lot:
        if lot_id is not None and lot_id in self._ids:
            raise TaxRuleError(f"lot id {lot_id!r} is already used; pass another or none", lot=lot_id)
        rec = self._new_lot(account, symbol, shares, basis, acquired, purchased, kind, lot_id)
        group = self.identical_to(symbol)
        lo, hi = purchased - timedelta(days=WASH_SALE_DAYS), purchased + timedelta(days=WASH_SALE_DAYS)
        # The losses this purchase can wash, in sale order (the earliest is matched first); matching one never
        # changes whether a later one qualifies, so they are found in one pass before any is matched.
        losses = sorted(
            (i for i, real in enumerate(self._reals)
             if real.pending_shares > 0 and real.symbol in group and lo <= real.sold <= hi
             and real.origin != rec.origin),
            key=lambda i: (self._reals[i].sold, self._reals[i].acquisition),  # §1.1091-1(b): loss shares in
        )  # the order they were acquired (sales of one day together)
        for i in losses:
            if not rec.replaceable or rec.shares == 0:
                break
            self._wash(self._own_real(i), rec)
        self._last = on
        return self._lots[rec.id].view()

    def _match_loss(self, real: _RealRec) -> None:
        group = self.identical_to(real.symbol)
        lo, hi = real.sold - timedelta(days=WASH_SALE_DAYS), real.sold + timedelta(days=WASH_SALE_DAYS)
        candidates = sorted(
            (
                r for r in self._lots.values()
                if r.symbol in group and r.replaceable and lo <= r.purchased <= hi and r.origin != real.origin
            ),
            key=lambda r: (r.purchased, r.seq),
        )
        for rec in candidates:
            if real.pending_shares == 0:
                break
            self._wash(real, rec)

    def _wash(self, real: _RealRec, rec: _LotRec) -> None:
        """Match ``real``'s unmatched loss shares with replacement lot ``rec`` (split when partly used).

        ``real`` must be this ledger's own record (``_own_real``); ``rec`` is made its own here.
        """
        rec = self._own_lot(rec)
        matched = min(real.pending_shares, rec.shares)
        if matched < rec.shares:
            part_basis = _cents(rec.basis * matched / rec.shares)
            piece = self._new_lot(
                rec.account, rec.symbol, matched, part_basis, rec.acquired, rec.purchased, rec.kind,
                self._fresh_split_id(rec.id), origin=rec.origin, replaceable=True,
            )
            piece.seq = rec.seq  # same purchase, same place in acquisition order
            rec.shares -= matched
            rec.basis -= part_basis
            rec.cached = None
            target = piece
        else:
            target = rec
        if matched == real.pending_shares:
            disallowed = real.pending_loss
        else:
            disallowed = _cents(real.pending_loss * matched / real.pending_shares)
        real.pending_shares -= matched
        real.pending_loss -= disallowed
        real.disallowed += disallowed
        real.replacements.append(target.id)
        real.cached = None
        target.replaceable = False
        target.cached = None
        if self._accounts[target.account] is AccountType.TAXABLE:
            target.basis += disallowed
            held = (real.sold - real.acquired).days
            target.acquired = target.acquired - timedelta(days=held)
            target.cached = None
            added = disallowed
        else:
            real.lost += disallowed
            added = _ZERO
        self._washes.append(
            WashSale(
                realization=real.id,
                loss_lot=real.lot_id,
                sold=real.sold,
                symbol=real.symbol,
                replacement_lot=target.id,
                replacement_account=target.account,
                replacement_symbol=target.symbol,
                replacement_purchased=target.purchased,
                shares=matched,
                disallowed=disallowed,
                basis_added=added,
            )
        )

    def _own_lot(self, rec: _LotRec) -> _LotRec:
        """``rec`` as a record this ledger may change: a clone in its place if a copy shares it."""
        if rec.owner is self._token:
            return rec
        mine = rec.clone()
        mine.owner = self._token
        self._lots[mine.id] = mine
        return mine

    def _own_real(self, i: int) -> _RealRec:
        """The ``i``-th sale record as one this ledger may change: a clone in its place if a copy shares it."""
        real = self._reals[i]
        if real.owner is not self._token:
            real = self._reals[i] = real.clone()
            real.owner = self._token
        return real

    def _fresh_split_id(self, base: str) -> str:
        n = 1
        while f"{base}.w{n}" in self._ids:
            n += 1
        return f"{base}.w{n}"

    def _choose(
        self,
        account: str,
        symbol: str,
        shares: Decimal,
        price: Decimal,
        on: date,
        method: LotMethod,
        lot_ids: Sequence[str] | None,
    ) -> list[tuple[_LotRec, Decimal]]:
        if lot_ids is not None:  # named lots are looked up, not searched for among all lots
            ids = list(lot_ids)
            if len(set(ids)) != len(ids):
                raise TaxRuleError(f"sell of {symbol} in {account}: a lot is named twice in {ids}", account=account)
            order: list[_LotRec] = []
            for lid in ids:
                rec = self._lots.get(lid)
                if rec is None or rec.account != account or rec.symbol != symbol:
                    raise TaxRuleError(
                        f"sell of {symbol} in {account} on {on}: lot {lid!r} is not an open {symbol} lot of {account}",
                        account=account,
                        lot=lid,
                    )
                if rec.purchased > on:
                    raise TaxRuleError(
                        f"sell of {symbol} in {account} on {on}: lot {lid} was bought on {rec.purchased}, "
                        "after the sale",
                        account=account,
                        lot=lid,
                    )
                order.append(rec)
        else:
            eligible = [
                r for r in self._lots.values() if r.account == account and r.symbol == symbol and r.purchased <= on
            ]
            order = self._order(eligible, price, on, method)
        available = sum((r.shares for r in order), _ZERO)
        if available < shares:
            where = f"lots {list(lot_ids)}" if lot_ids is not None else account
            raise TaxRuleError(
                f"sell of {fmt_shares(shares)} {symbol} in {account} on {on}: only {fmt_shares(available)} "
                f"held in {where}; sell at most that",
                account=account,
                day=on,
            )
        picks: list[tuple[_LotRec, Decimal]] = []
        need = shares
        for rec in order:
            if need == 0:
                break
            take = min(need, rec.shares)
            picks.append((rec, take))
            need -= take
        return picks

    @staticmethod
    def _order(recs: list[_LotRec], price: Decimal, on: date, method: LotMethod) -> list[_LotRec]:
        if method is LotMethod.FIFO or method is LotMethod.SPECIFIC:
            return sorted(recs, key=lambda r: (r.purchased, r.seq))
        if method is LotMethod.LIFO:
            return sorted(recs, key=lambda r: (r.purchased, r.seq), reverse=True)
        if method is LotMethod.HIFO:
            return sorted(recs, key=lambda r: (-(r.basis / r.shares), r.purchased, r.seq))

        def tax_min_key(r: _LotRec) -> tuple[int, Decimal, date, int]:
            per_share = price - r.basis / r.shares
            long = holding_term(r.acquired, on) is Term.LONG
            if per_share < 0:
                rank = 1 if long else 0  # short-term losses first, then long-term losses
            elif per_share == 0:
                rank = 2
            else:
                rank = 3 if long else 4  # long-term gains before short-term gains
            return rank, per_share, r.purchased, r.seq

        return sorted(recs, key=tax_min_key)
