"""A household's direct-index sleeve inside its plan: the household solve sets the dollars, the sleeve the stocks.

    sleeves = DirectIndexPlanner(market, universe)
    view = sleeves.fund_view(household, prices)        # stock lots seen as the index fund (the proxy)
    plan = sleeves.solve(household, ledger, prices, day, "brokerage", target_usd=80_000)
    plan.targets, plan.sell_lots, plan.explanation

**The proxy.** The household solve (``engine.optimizer.household``) plans funds. A sleeve holds its index fund's
stocks, so the household solve sees a sleeve account's stocks as one lot of the index fund worth the same (their
summed basis; never a wash-sale replacement) — the sleeve's look-through is the benchmark the fund tracks.
The fund's dollar target in a sleeve account becomes the sleeve's target there; ``DirectIndexSleeve`` then picks
the stocks and the lots (``cash = target − current``), moving out of any real fund lots within the tax budget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import DataError
from engine.model import Asset, AssetClass, DirectIndex, Household, Lot

if TYPE_CHECKING:
    from engine.data import MarketData
    from engine.data.stocks import StockUniverse
    from engine.estimates.sector_model import SectorRiskModel
    from engine.model import Universe
    from engine.optimizer.sleeve import SleeveResult, SleeveRules
    from engine.tax import LotLedger
    from engine.tax.harvest import TaxLossHarvester

__all__ = ["PROXY_PREFIX", "DirectIndexPlanner", "SleevePlan"]

#: Lot id prefix of the fund-view proxies ("proxy:<account>"): never in the real ledger, never sold.
PROXY_PREFIX = "proxy:"
_SHARE = Decimal("1e-9")
Key = tuple[str, str]


@dataclass(frozen=True)
class SleevePlan:
    """One sleeve account's plan: target shares per symbol (stocks and the fund), the lots each sell relieves,
    the sleeve's result and the explanation lines it adds to the proposal."""

    account: str
    target_usd: float
    current_usd: float
    targets: dict[Key, Decimal]
    sell_lots: dict[Key, list[str]]
    result: SleeveResult | None
    explanation: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Plain data for the proposal's details (JSON-ready)."""
        r = self.result
        return {
            "account": self.account, "target_usd": round(self.target_usd, 2),
            "current_usd": round(self.current_usd, 2),
            "tracking_error": None if r is None else round(r.tracking_error, 6),
            "names_held": None if r is None else r.names_held,
            "net_tax": None if r is None else round(r.net_tax, 2),
            "lots_sold": [] if r is None else [s.lot_id for s in r.sells],
            "exclusion_costs": [] if r is None else [
                {"label": c.label, "tickers": list(c.tickers), "tracking_error": round(c.tracking_error, 6),
                 "expected_return": round(c.expected_return, 6)} for c in r.exclusion_costs],
        }


