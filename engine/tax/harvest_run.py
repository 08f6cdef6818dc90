"""The daily harvest run: loss lots worth harvesting sold into a substitute, separate from full rebalancing.

    plan = plan_harvest(household, ledger, prices, as_of, universe, config=HarvestConfig(min_loss_usd=250))
    plan.targets(current), plan.sell_lots, plan.explanation        # what a planner turns into orders
    count_harvestable(household, ledger, prices, as_of, universe)  # what the daily trigger looks at
    avoid = wash_avoiding_buys(ledger, prices, tickers, universe, as_of)  # primaries new money must not buy

A planner calls these with plain inputs (household, lot ledger, prices in USD/share, the day, the
universe, thresholds) and gets plain outputs (shares to sell per lot, shares to buy, explanation lines);
nothing here trades or stores. The decisions are ``TaxLossHarvester``'s: a taxable lot is harvested when
the tax saved now, less the same basis taxed later (discounted), exceeds trading costs and a tracking
allowance and the loss clears the floors; the proceeds buy the best substitute of the fund's substitute
group that is not substantially identical (``identical`` groups), that the household may buy and whose
purchase washes nothing. A substitute goes back to the preferred fund once no wash-sale window is open
and the switch realizes no gain.

``wash_avoiding_buys`` is Betterment's primary/secondary/tertiary ticker rule (TLH+ white paper, 2014):
while a taxable lot of a fund is at a loss (a harvest the engine may make soon), new money, rebalancing
and buys in any account (IRA and Roth included) go to another fund of its substitute group, so the
engine never washes its own future loss.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engine.model import AccountType, Household, Lot, Order, OrderSide, Universe
from engine.tax.harvest import HarvestConfig, HarvestDecision, HarvestKind, HarvestSkip, TaxLossHarvester
from engine.tax.ledger import Amount, LotLedger
from engine.tax.rates import TaxTables

if TYPE_CHECKING:
    from engine.esg import EsgData

__all__ = [
    "HarvestPlan",
    "buyable_tickers",
    "count_harvestable",
    "harvester_for",
    "may_harvest",
    "plan_harvest",
    "wash_avoiding_buys",
]

_ZERO = Decimal(0)
_HARVESTERS: dict[tuple[Any, ...], TaxLossHarvester] = {}


@dataclass(frozen=True, slots=True)
class HarvestPlan:
    """One day's harvest run for one household: decisions, the loss lots left alone, explanation lines.

    Shares are exact ``Decimal``; money USD. ``sell_lots`` names the lots each (account, fund) sale
    relieves (specific identification, so the broker fill books exactly the harvested lots).
    """

    as_of: date
    decisions: tuple[HarvestDecision, ...]
    skipped: tuple[HarvestSkip, ...]
    explanation: tuple[str, ...]
    tertiary: tuple[tuple[str, str, Decimal], ...] = ()  # (account, fund, shares): what a position limit moved

    @property
    def harvested_loss(self) -> Decimal:
        """USD of losses the harvests realize (switch backs excluded)."""
        return sum((d.loss for d in self.decisions if d.kind is HarvestKind.HARVEST), _ZERO)

    @property
    def tax_saved(self) -> Decimal:
        """USD of tax saved this year by the harvests (loss × marginal rate of its term)."""
        return sum((d.tax_saved for d in self.decisions if d.kind is HarvestKind.HARVEST), _ZERO)

    @property
    def sells(self) -> dict[tuple[str, str], Decimal]:
        """Shares to sell per (account, fund)."""
        out: dict[tuple[str, str], Decimal] = {}
        for d in self.decisions:
            out[(d.account, d.symbol)] = out.get((d.account, d.symbol), _ZERO) + d.shares
        return out

    @property
    def buys(self) -> dict[tuple[str, str], Decimal]:
        """Shares to buy per (account, fund): the substitutes (or the preferred fund, switching back)."""
        out: dict[tuple[str, str], Decimal] = {}
        for d in self.decisions:
            if d.substitute_shares > 0:
                key = (d.account, d.substitute)
                out[key] = out.get(key, _ZERO) + d.substitute_shares
        for acct, fund, sh in self.tertiary:
            out[(acct, fund)] = out.get((acct, fund), _ZERO) + sh
        return out

    @property
    def sell_lots(self) -> dict[tuple[str, str], list[str]]:
        """Lot ids each (account, fund) sale relieves, in decision order."""
        out: dict[tuple[str, str], list[str]] = {}
        for d in self.decisions:
            out.setdefault((d.account, d.symbol), []).append(d.lot_id)
        return out

    def targets(self, current: Mapping[tuple[str, str], Decimal]) -> dict[tuple[str, str], Decimal]:
        """Target shares per (account, fund): ``current`` less the harvested lots plus the substitutes."""
        out = dict(current)
        for key, sh in self.sells.items():
            out[key] = out.get(key, _ZERO) - sh
        for key, sh in self.buys.items():
            out[key] = out.get(key, _ZERO) + sh
        return out

    def orders(self, prefix: str) -> tuple[Order, ...]:
        """Each decision's sell (its lot) and buy, ids ``<prefix>-<n>-sell`` / ``-buy`` (buys of 0 dropped)."""
        out: list[Order] = []
        for i, d in enumerate(self.decisions):
            sell, buy = d.orders(f"{prefix}-{i:03d}")
            out.append(sell)
            if buy.qty:
                out.append(buy)
        for i, (acct, fund, sh) in enumerate(self.tertiary):
            out.append(Order(client_order_id=f"{prefix}-t{i:03d}-buy", account=acct, symbol=fund,
                             side=OrderSide.BUY, qty=sh))
        return tuple(out)


