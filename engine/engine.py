"""The facade: one household cycle — plan a Proposal, approve it, execute it through a broker, reconcile.

    engine = Engine(MarketData.embedded())
    proposal = engine.plan(household, date(2026, 7, 31))
    report = engine.execute(engine.approve(proposal), broker, ledger=ledger)

``plan`` composes the rooms in one direction: market data (point in time) → estimates (cached per day) →
mandate (goals, life events) → values screen → tax inputs → the optimizer → orders (rebalancer) → tax
preview → approval flags. Nothing trades on a failed solve: ``plan`` raises and no proposal exists.
``execute`` submits sells first, books their fills in the lot ledger, sizes buys to the cash really
available, books those, then reconciles the broker's positions with the ledger.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np

from engine.config import load_universe
from engine.errors import BrokerError, Conflict, DataError, LookAheadError, TradingHalted
from engine.model import (
    AccountType,
    Fill,
    Household,
    LifeEvent,
    Lot,
    Order,
    OrderSide,
    Proposal,
    ProposalStatus,
    RunKind,
    Universe,
)
from engine.rebalancer import (
    Frequency,
    OrderPlan,
    OrderRules,
    PortfolioState,
    SkippedTrade,
    TriggerDecision,
    build_orders,
    default_policy,
    plan_liquidation,
    resize_buys,
)

if TYPE_CHECKING:
    from engine.data import MarketData
    from engine.estimates import Estimates
    from engine.goals import Mandate
    from engine.model.broker import Broker
    from engine.optimizer import LotSale, OptimizationResult
    from engine.store import Store
    from engine.tax import LotLedger, TaxTables

__all__ = ["FIRST_RUN_REASON", "TRADED", "ApprovalRules", "Engine", "EngineConfig", "ExecutionReport", "SyncReport"]


log = logging.getLogger("engine")

_NEW_YORK = ZoneInfo("America/New_York")


FIRST_RUN_REASON = "first automated run for this household"
"""The approval reason of a household's first proposal with orders (``ApprovalRules.first_run``)."""

TRADED = (ProposalStatus.EXECUTED, ProposalStatus.PARTIALLY_EXECUTED)
"""Proposal statuses that mean the household has been traded for before."""


