"""The pure planner: household, day, ledger, market → ``Proposal``. No store, no broker.

    planner = Planner(MarketData.embedded())
    proposal = planner.plan(household, date(2026, 7, 31))          # nothing is saved, nothing trades

``plan`` composes the rooms in one direction: market data (point in time) → estimates (cached per day) →
mandate (goals, life events) → values screen → tax inputs → the optimizer → orders (rebalancer) → tax
preview → approval flags. Nothing trades on a failed solve: ``plan`` raises and no proposal exists.
The cycle service (``engine.cycle``) persists, approves and executes what the planner proposes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from engine.config import load_universe
from engine.errors import DataError, LookAheadError, ValidationError
from engine.model import Asset, Household, LifeEvent, Lot, Proposal, RunKind, Universe
from engine.planner import targets as steps
from engine.planner.config import Day, EngineConfig
from engine.planner.direct import DirectIndexPlanner, SleevePlan
from engine.rebalancer import PortfolioState, TriggerDecision, build_orders, default_policy

if TYPE_CHECKING:
    from engine.data import MarketData
    from engine.esg import EsgData
    from engine.estimates import Estimates
    from engine.goals import CapitalMarket, EventRules, GlidePaths, Mandate
    from engine.optimizer import OptimizationResult
    from engine.tax import LotLedger, TaxTables

__all__ = ["GoalsConfig", "Planner"]


class GoalsConfig(TypedDict):
    """The goals room's configuration a mandate and a life event are built with (``Planner.goals_config``)."""

    capital_market: CapitalMarket
    rules: EventRules
    glide: GlidePaths

log = logging.getLogger("engine.planner")