def harvester_for(
    universe: Universe,
    household: Household,
    config: HarvestConfig | None = None,
    tables: TaxTables | None = None,
) -> TaxLossHarvester:
    """The household's ``TaxLossHarvester`` (cached per universe, tax profile, thresholds and tables)."""
    key = (id(universe), household.tax, config, id(tables))
    h = _HARVESTERS.get(key)
    if h is None:
        if len(_HARVESTERS) > 64:
            _HARVESTERS.clear()
        h = _HARVESTERS[key] = TaxLossHarvester(universe, household.tax, config, tables=tables)
    return h


def buyable_tickers(
    household: Household, universe: Universe, prices: Mapping[str, Amount], esg: EsgData | None = None
) -> frozenset[str]:
    """Funds the household may buy today: a price, and not screened out by its values (with ``esg`` data)."""
    tickers = [t for t in universe.tickers if t in prices]
    if esg is None or not tickers:
        return frozenset(tickers)
    from engine.esg import apply_values

    key = (id(esg), household.values, tuple(tickers))
    hit = _SCREENS.get(key)
    if hit is None:
        screen = apply_values(universe.subset(tickers), esg, household.values)
        hit = frozenset(t for t in tickers if t not in screen.excluded)
        if len(_SCREENS) > 256:
            _SCREENS.clear()
        _SCREENS[key] = hit
    return hit


_SCREENS: dict[tuple[Any, ...], frozenset[str]] = {}


