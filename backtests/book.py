"""The household's books in a backtest: the real ``SimulatedBroker`` + ``LotLedger``, traded through ``Engine.execute``.

    book = HouseholdBook(scenario, table, engine, on_close=..., on_open=...)
    book.execute(proposal, "rebalance")                 # sells, fills next bar, buys sized to real cash
    book.mix_proposal(mix, prices, day, "rebalance")    # a benchmark mix as orders (engine.rebalancer)

Every strategy trades the same way: orders go to one ``SimulatedBroker`` holding all the household's
accounts, fills are booked in the engine's ``LotLedger`` by ``Engine.execute`` (specific lots or
TAX_MIN), so costs, wash sales and taxes are the engine's, never a copy of them.

**The clock.** The broker sits after a bar's close; an order fills at the next bar. ``Engine.execute``
waits for its sells by calling ``broker.process()`` (one bar), then buys and advances again, so one
execution moves the simulator one or two trading days forward. The broker here reports every bar it
crosses: ``on_close(day)`` just before it leaves a bar (the day's valuation) and ``on_open(day)`` when it
reaches the next (that day's contributions and income), so days an execution skips over are still
valued and still receive their cash flows. Money is float USD in the harness arrays, ``Decimal`` in the
broker and ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from backtests.market import PriceTable
from brokers.simulated import CostModel, SimulatedBroker
from engine.model import AccountType, Household, Order, OrderSide, Proposal, RunKind
from engine.rebalancer import OrderRules, build_orders
from engine.tax import LotLedger, LotMethod
from engine.tax.ledger import fmt_shares as fmt

__all__ = ["HouseholdBook", "ReportingBroker"]

_NY = ZoneInfo("America/New_York")
_SHARES = Decimal("1e-9")


class ReportingBroker(SimulatedBroker):
    """A ``SimulatedBroker`` that reports each bar it crosses (see the module docstring)."""

    def __init__(self, *args: Any, on_close: Callable[[date], None], on_open: Callable[[date], None],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_close, self._on_open = on_close, on_open

    def process(self) -> list:  # type: ignore[override]
        """Close today's bar (valuation), advance one bar (fills), open the new one (cash flows)."""
        self._on_close(self.today)
        fills = super().process()
        self._on_open(self.today)
        return fills


def _dec(x: float, step: str = "0.01") -> Decimal:
    return Decimal(repr(float(x))).quantize(Decimal(step))