class Planner:
    """Plans proposals on one market-data source; caches per day (prices, estimates) and per household (mandate)."""

    def __init__(
        self,
        market: MarketData,
        universe: Universe | None = None,
        *,
        config: EngineConfig | None = None,
        esg: EsgData | None = None,
    ) -> None:
        self.market = market
        self.universe = universe or load_universe()
        self.config = config or EngineConfig()
        self._esg = esg
        self._days: dict[date, Day] = {}
        self._last_estimates: Estimates | None = None
        self._mandates: dict[str, tuple[str, Mandate]] = {}
        self._config: dict[str, Any] = {}  # config YAML (goals, assumptions, tax tables) read once per planner
        self.direct = DirectIndexPlanner(market, self.universe)  # households' direct-index sleeves

    # ------------------------------------------------------------------------------------------
    # Shared, per-day context
    # ------------------------------------------------------------------------------------------

    def day(self, as_of: date) -> Day:
        """Prices and estimates for ``as_of`` (point in time; computed once per day and cached)."""
        cached = self._days.get(as_of)
        if cached is not None:
            return cached
        view = self.market.as_of(as_of)
        last = view.latest()
        tradable = tuple(
            t for t in self.universe.tickers if t in last.index and np.isfinite(last[t]) and last[t] > 0
        )
        if not tradable:
            raise DataError(f"no fund of the universe has a price on or before {as_of}", day=as_of)
        stale = (as_of - view.last_day).days
        if stale > self.config.max_data_age_days:
            raise DataError(
                f"the newest price is from {view.last_day}, {stale} days before {as_of}; refresh the data "
                "(robo data update) before planning",
                day=as_of,
            )
        prices = {t: Decimal(str(round(float(last[t]), 6))) for t in tradable}
        # Columns beyond the fund universe (a direct-index sleeve's stocks, engine.data.market.with_stock_prices)
        # are priced too: the sleeve, the orders and the cycle's rails read them here.
        prices |= {str(t): Decimal(str(round(float(v), 6))) for t, v in last.items()
                   if t not in self.universe and np.isfinite(v) and v > 0}
        estimates = self.estimates(as_of, view=view, tickers=tradable)
        ctx = Day(as_of, prices, tradable, estimates)
        if len(self._days) > 8:  # keep a few days: backtests walk forward, batches reuse one day
            self._days.pop(next(iter(self._days)))
        self._days[as_of] = ctx
        return ctx

    def estimates(
        self, as_of: date, *, view: MarketData | None = None, tickers: Sequence[str] | None = None
    ) -> Estimates:
        """Expected returns and risk at ``as_of`` from prices up to ``as_of`` only (annual fractions)."""
        from engine.estimates import estimate

        cached = self._days.get(as_of)
        if cached is not None and view is None:
            return cached.estimates
        last = self._last_estimates
        if (
            last is not None
            and 0 <= (as_of - last.as_of).days <= self.config.estimates_max_age_days
            and (tickers is None or tuple(tickers) == tuple(last.tickers))
        ):
            return last
        view = view or self.market.as_of(as_of)
        frame = view.history(list(tickers) if tickers else None)
        if frame.index.max().date() > as_of:  # the point-in-time guard: fail loudly, never plan on the future
            raise LookAheadError(f"estimates for {as_of} were handed prices up to {frame.index.max().date()}",
                                 day=as_of)
        universe = self.universe.subset(tickers) if tickers else self.universe
        if "assumptions" not in self._config:  # read the YAML once per planner, not once per estimate
            from engine.config.market_assumptions import load_capital_market_assumptions

            self._config["assumptions"] = load_capital_market_assumptions()
        result = estimate(frame, as_of, universe, lookback_years=self.config.lookback_years,
                          returns=self.config.returns, risk=self.config.risk,
                          assumptions=self._config["assumptions"])
        self._last_estimates = result
        return result

    def account_values(
        self, household: Household, as_of: date, lots: Sequence[Lot] | None = None
    ) -> dict[str, Decimal]:
        """USD per account at market on ``as_of`` (cash included): the one valuation plan, events and the CLI use."""
        return steps.account_values(household, household.lots if lots is None else lots, self.day(as_of).prices)

    def mandate(
        self,
        household: Household,
        as_of: date,
        *,
        previous: Mandate | None = None,
        ledger: LotLedger | None = None,
    ) -> Mandate:
        """The household's goal-based mandate on ``as_of`` (strategic mix, risk aversion, reserve, reasons).

        Account values (USD) are the ledger's lots at ``as_of`` prices plus each account's cash.
        """
        from engine.goals import build_mandate
        from engine.goals.mandate import household_fingerprint

        key = household.id
        cached = self._mandates.get(key)
        fingerprint = household_fingerprint(household)  # every fact a mandate is built from, lots excepted
        if cached is not None and previous is None:
            seen, m = cached
            if seen == fingerprint and 0 <= (as_of - m.as_of).days <= self.config.mandate_max_age_days:
                return m
        values = self.account_values(household, as_of, (ledger or self.ledger(household)).open_lots())
        mandate = build_mandate(household, as_of, previous=previous, account_values=values,
                                paths=self.config.mandate_paths, seed=0, **self.goals_config(household.id))
        self._mandates[key] = (fingerprint, mandate)
        return mandate

    def goals_config(self, household_id: str) -> GoalsConfig:
        """Capital-market assumptions, event rules and the household's glide paths, loaded once per planner."""
        from engine.goals import load_capital_market, load_event_rules, load_glide_paths

        cfg = self._config
        if "capital_market" not in cfg:
            cfg["capital_market"] = load_capital_market()
            cfg["rules"] = load_event_rules()
        if "glide" not in cfg:  # the file once; a household's own copy only when the file overrides it
            from engine.config.loader import default_file, read_yaml

            cfg["glide"] = load_glide_paths()
            cfg["glide_overrides"] = frozenset((read_yaml(default_file("glide_paths.yaml")) or {}).get("households")
                                               or ())
        key = f"glide:{household_id}"
        if household_id not in cfg["glide_overrides"]:
            key = "glide"
        elif key not in cfg:
            cfg[key] = load_glide_paths(household=household_id)
        return {"capital_market": cfg["capital_market"], "rules": cfg["rules"], "glide": cfg[key]}

    def ledger(self, household: Household) -> LotLedger:
        """A lot ledger holding the household's lots and open loss sales (for planning without a live ledger)."""
        from engine.tax import LotLedger

        if household.direct_index is None:
            return LotLedger.from_household(household, self.universe)
        # a sleeve's share classes are substantially identical too, across every account (docs/direct-indexing.md)
        ledger = LotLedger({a.id: a.type for a in household.accounts}, self.direct.identical(household))
        for lot in household.lots:
            ledger.add_lot(lot)
        for sale in household.loss_sales:
            ledger.add_loss_sale(sale)
        return ledger

    def assets_for(self, household: Household) -> dict[str, Asset]:
        """The assets a household's orders may name: the fund universe's, plus its direct-index sleeve's stocks."""
        return self.direct.assets(household)

    def tax_tables(self) -> TaxTables:
        """The tax tables, read once per planner (like the goals configuration), not once per household."""
        if "tax_tables" not in self._config:
            from engine.tax import load_tax_tables

            self._config["tax_tables"] = load_tax_tables()
        tables: TaxTables = self._config["tax_tables"]
        return tables

    def esg_data(self) -> EsgData:
        """The ESG data set (scores, tags, carbon), loaded once per planner."""
        if self._esg is None:
            from engine.esg import load_esg

            self._esg = load_esg()
        return self._esg

    # ------------------------------------------------------------------------------------------
    # Triggers
    # ------------------------------------------------------------------------------------------

    def check(
        self,
        household: Household,
        as_of: date,
        *,
        ledger: LotLedger | None = None,
        last_rebalance: date | None = None,
        last_automatic_run: date | None = None,
        previous_day: date | None = None,
        pending_cash: Decimal = Decimal(0),
        new_events: Sequence[LifeEvent] = (),
        mandate: Mandate | None = None,
    ) -> TriggerDecision | None:
        """Run the household's trigger policy on ``as_of``; ``None`` when nothing needs doing."""
        ctx = self.day(as_of)
        stock_harvest = 0  # a direct-index sleeve's stock lots worth harvesting (the fund view hides them)
        if household.direct_index is not None:  # the fund-level rooms see the sleeve as its index fund
            from engine.tax import LotLedger, harvester_for

            if self.config.harvest:
                stock_harvest = self.direct.harvestable(
                    household, ledger or self.ledger(household), ctx.prices, as_of,
                    harvester_for(self.universe, household, self.config.harvest_thresholds, self.tax_tables()))
            household = self.direct.fund_view(household, ctx.prices)
            ledger = LotLedger.from_household(household, self.universe)
        ledger = ledger or self.ledger(household)
        mandate = mandate or self.mandate(household, as_of, ledger=ledger)
        lots = ledger.open_lots()  # read once: the ledger builds fresh views on every call
        actual, idle = self._class_weights(household, ctx, mandate, lots)
        # the daily harvest scan with the configured thresholds (engine.tax.harvest_run)
        from engine.optimizer.adapter import drift_target
        from engine.tax import count_harvestable

        harvest = count_harvestable(household, ledger, ctx.prices, as_of, self.universe,
                                    config=self.config.harvest_thresholds,
                                    tables=self.tax_tables(), lots=lots,
                                    esg=self.esg_data()) + stock_harvest if self.config.harvest else 0
        policy = default_policy(
            sell_drift=self.config.sell_drift,
            cash_flow_drift=self.config.cash_flow_drift,
            frequency=self.config.calendar,
            cooldown_days=self.config.cooldown_days,
            harvest=self.config.harvest,
        )
        state = PortfolioState(
            as_of=as_of,
            actual=actual,
            # drift against the target the optimizer can reach today (screens, funds trading, reserve)
            target=drift_target(mandate, self.universe, household, ctx.prices, lots, esg=self.esg_data()),
            last_rebalance=last_rebalance,
            last_automatic_run=last_automatic_run,
            pending_cash=Decimal(pending_cash),
            idle_cash=idle,
            harvest_candidates=harvest,
            new_events=tuple(new_events),
            previous_day=previous_day,
        )
        return policy(state)

    def _class_weights(
        self, household: Household, ctx: Day, mandate: Mandate, lots: Sequence[Lot]
    ) -> tuple[dict[str, float], Decimal]:
        values: dict[str, float] = {}
        total = float(household.cash)
        for lot in lots:
            price = ctx.prices.get(lot.symbol)
            if price is None:
                continue
            v = float(lot.shares * price)
            cls = str(self.universe[lot.symbol].asset_class)
            values[cls] = values.get(cls, 0.0) + v
            total += v
        values["cash"] = values.get("cash", 0.0) + float(household.cash)
        shares = {k: v / total for k, v in values.items()} if total > 0 else {}
        idle = max(household.cash - mandate.liquidity_reserve, Decimal(0))
        return shares, idle

    # ------------------------------------------------------------------------------------------
    # Planning
    # ------------------------------------------------------------------------------------------

    def plan(
        self,
        household: Household,
        as_of: date,
        *,
        decision: TriggerDecision | None = None,
        run_kind: RunKind | None = None,
        amount: Decimal | None = None,
        ledger: LotLedger | None = None,
        proposal_id: str | None = None,
        estimates: Estimates | None = None,
        mandate: Mandate | None = None,
        first_run: bool = False,
    ) -> Proposal:
        """A Proposal for ``household`` on ``as_of``: targets, orders, tax preview, explanation, approval flags.

        ``run_kind`` (default from ``decision``, else ``full_rebalance``); ``amount`` is the USD to raise for
        ``partial_liquidation``. A deterministic ``proposal_id`` makes every client order id deterministic.
        ``first_run`` says the household was never traded for (the first-run approval rule). Pure: nothing is
        saved and nothing trades.

        Raises:
            OptimizationError: the problem is infeasible or every solver failed (nothing will trade).
            DataError: prices are missing or stale for ``as_of``.
            PlanningError: the household's goals or events are inconsistent.
        """
        started = time.perf_counter()
        run_kind = RunKind(run_kind or (decision.run_kind if decision else RunKind.FULL_REBALANCE))
        amount = amount if amount is not None else (decision.amount if decision else None)
        ctx = self.day(as_of)
        if estimates is not None:
            ctx = replace(ctx, estimates=estimates)
        ledger = ledger or self.ledger(household)
        # The fund-level rooms (mandate, household solve, fund harvest, liquidation) see a direct-index sleeve as
        # its index fund (engine/planner/direct.py); the sleeve then turns the fund's target into stocks and lots.
        fund_h, fund_ledger = household, ledger
        if household.direct_index is not None:
            from engine.tax import LotLedger

            proxies = run_kind not in (RunKind.TAX_LOSS_HARVEST, RunKind.PARTIAL_LIQUIDATION)
            fund_h = self.direct.fund_view(household, ctx.prices, proxies=proxies,
                                           keep_fund=run_kind is not RunKind.TAX_LOSS_HARVEST)
            fund_ledger = LotLedger.from_household(fund_h, self.universe)
        mandate = mandate or self.mandate(fund_h, as_of, ledger=fund_ledger)
        pid = proposal_id or f"{household.id}-{as_of:%Y%m%d}-{run_kind.value}-{int(time.time() * 1000) % 10**8:08d}"
        rules = self.config.order_rules

        explanation: list[str] = list(mandate.explanation)
        result: OptimizationResult | None = None
        sell_lots: dict[tuple[str, str], list[str]] = {}
        lots = ledger.open_lots()  # read once: the holdings and the optimizer's inputs both need them
        current = steps.holdings(lots)
        fund_lots = lots if fund_ledger is ledger else fund_ledger.open_lots()
        fund_current = current if fund_ledger is ledger else steps.holdings(fund_lots)
        # what the fund view leaves out (a sleeve's stocks; on a harvest run its fund lots too) stays as it is here
        aside = {k: v for k, v in current.items() if k not in fund_current}
        if run_kind is RunKind.TAX_LOSS_HARVEST:  # the daily harvest run (engine.tax.harvest_run)
            from engine.tax import plan_harvest

            run = plan_harvest(fund_h, fund_ledger, ctx.prices, as_of, self.universe, tables=self.tax_tables(),
                               config=self.config.harvest_thresholds, esg=self.esg_data(),
                               max_position=self.config.max_position)
            targets, sell_lots = {**aside, **run.targets(fund_current)}, dict(run.sell_lots)
            explanation += list(run.explanation)
        elif run_kind is RunKind.PARTIAL_LIQUIDATION:
            if amount is None or amount <= 0:
                raise ValidationError("partial_liquidation needs a positive amount (USD)", field="amount",
                                      value=amount)
            fractionable = {t: a.fractionable for t, a in self.universe.assets.items()}
            targets, sell_lots, lines = steps.liquidation_targets(
                fund_h, fund_lots, ctx.prices, as_of, Decimal(amount), cash_buffer=rules.cash_buffer,
                fractionable=fractionable)
            targets = {**aside, **targets}  # a direct-index sleeve's stocks are not liquidated here
            explanation += lines
        else:
            result, targets, sell_lots = self._optimize(fund_h, fund_ledger, ctx, mandate, fund_lots, fund_current)
            explanation += list(result.explanation)
            explanation += ledger.buy_block_reasons(as_of)  # funds no account may buy today, and why
        sleeves: list[Any] = []
        if household.direct_index is not None and run_kind is not RunKind.PARTIAL_LIQUIDATION:
            sleeves = self._sleeves(household, ledger, ctx, targets, sell_lots, run_kind, lots)
            for s in sleeves:
                explanation += s.explanation
        cash = {a.id: a.cash for a in household.accounts}
        plan = build_orders(
            pid, current, targets, ctx.prices, cash, self.assets_for(household), rules=rules, sell_lots=sell_lots,
            allow_sells=run_kind is not RunKind.INVEST_CASH,
            allow_buys=run_kind is not RunKind.PARTIAL_LIQUIDATION,
        )
        explanation += [
            f"Skipped {s.side.value} of {s.symbol} in {s.account} (${s.dollars:,.2f}): {s.reason}" for s in plan.skipped
        ]
        from engine.tax import preview

        tax = preview(ledger, plan.sells, as_of, household.tax, buys=plan.buys, prices=ctx.prices,
                      tables=self.tax_tables())
        needs, reasons = steps.approval_flags(self.config.approval, household, mandate, plan, ctx.prices, current,
                                              first_run=first_run)
        weights = dict(result.targets) if result is not None else steps.weights(targets, ctx.prices, household.cash)
        proposal = Proposal(
            id=pid,
            household=household.id,
            as_of=as_of,
            created=datetime.now(UTC),
            trigger=decision.reason if decision else "manual",
            run_kind=run_kind,
            targets=weights,
            orders=plan.orders,
            explanation=tuple(explanation),
            tax_preview=tax,
            needs_approval=needs,
            approval_reasons=tuple(reasons),
            details={
                "solver": None if result is None else (result.solver.value if result.solver else None),
                "objective_terms": {} if result is None else {t.name: t.value for t in result.terms},
                "binding": [] if result is None else [f"{b.group.value}:{b.subject}" for b in result.binding],
                "plan_seconds": round(time.perf_counter() - started, 4),
                "trigger_sources": list(decision.sources) if decision else ["manual"],
                **({"direct_index": [s.summary() for s in sleeves]} if sleeves else {}),
            },
        )
        log.info("planned %s: %d orders", pid, len(plan.orders), extra={"household": household.id, "proposal": pid})
        return proposal

    def _sleeves(
        self,
        household: Household,
        ledger: LotLedger,
        ctx: Day,
        targets: dict[tuple[str, str], Decimal],
        sell_lots: dict[tuple[str, str], list[str]],
        run_kind: RunKind,
        lots: Sequence[Lot],
    ) -> list[SleevePlan]:
        """Turn the index fund's target in each sleeve account into stocks and lots (``targets`` and ``sell_lots``
        are updated in place). A harvest run keeps each sleeve's value and harvests it lot by lot."""
        d = household.direct_index
        assert d is not None
        harvest = run_kind is RunKind.TAX_LOSS_HARVEST
        out = []
        for account in d.accounts:
            key = (account, d.fund)
            if harvest:
                target = self.direct.current_usd(household, account, lots, ctx.prices)
            else:
                target = float(targets.get(key, Decimal(0)) * ctx.prices[d.fund])
            targets.pop(key, None)
            sell_lots.pop(key, None)
            plan = self.direct.solve(household, ledger, ctx.prices, ctx.as_of, account, target_usd=target,
                                     harvest=harvest)
            targets.update(plan.targets)
            sell_lots.update(plan.sell_lots)
            out.append(plan)
        return out

    def _optimize(
        self,
        household: Household,
        ledger: LotLedger,
        ctx: Day,
        mandate: Mandate,
        lots: Sequence[Lot],
        current: dict[tuple[str, str], Decimal],
    ) -> tuple[OptimizationResult, dict[tuple[str, str], Decimal], dict[tuple[str, str], list[str]]]:
        """Solve the household problem; return the result, target shares per (account, symbol), lots sold."""
        from engine.optimizer import solve_household
        from engine.optimizer.adapter import build_inputs

        cfg = self.config
        inputs = build_inputs(
            household, self.universe, ctx.estimates, mandate, ledger, ctx.prices, ctx.as_of,
            esg=self.esg_data(), harvest=cfg.harvest, asset_location=cfg.asset_location,
            turnover_limit=cfg.turnover_limit, tax_budget=cfg.tax_budget, max_position=cfg.max_position,
            spread=cfg.spread, cash_buffer=cfg.order_rules.cash_buffer, open_lots=lots, tax_tables=self.tax_tables(),
        )
        result = solve_household(inputs)
        targets = dict(current)
        sell_lots: dict[tuple[str, str], list[str]] = {}
        held = {lot.id: lot for lot in lots}
        floor = cfg.order_rules.min_notional
        for t in result.trades:
            key = (t.account, t.ticker)
            if t.side == "sell" and t.lots:
                sold = [s for s in t.lots if s.shares > 0]
                delta = sum((steps.lot_take(s, held, ctx.prices[t.ticker], floor) for s in sold), Decimal(0))
                sell_lots[key] = [s.lot_id for s in sold]
            else:
                delta = Decimal(str(round(t.shares, 9)))
            targets[key] = targets.get(key, Decimal(0)) + (delta if t.side == "buy" else -delta)
        steps.sell_out_dust(targets, sell_lots, lots, ctx.prices, floor)
        return result, targets, sell_lots