def may_harvest(
    harvester: TaxLossHarvester, ledger: LotLedger, prices: Mapping[str, Amount], lots: Sequence[Lot]
) -> bool:
    """A cheap, conservative pre-check of the scan: False only when no taxable lot could be acted on.

    The scan acts on a lot with a loss at or above both floors (USD and fraction of basis), and on a
    substitute holding at a loss or at cost (switch back). The floors get 1 % slack for float rounding.
    """
    cfg = harvester.config
    floor_usd = float(cfg.min_loss_usd) * 0.99
    floor_frac = float(cfg.min_loss_fraction) * 0.99
    taxable = {a for a, t in ledger.accounts.items() if t is AccountType.TAXABLE}
    universe = harvester.universe
    for lot in lots:
        price = prices.get(lot.symbol)
        if price is None or lot.account not in taxable:
            continue
        basis = float(lot.basis)
        loss = basis - float(lot.shares) * float(price)
        if loss < -0.01:
            continue
        group = universe[lot.symbol].substitute_group if lot.symbol in universe else None
        if cfg.switch_back and group is not None and harvester.preferred.get(group, lot.symbol) != lot.symbol:
            return True
        if loss >= floor_usd and (basis <= 0 or loss / basis >= floor_frac):
            return True
    return False


def count_harvestable(
    household: Household,
    ledger: LotLedger,
    prices: Mapping[str, Amount],
    as_of: date,
    universe: Universe,
    *,
    config: HarvestConfig | None = None,
    tables: TaxTables | None = None,
    lots: Sequence[Lot] | None = None,
    esg: EsgData | None = None,
) -> int:
    """How many harvest or switch-back decisions the run would make on ``as_of`` (the daily trigger's input)."""
    harvester = harvester_for(universe, household, config, tables)
    if not may_harvest(harvester, ledger, prices, ledger.open_lots() if lots is None else lots):
        return 0
    return len(harvester.scan(ledger, prices, as_of, buyable=buyable_tickers(household, universe, prices, esg)))


def plan_harvest(
    household: Household,
    ledger: LotLedger,
    prices: Mapping[str, Amount],
    as_of: date,
    universe: Universe,
    *,
    config: HarvestConfig | None = None,
    tables: TaxTables | None = None,
    esg: EsgData | None = None,
    max_position: float | None = None,
) -> HarvestPlan:
    """The harvest run of ``as_of``: what to sell and buy, and why (see the module docstring).

    Reads ``ledger`` and never changes it. ``prices`` in USD/share; ``config`` the household's or the
    scenario's thresholds (default ``HarvestConfig()``); ``esg`` the values data that decides which
    substitutes the household may buy (None: every fund with a price). ``max_position`` (a fraction of
    household value, the optimizer's position limit) caps each substitute buy: what does not fit buys a
    tertiary fund — another fund of the same asset class, not identical to the one sold, in no wash-sale
    window and with no taxable lot at a loss — or else stays cash for the next run, so a harvest never
    leaves a position the planner cannot hold.
    """
    harvester = harvester_for(universe, household, config, tables)
    buyable = buyable_tickers(household, universe, prices, esg)
    decisions, skips = harvester.run(ledger, prices, as_of, buyable=buyable)
    cfg = harvester.config
    lines: list[str] = []
    tertiary: list[tuple[str, str, Decimal]] = []
    if max_position is not None and decisions:
        decisions, capped, tertiary, dropped = _cap_positions(decisions, household, ledger, prices, max_position,
                                                              universe, buyable, as_of)
        lines += capped
        skips = [*skips, *dropped]
    harvests = [d for d in decisions if d.kind is HarvestKind.HARVEST]
    backs = [d for d in decisions if d.kind is HarvestKind.SWITCH_BACK]
    if harvests:
        loss = sum((d.loss for d in harvests), _ZERO)
        saved = sum((d.tax_saved for d in harvests), _ZERO)
        lines.append(
            f"Tax-loss harvest: {len(harvests)} lot{'s' if len(harvests) != 1 else ''} with ${loss:,.2f} of losses "
            f"(est. tax saved ${saved:,.2f}); thresholds: loss ≥ ${cfg.min_loss_usd:,.0f} and ≥ "
            f"{cfg.min_loss_fraction:.1%} of basis, benefit after the discounted later tax above costs"
        )
    if backs:
        lines.append(f"Switch back to the preferred fund: {len(backs)} substitute lot{'s' if len(backs) != 1 else ''}"
                     " (no wash-sale window open, no gain realized)")
    lines += [f"  {d.explain()}" for d in decisions]
    if skips:
        lines.append(f"Loss lots not harvested today: {len(skips)}")
        lines += [f"  lot {s.lot_id} ({s.symbol} in {s.account}, loss ${s.loss:,.2f}): {s.reason}" for s in skips[:10]]
        if len(skips) > 10:
            lines.append(f"  … and {len(skips) - 10} more")
    return HarvestPlan(as_of, tuple(decisions), tuple(skips), tuple(lines), tuple(tertiary))