class HouseholdBook:
    """Broker, ledger, household (cash kept in sync) and float mirrors of positions for fast valuation.

    ``shares[a, j]`` are shares per account × fund and ``taxable_basis[j]`` the cost basis (USD) of the
    taxable lots, both refreshed from the ledger after every execution.
    """

    def __init__(self, household: Household, universe: Any, table: PriceTable, engine: Any, *,
                 half_spread: float, commission: float, on_close: Callable[[date], None],
                 on_open: Callable[[date], None]) -> None:
        self.household = household
        self.universe = universe
        self.engine = engine
        self.tickers = table.tickers
        self._table = table
        self._row = {d: i for i, d in enumerate(table.days)}
        self.col = {t: j for j, t in enumerate(self.tickers)}
        self.account_ids = tuple(a.id for a in household.accounts)
        self.account_types = tuple(a.type for a in household.accounts)
        self.a_index = {a: i for i, a in enumerate(self.account_ids)}
        self.taxable = np.array([t is AccountType.TAXABLE for t in self.account_types])
        self.ledger = LotLedger.from_household(household, universe)
        positions: dict[str, dict[str, Decimal]] = {}
        for lot in household.lots:
            held = positions.setdefault(lot.account, {})
            held[lot.symbol] = held.get(lot.symbol, Decimal(0)) + lot.shares
        frame = pd.DataFrame(table.prices, index=list(table.days), columns=list(table.tickers))
        self.broker = ReportingBroker(
            frame, accounts={a.id: a.cash for a in household.accounts}, start=table.days[0],
            positions=positions, assets=universe,
            costs=CostModel(half_spread=_dec(half_spread, "1e-8"), per_order=_dec(commission)),
            on_close=self._bar(on_close), on_open=self._bar(on_open),
        )
        self.half_spread = half_spread
        self.rules: OrderRules = engine.config.order_rules
        A, N = len(self.account_ids), len(self.tickers)
        self.shares = np.zeros((A, N))
        self.taxable_basis = np.zeros(N)
        self.trades: list[tuple] = []  # (ordinal, account, fund, side, shares, price, notional, cost, reason)
        self.sell_reasons: dict[tuple[str, str, int], str] = {}
        self.approvals_needed = 0
        self.avoid_wash = False  # mix buys skip a fund whose taxable lots are at a loss (harvesting benchmarks)
        self.reports: list[Any] = []
        self._n = 0
        self._cash: np.ndarray | None = None
        self._cash_dec: dict[str, Decimal] = {}
        self._executing = False
        self.refresh()

    # -- state ------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read shares and taxable basis from the ledger (after an execution)."""
        self.shares[:] = 0.0
        self.taxable_basis[:] = 0.0
        for lot in self.ledger.open_lots():
            j = self.col.get(lot.symbol)
            if j is None:
                continue
            a = self.a_index[lot.account]
            self.shares[a, j] += float(lot.shares)
            if self.taxable[a]:
                self.taxable_basis[j] += float(lot.basis)

    def _bar(self, report: Callable[[date], None]) -> Callable[[date], None]:
        """``report`` for a bar the broker crosses, on the broker's holdings when inside an execution."""

        def on_bar(day: date) -> None:
            if self._executing:
                self._sync_broker()
            report(day)

        return on_bar

    def _sync_broker(self) -> None:
        """Shares and cash as the broker holds them now (the mirrors are refreshed only after an execution).

        Between the bars of one ``Engine.execute`` the sells have filled but ``shares`` still holds them;
        valuing those shares next to the broker's cash (which already holds the proceeds) would count
        the sale twice. The taxable basis comes from the ledger (fills are booked as they are waited for).
        """
        self._cash = None
        self.refresh()
        self.shares[:] = 0.0
        for p in self.broker.positions():
            j = self.col.get(p.symbol)
            if j is not None:
                self.shares[self.a_index[p.account], j] += float(p.qty)

    def cash(self) -> np.ndarray:
        """Cash per account at the broker (USD; a copy).

        Read from the broker only after something moved it (a deposit or an execution): between those
        nothing else can, since every order is waited for inside ``Engine.execute``. The simulator's
        ``account()`` scans every order it ever saw, so reading it daily would grow quadratically.
        """
        if self._cash is None:
            self._cash_dec = {a: self.broker.account(a).cash for a in self.account_ids}
            self._cash = np.array([float(self._cash_dec[a]) for a in self.account_ids])
        return self._cash.copy()

    def cash_of(self, account: str) -> Decimal:
        """Cash of one account at the broker (USD, exact)."""
        self.cash()
        return self._cash_dec[account]

    def values(self, prices: np.ndarray) -> np.ndarray:
        """Account values (cash + shares at ``prices``) in USD."""
        px = np.where(np.isfinite(prices), prices, 0.0)
        return self.cash() + self.shares @ px

    def synced_household(self) -> Household:
        """The household with each account's cash as the broker holds it now (what the engine plans from)."""
        accounts = tuple(replace(a, cash=self.cash_of(a.id)) for a in self.household.accounts)
        self.household = replace(self.household, accounts=accounts)
        return self.household

    def deposit(self, a: int, amount: float) -> float:
        """Add (negative: take, at most the cash there) USD in account ``a`` at the broker; returns USD moved."""
        acct = self.account_ids[a]
        value = _dec(amount)
        if value < 0:
            value = max(value, -self.cash_of(acct).quantize(Decimal("0.01"), rounding=ROUND_DOWN))
        if not value:
            return 0.0
        self.broker.deposit(acct, value)
        self._cash = None
        return float(value)

    # -- trading ----------------------------------------------------------------------------------

    def next_id(self, day: date, what: str) -> str:
        """A deterministic proposal id (client order ids derive from it)."""
        self._n += 1
        return f"{self.household.id}-{day:%Y%m%d}-{what}-{self._n:05d}"

    def execute(self, proposal: Proposal, reason: str, *, harvested: bool = False) -> Any:
        """Approve (backtests auto-approve; counted when a human would have had to) and execute ``proposal``."""
        if not proposal.orders:
            return None
        if proposal.needs_approval:
            self.approvals_needed += 1
            proposal = self.engine.approve(proposal, actor="backtest", reason="auto-approved in a backtest")
        self._executing = True
        try:
            report = self.engine.execute(proposal, self.broker, ledger=self.ledger, household=self.household)
        finally:
            self._executing = False
            self._cash = None
        why = {o.client_order_id: reason for o in proposal.orders}
        if harvested:
            why.update({o.client_order_id: "harvest" for o in proposal.orders})
        for f in report.fills:
            a, j = self.a_index[f.account], self.col[f.symbol]
            day = f.at.astimezone(_NY).date()
            qty, px = float(f.qty), float(f.price)
            notional = qty * px
            cost = float(f.fees) + notional * self.half_spread / (1 + self.half_spread)
            side = f.side.value
            self.trades.append((day.toordinal(), a, j, side, qty, px, notional, cost,
                                why.get(f.client_order_id, reason)))
            if f.side is OrderSide.SELL:
                self.sell_reasons[(f.account, f.symbol, day.toordinal())] = why.get(f.client_order_id, reason)
        self.reports.append((proposal.id, report.status.value, len(report.errors), len(report.discrepancies)))
        self.refresh()
        self.synced_household()
        return report

    def order_proposal(self, orders: tuple[Order, ...], day: date, what: str, run_kind: RunKind,
                       pid: str | None = None) -> Proposal:
        """Wrap harness-built orders (benchmarks, harvests, raising cash) in a proposal ``Engine.execute`` takes."""
        return Proposal(id=pid or self.next_id(day, what), household=self.household.id, as_of=day,
                        created=datetime.combine(day, datetime.min.time(), tzinfo=UTC), trigger=what,
                        run_kind=run_kind, targets={}, orders=orders)

    def current(self) -> dict[tuple[str, str], Decimal]:
        """Shares per (account, fund) from the ledger."""
        out: dict[tuple[str, str], Decimal] = {}
        for lot in self.ledger.open_lots():
            key = (lot.account, lot.symbol)
            out[key] = out.get(key, Decimal(0)) + lot.shares
        return out

    def _price_map(self, prices: np.ndarray) -> dict[str, Decimal]:
        return {t: Decimal(repr(round(float(prices[j]), 6))) for j, t in enumerate(self.tickers)
                if np.isfinite(prices[j])}

    def targets_proposal(self, targets: Mapping[tuple[str, str], float], prices: np.ndarray, day: date,
                         what: str, *, allow_sells: bool = True, allow_buys: bool = True) -> Proposal:
        """Orders (``engine.rebalancer.build_orders``) from the ledger's shares to ``targets`` shares."""
        current = self.current()
        px = self._price_map(prices)
        want = dict(current)  # accounts and funds the targets do not name stay as they are
        want.update({k: Decimal(repr(max(float(v), 0.0))).quantize(_SHARES) for k, v in targets.items()})
        cash = {a.id: self.cash_of(a.id) for a in self.household.accounts}
        plan = build_orders(self.next_id(day, what), current, want, px, cash, self.universe.assets,
                            rules=self.rules, allow_sells=allow_sells, allow_buys=allow_buys)
        kind = RunKind.FULL_REBALANCE if allow_sells and allow_buys else (
            RunKind.INVEST_CASH if allow_buys else RunKind.PARTIAL_LIQUIDATION)
        return self.order_proposal(plan.orders, day, what, kind)

    def mix_targets(self, mix: np.ndarray, prices: np.ndarray, day: date, *, cash_only: bool = False
                    ) -> dict[tuple[str, str], float]:
        """Target shares holding ``mix`` (fractions per fund) in every account.

        A fund's substitutes (same substitute group, e.g. after a harvest swap) count towards it: they are
        sold first when the fund is over target; new money goes to the first fund of the group the
        wash-sale rule lets us buy today. With ``cash_only`` only idle cash is placed (no sells).
        """
        px = np.where(np.isfinite(prices), prices, 0.0)
        tradable = np.isfinite(prices)
        slot = self._slots(mix)
        cash = self.cash()
        out: dict[tuple[str, str], float] = {}
        names = [t for j, t in enumerate(self.tickers) if tradable[j]]
        blocked = set(self.ledger.blocked_buys(names, day))
        if self.avoid_wash:
            from engine.tax import wash_avoiding_buys

            blocked |= set(wash_avoiding_buys(self.ledger, self._price_map(prices), names, self.universe, day))
        for a, acct in enumerate(self.account_ids):
            held = self.shares[a] * px
            total = held.sum() + cash[a]
            if total <= 0:
                continue
            for j in np.flatnonzero(self.shares[a] > 0):
                out[(acct, self.tickers[j])] = float(self.shares[a, j])
            slot_value = np.bincount(slot, weights=held, minlength=len(mix))
            spend = cash[a] * (1 - self.rules.cash_buffer) if cash_only else 0.0
            gaps = np.maximum(mix * (held.sum() + cash[a]) - slot_value, 0.0)
            for s in np.flatnonzero((mix > 0) | (slot_value > 0)):
                want = mix[s] * total * (1 - self.rules.cash_buffer)
                diff = want - slot_value[s]
                if cash_only:
                    g = gaps.sum()
                    diff = spend * (gaps[s] / g if g > 0 else mix[s])
                    if diff <= 0:
                        continue
                members = [k for k in np.flatnonzero(slot == s) if tradable[k]]
                if diff < 0:
                    members.sort(key=lambda k: k == s)  # stand-ins first, the mix fund last
                    for k in members:
                        if diff >= 0:
                            break
                        cut = min(held[k], -diff)
                        out[(acct, self.tickers[k])] = float(self.shares[a, k] - cut / px[k])
                        diff += cut
                elif diff > 0:
                    order = sorted(members, key=lambda k: (k != s, k))
                    pick = next((k for k in order if self.tickers[k] not in blocked), None)
                    if pick is None:
                        continue  # every fund of the group would wash a recent loss: wait
                    key = (acct, self.tickers[pick])
                    out[key] = out.get(key, 0.0) + diff / px[pick]
        return out

    def _slots(self, mix: np.ndarray) -> np.ndarray:
        """Fund → the mix fund it stands in for (its substitute group's first member in the mix), else itself.

        A fund the mix holds is always its own slot, so a mix with two funds of one group holds both.
        """
        slot = np.arange(len(self.tickers))
        groups: dict[str, int] = {}
        for j, t in enumerate(self.tickers):
            g = self.universe[t].substitute_group if t in self.universe else None
            if g is not None and mix[j] > 0:
                groups.setdefault(g, j)
        for j, t in enumerate(self.tickers):
            g = self.universe[t].substitute_group if t in self.universe else None
            if g is not None and g in groups and mix[j] <= 0:
                slot[j] = groups[g]
        return slot

    def raise_cash(self, a: int, amount: float, prices: np.ndarray, day: date, why: str) -> None:
        """Sell in account ``a`` until its cash covers ``amount`` USD (each sale fills at the next bar).

        Sales are pro rata over the holdings big enough for a sale above the order rules' minimum trade
        (smaller ones would be dropped by ``build_orders``); a second round covers a price move.
        """
        acct = self.account_ids[a]
        for _ in range(3):
            short = amount - float(self.cash_of(acct))
            if short <= 0.005:
                return
            px = np.where(np.isfinite(prices), prices, 0.0)
            held = self.shares[a] * px
            total = held.sum()
            if total <= 0:
                return
            household = float((self.shares @ px).sum() + self.cash().sum())
            floor = max(float(self.rules.min_trade), household * self.rules.min_trade_weight) * 1.5
            want = min(total, max(short * 1.01 + 1.0, floor))  # a sale below the minimum would be dropped
            big = held >= floor
            if big.sum() * floor > want:  # too small to spread: sell it from the largest holding
                big = np.arange(len(held)) == int(np.argmax(held))
            base = held[big].sum()
            if base < want:  # too little in sizeable holdings: sell everything
                sell = held.copy()
            else:
                sell = np.where(big, held * (want / base), 0.0)
            targets = {(acct, self.tickers[j]): max(float(self.shares[a, j]) * (1 - sell[j] / held[j]), 0.0)
                       for j in np.flatnonzero(held > 0)}
            proposal = self.targets_proposal(targets, prices, day, why, allow_buys=False)
            if not proposal.orders:
                return
            self.execute(proposal, why)
            day = self.broker.today
            prices = self._prices_today(day)

    def liquidate_ended(self, t: int, day: date) -> list[str]:
        """Sell every holding of a fund whose prices ended before row ``t`` at its last price; one note each.

        A fund that is delisted, merged or liquidated stops trading; the holder receives its last value in
        cash. Booked as a sale in the ledger (a gain or loss, with the wash-sale rule) and as cash at the
        broker, so survivorship-free universes run without silently valuing a dead fund at zero.
        """
        prices = self._table.prices
        notes: list[str] = []
        ended = [j for j in np.flatnonzero(~np.isfinite(prices[t])) if self.shares[:, j].any() and t > 0
                 and np.isfinite(prices[:t, j]).any()]
        for j in ended:
            sym = self.tickers[j]
            last_row = int(np.flatnonzero(np.isfinite(prices[:t, j]))[-1])
            last = Decimal(repr(round(float(prices[last_row, j]), 6)))
            for acct in self.account_ids:
                book = self.broker._book(acct)  # the simulator's own books: no bar will ever fill this fund again
                qty = book.shares.get(sym, Decimal(0))
                if qty <= 0:
                    continue
                self.ledger.sell(acct, sym, qty, last, day, method=LotMethod.FIFO)
                del book.shares[sym]
                book.cash += (qty * last).quantize(Decimal("0.01"))
                a = self.a_index[acct]
                notional = float(qty * last)
                self.trades.append((day.toordinal(), a, j, "sell", float(qty), float(last), notional, 0.0, "delisted"))
                self.sell_reasons[(acct, sym, day.toordinal())] = "delisted"
                notes.append(f"{day}: {sym} has no price after {self._table.days[last_row]}; {fmt(qty)} sh in {acct} "
                             f"liquidated at its last price ${last} (${notional:,.2f})")
        if ended:
            self._cash = None
            self.refresh()
            self.synced_household()
        return notes

    def _prices_today(self, day: date) -> np.ndarray:
        return self._table.prices[self._row[day]]
