"""The backtest loop: replay a scenario's household through history on the live engine's own cycle.

    run = run_strategy(load_scenario("demo"), "adaptive")
    run.value[-1], run.after_tax[-1], run.taxes[-1], run.approvals_needed

One ``SimulatedBroker`` holds the household's accounts and one ``LotLedger`` its lots (``backtests.book``).
The adaptive strategies run ``Engine.check`` → ``Engine.plan`` → ``Engine.approve`` → ``Engine.execute``
exactly as a live cycle does, on a market cut at the day (``SteppedMarket``); the benchmarks turn their
mix into orders with ``engine.rebalancer.build_orders`` and execute them through the same
``Engine.execute``, so every strategy pays the same spread, commissions, wash sales and taxes.

**The day loop.** At each trading day the broker stands after the close. In order: last year's tax is
paid, withdrawals are raised and paid out, benchmarks with harvesting run the engine's
``TaxLossHarvester``, the strategy decides and its orders execute, and benchmarks put idle cash to
work. Each execution moves the simulator one or two bars forward (sells fill on the next bar, buys sized
to the cash really there fill on the one after); the days it crosses are not decision days, but the
broker reports them (``on_open``: market cut, contributions, life events, fund income; ``on_close``:
valuation, goals, year-end tax settlement), so no cash flow and no valuation is lost. Trading stops two
bars before the end, so every order fills inside the period.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from backtests.book import HouseholdBook
from backtests.market import MarketSnapshot, PriceTable, SteppedMarket
from backtests.scenario import Frequency, Scenario, StrategySpec, TaxPayment
from backtests.strategies import (
    Decision,
    PortfolioState,
    Strategy,
    StrategyContext,
    build_strategy,
    engine_config,
)
from backtests.taxes import TaxYear, YearTax
from engine.errors import ConfigError, EmptyRange, LookAheadError, OptimizationError, PlanningError
from engine.model import AccountType, LifeEvent, RunKind

__all__ = ["StrategyRun", "run_strategy", "scenario_prices"]


@dataclass
class StrategyRun:
    """Everything one strategy did in one scenario, as arrays over trading days (USD unless noted)."""

    strategy: str
    kind: str
    days: tuple[date, ...]
    tickers: tuple[str, ...]
    account_ids: tuple[str, ...]
    account_types: tuple[str, ...]
    value: np.ndarray  # pre-tax household value at each close
    after_tax: np.ndarray  # value − taxes owed − this year's accrued tax − deferred tax on unrealized taxable gains
    liquidation: np.ndarray  # after selling everything and withdrawing retirement accounts
    flows: np.ndarray  # external flows (contributions > 0, withdrawals < 0), gross
    flows_pre_tax: np.ndarray  # flows + taxes paid as outflows (pre-tax return basis)
    flows_after_tax: np.ndarray  # flows − tax on retirement distributions
    weights: np.ndarray  # (days, funds) fraction of household value by fund held
    strategic: np.ndarray  # (days, funds) the strategy's strategic mix
    trades: list[tuple]  # (ordinal, account, fund, side, shares, price, notional, cost, reason)
    realizations: list[tuple]  # (ordinal, account, fund, shares, proceeds, basis, gain, term, disallowed, reason)
    wash_sales: list[tuple]  # (ordinal, account, fund, disallowed, replacement, reason of the sale, permanent)
    taxes: list[YearTax]
    year_totals: list[dict[str, float]]
    decisions: list[tuple[date, str]]
    goals: list[dict[str, Any]]
    events: list[tuple[date, str, str]]
    shortfall: float = 0.0
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    prices: np.ndarray | None = None  # (days, funds) adjusted closes the run traded at
    approvals_needed: int = 0  # proposals a human would have had to approve (auto-approved here)
    plan_errors: list[tuple[date, str]] = field(default_factory=list)  # OptimizationError etc.: no trade that day
    executions: int = 0
    taxable_value: np.ndarray | None = None  # USD in taxable accounts at each close (harvest yield's denominator)
    after_tax_paid: np.ndarray | None = None  # value − taxes owed and accrued only (no deferred tax, no carry)
    harvest: bool = False  # the strategy harvests (the engine's daily run, or the benchmarks' daily scan)

    def is_harvest(self, reason: str) -> bool:
        """Whether a loss sold for ``reason`` counts as harvested: a harvest run's sale, or with harvesting on a
        loss the adaptive engine's full solve chose (its tax term rewards losses); never a no-harvest run's."""
        return reason == "harvest" or (self.harvest and self.kind == "adaptive" and reason == "engine")


def scenario_prices(scenario: Scenario, source: PriceTable | None = None) -> PriceTable:
    """The scenario's funds over its period from ``source`` (default: the scenario's ``data``, else embedded)."""
    tickers = scenario.universe.tickers
    if source is None:
        named = scenario.price_source()
        if named is None:
            return PriceTable.embedded(tickers, scenario.start, scenario.end)
        end = scenario.end or date.today()
        return PriceTable.from_source(named, tickers, scenario.start, end).between(scenario.start, scenario.end)
    cols = [source.column(t) for t in tickers]
    table = PriceTable(source.days, tuple(tickers), source.prices[:, cols])
    return table.between(scenario.start, scenario.end)


def _schedule(day0: date, spec_start: date, spec_end: date | None, every: Frequency,
              days: tuple[date, ...], ords: np.ndarray) -> list[tuple[int, date]]:
    """Rows (first trading day on/after each scheduled date) of a repeating flow."""
    out: list[tuple[int, date]] = []
    y, m = spec_start.year, spec_start.month
    step = {Frequency.MONTHLY: 1, Frequency.QUARTERLY: 3, Frequency.ANNUAL: 12}.get(every, 0)
    last = days[-1] if spec_end is None else min(spec_end, days[-1])
    d = spec_start
    while d <= last:
        row = int(np.searchsorted(ords, d.toordinal(), "left"))
        if row < len(days) and days[row] <= last and days[row] >= day0:
            out.append((row, d))
        if step == 0:
            break
        m += step
        y, m = y + (m - 1) // 12, (m - 1) % 12 + 1
        d = date(y, m, min(spec_start.day, 28))
    return out


def run_strategy(
    scenario: Scenario,
    strategy: str | StrategySpec | Strategy,
    prices: PriceTable | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    market: SteppedMarket | None = None,
) -> StrategyRun:
    """Replay ``scenario`` with one strategy (a name, spec or ``Strategy`` object).

    Args:
        prices: the scenario's price table (default: embedded prices over the scenario period).
        progress: called as ``progress(done_days, total_days)`` every ~5 % of the run.
        market: the Engine's point-in-time market (default: a ``SteppedMarket`` over ``prices``).

    Raises:
        LookAheadError: a decision (or the data handed to the Engine) referred to a day after the cut.
        ConfigError / PlanningError: the scenario or strategy cannot run.
    """
    return _Run(scenario, strategy, prices, progress, market).run()


class _Run:
    """One strategy through one scenario (the state of the day loop; see the module docstring)."""

    def __init__(self, scenario: Scenario, strategy: str | StrategySpec | Strategy, prices: PriceTable | None,
                 progress: Callable[[int, int], None] | None, market: SteppedMarket | None) -> None:
        from engine.engine import Engine

        self.t_start = time.perf_counter()
        if isinstance(strategy, str):
            strategy = scenario.strategy(strategy)
        self.spec = strategy if isinstance(strategy, StrategySpec) else getattr(strategy, "spec", None)
        self.strat: Strategy = build_strategy(strategy) if isinstance(strategy, StrategySpec) else strategy
        table = prices if prices is not None and prices.tickers == tuple(scenario.universe.tickers) \
            else scenario_prices(scenario, prices)
        table = table.between(scenario.start, scenario.end)  # the scenario's period, whatever table was passed
        self.sc, self.table, self.progress = scenario, table, progress
        self.days, self.P = table.days, table.prices
        T, N = self.P.shape
        if T < 2:
            raise EmptyRange("the scenario period holds fewer than two trading days", day=scenario.start)
        self.T, self.N = T, N
        self.row_of = {d: i for i, d in enumerate(self.days)}
        self.market = market or SteppedMarket(table)
        from brokers import MarketRule, SafetyPolicy, SafetyRails

        # The one cycle, behind rails fit for a simulation of history: orders queue for the next bar, the
        # simulator's clock dates the data, the environment's kill switch (for real accounts) is not read.
        rails = SafetyRails(SafetyPolicy(max_order_fraction=1.0, market=MarketRule.QUEUE_FOR_OPEN, max_data_age=None,
                                         read_environment=False))
        self.engine = Engine(self.market, scenario.universe, config=engine_config(scenario, self.spec), rails=rails)
        # A backtest simulates the whole household: held-away accounts follow the advice as if placed by hand.
        hh = dataclasses.replace(scenario.household, accounts=tuple(
            dataclasses.replace(a, broker_account=None) for a in scenario.household.accounts))
        costs = scenario.costs
        self.book = HouseholdBook(hh, scenario.universe, table, self.engine,
                                  half_spread=(costs.spread_bps / 2 + costs.slippage_bps) / 1e4,
                                  commission=costs.commission, on_close=self._close, on_open=self._open)
        b = self.book
        self.A = len(b.account_ids)
        self.trad = np.array([t is AccountType.TRADITIONAL for t in b.account_types])
        self.taxes = TaxYear(hh.tax, scenario.taxes.state_rate, outside_st=scenario.taxes.outside_st_gains,
                             outside_lt=scenario.taxes.outside_lt_gains)
        uni = scenario.universe
        y = np.array([uni[t].dividend_yield for t in table.tickers]) / 252.0
        qs = np.array([uni[t].qualified_share for t in table.tickers])
        xs = np.array([uni[t].tax_exempt_share for t in table.tickers])
        self.q_rate, self.x_rate = y * qs * (1 - xs), y * xs
        self.o_rate = y - self.q_rate - self.x_rate
        ords = table.ordinals
        self.contrib = np.zeros((T, self.A))
        self.withdraw = np.zeros(T)
        for cf in scenario.cash_flows:
            for row, when in _schedule(self.days[0], cf.start, cf.end, cf.every, self.days, ords):
                amount = float(cf.amount) * (1.0 + cf.growth) ** ((when - cf.start).days / 365.25)
                if cf.kind == "contribution":
                    self.contrib[row, b.a_index[cf.account]] += amount  # type: ignore[index]
                else:
                    self.withdraw[row] += amount
        self.events_at: dict[int, list[Any]] = {}
        for ev in scenario.events:
            row = int(np.searchsorted(ords, ev.on.toordinal(), "left"))
            if row < T:
                self.events_at.setdefault(row, []).append(ev)
        self.goal_rows: dict[int, list[Any]] = {}
        for g in hh.goals:
            row = int(np.searchsorted(ords, g.target_date.toordinal(), "left"))
            if row < T and g.target_date >= self.days[0]:
                self.goal_rows.setdefault(row, []).append(g)
        # Series and records.
        self.value, self.after, self.liq = np.zeros(T), np.zeros(T), np.zeros(T)
        self.taxable_value = np.zeros(T)
        self.after_paid = np.zeros(T)
        self.flows, self.flows_pre, self.flows_after = np.zeros(T), np.zeros(T), np.zeros(T)
        self.weights = np.zeros((T, N))
        self.strategic = np.full((T, N), np.nan)
        self.current_strategic = np.full(N, np.nan)
        self.year_taxes: list[YearTax] = []
        self.decisions: list[tuple[date, str]] = []
        self.goals: list[dict[str, Any]] = []
        self.events_log: list[tuple[date, str, str]] = []
        self.notes: list[str] = []
        self.plan_errors: list[tuple[date, str]] = []
        # Running state.
        self.owed = 0.0
        self.tax_due = 0.0
        self.due_withdrawal = 0.0
        self.contrib_scale = 1.0
        self.shortfall = 0.0
        self.pending_cash = 0.0
        self.new_events: list[LifeEvent] = []
        self.mandate: Any = None
        self.mix: np.ndarray | None = None
        self.last_run = -10**9
        self._gains_cache: tuple[int, int, float, float] = (-1, -1, 0.0, 0.0)
        self._step = max(1, T // 20)
        self._closed = -1

    # -- the bars the broker crosses --------------------------------------------------------------

    def _open(self, day: date) -> None:
        """A new bar: move the market cut, book contributions, life events and the day's fund income."""
        t = self.row_of[day]
        b = self.book
        self.market.advance(day)
        row = self.contrib[t]
        for a in np.flatnonzero(row):
            got = b.deposit(int(a), row[a] * self.contrib_scale)
            self.flows[t] += got
            self.pending_cash += got
        for ev in self.events_at.get(t, ()):
            self._event(t, day, ev)
        self.due_withdrawal += self.withdraw[t]
        px = self.P[t]
        if self.sc.taxes.dividend_drag and b.taxable.any():
            held = b.shares[b.taxable].sum(axis=0) * np.where(np.isfinite(px), px, 0.0)
            self.taxes.accrue_income(float(held @ self.q_rate), float(held @ self.o_rate), float(held @ self.x_rate))

    def _event(self, t: int, day: date, ev: Any) -> None:
        from engine.goals import apply_event

        b = self.book
        self.events_log.append((day, ev.kind.value, ev.label or ev.kind.value.replace("_", " ")))
        if ev.amount is not None and ev.account is not None:
            got = b.deposit(b.a_index[ev.account], float(ev.amount))
            self.flows[t] += got
            self.pending_cash += got
        if ev.contribution_scale is not None:
            self.contrib_scale *= ev.contribution_scale
        life = LifeEvent(kind=ev.kind, on=ev.on, member=ev.member, amount=ev.amount, details=dict(ev.details))
        try:
            outcome = apply_event(b.synced_household(), life, day, paths=self.engine.config.mandate_paths, seed=0)
        except PlanningError as exc:
            self.notes.append(f"{day}: life event {ev.kind.value} not applied: {exc}")
            return
        b.household = outcome.household
        self.mandate = outcome.mandate
        self.taxes.use_profile(outcome.household.tax)
        self.new_events.append(life)

    def _close(self, day: date) -> None:
        """The close of a bar: valuation, goals, and at year end the tax settlement."""
        t = self.row_of[day]
        if t <= self._closed:
            return
        self._closed = t
        b = self.book
        px = np.where(np.isfinite(self.P[t]), self.P[t], 0.0)
        vals = b.cash() + b.shares @ px
        v = float(vals.sum())
        self.value[t] = v
        self.taxable_value[t] = float(vals[b.taxable].sum())
        gains_tax, carry = self._gains_tax(day.year)
        ytd = gains_tax + self.taxes.income_tax_so_far()
        rates = self.taxes.rates
        unreal = float(b.shares[b.taxable].sum(axis=0) @ px - b.taxable_basis.sum())
        # The after-tax value counts the tax deferred on unrealized taxable gains and the tax value of losses
        # carried forward, both at the long-term rate (an unrealized loss counts as the tax it would save): a
        # basis lowered by harvesting is not free, and a harvested loss not used yet is not worthless.
        deferred = (unreal - carry) * rates.long_term
        self.after[t] = v - self.owed - self.tax_due - ytd - deferred
        self.after_paid[t] = v - self.owed - self.tax_due - ytd
        self.liq[t] = (v - self.owed - self.tax_due - ytd - deferred
                       - float(vals[self.trad].sum()) * (rates.ordinary - rates.niit))
        if v > 0:
            self.weights[t] = (b.shares * px).sum(axis=0) / v
        self.strategic[t] = self.current_strategic
        for g in self.goal_rows.get(t, ()):
            idx = [b.a_index[x] for x in g.accounts] or list(range(self.A))
            have = float(vals[idx].sum())
            need = float(g.target) if g.target > 0 else float(g.annual_income or 0) * 25.0
            self.goals.append({"goal": g.id, "name": g.name or g.id, "date": day, "target": need,
                               "value": have, "funded": have >= need * g.flexibility,
                               "shortfall": max(0.0, need - have)})
        if t + 1 == self.T or self.days[t + 1].year != day.year:
            result = self.taxes.settle(b.ledger, day.year)
            self.year_taxes.append(result)
            if t + 1 < self.T:
                self.tax_due += result.tax
            else:
                self.owed += result.tax
            self._gains_cache = (-1, -1, 0.0, 0.0)
            deferred = (unreal - self.taxes.carried) * rates.long_term  # the carryforward the settlement rolled
            self.after[t] = v - self.owed - self.tax_due - deferred
            self.after_paid[t] = v - self.owed - self.tax_due
            self.liq[t] = (v - self.owed - self.tax_due - deferred
                           - float(vals[self.trad].sum()) * (rates.ordinary - rates.niit))
        if self.progress is not None and (t % self._step == 0 or t == self.T - 1):
            self.progress(t + 1, self.T)

    def _gains_tax(self, year: int) -> tuple[float, float]:
        """This year's tax on realizations so far and the losses that would carry forward (USD), cached."""
        n = len(self.book.trades)
        if self._gains_cache[:2] != (year, n):
            self._gains_cache = (year, n, *self.taxes.gains_tax_and_carry(self.book.ledger, year))
        return self._gains_cache[2], self._gains_cache[3]

    # -- the loop ---------------------------------------------------------------------------------

    def run(self) -> StrategyRun:
        sc, b = self.sc, self.book
        ctx = StrategyContext(self.table.tickers, sc.universe, sc.household, b.account_ids, b.account_types,
                              self.days[0], sc.seed, sc, self.market, self.engine)
        self.strat.initialize(ctx)
        self._open(self.days[0])
        harvester = self._harvester() if self.strat.harvest else None
        last_trading_row = self.T - 3  # sells fill at +1, buys at +2: every order fills inside the period
        for t in range(self.T):
            day = self.days[t]
            while b.broker.today < day:
                b.broker.process()
            if b.broker.today > day:
                continue  # an execution already crossed this day (it was valued and got its cash flows)
            self.notes += b.liquidate_ended(t, day)
            if t <= last_trading_row:
                self._pay_taxes()
                self._withdrawals()
                if harvester is not None:
                    self._harvest(harvester)
                self._decide()
                self._invest_cash()
            else:
                self._pay_taxes(trade=False)
                self._withdrawals(trade=False)
        self._close(self.days[-1])
        self.strat.finalize()
        return self._result()

    def _now(self) -> tuple[int, date, np.ndarray]:
        """The broker's current row, day and prices; a fund whose prices ended is liquidated first."""
        day = self.book.broker.today
        t = self.row_of[day]
        self.notes += self.book.liquidate_ended(t, day)  # an execution may have crossed into its first dead day
        return t, day, self.P[t]

    def _pay_taxes(self, *, trade: bool = True) -> None:
        """Last year's tax: from taxable cash (selling there when short), or recorded as owed."""
        if abs(self.tax_due) < 0.005:
            self.tax_due = 0.0
            return
        due, self.tax_due = self.tax_due, 0.0
        b = self.book
        taxable = [int(a) for a in np.flatnonzero(b.taxable)]
        t, day, px = self._now()
        if self.sc.taxes.pay_from is TaxPayment.OWED or not taxable:
            self.owed += due
            return
        if due < 0:  # the portfolio lowered the household's other taxes: the refund lands in taxable cash
            got = b.deposit(taxable[0], -due)
            self.flows_pre[t] += got  # … an inflow for the pre-tax return (the tax saving is not performance)
            return
        left = due
        for a in taxable:
            if trade:
                b.raise_cash(a, left, px, day, "tax")
                t, day, px = self._now()
            paid = -b.deposit(a, -left)
            self.flows_pre[t] -= paid  # a tax payment is an outflow for the pre-tax return
            left -= paid
            if left <= 0.005:
                break
        self.owed += max(left, 0.0)

    def _withdrawals(self, *, trade: bool = True) -> None:
        """Raise and pay out the withdrawals due (the adaptive strategies let the engine pick the lots)."""
        need = float(self.due_withdrawal)
        if need <= 0.005:
            return
        self.due_withdrawal = 0.0
        b = self.book
        t, day, px = self._now()
        if trade and self._is_adaptive():
            try:
                hh = b.synced_household()
                cash = float(hh.cash)
                if need > cash:
                    proposal = self.engine.plan(hh, day, run_kind=RunKind.PARTIAL_LIQUIDATION,
                                                amount=Decimal(repr(round(need - cash, 2))), ledger=b.ledger,
                                                proposal_id=b.next_id(day, "withdrawal"))
                    b.execute(proposal, "withdrawal")
            except OptimizationError as exc:
                self.plan_errors.append((day, f"withdrawal: {exc}"))
            t, day, px = self._now()
        for kind in self.sc.withdrawal_order:
            for a in range(self.A):
                if need <= 0.005 or b.account_types[a] is not kind:
                    continue
                if trade:
                    b.raise_cash(a, need, px, day, "withdrawal")
                    t, day, px = self._now()
                got = -b.deposit(a, -need)
                need -= got
                self.flows[t] -= got
                if self.trad[a]:
                    self.flows_after[t] -= self.taxes.distribution(got)
        if need > 0.005 and trade:
            self.shortfall += need
        elif need > 0.005:
            self.notes.append(f"{day}: ${need:,.2f} of withdrawals due in the last two bars were not raised")

    def _is_adaptive(self) -> bool:
        return self.spec is not None and self.spec.kind.value == "adaptive"

    def _harvester(self) -> Any:
        from engine.tax import HarvestConfig, TaxLossHarvester

        trig, b = self.sc.triggers, self.book
        cfg = HarvestConfig(min_loss_usd=Decimal(repr(trig.harvest_min_usd)),
                            min_loss_fraction=trig.harvest_threshold, cost_fraction=b.half_spread,
                            wash_sale_days=trig.wash_sale_days)
        b.avoid_wash = True  # new money goes to a substitute while the primary is at a loss (as the engine does)
        return TaxLossHarvester(self.sc.universe, b.household.tax, cfg)

    def _harvest(self, harvester: Any) -> None:
        """The engine's daily loss-harvest scan for benchmark strategies with ``harvest: true``."""
        from engine.model import OrderSide

        b = self.book
        _t, day, px = self._now()
        if not np.any(b.shares[b.taxable] > 0):
            return
        prices = {sym: p for sym, p in b._price_map(px).items()}
        found = harvester.scan(b.ledger, prices, day)
        if not found:
            return
        pid = b.next_id(day, "harvest")
        orders = []
        for i, d in enumerate(found):
            orders += [o for o in d.orders(f"{pid}-{i:03d}") if o.side is OrderSide.SELL or o.qty]
        proposal = b.order_proposal(tuple(orders), day, "harvest", RunKind.FULL_REBALANCE, pid)
        b.execute(proposal, "harvest", harvested=True)

    def _decide(self) -> None:
        b = self.book
        t, day, px = self._now()
        hh = b.synced_household()
        vals = b.values(px)
        total = float(vals.sum())
        slot_w = (b.shares * np.where(np.isfinite(px), px, 0.0)).sum(axis=0) / total if total > 0 \
            else np.zeros(self.N)
        state = PortfolioState(day, t, vals, b.cash(), slot_w, total, tuple(self.new_events), hh, b.ledger,
                               self.market, pending_cash=Decimal(repr(round(self.pending_cash, 2))),
                               mandate=self.mandate, proposal_id=b.next_id(day, "plan"))
        snap = MarketSnapshot(self.table, t)
        try:
            decision = self.strat.decide(snap, state)
        except OptimizationError as exc:
            self.plan_errors.append((day, f"{type(exc).__name__}: {exc}"))
            self.new_events, self.mandate = [], None
            return
        self.new_events, self.mandate = [], None
        if decision is None:
            return
        if not (t - self.last_run >= self.sc.triggers.cooldown_days or decision.proposal is not None
                or decision.reason.startswith(("initial", "new funds")) or self.mix is None):
            return
        _check_decision(decision, snap, self.table.tickers)
        self.decisions.append((day, decision.reason))
        if decision.proposal is not None:
            harvest_run = decision.proposal.run_kind is RunKind.TAX_LOSS_HARVEST
            b.execute(decision.proposal, "harvest" if harvest_run else "engine", harvested=harvest_run)
            self.pending_cash = 0.0
        elif decision.mix is not None:
            self.mix = np.asarray(decision.mix, dtype=float)
            targets = b.mix_targets(self.mix, px, day)
            b.execute(b.targets_proposal(targets, px, day, "rebalance"), "rebalance")
        if decision.strategic is not None:
            self.current_strategic = np.asarray(decision.strategic, dtype=float)
        self.last_run = t

    def _invest_cash(self) -> None:
        """Benchmarks put idle cash (contributions, inheritance, refunds) into their mix, buying only."""
        if self.mix is None or self._is_adaptive():
            return
        b = self.book
        _t, day, px = self._now()
        vals = b.values(px)
        idle = b.cash() - vals * b.rules.cash_buffer
        if not np.any(idle >= self.sc.triggers.invest_cash_min):
            return
        targets = b.mix_targets(self.mix, px, day, cash_only=True)
        b.execute(b.targets_proposal(targets, px, day, "invest_cash", allow_sells=False), "invest_cash")
        self.pending_cash = 0.0

    # -- the record ---------------------------------------------------------------------------------

    def _result(self) -> StrategyRun:
        b, sc = self.book, self.sc
        harvest_on = bool(self.spec.harvest) if self.spec is not None else bool(self.strat.harvest)
        adaptive = self._is_adaptive()
        reals: list[tuple] = []
        by_id: dict[str, tuple[int, str]] = {}
        per_year: dict[int, dict[str, float]] = {}
        for r in b.ledger.realized():
            a, j = b.a_index[r.account], b.col[r.symbol]
            why = b.sell_reasons.get((r.account, r.symbol, r.sold.toordinal()), "")
            gain = float(r.gain)
            reals.append((r.sold.toordinal(), a, j, float(r.shares), float(r.proceeds), float(r.basis), gain,
                          r.term.value, float(r.disallowed), why))
            by_id[r.id] = (a, why)
            y = per_year.setdefault(r.sold.year, _year0())
            harvested = why == "harvest" or (adaptive and harvest_on and why == "engine")  # StrategyRun.is_harvest
            if gain < 0 and harvested:
                y["harvested"] += -gain
            y["wash_disallowed"] += float(r.disallowed)
        washes = []
        for w in b.ledger.wash_sales():
            a, why = by_id.get(w.realization, (b.a_index.get(w.replacement_account, 0), ""))
            washes.append((w.sold.toordinal(), a, b.col.get(w.symbol, 0), float(w.disallowed),
                           w.replacement_symbol, why, w.permanent))
        for d, _a, _j, _side, _q, _px, notional, cost, _why in b.trades:
            y = per_year.setdefault(date.fromordinal(d).year, _year0())
            y["traded"] += notional
            y["costs"] += cost
        totals = [{"year": yt.year, **per_year.get(yt.year, _year0())} for yt in self.year_taxes]
        notes = list(self.notes)
        esg = [sc.universe[t].esg_score for t in self.table.tickers]
        if all(e is None for e in esg):
            notes.append("no ESG scores in the universe yet: ESG score and carbon series are empty")
        partial = [r for r in b.reports if r[1] != "executed"]
        if partial:
            notes.append(f"{len(partial)} executions were partial (a buy sized at the submit price was rejected "
                         "at the next bar's higher price; its cash waited for the next trigger)")
        broken = [r for r in b.reports if r[3]]
        if broken:
            notes.append(f"{len(broken)} executions left ledger/broker discrepancies")
        return StrategyRun(
            strategy=self.strat.name, kind=self.spec.kind.value if self.spec else type(self.strat).__name__,
            days=self.days, tickers=self.table.tickers, account_ids=b.account_ids,
            account_types=tuple(x.value for x in b.account_types), value=self.value, after_tax=self.after,
            liquidation=self.liq, flows=self.flows, flows_pre_tax=self.flows_pre + self.flows,
            flows_after_tax=self.flows_after + self.flows, weights=self.weights, strategic=self.strategic,
            trades=b.trades, realizations=reals, wash_sales=washes, taxes=self.year_taxes, year_totals=totals,
            decisions=self.decisions, goals=self.goals, events=self.events_log, shortfall=self.shortfall,
            notes=notes, seconds=time.perf_counter() - self.t_start, prices=self.P,
            approvals_needed=b.approvals_needed, plan_errors=self.plan_errors, executions=len(b.reports),
            taxable_value=self.taxable_value, harvest=harvest_on, after_tax_paid=self.after_paid,
        )


def _year0() -> dict[str, float]:
    return {"harvested": 0.0, "costs": 0.0, "traded": 0.0, "wash_disallowed": 0.0}


def _check_decision(decision: Decision, snap: MarketSnapshot, tickers: tuple[str, ...]) -> None:
    """The look-ahead guard on a decision: a proposal dated after the cut, or buying a fund with no price."""
    proposal = decision.proposal
    as_of = getattr(proposal, "as_of", None)
    if as_of is not None and as_of > snap.day:
        raise LookAheadError(
            f"a proposal as of {as_of} was returned while planning on {snap.day}",
            day=as_of, fix="the engine must plan with data as of the planning day",
        )
    if decision.mix is not None:
        m = np.asarray(decision.mix, dtype=float)
        if m.shape != (len(tickers),) or not np.isfinite(m).all():
            raise ConfigError("a decision's mix must be finite fractions per fund", field="Decision.mix")
        bad = np.flatnonzero((m > 0) & ~snap.tradable)
        if bad.size:
            raise LookAheadError(
                f"{tickers[bad[0]]} is given weight on {snap.day}, before its first price",
                ticker=tickers[bad[0]], day=snap.day,
                fix="a fund cannot be bought before it exists; use available_mix()",
            )
