"""The backtest loop: replay a scenario's household through history, one trading day at a time.

    run = run_strategy(load_scenario("demo"), "static_60_40")
    run.value[-1], run.after_tax[-1], run.taxes[-1]

Each day: taxes due → cash flows → life events → income accrual → loss-harvest scan → strategy decision
(checked for look-ahead) → trades → idle-cash investing → valuation; year end settles taxes. The loop
holds prices as numpy arrays and does no pandas work per day.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from backtests._interim_book import Book, Rates, YearTax
from backtests.market import MarketSnapshot, PointInTimeGuard, PriceTable
from backtests.scenario import Frequency, Scenario, StrategySpec, TaxPayment
from backtests.strategies import (
    Decision,
    PortfolioState,
    Strategy,
    StrategyContext,
    build_strategy,
)
from engine.errors import ConfigError, EmptyRange, LookAheadError
from engine.model import AccountType

__all__ = ["StrategyRun", "rates_for", "run_strategy", "scenario_prices"]

_MIN_TRADE = 25.0  # USD: smaller rebalancing trades are skipped


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
    after_tax: np.ndarray  # value − taxes owed − this year's accrued tax (pre-liquidation)
    liquidation: np.ndarray  # after selling everything and withdrawing retirement accounts
    flows: np.ndarray  # external flows (contributions > 0, withdrawals < 0), gross
    flows_pre_tax: np.ndarray  # flows + taxes paid as outflows (pre-tax return basis)
    flows_after_tax: np.ndarray  # flows − tax on retirement distributions
    weights: np.ndarray  # (days, funds) fraction of household value by fund held
    strategic: np.ndarray  # (days, funds) the strategy's strategic mix
    trades: list[tuple]
    realizations: list[tuple]
    wash_sales: list[tuple]
    taxes: list[YearTax]
    year_totals: list[dict[str, float]]
    decisions: list[tuple[date, str]]
    goals: list[dict[str, Any]]
    events: list[tuple[date, str, str]]
    shortfall: float = 0.0
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    prices: np.ndarray | None = None  # (days, funds) adjusted closes the run traded at


def rates_for(scenario: Scenario) -> Rates:
    """Marginal rates for the interim tax settlement (federal from the scenario + the household's state)."""
    t = scenario.taxes
    state = t.state_rate if t.state_rate is not None else scenario.household.tax.state_rate
    return Rates(
        ordinary=t.federal_ordinary + state + t.niit,
        ltcg=t.federal_ltcg + state + t.niit,
        exempt=state,
        loss_limit=t.loss_deduction_limit,
    )


def scenario_prices(scenario: Scenario, source: PriceTable | None = None) -> PriceTable:
    """The scenario's funds over its period from ``source`` (default: the embedded prices)."""
    tickers = scenario.universe.tickers
    if source is None:
        return PriceTable.embedded(tickers, scenario.start, scenario.end)
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
    market: Any = None,
) -> StrategyRun:
    """Replay ``scenario`` with one strategy (a name, spec or ``Strategy`` object).

    Args:
        prices: the scenario's price table (default: embedded prices over the scenario period).
        progress: called as ``progress(done_days, total_days)`` every ~5 % of the run.
        market: point-in-time market data for the Engine (wrapped in ``PointInTimeGuard`` per day).

    Raises:
        LookAheadError: a decision (or the data handed to the Engine) referred to a day after the cut.
        ConfigError / PlanningError: the scenario or strategy cannot run.
    """
    import time

    t_start = time.perf_counter()
    if isinstance(strategy, str):
        strategy = scenario.strategy(strategy)
    spec = strategy if isinstance(strategy, StrategySpec) else None
    strat: Strategy = build_strategy(strategy) if isinstance(strategy, StrategySpec) else strategy
    table = prices if prices is not None and prices.tickers == tuple(scenario.universe.tickers) \
        else scenario_prices(scenario, prices)
    days, tickers, P = table.days, table.tickers, table.prices
    T, N = P.shape
    if T < 2:
        raise EmptyRange("the scenario period holds fewer than two trading days", day=scenario.start)
    ords = table.ordinals
    hh = scenario.household
    acct_ids = tuple(a.id for a in hh.accounts)
    acct_types = tuple(a.type for a in hh.accounts)
    A = len(acct_ids)
    a_index = {a: i for i, a in enumerate(acct_ids)}
    rates = rates_for(scenario)
    costs = scenario.costs
    book = Book(
        acct_ids, acct_types, tickers, rates,
        half_spread_bps=costs.spread_bps / 2.0, slippage_bps=costs.slippage_bps,
        commission=costs.commission, wash_days=scenario.triggers.wash_sale_days,
        identical=scenario.universe.identical,
    )
    # Opening balances: account cash and any lots from the household file.
    for i, acct in enumerate(hh.accounts):
        book.deposit(i, float(acct.cash))
    col = {t: j for j, t in enumerate(tickers)}
    for lot in hh.lots:
        a, j = a_index[lot.account], col.get(lot.symbol)
        if j is None:
            continue
        book.shares[a, j] += float(lot.shares)
        if book.taxable[a]:
            acq = min(lot.acquired, days[0]).toordinal()
            book.lots.setdefault((a, j), []).append([float(lot.shares), float(lot.basis), acq, acq])
            book.basis[a, j] += float(lot.basis)

    # Income yields per day by tax character (fractions of value per trading day).
    uni = scenario.universe
    y = np.array([uni[t].dividend_yield for t in tickers]) / 252.0
    qs = np.array([uni[t].qualified_share for t in tickers])
    xs = np.array([uni[t].tax_exempt_share for t in tickers])
    q_rate, x_rate = y * qs * (1 - xs), y * xs
    o_rate = y - q_rate - x_rate
    drag = scenario.taxes.dividend_drag
    esg = np.array([np.nan if uni[t].esg_score is None else uni[t].esg_score for t in tickers])

    # Cash flows precomputed per row; life events per row.
    contrib = np.zeros((T, A))
    withdraw = np.zeros(T)
    for cf in scenario.cash_flows:
        for row, when in _schedule(days[0], cf.start, cf.end, cf.every, days, ords):
            amount = float(cf.amount) * (1.0 + cf.growth) ** ((when - cf.start).days / 365.25)
            if cf.kind == "contribution":
                contrib[row, a_index[cf.account]] += amount  # type: ignore[index]
            else:
                withdraw[row] += amount
    events_at: dict[int, list[Any]] = {}
    for ev in scenario.events:
        row = int(np.searchsorted(ords, ev.on.toordinal(), "left"))
        if row < T:
            events_at.setdefault(row, []).append(ev)
    goal_rows = {}
    for g in hh.goals:
        row = int(np.searchsorted(ords, g.target_date.toordinal(), "left"))
        if row < T and g.target_date >= days[0]:
            goal_rows.setdefault(row, []).append(g)

    ctx = StrategyContext(tickers, uni, hh, acct_ids, acct_types, days[0], scenario.seed, scenario, market)
    strat.initialize(ctx)

    value = np.zeros(T)
    after = np.zeros(T)
    liq = np.zeros(T)
    flows = np.zeros(T)
    flows_pre = np.zeros(T)
    flows_after = np.zeros(T)
    weights = np.zeros((T, N))
    strategic = np.full((T, N), np.nan)
    taxes: list[YearTax] = []
    totals: list[dict[str, float]] = []
    decisions: list[tuple[date, str]] = []
    goals: list[dict[str, Any]] = []
    events_log: list[tuple[date, str, str]] = []
    notes: list[str] = []
    slot = np.arange(N)  # fund → the strategy fund it stands in for (after a harvest swap)
    rep = np.arange(N)  # strategy fund → the fund bought for it now
    mix: np.ndarray | None = None
    current_strategic = np.full(N, np.nan)
    tax_due = 0.0
    contrib_scale = 1.0
    shortfall = 0.0
    household = hh
    trad = np.array([t is AccountType.TRADITIONAL for t in acct_types])
    taxable_rows = np.flatnonzero(book.taxable)
    last_run = -10**9
    step = max(1, T // 20)

    def slot_values(prices: np.ndarray, a: int) -> np.ndarray:
        held = book.shares[a] * np.where(np.isfinite(prices), prices, 0.0)
        return np.bincount(slot, weights=held, minlength=N)

    def rebalance(a: int, target: np.ndarray, prices: np.ndarray, day_ord: int, why: str) -> None:
        """Trade account ``a`` to ``target`` USD per strategy fund: sells first, then buys."""
        cur = slot_values(prices, a)
        diff = target - cur
        for s in np.flatnonzero(diff < -_MIN_TRADE):
            need = -diff[s]
            members = [k for k in np.flatnonzero(slot == s) if book.shares[a, k] > 0]
            members.sort(key=lambda k: k == rep[s])  # stand-ins first, the current pick last
            for k in members:
                if need <= 0:
                    break
                px = prices[k]
                q = min(book.shares[a, k], need / px)
                book.sell(a, int(k), q, px, day_ord, why)
                need -= q * px
        buys = np.flatnonzero(diff > _MIN_TRADE)
        if buys.size:
            want = diff[buys]
            avail = book.cash[a] - costs.commission * buys.size
            scale = min(1.0, avail / want.sum()) if want.sum() > 0 else 0.0
            for s, w in zip(buys, want, strict=True):
                k = int(rep[s])
                if np.isfinite(prices[k]) and w * scale > _MIN_TRADE / 5:
                    book.buy(a, k, w * scale, prices[k], day_ord, why)

    def apply_mix(m: np.ndarray, prices: np.ndarray, day_ord: int, why: str) -> None:
        vals = book.account_values(prices)
        for a in range(A):
            if vals[a] > 0:
                rebalance(a, m * (vals[a] - 0.0), prices, day_ord, why)

    def apply_targets(tg: Any, prices: np.ndarray, day_ord: int, why: str) -> None:
        total = float(book.account_values(prices).sum())
        per: dict[int, np.ndarray] = {}
        for (acct, sym), w in dict(tg).items():
            if sym.upper() not in col:
                continue
            per.setdefault(a_index[acct], np.zeros(N))[col[sym.upper()]] += w * total
        vals = book.account_values(prices)
        for a, target in per.items():
            s = target.sum()
            if s > vals[a] and s > 0:  # targets cannot exceed what the account holds
                target = target * vals[a] / s
            rebalance(a, target, prices, day_ord, why)

    def invest_cash(prices: np.ndarray, day_ord: int) -> None:
        if mix is None:
            return
        for a in range(A):
            c = book.cash[a]
            if c < scenario.triggers.invest_cash_min:
                continue
            cur = slot_values(prices, a)
            target = mix * (cur.sum() + c)
            gap = np.maximum(target - cur, 0.0)
            g = gap.sum()
            alloc = gap / g * c if g > 0 else mix * c
            for s in np.flatnonzero(alloc > 1.0):
                k = int(rep[s])
                if np.isfinite(prices[k]):
                    book.buy(a, k, float(alloc[s]), prices[k], day_ord, "invest_cash")

    def raise_cash(a: int, amount: float, prices: np.ndarray, day_ord: int, why: str) -> float:
        """Sell pro rata in account ``a`` until its cash covers ``amount``; returns USD available."""
        short = amount - book.cash[a]
        if short > 0:
            held = book.shares[a] * np.where(np.isfinite(prices), prices, 0.0)
            tot = held.sum()
            if tot > 0:
                frac = min(1.0, short * 1.002 / tot)
                for k in np.flatnonzero(held > 0):
                    book.sell(a, int(k), book.shares[a, k] * frac, prices[k], day_ord, why)
        return min(amount, max(book.cash[a], 0.0))

    def harvest_scan(prices: np.ndarray, day_ord: int) -> None:
        # INTERIM: the engine's TaxLossHarvester replaces this scan when engine/tax lands.
        th = scenario.triggers
        for a in taxable_rows:
            for k in np.flatnonzero(book.shares[a] > 0):
                px = prices[k]
                if not np.isfinite(px) or book.basis[a, k] <= 0:
                    continue
                mv = book.shares[a, k] * px
                loss = book.basis[a, k] - mv
                if loss < th.harvest_min_usd or loss < th.harvest_threshold * book.basis[a, k]:
                    continue
                if book.recent_buy(int(k), day_ord):
                    continue  # selling now would wash against a recent purchase
                sub = _substitute(int(k), prices, day_ord)
                if sub is None:
                    continue
                cash0 = book.cash[a]
                book.sell(a, int(k), book.shares[a, k], px, day_ord, "harvest", losses_only=True)
                proceeds = book.cash[a] - cash0
                if proceeds > 0:
                    book.buy(a, sub, proceeds, prices[sub], day_ord, "harvest")
                s = slot[k]
                slot[sub] = s
                rep[s] = sub

    def _substitute(k: int, prices: np.ndarray, day_ord: int) -> int | None:
        group = uni[tickers[k]].substitute_group
        if group is None:
            return None
        for i, t in enumerate(tickers):
            if (i != k and uni[t].substitute_group == group and np.isfinite(prices[i])
                    and book.group[i] != book.group[k] and not book.recent_loss_sale(i, day_ord)):
                return i
        return None

    for t in range(T):
        day = days[t]
        day_ord = int(ords[t])
        prices = P[t]
        # 1. Taxes settled at the last year end are paid on the first trading day of the new year.
        if tax_due != 0.0:
            paid = 0.0
            if tax_due < 0:  # a refund: losses lowered the household's other taxes
                target = taxable_rows[0] if taxable_rows.size else 0
                book.deposit(int(target), -tax_due)
                paid = tax_due
            elif scenario.taxes.pay_from is TaxPayment.TAXABLE_CASH and taxable_rows.size:
                left = tax_due
                for a in taxable_rows:
                    got = raise_cash(int(a), left, prices, day_ord, "tax")
                    book.cash[a] -= got
                    left -= got
                    paid += got
                    if left <= 0.005:
                        break
                book.owed += max(left, 0.0)
            else:
                book.owed += tax_due
            flows_pre[t] -= paid
            tax_due = 0.0
        # 2. Scheduled cash flows.
        row_contrib = contrib[t]
        if row_contrib.any():
            for a in np.flatnonzero(row_contrib):
                amt = row_contrib[a] * contrib_scale
                book.deposit(int(a), amt)
                flows[t] += amt
        if withdraw[t] > 0:
            need = withdraw[t]
            for kind in scenario.withdrawal_order:
                for a in range(A):
                    if need <= 0.005 or acct_types[a] is not kind:
                        continue
                    got = raise_cash(a, need, prices, day_ord, "withdrawal")
                    book.cash[a] -= got
                    need -= got
                    flows[t] -= got
                    if trad[a]:
                        book.distribution(got)
                        flows_after[t] -= got * rates.ordinary
            if need > 0.005:
                shortfall += need
        # 3. Life events.
        todays = events_at.get(t, ())
        for ev in todays:
            events_log.append((day, ev.kind.value, ev.label or ev.kind.value.replace("_", " ")))
            if ev.amount is not None and ev.account is not None:
                book.deposit(a_index[ev.account], float(ev.amount))
                flows[t] += float(ev.amount)
            if ev.contribution_scale is not None:
                contrib_scale *= ev.contribution_scale
            household = _apply_event(household, ev)
        # 4. Income accrues (its tax is the drag; the adjusted price already reinvests it).
        if drag:
            book.accrue_income(prices, q_rate, o_rate, x_rate)
        # 5. Daily loss-harvest scan.
        if strat.harvest and t > 0:
            harvest_scan(prices, day_ord)
        # 6. The strategy decides on what it can see today.
        vals = book.account_values(prices)
        total = float(vals.sum())
        w_slots = np.zeros(N)
        if total > 0:
            held = book.shares * np.where(np.isfinite(prices), prices, 0.0)
            w_slots = np.bincount(slot, weights=held.sum(axis=0), minlength=N) / total
        state = PortfolioState(day, t, vals, book.cash.copy(), w_slots, total, tuple(todays), household, book,
                               _guard(market, day))
        snap = MarketSnapshot(table, t)
        decision = strat.decide(snap, state)
        if decision is not None and (t - last_run >= scenario.triggers.cooldown_days or todays
                                     or decision.reason.startswith(("initial", "new funds"))
                                     or mix is None):
            _check_decision(decision, snap, tickers)
            decisions.append((day, decision.reason))
            if decision.mix is not None:
                mix = np.asarray(decision.mix, dtype=float)
                apply_mix(mix, prices, day_ord, "rebalance")
            elif decision.targets is not None:
                apply_targets(decision.targets, prices, day_ord, "rebalance")
            if decision.strategic is not None:
                current_strategic = np.asarray(decision.strategic, dtype=float)
            last_run = t
        # 7. Idle cash (contributions, inheritance, dividends of sells) goes to work.
        invest_cash(prices, day_ord)
        # 8. Valuation.
        vals = book.account_values(prices)
        v = float(vals.sum())
        value[t] = v
        est = book.estimate(day.year)
        after[t] = v - book.owed - est.tax
        held_px = np.where(np.isfinite(prices), prices, 0.0)
        unreal = float((book.shares[book.taxable] @ held_px).sum() - book.basis[book.taxable].sum())
        y_ = book.year
        liq_tax = _liq_tax(day.year, y_, unreal, book, rates)
        liq[t] = v - book.owed - liq_tax - float(vals[trad].sum()) * rates.ordinary
        if v > 0:
            weights[t] = (book.shares * held_px).sum(axis=0) / v
        strategic[t] = current_strategic
        for g in goal_rows.get(t, ()):
            idx = [a_index[x] for x in g.accounts] or list(range(A))
            have = float(vals[idx].sum())
            need = float(g.target) if g.target > 0 else float(g.annual_income or 0) * 25.0
            goals.append({"goal": g.id, "name": g.name or g.id, "date": day, "target": need,
                          "value": have, "funded": have >= need * g.flexibility,
                          "shortfall": max(0.0, need - have)})
        # 9. Year end: settle this year's taxes (paid on the next trading day).
        if t + 1 == T or days[t + 1].year != day.year:
            result, done = book.close_year(day.year)
            taxes.append(result)
            totals.append({"year": day.year, "harvested": done.harvested, "costs": done.costs,
                           "traded": done.traded, "wash_disallowed": done.wash_disallowed})
            if t + 1 < T:
                tax_due = result.tax
            else:
                book.owed += result.tax
            after[t] = v - book.owed
        if progress is not None and (t % step == 0 or t == T - 1):
            progress(t + 1, T)
    strat.finalize()
    if not np.isfinite(esg).any():
        notes.append("no ESG scores in the universe yet: ESG score and carbon series are empty")
    flows_pre += flows
    flows_after += flows
    return StrategyRun(
        strategy=strat.name, kind=spec.kind.value if spec else type(strat).__name__,
        days=days, tickers=tickers, account_ids=acct_ids, account_types=tuple(x.value for x in acct_types),
        value=value, after_tax=after, liquidation=liq, flows=flows, flows_pre_tax=flows_pre,
        flows_after_tax=flows_after, weights=weights, strategic=strategic, trades=book.trades,
        realizations=book.realizations, wash_sales=book.wash_sales, taxes=taxes, year_totals=totals,
        decisions=decisions, goals=goals, events=events_log, shortfall=shortfall, notes=notes,
        seconds=time.perf_counter() - t_start, prices=P,
    )


def _liq_tax(year: int, y: Any, unrealized: float, book: Book, rates: Rates) -> float:
    from backtests._interim_book import tax_for_year

    # Unrealized gains counted long-term (the conservative simplification); state it in reports.
    r = tax_for_year(year, y.st, y.lt + unrealized, y.qdiv, y.odiv, y.xdiv, y.dist, book.st_cf,
                     book.lt_cf, rates)
    return r.tax


def _apply_event(household: Any, ev: Any) -> Any:
    """The household after a life event (engine.goals.apply_event once it lands; else unchanged)."""
    try:
        from engine.goals import apply_event  # type: ignore[attr-defined]
    except ImportError:
        return household
    from engine.model import LifeEvent

    return apply_event(household, LifeEvent(kind=ev.kind, on=ev.on, member=ev.member, amount=ev.amount,
                                            details=dict(ev.details)))


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


def _guard(market: Any, day: date) -> Any:
    return None if market is None else PointInTimeGuard(market, day)