class DirectIndexPlanner:
    """The sleeve side of a planner: stock universes (read once), risk models (once per day), fund views, solves."""

    def __init__(self, market: MarketData, universe: Universe) -> None:
        self.market = market
        self.universe = universe
        self._models: dict[tuple[str, date], SectorRiskModel] = {}

    # -- what the household holds ---------------------------------------------------------------

    def stocks(self, d: DirectIndex) -> StockUniverse:
        """The sleeve's stock universe (``embedded``, an S&P 500 folder or a CSV; read once per process)."""
        from engine.data.stocks import stock_universe

        return stock_universe(d.universe)

    def identical(self, household: Household) -> list[set[str]]:
        """Wash-sale groups across every account: the fund universe's and the sleeve's share classes."""
        groups = [set(g) for g in self.universe.identical]
        if household.direct_index is not None:
            groups += [set(g) for g in self.stocks(household.direct_index).identical]
        return groups

    def assets(self, household: Household) -> dict[str, Asset]:
        """The fund universe's assets plus the sleeve's stocks (US equity, fractionable), for orders and brokers."""
        out = dict(self.universe.assets)
        if household.direct_index is not None:
            for s in self.stocks(household.direct_index).stocks:
                out.setdefault(s.ticker, Asset(s.ticker, AssetClass.US_EQUITY, name=s.name, fractionable=True))
        return out

    def is_stock(self, household: Household, symbol: str) -> bool:
        """A sleeve stock (not a fund of the universe)."""
        d = household.direct_index
        return d is not None and symbol not in self.universe and symbol in self.stocks(d)

    def harvestable(self, household: Household, ledger: LotLedger, prices: Mapping[str, Decimal], on: date,
                    harvester: TaxLossHarvester) -> int:
        """How many of the sleeve's stock lots are worth harvesting on ``on`` by ``harvester``'s thresholds and in
        no wash window (the trigger policy's input: the fund view shows the sleeve as one fund lot).

        ``ledger`` must be the household's real one, with the sleeve's share classes identical
        (``Planner.ledger``)."""
        d = household.direct_index
        if d is None:
            return 0
        lots = [lot for lot in ledger.open_lots()
                if lot.account in d.accounts and self.is_stock(household, lot.symbol)]
        return len(harvester.worth_harvesting(ledger, lots, prices, on))

    def fund_view(self, household: Household, prices: Mapping[str, Decimal], *, proxies: bool = True,
                  keep_fund: bool = True) -> Household:
        """The household as the fund-level rooms see it: a sleeve account's stocks become one lot of the index fund
        (``proxies``; worth the same, their summed basis, dated by the newest stock lot, never a wash-sale
        replacement) or are left out; loss sales of stocks are left out (a stock is not substantially identical
        to a fund, docs/direct-indexing.md). The sleeve's own lot-level harvesting stays inside the sleeve; without
        ``keep_fund`` the index fund's lots in the sleeve accounts are left to the sleeve too (a harvest run)."""
        d = household.direct_index
        if d is None:
            return household
        fund_price = prices.get(d.fund)
        lots: list[Lot] = []
        pooled: dict[str, list[Lot]] = {}
        for lot in household.lots:
            if self.is_stock(household, lot.symbol):
                pooled.setdefault(lot.account, []).append(lot)
            elif not keep_fund and lot.symbol == d.fund and lot.account in d.accounts:
                continue
            else:
                lots.append(lot)
        for account, group in pooled.items():
            if not proxies or fund_price is None or fund_price <= 0 or any(g.symbol not in prices for g in group):
                continue
            value = sum((g.shares * prices[g.symbol] for g in group), Decimal(0))
            shares = (value / fund_price).quantize(_SHARE, rounding=ROUND_DOWN)
            if shares > 0:
                newest = max(group, key=lambda g: g.acquired)
                lots.append(Lot(PROXY_PREFIX + account, account, d.fund, shares,
                                sum((g.basis for g in group), Decimal(0)), newest.acquired,
                                max(g.purchased or g.acquired for g in group), replaceable=False))
        sales = tuple(s for s in household.loss_sales if not self.is_stock(household, s.symbol))
        return replace(household, lots=tuple(lots), loss_sales=sales)

    # -- the solve ---------------------------------------------------------------------------------

    def rules(self, d: DirectIndex, *, harvest: bool = False) -> SleeveRules:
        """The sleeve's rules from the household's settings; a harvest run does not move out of the fund."""
        from engine.optimizer.sleeve import Exclusion, SleeveRules

        presets = {"tobacco": Exclusion.tobacco, "defense": Exclusion.defense, "fossil_fuels": Exclusion.fossil_fuels}
        exclusions = [presets[p]() for p in d.exclude]
        if d.exclude_tickers:
            exclusions.append(Exclusion("named companies (" + ", ".join(d.exclude_tickers) + ")",
                                        tickers=d.exclude_tickers))
        if d.exclude_sectors:
            exclusions.append(Exclusion("sectors " + ", ".join(d.exclude_sectors), sectors=d.exclude_sectors))
        if d.exclude_sub_industries:
            exclusions.append(Exclusion("sub-industries " + ", ".join(d.exclude_sub_industries),
                                        sub_industries=d.exclude_sub_industries))
        if d.esg_floor is not None:
            exclusions.append(Exclusion(f"ESG score below {d.esg_floor:g}", esg_below=d.esg_floor))
        return SleeveRules(te_limit=d.te_limit, tax_budget=None if d.tax_budget is None else float(d.tax_budget),
                           exclusions=tuple(exclusions), tilts=dict(d.tilts), max_weight=d.max_weight,
                           fund_exit=0.0 if harvest else 1.0)

    def model(self, stocks: StockUniverse, as_of: date) -> SectorRiskModel:
        """The sector risk model on the market's stock returns up to ``as_of`` (point in time; once per day)."""
        from engine.estimates.sector_model import sector_risk_model

        key = (",".join(stocks.tickers), as_of)
        if key not in self._models:
            history = self.market.as_of(as_of).history(stocks.tickers)
            returns = history.pct_change(fill_method=None).iloc[1:]
            self._models = {k: v for k, v in self._models.items() if k[1] == as_of}  # keep today's only
            self._models[key] = sector_risk_model(returns, {s.ticker: s.sector for s in stocks.stocks}, as_of=as_of)
        return self._models[key]

    def current_usd(self, household: Household, account: str, lots: Sequence[Lot],
                    prices: Mapping[str, Decimal]) -> float:
        """What the sleeve holds in ``account`` (USD): its stocks and its index fund."""
        d = household.direct_index
        assert d is not None
        return float(sum((lot.shares * prices[lot.symbol] for lot in lots if lot.account == account
                          and (lot.symbol == d.fund or self.is_stock(household, lot.symbol))), Decimal(0)))

    def solve(
        self,
        household: Household,
        ledger: LotLedger,
        prices: Mapping[str, Decimal],
        as_of: date,
        account: str,
        *,
        target_usd: float,
        harvest: bool = False,
    ) -> SleevePlan:
        """Plan the sleeve in ``account`` to hold ``target_usd`` (the household solve's fund target there).

        Raises:
            DataError: the market data carries no price for the sleeve's stocks on ``as_of``.
            Infeasible / OptimizationError: the sleeve's constraints conflict, or every solver failed.
        """
        from engine.data.stocks import universe_weights
        from engine.optimizer.sleeve import DirectIndexSleeve, sleeve_inputs

        d = household.direct_index
        assert d is not None
        lots = list(ledger.open_lots(account))
        current = self.current_usd(household, account, lots, prices)
        held = {lot.symbol for lot in lots if self.is_stock(household, lot.symbol)}
        everything = self.stocks(d)
        priced = [t for t in everything.tickers if t in prices and prices[t] > 0]
        if not priced:
            raise DataError(f"the market data has no prices for the direct-index stocks of {d.universe} on {as_of}; "
                            "plan with market data that carries them (robo rebalance --data stocks for the demo set)",
                            day=as_of)
        missing = sorted(held - set(priced))
        if missing:
            raise DataError(f"no price on {as_of} for held sleeve stocks {', '.join(missing[:5])}", day=as_of)
        stocks = everything.select(priced)
        if target_usd <= 1.0:  # the household wants nothing here: the sleeve is sold, lot by lot
            return self._sell_all(household, account, lots, prices, current)
        weights = dict(d.benchmark_weights) or None
        bench = (np.full(len(stocks), 1.0 / len(stocks)) if d.benchmark == "equal" and weights is None
                 else universe_weights(stocks, {t: w for t, w in (weights or {}).items() if t in stocks} or None))
        fund_px = {d.fund: float(prices[d.fund])} if d.fund in prices else {}
        px = {t: float(prices[t]) for t in stocks.tickers} | fund_px
        rules = self.rules(d, harvest=harvest)
        x = sleeve_inputs(self._sleeve_ledger(household, ledger, account, as_of), account, stocks,
                          self.model(stocks, as_of), px, as_of, benchmark=bench,
                          rules=rules, fund=d.fund, cash=target_usd - current)
        result = DirectIndexSleeve.for_inputs(x).solve(x)
        targets: dict[Key, Decimal] = {}
        sell_lots: dict[Key, list[str]] = {}
        by_id = {lot.id: lot for lot in lots}
        for lot in lots:
            if lot.symbol == d.fund or self.is_stock(household, lot.symbol):
                key = (account, lot.symbol)
                targets[key] = targets.get(key, Decimal(0)) + lot.shares
        for s in result.sells:
            lot = by_id[s.lot_id]
            price = float(prices[lot.symbol])
            take = Decimal(str(s.value / price)).quantize(_SHARE, rounding=ROUND_DOWN)
            if take >= lot.shares * Decimal("0.999") or (lot.shares - take) * prices[lot.symbol] < 1:
                take = lot.shares  # a sliver left behind is dust: the whole lot goes
            key = (account, lot.symbol)
            targets[key] -= take
            sell_lots.setdefault(key, []).append(lot.id)
        for ticker, w in result.buys.items():
            key = (account, ticker)
            shares = Decimal(str(w * x.value / px[ticker])).quantize(_SHARE, rounding=ROUND_DOWN)
            targets[key] = targets.get(key, Decimal(0)) + shares
        lines = [f"Direct index in {account}: harvested lot by lot at its value ${current:,.0f}, replacements "
                 f"within the tracking limit; it holds the index as single stocks of {d.universe}" if harvest else
                 f"Direct index in {account}: the household solve's {d.fund} target ${target_usd:,.0f} is the "
                 f"sleeve's target (now ${current:,.0f}); it holds the index as single stocks of {d.universe} "
                 f"(the fund's look-through is the benchmark)"]
        lines += [f"Direct index in {account}: {line}" for line in result.explanation]
        return SleevePlan(account, target_usd, current, targets, sell_lots, result, lines)

    def _sleeve_ledger(self, household: Household, ledger: LotLedger, account: str, on: date) -> LotLedger:
        """``ledger`` as the sleeve sees it: every account's lots and open loss sales (the wash-sale rule spans them
        all), except the funds of ``account`` other than the sleeve's index fund (the household solve's, not the
        sleeve's)."""
        from engine.tax import LotLedger

        d = household.direct_index
        assert d is not None
        if all(lot.symbol == d.fund or self.is_stock(household, lot.symbol) for lot in ledger.open_lots(account)):
            return ledger
        view = LotLedger({a.id: a.type for a in household.accounts}, self.identical(household))
        for lot in ledger.open_lots():
            if lot.account != account or lot.symbol == d.fund or self.is_stock(household, lot.symbol):
                view.add_lot(lot)
        for sale in ledger.open_loss_sales(on):
            view.add_loss_sale(sale)
        return view

    def _sell_all(self, household: Household, account: str, lots: Sequence[Lot], prices: Mapping[str, Decimal],
                  current: float) -> SleevePlan:
        d = household.direct_index
        assert d is not None
        targets: dict[Key, Decimal] = {}
        sell_lots: dict[Key, list[str]] = {}
        for lot in lots:
            if lot.symbol == d.fund or self.is_stock(household, lot.symbol):
                targets[(account, lot.symbol)] = Decimal(0)
                sell_lots.setdefault((account, lot.symbol), []).append(lot.id)
        line = (f"Direct index in {account}: the household solve holds no {d.fund} here, so the sleeve "
                f"(${current:,.0f}) is sold" if sell_lots else
                f"Direct index in {account}: the household solve holds no {d.fund} here; the sleeve stays empty")
        return SleevePlan(account, 0.0, current, targets, sell_lots, None, [line])
