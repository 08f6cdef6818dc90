"""Tax-loss harvesting: sell taxable lots at a loss into a not-identical substitute, never washing a loss.

    harvester = TaxLossHarvester(universe, household.tax)
    for d in harvester.scan(ledger, prices, date(2026, 3, 2)): print(d.explain()); harvester.apply(ledger, d)

A decision is worth making when the tax saved now (loss × marginal rate for its term) less the same
basis coming back later as a long-term gain (discounted ``horizon_years`` at ``discount_rate``)
exceeds trading costs plus a tracking-cost allowance, and the loss clears the dollar and percent
floors. Each scan works on a copy of the ledger, applying its own decisions as it goes, so two
decisions of one day never wash each other.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from engine.errors import TaxRuleError
from engine.model import AccountType, Lot, Order, OrderSide, TaxProfile, Universe, to_decimal
from engine.tax.ledger import (
    CENT,
    WASH_SALE_DAYS,
    Amount,
    LotLedger,
    LotMethod,
    Realization,
    Term,
    fmt_shares,
    holding_term,
)
from engine.tax.rates import MarginalRates, TaxTables, marginal_rates

__all__ = ["HarvestConfig", "HarvestDecision", "HarvestKind", "HarvestSkip", "TaxLossHarvester"]


class HarvestKind(StrEnum):
    """A loss harvest into a substitute, or the switch back to the preferred fund."""

    HARVEST = "harvest"
    SWITCH_BACK = "switch_back"


@dataclass(frozen=True, slots=True)
class HarvestConfig:
    """Harvesting thresholds: USD floors, fractions (0.03 = 3 %), years.

    ``min_loss_usd`` and ``min_loss_fraction`` (of the lot's basis) are floors on the loss;
    ``cost_fraction`` is the round-trip trading cost per side as a fraction of value (spread +
    slippage), ``fee_per_trade`` USD per order; ``tracking_allowance`` a fraction of the lot's value
    charged for holding the substitute instead of the preferred fund. ``discount_rate`` (annual) and
    ``horizon_years`` discount the tax paid later when the lower basis is realized. ``wash_sale_days``
    (calendar days, at least the 30 of IRC §1091(a)) is how long a harvested fund is not bought back:
    the switch back to the preferred fund waits that long after the last loss sale of its group.
    With ``usable_rate`` a short-term loss saves the short-term rate only up to the net short-term gains
    already realized this year (in the ledger); the rest nets against long-term gains first (Schedule D),
    so it is valued at the long-term rate — a household without short-term gains gains little from
    harvesting beyond deferral (a low-income retiree: almost nothing).
    """

    min_loss_usd: Decimal = Decimal(100)
    min_loss_fraction: float = 0.03
    cost_fraction: float = 0.0005
    fee_per_trade: Decimal = Decimal(0)
    tracking_allowance: float = 0.002
    discount_rate: float = 0.05
    horizon_years: float = 10.0
    switch_back: bool = True
    wash_sale_days: int = WASH_SALE_DAYS
    usable_rate: bool = True

    def __post_init__(self) -> None:
        if int(self.wash_sale_days) < WASH_SALE_DAYS:
            raise TaxRuleError(
                f"HarvestConfig.wash_sale_days must be at least {WASH_SALE_DAYS} (the wash-sale window of "
                f"IRC §1091(a) is 30 days either side of a loss sale), got {self.wash_sale_days}"
            )
        for name in ("min_loss_fraction", "cost_fraction", "tracking_allowance", "discount_rate"):
            v = getattr(self, name)
            if not 0 <= float(v) < 1:
                raise TaxRuleError(f"HarvestConfig.{name} must be a fraction in [0, 1), got {v}")
        if self.horizon_years < 0:
            raise TaxRuleError(f"HarvestConfig.horizon_years must be ≥ 0, got {self.horizon_years}")
        object.__setattr__(self, "min_loss_usd", to_decimal(self.min_loss_usd, "min_loss_usd"))
        object.__setattr__(self, "fee_per_trade", to_decimal(self.fee_per_trade, "fee_per_trade"))


@dataclass(frozen=True, slots=True)
class HarvestDecision:
    """Sell one lot, buy a substitute, and why: USD amounts, rates as fractions, dates.

    ``loss`` is positive for a loss (for a switch back it is ``−gain`` ≥ 0); ``tax_saved`` the tax saved
    this year (loss × rate); ``benefit`` that less the discounted tax on the lower basis later;
    ``costs`` trading costs plus the tracking allowance. ``blocks`` lists the wash-sale rules this
    decision respected; ``buy_back_after`` is the first day the sold symbol may be bought again.
    """

    kind: HarvestKind
    on: date
    account: str
    lot_id: str
    symbol: str
    shares: Decimal
    price: Decimal
    proceeds: Decimal
    basis: Decimal
    loss: Decimal
    term: Term
    rate: float
    tax_saved: Decimal
    benefit: Decimal
    costs: Decimal
    substitute: str
    substitute_price: Decimal
    substitute_shares: Decimal
    buy_back_after: date
    blocks: tuple[str, ...] = ()

    def explain(self) -> str:
        """One paragraph a client (or a tax professional) can read."""
        head = (
            f"{self.on}: harvest {self.term.value}-term loss ${self.loss:,.2f} on lot {self.lot_id} "
            if self.kind is HarvestKind.HARVEST
            else f"{self.on}: switch back from {self.symbol} (lot {self.lot_id}, gain ${-self.loss:,.2f}) "
        )
        return (
            head
            + f"({fmt_shares(self.shares)} sh {self.symbol} in {self.account} at ${self.price}, "
            f"basis ${self.basis:,.2f}); "
            f"buy {fmt_shares(self.substitute_shares)} sh {self.substitute} at ${self.substitute_price}. "
            f"Est. tax saved ${self.tax_saved:,.2f} at {self.rate:.1%}, net benefit ${self.benefit:,.2f} "
            f"vs costs ${self.costs:,.2f}. Do not buy {self.symbol} (or identical funds) before "
            f"{self.buy_back_after}. Respected: " + ("; ".join(self.blocks) or "no wash-sale window open")
        )

    def orders(self, prefix: str) -> tuple[Order, Order]:
        """The sell (specific lot) and the buy as ``Order``s with ids ``<prefix>-sell`` / ``<prefix>-buy``."""
        sell = Order(
            client_order_id=f"{prefix}-sell", account=self.account, symbol=self.symbol, side=OrderSide.SELL,
            qty=self.shares, lots=(self.lot_id,),
        )
        buy = Order(
            client_order_id=f"{prefix}-buy", account=self.account, symbol=self.substitute, side=OrderSide.BUY,
            qty=self.substitute_shares,
        )
        return sell, buy


@dataclass(frozen=True, slots=True)
class HarvestSkip:
    """A taxable loss lot the scan did not harvest, and why."""

    account: str
    lot_id: str
    symbol: str
    loss: Decimal
    reason: str


class TaxLossHarvester:
    """Daily scan of a household's taxable lots for losses worth harvesting (see the module docstring).

    ``preferred`` maps a substitute group to the fund the household wants to hold (default: the first
    fund of the group in the universe); switch-backs return to it.
    """

    def __init__(
        self,
        universe: Universe,
        profile: TaxProfile,
        config: HarvestConfig | None = None,
        *,
        tables: TaxTables | None = None,
        preferred: Mapping[str, str] | None = None,
        rates: MarginalRates | None = None,
    ) -> None:
        self.universe = universe
        self.profile = profile
        self.config = config or HarvestConfig()
        self.rates = rates or marginal_rates(profile, tables)
        self.preferred: dict[str, str] = {}
        for ticker, asset in universe.assets.items():
            if asset.substitute_group is not None:
                self.preferred.setdefault(asset.substitute_group, ticker)
        self.preferred.update({k: v.upper() for k, v in (preferred or {}).items()})
        self._buyable: frozenset[str] | None = None
        self._st_room: Decimal | None = None  # net short-term gains of the year left to offset (scan state)

    # ------------------------------------------------------------------------------------------

    def scan(
        self, ledger: LotLedger, prices: Mapping[str, Amount], on: date, *, buyable: Collection[str] | None = None
    ) -> list[HarvestDecision]:
        """Harvest and switch-back decisions for ``on`` at ``prices`` (USD/share); the ledger is not changed.

        ``buyable`` limits the funds a decision may buy (e.g. those the household's values screen keeps);
        None: any fund of the universe with a price.
        """
        return self._run(ledger, prices, on, buyable)[0]

    def review(
        self, ledger: LotLedger, prices: Mapping[str, Amount], on: date, *, buyable: Collection[str] | None = None
    ) -> list[HarvestSkip]:
        """The taxable loss lots ``scan`` would not harvest on ``on``, each with its reason."""
        return self._run(ledger, prices, on, buyable)[1]

    def run(
        self, ledger: LotLedger, prices: Mapping[str, Amount], on: date, *, buyable: Collection[str] | None = None
    ) -> tuple[list[HarvestDecision], list[HarvestSkip]]:
        """``scan`` and ``review`` in one pass: the decisions and the loss lots left alone, with reasons."""
        return self._run(ledger, prices, on, buyable)

    @staticmethod
    def apply(ledger: LotLedger, decision: HarvestDecision) -> list[Realization]:
        """Book ``decision`` in ``ledger``: sell its lot at its price, buy the substitute; returns the sale."""
        out = ledger.sell(
            decision.account, decision.symbol, decision.shares, decision.price, decision.on,
            method=LotMethod.SPECIFIC, lots=[decision.lot_id],
        )
        if decision.substitute_shares > 0:
            ledger.buy(decision.account, decision.substitute, decision.substitute_shares, decision.substitute_price,
                       decision.on)
        return out

    # ------------------------------------------------------------------------------------------

    def _run(
        self, ledger: LotLedger, prices: Mapping[str, Amount], on: date, buyable: Collection[str] | None = None
    ) -> tuple[list[HarvestDecision], list[HarvestSkip]]:
        px = {k.upper(): to_decimal(v, f"prices[{k}]") for k, v in prices.items()}
        self._buyable = None if buyable is None else frozenset(t.upper() for t in buyable)
        self._start(ledger, on)
        scratch, copied = ledger, False  # checks read the ledger until the first decision is booked on a copy
        decisions: list[HarvestDecision] = []
        skips: list[HarvestSkip] = []
        taxable = {a for a, t in ledger.accounts.items() if t is AccountType.TAXABLE}
        lots = [
            lot for lot in ledger.open_lots()
            if lot.account in taxable and lot.symbol in px and (lot.purchased or lot.acquired) <= on
        ]
        for lot in lots:
            if lot.id not in scratch:  # sold by an earlier decision of this scan
                continue
            price = px[lot.symbol]
            value = (lot.shares * price).quantize(CENT)
            gain = value - lot.basis
            if gain < 0:
                d, why = self._harvest(scratch, lot, price, value, -gain, px, on)
                if d is None and self._is_substitute_holding(lot.symbol):
                    d = self._switch_back(scratch, lot, price, value, gain, px, on)[0]  # a small loss still goes home
                if d is None:
                    skips.append(HarvestSkip(lot.account, lot.id, lot.symbol, -gain, why))
                    continue
            elif gain == 0 and self._is_substitute_holding(lot.symbol):
                d = self._switch_back(scratch, lot, price, value, gain, px, on)[0]
                if d is None:
                    continue
            else:
                continue
            if not copied:
                scratch, copied = ledger.copy(), True
            before = len(scratch.wash_sales())
            self.apply(scratch, d)
            if len(scratch.wash_sales()) != before:  # pragma: no cover - the checks above make this impossible
                raise TaxRuleError(f"internal: harvest of lot {lot.id} on {on} would create a wash sale")
            decisions.append(d)
        return decisions, skips

    def worth_harvesting(
        self, ledger: LotLedger, lots: Sequence[Lot], prices: Mapping[str, Amount], on: date
    ) -> list[str]:
        """Ids of ``lots`` (taxable ones with a price) whose loss is worth harvesting on ``on`` by these thresholds:
        both loss floors, no purchase of an identical security within the wash-sale window, and a benefit above
        costs. No substitute fund is asked for: a direct-index sleeve's stock is replaced by other stocks."""
        self._start(ledger, on)
        taxable = {a for a, t in ledger.accounts.items() if t is AccountType.TAXABLE}
        out: list[str] = []
        for lot in lots:
            price = prices.get(lot.symbol)
            if price is None or lot.account not in taxable or (lot.purchased or lot.acquired) > on:
                continue
            value = (lot.shares * to_decimal(price, f"prices[{lot.symbol}]")).quantize(CENT)
            if value >= lot.basis:
                continue
            worth, _ = self._worth(ledger, lot, value, lot.basis - value, on)
            if worth is not None:
                out.append(lot.id)
                if self._st_room is not None and worth[0] is Term.SHORT:
                    self._st_room -= min(lot.basis - value, self._st_room)
        return out

    def _start(self, ledger: LotLedger, on: date) -> None:
        """Scan state for ``on``: the year's net short-term gains a short-term loss can offset at its rate."""
        self._st_room = None
        if self.config.usable_rate:
            net_st = sum((r.gain for r in ledger.realized(year=on.year) if r.term is Term.SHORT), Decimal(0))
            self._st_room = max(net_st, Decimal(0))

    def _group(self, symbol: str) -> str | None:
        return self.universe[symbol].substitute_group if symbol in self.universe else None

    def _is_substitute_holding(self, symbol: str) -> bool:
        group = self._group(symbol)
        return self.config.switch_back and group is not None and self.preferred.get(group, symbol) != symbol

    def _candidates(self, symbol: str) -> list[str]:
        if symbol not in self.universe:
            return []
        subs = self.universe.substitutes(symbol)
        group = self._group(symbol)
        pref = self.preferred.get(group) if group else None
        if pref in subs:
            subs.remove(pref)
            subs.insert(0, pref)
        return subs

    def _sale_blocks(self, ledger: LotLedger, lot_id: str, symbol: str, on: date) -> tuple[str | None, str]:
        washers = ledger.replacements_for([lot_id], on)
        if washers:
            w = washers[0]
            return (
                f"{fmt_shares(w.shares)} sh {w.symbol} bought in {w.account} on {w.purchased} (lot {w.id}) "
                f"would wash the loss until {(w.purchased or w.acquired) + timedelta(days=WASH_SALE_DAYS)}",
                "",
            )
        return None, f"no {symbol}-identical buy in any account since {on - timedelta(days=WASH_SALE_DAYS)}"

    def _pick_substitute(
        self, ledger: LotLedger, symbol: str, px: Mapping[str, Decimal], on: date
    ) -> tuple[str | None, list[str]]:
        notes: list[str] = []
        sold_group = ledger.identical_to(symbol)
        for sub in self._candidates(symbol):
            if sub in sold_group:
                notes.append(f"{sub} is substantially identical to {symbol}")
                continue
            if sub not in px:
                notes.append(f"no price for {sub}")
                continue
            if self._buyable is not None and sub not in self._buyable:
                notes.append(f"{sub} may not be bought (values screen or not trading)")
                continue
            window = ledger.wash_sale_window(sub, on)
            if window.buy_blocked:
                notes.append(f"{sub} not bought: {window.reasons[0]}")
                continue
            return sub, notes
        return None, notes

    def _recent_loss_sale(self, ledger: LotLedger, symbol: str, on: date) -> date | None:
        """The first day ``symbol`` may be bought back under ``wash_sale_days``, when that is after ``on``.

        Only a wait longer than the legal 30 days needs this look (the ledger's windows cover those).
        """
        days = int(self.config.wash_sale_days)
        if days <= WASH_SALE_DAYS:
            return None
        group = ledger.identical_to(symbol)
        since = on - timedelta(days=days)
        last = max((r.sold for r in ledger.realized() if r.symbol in group and r.sold >= since
                    and r.proceeds < r.basis), default=None)
        return None if last is None else last + timedelta(days=days + 1)

    def _shares_for(self, ticker: str, cash: Decimal, price: Decimal) -> Decimal:
        fractionable = self.universe[ticker].fractionable if ticker in self.universe else True
        q = Decimal("0.000001") if fractionable else Decimal(1)
        return (cash / price).quantize(q, rounding=ROUND_DOWN)

    def _costs(self, value: Decimal) -> Decimal:
        c = self.config
        trading = value * 2 * Decimal(repr(c.cost_fraction)) + 2 * c.fee_per_trade
        return (trading + value * Decimal(repr(c.tracking_allowance))).quantize(CENT)

    def _harvest(
        self, ledger: LotLedger, lot: Lot, price: Decimal, value: Decimal, loss: Decimal,
        px: Mapping[str, Decimal], on: date,
    ) -> tuple[HarvestDecision | None, str]:
        worth, why = self._worth(ledger, lot, value, loss, on)
        if worth is None:
            return None, why
        term, rate, saved, benefit, costs, clean = worth
        sub, notes = self._pick_substitute(ledger, lot.symbol, px, on)
        if sub is None:
            return None, "no substitute can be bought: " + ("; ".join(notes) or f"{lot.symbol} has no substitute group")
        shares = self._shares_for(sub, value, px[sub])
        blocks = (clean, f"{sub} not identical to {lot.symbol} and no loss sale of it in the last 30 days", *notes)
        if self._st_room is not None and term is Term.SHORT:
            self._st_room -= min(loss, self._st_room)
        return self._decision(HarvestKind.HARVEST, lot, on, price, value, loss, term, rate, saved, benefit, costs,
                              sub, px[sub], shares, blocks), ""

    def _worth(
        self, ledger: LotLedger, lot: Lot, value: Decimal, loss: Decimal, on: date
    ) -> tuple[tuple[Term, float, Decimal, Decimal, Decimal, str] | None, str]:
        """Whether selling ``lot`` at ``value`` (a ``loss``) is worth it: (term, rate, tax saved, benefit, costs,
        the wash-sale check passed) or None and why not."""
        c = self.config
        if loss < c.min_loss_usd:
            return None, f"loss ${loss:,.2f} below the ${c.min_loss_usd:,.2f} floor"
        if lot.basis > 0 and loss / lot.basis < Decimal(repr(c.min_loss_fraction)):
            return None, f"loss {float(loss / lot.basis):.2%} of basis below the {c.min_loss_fraction:.2%} floor"
        blocked, clean = self._sale_blocks(ledger, lot.id, lot.symbol, on)
        if blocked:
            return None, f"loss sale blocked: {blocked}"
        term = holding_term(lot.acquired, on)
        rate = self.rates.for_term(term)
        if self._st_room is not None and term is Term.SHORT:  # the ST rate only against this year's ST gains
            at_st = min(loss, self._st_room)
            saved = (at_st * Decimal(repr(rate)) + (loss - at_st) * Decimal(repr(self.rates.long_term))).quantize(CENT)
            rate = float(saved / loss) if loss > 0 else rate
        else:
            saved = (loss * Decimal(repr(rate))).quantize(CENT)
        later = loss * Decimal(repr(self.rates.long_term)) / Decimal(repr((1 + c.discount_rate) ** c.horizon_years))
        benefit = (saved - later).quantize(CENT)
        costs = self._costs(value)
        if benefit <= costs:
            return None, f"benefit ${benefit:,.2f} does not exceed costs ${costs:,.2f}"
        return (term, rate, saved, benefit, costs, clean), ""

    def _switch_back(
        self, ledger: LotLedger, lot: Lot, price: Decimal, value: Decimal, gain: Decimal,
        px: Mapping[str, Decimal], on: date,
    ) -> tuple[HarvestDecision | None, str]:
        group = self._group(lot.symbol)
        pref = self.preferred.get(group or "")
        if pref is None or pref == lot.symbol or pref not in px:
            return None, "no preferred fund to switch back to"
        if self._buyable is not None and pref not in self._buyable:
            return None, f"{pref} may not be bought (values screen or not trading)"
        wait = self._recent_loss_sale(ledger, pref, on)
        if wait is not None:
            return None, f"switch back to {pref} waits until {wait} (wash_sale_days {self.config.wash_sale_days})"
        if pref in ledger.identical_to(lot.symbol):
            return None, f"{pref} is identical to {lot.symbol}"
        window = ledger.wash_sale_window(pref, on)
        if window.buy_blocked:
            return None, f"switch back to {pref} blocked: {window.reasons[0]}"
        blocks = [f"{pref} buy not blocked (no unmatched loss sale of it since {on - timedelta(days=WASH_SALE_DAYS)})"]
        # Checked even at a gain: the sale fills at a later price, and a tiny loss then would wash against a
        # recent buy of the same fund.
        blocked, clean = self._sale_blocks(ledger, lot.id, lot.symbol, on)
        if blocked:
            return None, f"switch back blocked: {blocked}"
        blocks.append(clean)
        term = holding_term(lot.acquired, on)
        rate = self.rates.for_term(term)
        saved = (-gain * Decimal(repr(rate))).quantize(CENT)
        shares = self._shares_for(pref, value, px[pref])
        trading = self._costs(value) - (value * Decimal(repr(self.config.tracking_allowance))).quantize(CENT)
        return self._decision(HarvestKind.SWITCH_BACK, lot, on, price, value, -gain, term, rate, saved, saved,
                              trading, pref, px[pref], shares, tuple(blocks)), ""

    def _decision(
        self,
        kind: HarvestKind, lot: Lot, on: date, price: Decimal, value: Decimal, loss: Decimal, term: Term,
        rate: float, saved: Decimal, benefit: Decimal, costs: Decimal, sub: str, sub_price: Decimal,
        sub_shares: Decimal, blocks: Sequence[str],
    ) -> HarvestDecision:
        return HarvestDecision(
            kind=kind, on=on, account=lot.account, lot_id=lot.id, symbol=lot.symbol, shares=lot.shares, price=price,
            proceeds=value, basis=lot.basis, loss=loss, term=term, rate=rate, tax_saved=saved, benefit=benefit,
            costs=costs, substitute=sub, substitute_price=sub_price, substitute_shares=sub_shares,
            buy_back_after=on + timedelta(days=max(int(self.config.wash_sale_days), WASH_SALE_DAYS) + 1),
            blocks=tuple(blocks),
        )