def _cap_positions(
    decisions: Sequence[HarvestDecision],
    household: Household,
    ledger: LotLedger,
    prices: Mapping[str, Amount],
    max_position: float,
    universe: Universe,
    buyable: Collection[str],
    on: date,
) -> tuple[list[HarvestDecision], list[str], list[tuple[str, str, Decimal]], list[HarvestSkip]]:
    """Cut substitute buys that would hold more than ``max_position`` of household value in one fund; the rest
    goes to a tertiary fund of the same asset class where one has room (see ``plan_harvest``)."""
    from dataclasses import replace
    from decimal import ROUND_DOWN

    px = {k: Decimal(str(v)) for k, v in prices.items()}
    held: dict[str, Decimal] = {}
    total = sum((a.cash for a in household.accounts), _ZERO)
    for lot in ledger.open_lots():
        if lot.symbol in px:
            v = lot.shares * px[lot.symbol]
            held[lot.symbol] = held.get(lot.symbol, _ZERO) + v
            total += v
    for d in decisions:
        held[d.symbol] = held.get(d.symbol, _ZERO) - d.proceeds
    cap = Decimal(repr(max_position)) * total
    out: list[HarvestDecision] = []
    lines: list[str] = []
    extra: list[tuple[str, str, Decimal]] = []
    taxable = {a for a, t in ledger.accounts.items() if t is AccountType.TAXABLE}
    losing = {lot.symbol for lot in ledger.open_lots() if lot.account in taxable and lot.symbol in px
              and lot.shares * px[lot.symbol] < lot.basis}
    blocked = ledger.blocked_buys([t for t in universe.tickers if t in px], on)

    def shares_of(fund: str, usd: Decimal) -> Decimal:
        whole = fund in universe and not universe[fund].fractionable
        q = Decimal(1) if whole else Decimal("0.000001")
        return (usd / px[fund]).quantize(q, rounding=ROUND_DOWN) if px.get(fund, _ZERO) > 0 else _ZERO

    dropped: list[HarvestSkip] = []
    for d in decisions:
        room = max(cap - held.get(d.substitute, _ZERO), _ZERO)
        want = d.substitute_shares * d.substitute_price
        if want > room:
            shares = shares_of(d.substitute, room)
            left = want - shares * d.substitute_price
            sold = ledger.identical_to(d.symbol)
            cls = universe[d.symbol].asset_class if d.symbol in universe else None
            options = [t for t in universe.tickers if t in px and t in buyable and t not in sold and t not in blocked
                       and t != d.substitute and cls is not None and universe[t].asset_class == cls]
            sub = universe[d.symbol].sub_class
            # Funds with no taxable lot at a loss first (a buy would wash their own harvest), then the sub-class.

            def rank(t: str, sub: str = sub) -> tuple[bool, bool, Decimal]:
                return t in losing, universe[t].sub_class != sub, -(cap - held.get(t, _ZERO))

            options.sort(key=rank)
            picks: list[tuple[str, str, Decimal]] = []
            for t in options:
                q = shares_of(t, min(left, max(cap - held.get(t, _ZERO), _ZERO)))
                if q > 0:
                    picks.append((d.account, t, q))
                    left -= q * px[t]
                if left <= want / 100:
                    break
            if left > want / 10:  # a harvest must not turn a position into cash for 30 days: skip it
                held[d.symbol] = held.get(d.symbol, _ZERO) + d.proceeds
                why = (f"no room to reinvest ${left:,.2f} of the proceeds in its asset class within the "
                       f"{max_position:.0%} position limit (it would sit in cash)")
                dropped.append(HarvestSkip(d.account, d.lot_id, d.symbol, d.loss, why))
                continue
            for acct, t, q in picks:
                extra.append((acct, t, q))
                held[t] = held.get(t, _ZERO) + q * px[t]
            d = replace(d, substitute_shares=shares)
            also = ", ".join(f"{q.normalize()} sh {t}" for _a, t, q in picks) or "nothing"
            lines.append(f"  {d.substitute} buy cut to {shares.normalize()} sh by the position limit "
                         f"{max_position:.0%} of household value; the rest buys {also} (same asset class, not "
                         f"identical to {d.symbol})")
        held[d.substitute] = held.get(d.substitute, _ZERO) + d.substitute_shares * d.substitute_price
        out.append(d)
    return out, lines, extra, dropped