@dataclass(frozen=True, slots=True)
class ApprovalRules:
    """When a human must approve: first run, big turnover, a big order, and the mandate's own reasons.

    ``max_turnover`` is buys + sells as a fraction of household value; ``max_order_fraction`` an order's
    notional as a fraction of its account's value.
    """

    first_run: bool = True
    max_turnover: float = 0.25
    max_order_fraction: float = 0.20


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """How the engine plans; every field has a documented default (fractions, USD, days).

    ``estimates_max_age_days`` / ``mandate_max_age_days`` let a cycle reuse estimates or a household's
    mandate computed up to that many calendar days earlier (0: recompute every day). Reuse never looks
    ahead: an older estimate saw only older prices. Backtests use 30 (monthly re-estimation).
    ``mandate_paths`` sets the goal Monte Carlo's path count (None: the planning default).
    """

    harvest: bool = True
    asset_location: bool = True
    lookback_years: int = 10
    order_rules: OrderRules = field(default_factory=OrderRules)
    approval: ApprovalRules = field(default_factory=ApprovalRules)
    sell_drift: float = 0.03
    cash_flow_drift: float = 0.02
    calendar: Frequency = Frequency.QUARTERLY
    cooldown_days: int = 30
    turnover_limit: float | None = None
    tax_budget: float | None = None
    max_position: float = 0.40
    spread: float = 0.0005
    max_data_age_days: int = 5
    fill_timeout_s: float = 60.0
    estimates_max_age_days: int = 0
    mandate_max_age_days: int = 0
    returns: str = "black_litterman"
    risk: str = "ledoit_wolf"
    mandate_paths: int | None = None


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """What happened when a proposal was executed: final status, broker orders, fills, reconciliation."""

    proposal_id: str
    status: ProposalStatus
    submitted: tuple[Any, ...] = ()
    fills: tuple[Fill, ...] = ()
    skipped: tuple[SkippedTrade, ...] = ()
    discrepancies: tuple[Any, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every order filled and the ledger matches the broker."""
        return self.status is ProposalStatus.EXECUTED and not self.discrepancies


@dataclass(frozen=True, slots=True)
class SyncReport:
    """Broker state read into the engine: positions per (account, symbol), cash, new fills, discrepancies."""

    household: str
    positions: Mapping[str, Decimal]
    cash: Decimal
    new_fills: tuple[Fill, ...]
    discrepancies: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class _Day:
    """Everything shared by all households on one day: prices (USD), tradable tickers, estimates."""

    as_of: date
    prices: Mapping[str, Decimal]
    tradable: tuple[str, ...]
    estimates: Any


class Engine:
    """Plans, approves and executes household cycles on one market-data source (see the module docstring)."""

    def __init__(
        self,
        market: MarketData,
        universe: Universe | None = None,
        *,
        config: EngineConfig | None = None,
        store: Store | None = None,
        esg: Any = None,
    ) -> None:
        self.market = market
        self.universe = universe or load_universe()
        self.config = config or EngineConfig()
        self.store = store
        self._esg = esg
        self._days: dict[date, _Day] = {}
        self._last_estimates: Any = None
        self._mandates: dict[str, tuple[str, Any]] = {}
        self._goal_config: dict[str, Any] = {}  # config YAML (goals, assumptions, tax tables) read once per engine
        self._harvesters: dict[Any, Any] = {}  # TaxLossHarvester per tax profile

    # ------------------------------------------------------------------------------------------
    # Shared, per-day context
    # ------------------------------------------------------------------------------------------

    def day(self, as_of: date) -> _Day:
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
        estimates = self.estimates(as_of, view=view, tickers=tradable)
        ctx = _Day(as_of, prices, tradable, estimates)
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
        if "assumptions" not in self._goal_config:  # read the YAML once per engine, not once per estimate
            from engine.config.market_assumptions import load_capital_market_assumptions

            self._goal_config["assumptions"] = load_capital_market_assumptions()
        result = estimate(frame, as_of, universe, lookback_years=self.config.lookback_years,
                          returns=self.config.returns, risk=self.config.risk,
                          assumptions=self._goal_config["assumptions"])
        self._last_estimates = result
        return result

    def mandate(
        self,
        household: Household,
        as_of: date,
        *,
        previous: Mandate | None = None,
        ledger: LotLedger | None = None,
    ) -> Mandate:
        """The household's goal-based mandate on ``as_of`` (strategic mix, risk aversion, reserve, reasons).

        Account values (USD) come from the ledger's lots at ``as_of`` prices plus each account's cash.
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
        ctx = self.day(as_of)
        values = {a.id: a.cash for a in household.accounts}
        for lot in (ledger or self.ledger(household)).open_lots():
            if lot.symbol in ctx.prices:
                values[lot.account] = values.get(lot.account, Decimal(0)) + lot.shares * ctx.prices[lot.symbol]
        mandate = build_mandate(household, as_of, previous=previous, account_values=values,
                                paths=self.config.mandate_paths, seed=0, **self._goals_config(household.id))
        self._mandates[key] = (fingerprint, mandate)
        return mandate

    def _goals_config(self, household_id: str) -> dict[str, Any]:
        """Capital-market assumptions, event rules and the household's glide paths, loaded once per engine."""
        from engine.goals import load_capital_market, load_event_rules, load_glide_paths

        cfg = self._goal_config
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
        """A lot ledger holding the household's lots (for planning without a live ledger)."""
        from engine.tax import LotLedger

        return LotLedger.from_household(household, self.universe)

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
        ledger = ledger or self.ledger(household)
        mandate = mandate or self.mandate(household, as_of, ledger=ledger)
        lots = ledger.open_lots()  # read once: the ledger builds fresh views on every call
        actual, idle = self._class_weights(household, ledger, ctx, mandate, lots)
        harvest = self._harvest_candidates(household, ledger, ctx, lots) if self.config.harvest else 0
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
            target={str(k): float(v) for k, v in mandate.strategic_mix.items()},
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
        self, household: Household, ledger: LotLedger, ctx: _Day, mandate: Mandate, lots: Sequence[Any] | None = None
    ) -> tuple[dict[str, float], Decimal]:
        values: dict[str, float] = {}
        total = float(household.cash)
        for lot in ledger.open_lots() if lots is None else lots:
            price = ctx.prices.get(lot.symbol)
            if price is None:
                continue
            v = float(lot.shares * price)
            cls = str(self.universe[lot.symbol].asset_class)
            values[cls] = values.get(cls, 0.0) + v
            total += v
        values["cash"] = values.get("cash", 0.0) + float(household.cash)
        weights = {k: v / total for k, v in values.items()} if total > 0 else {}
        reserve = Decimal(str(getattr(mandate, "liquidity_reserve", 0)))
        idle = max(household.cash - reserve, Decimal(0))
        return weights, idle

    def _harvest_candidates(
        self, household: Household, ledger: LotLedger, ctx: _Day, lots: Sequence[Any] | None = None
    ) -> int:
        from engine.tax import TaxLossHarvester

        harvester = self._harvesters.get(household.tax)
        if harvester is None:
            harvester = self._harvesters[household.tax] = TaxLossHarvester(self.universe, household.tax)
        if lots is not None and not self._may_harvest(harvester, ledger, ctx, lots):
            return 0
        return len(harvester.scan(ledger, ctx.prices, ctx.as_of))

    def _may_harvest(self, harvester: Any, ledger: LotLedger, ctx: _Day, lots: Sequence[Any]) -> bool:
        """A cheap, conservative pre-check of the daily scan: False only when no taxable lot could be acted on.

        The scan acts on a lot with a loss at or above both floors (USD and fraction of basis), and on a
        substitute holding at a loss or at cost (switch back). The floors get 1 % slack for float rounding.
        """
        cfg = harvester.config
        floor_usd = float(cfg.min_loss_usd) * 0.99
        floor_frac = float(cfg.min_loss_fraction) * 0.99
        taxable = {a for a, t in ledger.accounts.items() if t is AccountType.TAXABLE}
        for lot in lots:
            price = ctx.prices.get(lot.symbol)
            if price is None or lot.account not in taxable:
                continue
            basis = float(lot.basis)
            loss = basis - float(lot.shares) * float(price)
            if loss < -0.01:
                continue
            group = self.universe[lot.symbol].substitute_group if lot.symbol in self.universe else None
            if cfg.switch_back and group is not None and harvester.preferred.get(group, lot.symbol) != lot.symbol:
                return True
            if loss >= floor_usd and (basis <= 0 or loss / basis >= floor_frac):
                return True
        return False

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
    ) -> Proposal:
        """A Proposal for ``household`` on ``as_of``: targets, orders, tax preview, explanation, approval flags.

        ``run_kind`` (default from ``decision``, else ``full_rebalance``); ``amount`` is the USD to raise for
        ``partial_liquidation``. A deterministic ``proposal_id`` makes every client order id deterministic.

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
        mandate = mandate or self.mandate(household, as_of, ledger=ledger)
        pid = proposal_id or f"{household.id}-{as_of:%Y%m%d}-{run_kind.value}-{int(time.time() * 1000) % 10**8:08d}"

        explanation: list[str] = list(getattr(mandate, "explanation", ()))
        result: OptimizationResult | None = None
        sell_lots: dict[tuple[str, str], list[str]] = {}
        lots = ledger.open_lots()  # read once: the holdings and the optimizer's inputs both need them
        current = self._holdings(ledger, lots)
        if run_kind is RunKind.PARTIAL_LIQUIDATION:
            if amount is None or amount <= 0:
                from engine.errors import ValidationError

                raise ValidationError("partial_liquidation needs a positive amount (USD)", field="amount",
                                      value=amount)
            targets, sell_lots, lines = self._liquidation_targets(household, ledger, ctx, Decimal(amount))
            explanation += lines
        else:
            from engine.optimizer import solve_household
            from engine.optimizer.adapter import build_inputs

            inputs = build_inputs(
                household,
                self.universe,
                ctx.estimates,
                mandate,
                ledger,
                ctx.prices,
                as_of,
                esg=self._esg_data(),
                harvest=self.config.harvest,
                asset_location=self.config.asset_location,
                turnover_limit=self.config.turnover_limit,
                tax_budget=self.config.tax_budget,
                max_position=self.config.max_position,
                spread=self.config.spread,
                cash_buffer=self.config.order_rules.cash_buffer,
                open_lots=lots,
                tax_tables=self._tax_tables(),
            )
            result = solve_household(inputs)
            targets = dict(current)
            held = {lot.id: lot for lot in lots}
            for t in result.trades:
                key = (t.account, t.ticker)
                if t.side == "sell" and t.lots:
                    sold = [s for s in t.lots if s.shares > 0]
                    delta = sum((self._lot_take(s, held, ctx.prices[t.ticker]) for s in sold), Decimal(0))
                    sell_lots[key] = [s.lot_id for s in sold]
                else:
                    delta = Decimal(str(round(t.shares, 9)))
                targets[key] = targets.get(key, Decimal(0)) + (delta if t.side == "buy" else -delta)
            self._sell_out_dust(targets, sell_lots, lots, ctx.prices)
            explanation += list(result.explanation)
            explanation += ledger.buy_block_reasons(as_of)  # funds no account may buy today, and why
        cash = {a.id: a.cash for a in household.accounts}
        plan = build_orders(
            pid,
            current,
            targets,
            ctx.prices,
            cash,
            self.universe.assets,
            rules=self.config.order_rules,
            sell_lots=sell_lots,
            allow_sells=run_kind is not RunKind.INVEST_CASH,
            allow_buys=run_kind is not RunKind.PARTIAL_LIQUIDATION,
        )
        explanation += [
            f"Skipped {s.side.value} of {s.symbol} in {s.account} (${s.dollars:,.2f}): {s.reason}" for s in plan.skipped
        ]
        preview = self._tax_preview(ledger, plan, ctx, household)
        needs, reasons = self._approval(household, mandate, plan, ctx, current)
        weights = dict(result.targets) if result is not None else self._weights(targets, ctx, household)
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
            tax_preview=preview,
            needs_approval=needs,
            approval_reasons=tuple(reasons),
            details={
                "solver": None if result is None else (result.solver.value if result.solver else None),
                "objective_terms": {} if result is None else {t.name: t.value for t in result.terms},
                "binding": [] if result is None else [f"{b.group.value}:{b.subject}" for b in result.binding],
                "plan_seconds": round(time.perf_counter() - started, 4),
                "trigger_sources": list(decision.sources) if decision else ["manual"],
            },
        )
        if self.store is not None:
            self.store.proposals.add(proposal, actor="engine")
        log.info("planned %s: %d orders", pid, len(plan.orders), extra={"household": household.id, "proposal": pid})
        return proposal

    def _esg_data(self) -> Any:
        if self._esg is None:
            from engine.esg import load_esg

            self._esg = load_esg()
        return self._esg

    def _lot_take(self, sale: LotSale, held: Mapping[str, Lot], price: Decimal) -> Decimal:
        """Exact shares to sell of one lot: the whole lot when what the solve would leave is dust.

        The solver stops a hair inside a lot's bound (about 1e-7 of its value), which would leave
        fractions of a share no order could ever sell (below the minimum notional); those go with the sale.
        """
        lot = held.get(sale.lot_id)
        take = Decimal(str(round(sale.shares, 9)))
        if lot is None:
            return take
        if take >= lot.shares or (lot.shares - take) * price < self.config.order_rules.min_notional:
            return lot.shares
        return take

    def _sell_out_dust(
        self,
        targets: dict[tuple[str, str], Decimal],
        sell_lots: Mapping[tuple[str, str], Sequence[str]],
        lots: Sequence[Lot],
        prices: Mapping[str, Decimal],
    ) -> None:
        """A position sold down to less than the minimum notional is sold out (every lot of it is being sold).

        Such a remainder (a solver's hair of a buy netted against whole lots sold) could never be sold alone.
        """
        floor = self.config.order_rules.min_notional
        for key, ids in sell_lots.items():
            left = targets.get(key, Decimal(0))
            if 0 < left and left * prices[key[1]] < floor:
                named = set(ids)
                if all(lot.id in named for lot in lots if (lot.account, lot.symbol) == key):
                    targets[key] = Decimal(0)

    @staticmethod
    def _holdings(ledger: LotLedger, lots: Sequence[Any] | None = None) -> dict[tuple[str, str], Decimal]:
        out: dict[tuple[str, str], Decimal] = {}
        for lot in ledger.open_lots() if lots is None else lots:
            out[(lot.account, lot.symbol)] = out.get((lot.account, lot.symbol), Decimal(0)) + lot.shares
        return out

    def _weights(
        self, shares: Mapping[tuple[str, str], Decimal], ctx: _Day, household: Household
    ) -> dict[tuple[str, str], float]:
        values = {k: float(v * ctx.prices[k[1]]) for k, v in shares.items() if k[1] in ctx.prices}
        total = sum(values.values()) + float(household.cash)
        return {k: v / total for k, v in values.items() if v > 0} if total > 0 else {}

    def _liquidation_targets(
        self, household: Household, ledger: LotLedger, ctx: _Day, amount: Decimal
    ) -> tuple[dict[tuple[str, str], Decimal], dict[tuple[str, str], list[str]], list[str]]:
        from engine.tax import marginal_rates

        rates = marginal_rates(household.tax)
        types = {a.id: a.type for a in household.accounts}
        lots = [lot for lot in ledger.open_lots() if lot.symbol in ctx.prices]
        picks, shortfall = plan_liquidation(
            amount * (1 + Decimal(str(self.config.order_rules.cash_buffer))),
            lots,
            ctx.prices,
            types,
            on=ctx.as_of,
            st_rate=float(rates.short_term),
            lt_rate=float(rates.long_term),
            ordinary_rate=float(getattr(rates, "ordinary", rates.short_term)),
            cash={a.id: a.cash for a in household.accounts},
            fractionable={t: a.fractionable for t, a in self.universe.assets.items()},
        )
        targets = self._holdings(ledger)
        sell_lots: dict[tuple[str, str], list[str]] = {}
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

    def _tax_preview(self, ledger: LotLedger, plan: OrderPlan, ctx: _Day, household: Household) -> Any:
        from engine.tax import preview

        return preview(ledger, plan.sells, ctx.as_of, household.tax, buys=plan.buys, prices=ctx.prices,
                       tables=self._tax_tables())

    def _tax_tables(self) -> TaxTables:
        """The tax tables, read once per engine (like the goals configuration), not once per household."""
        cfg = self._goal_config
        if "tax_tables" not in cfg:
            from engine.tax import load_tax_tables

            cfg["tax_tables"] = load_tax_tables()
        return cfg["tax_tables"]

    def _approval(
        self,
        household: Household,
        mandate: Mandate,
        plan: OrderPlan,
        ctx: _Day,
        current: Mapping[tuple[str, str], Decimal],
    ) -> tuple[bool, list[str]]:
        rules = self.config.approval
        reasons = list(getattr(mandate, "approval_reasons", ()))
        if rules.first_run and self.store is not None and plan.orders:
            if not self.store.proposals.households_with(TRADED, among=[household.id]):
                reasons.append(FIRST_RUN_REASON)
        account_value: dict[str, Decimal] = {a.id: a.cash for a in household.accounts}
        for (acct, sym), sh in current.items():
            if sym in ctx.prices:
                account_value[acct] = account_value.get(acct, Decimal(0)) + sh * ctx.prices[sym]
        total = sum(account_value.values(), Decimal(0))
        traded = sum((o.qty * ctx.prices[o.symbol] for o in plan.orders if o.qty is not None), Decimal(0))
        if total > 0 and traded / total > Decimal(str(rules.max_turnover)):
            reasons.append(f"turnover {traded / total:.0%} of household value exceeds {rules.max_turnover:.0%}")
        max_order = Decimal(str(rules.max_order_fraction))
        for o in plan.orders:
            value = account_value.get(o.account, Decimal(0))
            notional = (o.qty or Decimal(0)) * ctx.prices[o.symbol]
            if value > 0 and notional / value > max_order:
                reasons.append(
                    f"{o.side.value} {o.symbol} ${notional:,.0f} is {notional / value:.0%} of account {o.account}"
                )
                break
        needs = bool(reasons) or bool(getattr(mandate, "needs_approval", False))
        return needs, list(dict.fromkeys(reasons))

    # ------------------------------------------------------------------------------------------
    # Approval
    # ------------------------------------------------------------------------------------------

    def approve(self, proposal: Proposal | str, *, actor: str = "user", reason: str = "") -> Proposal:
        """Mark a proposal approved (persisted and audited when the engine has a store)."""
        return self._transition(proposal, ProposalStatus.APPROVED, actor, reason)

    def reject(self, proposal: Proposal | str, *, actor: str = "user", reason: str = "") -> Proposal:
        """Mark a proposal rejected; it can never be executed."""
        return self._transition(proposal, ProposalStatus.REJECTED, actor, reason)

    def _transition(self, proposal: Proposal | str, status: ProposalStatus, actor: str, reason: str) -> Proposal:
        if self.store is not None:
            pid = proposal if isinstance(proposal, str) else proposal.id
            return self.store.proposals.transition(pid, status, actor=actor, reason=reason)
        if isinstance(proposal, str):
            raise Conflict("an engine without a store needs the Proposal object, not its id")
        allowed = {
            ProposalStatus.APPROVED: {ProposalStatus.PROPOSED},
            ProposalStatus.REJECTED: {ProposalStatus.PROPOSED},
            ProposalStatus.EXECUTING: {ProposalStatus.APPROVED},
            ProposalStatus.EXECUTED: {ProposalStatus.EXECUTING},
            ProposalStatus.PARTIALLY_EXECUTED: {ProposalStatus.EXECUTING},
            ProposalStatus.FAILED: {ProposalStatus.EXECUTING},
        }
        if proposal.status not in allowed.get(status, set()):
            raise Conflict(
                f"proposal {proposal.id} is {proposal.status.value}; it cannot become {status.value}",
                proposal=proposal.id,
            )
        return replace(proposal, status=status)

    # ------------------------------------------------------------------------------------------
    # Execution
    # ------------------------------------------------------------------------------------------

    def execute(
        self,
        proposal: Proposal,
        broker: Broker,
        *,
        ledger: LotLedger,
        household: Household | None = None,
    ) -> ExecutionReport:
        """Submit the proposal's orders (sells, then buys sized to the cash left), book fills, reconcile.

        A proposal that needs approval must be approved first; one that does not is approved here
        (recorded as such). Broker errors stop the run, leave what filled booked, and mark it failed or
        partially executed — never half-booked.

        Raises:
            Conflict: the proposal is not approved (or already executed/rejected).
        """
        if proposal.status is ProposalStatus.PROPOSED:
            if proposal.needs_approval:
                raise Conflict(
                    f"proposal {proposal.id} needs approval: {'; '.join(proposal.approval_reasons)}; "
                    f"approve it (robo approve {proposal.id}) before executing",
                    proposal=proposal.id,
                )
            proposal = self.approve(proposal, actor="engine", reason="no approval needed")
        proposal = self._transition(proposal, ProposalStatus.EXECUTING, "engine", "")
        fills: list[Fill] = []
        submitted: list[Any] = []
        errors: list[str] = []
        skipped: list[SkippedTrade] = []
        sells = [o for o in proposal.orders if o.side is OrderSide.SELL]
        buys = [o for o in proposal.orders if o.side is OrderSide.BUY]
        by_id = {o.client_order_id: o for o in proposal.orders}
        try:
            fills += self._book(ledger, self._run_orders(broker, sells, submitted), by_id)
            if buys:
                prices = {o.symbol: self._price_for(broker, o.symbol, proposal) for o in buys}
                available = self._available_cash(broker, buys)
                buys, skipped = resize_buys(buys, available, prices, self.universe.assets,
                                            rules=self.config.order_rules)
                got = self._run_orders(broker, buys, submitted)
                fills += self._book(ledger, got, by_id)
        except (BrokerError, TradingHalted) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            log.error("execution of %s stopped: %s", proposal.id, exc, extra={"proposal": proposal.id})
        accounts = {o.account for o in proposal.orders} | ({a.id for a in household.accounts} if household else set())
        discrepancies = self._reconcile(broker, ledger, accounts)
        wanted = len(submitted)
        filled = {f.client_order_id for f in fills}
        if errors and not fills:
            status = ProposalStatus.FAILED
        elif errors or len(filled) < wanted:
            status = ProposalStatus.PARTIALLY_EXECUTED
        else:
            status = ProposalStatus.EXECUTED
        self._transition(proposal, status, "engine", "; ".join(errors))
        if self.store is not None:
            for f in fills:
                self.store.fills.add(f, household=proposal.household)
            self._record_orders(submitted)
        return ExecutionReport(proposal.id, status, tuple(submitted), tuple(fills), tuple(skipped),
                               tuple(discrepancies), tuple(errors))

    def _run_orders(self, broker: Broker, orders: Sequence[Order], submitted: list[Any]) -> list[Fill]:
        """Place each order once (``submit_all`` looks each client id up first), wait for final states, return fills."""
        from engine.execution import submit_all, wait_for_final

        if not orders:
            return []
        try:
            placed = submit_all(broker, orders)
        except BrokerError as exc:
            submitted += exc.context.get("submitted", [])  # what reached the broker before the failure
            raise
        advance = getattr(broker, "process", None)  # a simulated broker fills when its clock moves
        states = wait_for_final(
            broker,
            [p.client_order_id for p in placed],
            timeout=self.config.fill_timeout_s,
            poll=0.5,
            sleep=(lambda _s: advance()) if callable(advance) else time.sleep,
        )
        submitted += [states.get(p.client_order_id, p) for p in placed]  # as last seen: final, or still working
        ids = {p.client_order_id for p in placed}
        since = min(p.submitted_at for p in placed) - timedelta(seconds=1)
        seen: set[str] = set()
        out = []
        for acct in sorted({o.account for o in orders}):
            for f in broker.fills(since, acct):
                if f.client_order_id in ids and f.id not in seen:
                    seen.add(f.id)
                    out.append(f)
        return out

    def _record_orders(self, placed: Sequence[Any]) -> None:
        """Carry each placed order's broker status into the store (new → submitted → its final state)."""
        from engine.model.broker import BrokerOrderStatus
        from engine.store import OrderStatus

        final = {
            BrokerOrderStatus.FILLED: OrderStatus.FILLED,
            BrokerOrderStatus.PARTIALLY_FILLED: OrderStatus.PARTIALLY_FILLED,
            BrokerOrderStatus.CANCELED: OrderStatus.CANCELED,
            BrokerOrderStatus.EXPIRED: OrderStatus.EXPIRED,
            BrokerOrderStatus.DONE_FOR_DAY: OrderStatus.EXPIRED,
            BrokerOrderStatus.REJECTED: OrderStatus.REJECTED,
        }
        assert self.store is not None
        for p in placed:
            self.store.orders.update_status(p.client_order_id, OrderStatus.SUBMITTED, actor="engine")
            state = final.get(p.status)
            if state is not None:
                self.store.orders.update_status(p.client_order_id, state, actor="engine", reason=p.reason)

    def _book(self, ledger: LotLedger, fills: Iterable[Fill], orders: Mapping[str, Order] | None = None) -> list[Fill]:
        """Book fills in the lot ledger (sells first); a sell relieves the lots its order named, else TAX_MIN."""
        from engine.tax import LotMethod

        orders = orders or {}
        booked = []
        for f in sorted(fills, key=lambda f: (f.side is OrderSide.BUY, f.at, f.id)):
            day = f.at.astimezone(_NEW_YORK).date()
            if f.side is OrderSide.SELL:
                order = orders.get(f.client_order_id)
                held = {lot.id for lot in ledger.open_lots(f.account, f.symbol)}
                lots = [lot for lot in (order.lots if order else ()) if lot in held]
                if lots and sum(ledger.lot(i).shares for i in lots) >= f.qty:
                    ledger.sell(f.account, f.symbol, f.qty, f.price, day, method=LotMethod.SPECIFIC, lots=lots,
                                fees=f.fees)
                else:
                    ledger.sell(f.account, f.symbol, f.qty, f.price, day, method=LotMethod.TAX_MIN, fees=f.fees)
            else:
                ledger.buy(f.account, f.symbol, f.qty, f.price, day, fees=f.fees)
            booked.append(f)
        return booked

    def _price_for(self, broker: Broker, symbol: str, proposal: Proposal) -> Decimal:
        quote = getattr(broker, "last_price", None)
        if callable(quote):
            return Decimal(str(quote(symbol)))
        return self.day(proposal.as_of).prices[symbol]

    def _available_cash(self, broker: Broker, buys: Sequence[Order]) -> dict[str, Decimal]:
        """USD each account may spend on buys now: broker cash less the buffer (a fraction of its equity)."""
        buffer = Decimal(str(self.config.order_rules.cash_buffer))
        out: dict[str, Decimal] = {}
        for acct in sorted({o.account for o in buys}):
            info = broker.account(acct)
            out[acct] = max(info.cash - info.equity * buffer, Decimal(0))
        return out

    def _reconcile(self, broker: Broker, ledger: LotLedger, accounts: Iterable[str]) -> list[Any]:
        """Broker positions vs ledger lots per account and symbol; differences are reported, never overwritten."""
        from engine.model.broker import reconcile

        found: list[Any] = []
        for acct in sorted(set(accounts)):
            broker_pos = {p.symbol: p.qty for p in broker.positions(acct)}
            mine: dict[str, Decimal] = {}
            for lot in ledger.open_lots(account=acct):
                mine[lot.symbol] = mine.get(lot.symbol, Decimal(0)) + lot.shares
            found += reconcile(broker_pos, mine, account=acct)
        return found

    # ------------------------------------------------------------------------------------------
    # Sync
    # ------------------------------------------------------------------------------------------

    def sync(
        self, household: Household, broker: Broker, *, ledger: LotLedger, since: datetime | None = None
    ) -> SyncReport:
        """Read the broker's fills since ``since`` into the ledger (once each) and reconcile positions."""
        since = since or datetime.now(UTC) - timedelta(days=7)
        seen = set()
        if self.store is not None:
            seen = {f.id for f in self.store.fills.for_household(household.id, since=since)}
        accounts = [a.id for a in household.accounts]
        new = [f for acct in accounts for f in broker.fills(since, acct) if f.id not in seen]
        self._book(ledger, new)
        if self.store is not None:
            for f in new:
                self.store.fills.add(f, household=household.id)
        positions = {f"{p.account}:{p.symbol}": p.qty for acct in accounts for p in broker.positions(acct)}
        cash = sum((broker.account(acct).cash for acct in accounts), Decimal(0))
        return SyncReport(household.id, positions, cash, tuple(new),
                          tuple(self._reconcile(broker, ledger, accounts)))


def taxable_accounts(household: Household) -> list[str]:
    """Ids of the household's taxable accounts (where gains are realized and losses harvested)."""
    return [a.id for a in household.accounts if a.type is AccountType.TAXABLE]