def wash_avoiding_buys(
    ledger: LotLedger,
    prices: Mapping[str, Amount],
    tickers: Collection[str],
    universe: Universe,
    on: date,
    *,
    buyable: Collection[str] | None = None,
    min_loss_fraction: float = 0.0,
    full: Collection[str] = (),
) -> dict[str, str]:
    """Funds no account should buy on ``on`` because taxable lots of them are at a loss, with the reason.

    Per substitute group, buys go to the fund with the least USD of taxable loss (its primary when none
    is at a loss): the others are listed while they have losing taxable lots. A fund is listed only when
    such an alternate exists — another fund of the group, not substantially identical, with a price, in
    ``buyable`` when given and in no wash-sale window — otherwise buying it stays allowed (a wash sale,
    if any, is the ledger's to book). ``min_loss_fraction`` (of a lot's basis) ignores smaller losses.
    ``full`` lists funds that cannot take more buys (at the position limit): they are no alternate.
    """
    names = {t.upper() for t in tickers}
    ok = names if buyable is None else names & {t.upper() for t in buyable}
    ok = ok - {t.upper() for t in full}
    taxable = {a for a, t in ledger.accounts.items() if t is AccountType.TAXABLE}
    losing: dict[str, Decimal] = {}
    for lot in ledger.open_lots():
        if lot.account not in taxable or lot.symbol not in prices:
            continue
        value = lot.shares * Decimal(str(prices[lot.symbol]))
        if value < lot.basis and (lot.basis <= 0 or float((lot.basis - value) / lot.basis) >= min_loss_fraction):
            losing[lot.symbol] = losing.get(lot.symbol, _ZERO) + (lot.basis - value)
    if not losing:
        return {}

    def exposure(t: str) -> Decimal:  # USD of taxable loss a buy of ``t`` could wash (its identical funds too)
        return sum((losing.get(x, _ZERO) for x in ledger.identical_to(t)), _ZERO)

    blocked = ledger.blocked_buys(sorted(names), on)
    out: dict[str, str] = {}
    seen: set[str] = set()
    for t in sorted(names):
        group = universe[t].substitute_group if t in universe else None
        if group is None or group in seen:
            continue
        seen.add(group)
        members = [x for x in universe.tickers if x in names and universe[x].substitute_group == group]
        open_ = [x for x in members if x in ok and x not in blocked]
        if len(open_) < 2 or not any(exposure(x) > 0 for x in members):
            continue
        best = min(open_, key=lambda x: (exposure(x), members.index(x)))
        for x in members:
            loss = exposure(x)
            if x != best and loss > 0 and not (ledger.identical_to(x) & ledger.identical_to(best)):
                out[x] = (f"{x} not bought: taxable lots of it (or an identical fund) are ${loss:,.2f} under their "
                          f"basis, a loss the engine may harvest; buys go to {best} instead")
    return out
