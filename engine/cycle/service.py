"""The one cycle: sync → plan → persist → approve → execute → book fills → save holdings → audit.

    cycle = Cycle(Planner(MarketData.embedded()), store=store, brokers=broker_for, rails=SafetyRails.from_settings())
    proposal = cycle.plan("rivera")                    # pending life events applied, stored as proposed
    cycle.approve(proposal.id, actor="alex")
    report = cycle.execute(proposal.id)                # broker accounts traded, held-away accounts advised

Every caller — the CLI, the scheduler, the batch runner, the backtests, the web service and the Python API
(``engine.Engine``) — runs the cycle through this class; a caller chooses only *when*, *for whom* and *who
approves*. Without a store the cycle keeps state in the objects it is handed (backtests, notebooks).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engine.cycle.execute import BrokerRun, book_fills, keep_realizations, trade
from engine.cycle.reports import ExecutionReport, SyncReport
from engine.cycle.routes import BrokerSource, Route, Routes, route_of
from engine.errors import ConfigError, Conflict
from engine.model import Fill, Household, LifeEvent, Order, Proposal, ProposalStatus, RunKind
from engine.model.broker import Broker, BrokerOrder, BrokerPosition, Rails
from engine.planner import TRADED, Planner

if TYPE_CHECKING:
    from engine.estimates import Estimates
    from engine.goals import Mandate
    from engine.rebalancer import TriggerDecision
    from engine.store import Store
    from engine.tax import LotLedger

__all__ = ["Cycle"]

log = logging.getLogger("engine.cycle")


class Cycle:
    """Runs a household's cycle over a planner, an optional store, the brokers that hold its accounts and the rails.

    Args:
        planner: the pure planner (market data, universe, configuration).
        store: where households, proposals, orders, fills and the audit live (``None``: objects only).
        brokers: who holds each account (a Broker, a mapping by account id, or a callable account → broker);
            may also be given per call.
        rails: the safety rails every broker is wrapped in before an order is placed (required to trade).
        actor: the audit actor of the cycle's own steps.
    """

    def __init__(
        self,
        planner: Planner,
        *,
        store: Store | None = None,
        brokers: BrokerSource | None = None,
        rails: Rails | None = None,
        actor: str = "engine",
    ) -> None:
        self.planner = planner
        self.store = store
        self.brokers = brokers
        self.rails = rails
        self.actor = actor

    # ------------------------------------------------------------------------------------------
    # Household state
    # ------------------------------------------------------------------------------------------

    def household(self, household: Household | str) -> Household:
        """The household (loaded from the store by id), with its recorded life events applied."""
        if isinstance(household, str):
            if self.store is None:
                raise ConfigError("a cycle without a store needs the Household object, not its id",
                                  field="household", value=household)
            household = self.store.households.get(household)
        return self.apply_pending_events(household)

    def apply_pending_events(self, household: Household, as_of: date | None = None) -> Household:
        """Run every recorded, not yet applied life event through its rule (as ``robo event`` does) and save it."""
        pending = [e for e in household.events if not e.applied]
        if not pending:
            return household
        from engine.goals import apply_event

        day = as_of or self.default_day(household)
        kept = tuple(e for e in household.events if e.applied)
        current = replace(household, events=kept)
        for event in pending:
            values = self.planner.account_values(current, day)
            outcome = apply_event(current, replace(event, applied=True), max(day, event.on),
                                  account_values=values, **self.planner.goals_config(current.id))
            current = outcome.household
            log.info("applied life event %s to %s: %s", event.id, household.id, "; ".join(outcome.explanation[:1]))
        if self.store is not None:
            self.store.households.update(current, actor=self.actor)
        return current

    def default_day(self, household: Household | str, base: date | None = None) -> date:
        """The planning day: ``base`` (default: the market's newest day), never before the last fill booked."""
        day = base or self.planner.market.last_day
        hid = household if isinstance(household, str) else household.id
        if self.store is not None:
            fills = self.store.fills.for_household(hid)
            if fills:
                from zoneinfo import ZoneInfo

                last = max(f.at for f in fills).astimezone(ZoneInfo("America/New_York")).date()
                day = max(day, last)
        return day

    def save_holdings(self, household: Household, ledger: LotLedger, routes: Routes, *, on: date) -> Household:
        """The household as it stands after trading: the ledger's lots and open loss sales, each broker account's
        cash as its broker reports it, held-away accounts' cash as the confirmed trades left it. Saved with a store."""
        accounts = []
        traded = set(routes.traded())
        for a in household.accounts:
            if a.id in traded:
                accounts.append(replace(a, cash=routes.broker(a.id).account(a.id).cash))
            else:
                accounts.append(a)  # held away or not traded now: its cash moves only with confirmed trades
        updated = replace(household, accounts=tuple(accounts), lots=tuple(ledger.open_lots()),
                          loss_sales=ledger.open_loss_sales(on))
        if self.store is not None:
            self.store.households.update(updated, actor=self.actor)
        return updated

    # ------------------------------------------------------------------------------------------
    # Plan, approve
    # ------------------------------------------------------------------------------------------

    def check(self, household: Household | str, as_of: date | None = None, **kw: Any) -> TriggerDecision | None:
        """The household's trigger policy on ``as_of`` (``None``: nothing needs doing)."""
        h = self.household(household)
        return self.planner.check(h, as_of or self.default_day(h), **kw)

    def plan(
        self,
        household: Household | str,
        as_of: date | None = None,
        *,
        run_kind: RunKind | None = None,
        amount: Decimal | None = None,
        decision: TriggerDecision | None = None,
        proposal_id: str | None = None,
        ledger: LotLedger | None = None,
        actor: str | None = None,
        estimates: Estimates | None = None,
        mandate: Mandate | None = None,
    ) -> Proposal:
        """Plan a proposal for the household (events applied, holdings at market) and store it as ``proposed``.

        ``estimates`` / ``mandate`` reuse ones computed earlier (batches, backtests); they never look ahead."""
        h = self.household(household)
        day = as_of or self.default_day(h)
        first = False
        if self.store is not None:
            first = not self.store.proposals.households_with(TRADED, among=[h.id])
            if proposal_id is not None:
                from engine.errors import NotFound

                try:
                    return self.store.proposals.get(proposal_id)  # an earlier attempt planned it already
                except NotFound:
                    pass
        proposal = self.planner.plan(h, day, decision=decision, run_kind=run_kind, amount=amount, ledger=ledger,
                                     proposal_id=proposal_id, first_run=first, estimates=estimates, mandate=mandate)
        advice = [o.client_order_id for o in proposal.orders if route_of(h.account(o.account)) is Route.ADVICE]
        if advice:
            proposal = replace(proposal, details={**proposal.details, "advice": advice})
        if self.store is not None:
            self.store.proposals.add(proposal, actor=actor or self.actor)
        return proposal

    def approve(self, proposal: Proposal | str, *, actor: str = "user", reason: str = "") -> Proposal:
        """Approve a proposal (stored and audited with a store; checked against the state machine either way)."""
        return self.transition(proposal, ProposalStatus.APPROVED, actor=actor, reason=reason)

    def reject(self, proposal: Proposal | str, *, actor: str = "user", reason: str = "") -> Proposal:
        """Reject a proposal; it can never be executed."""
        return self.transition(proposal, ProposalStatus.REJECTED, actor=actor, reason=reason)

    def transition(self, proposal: Proposal | str, status: ProposalStatus, *, actor: str, reason: str = "") -> Proposal:
        """Move a proposal along the one state machine (``engine.model.PROPOSAL_TRANSITIONS``)."""
        if self.store is not None:
            pid = proposal if isinstance(proposal, str) else proposal.id
            return self.store.proposals.transition(pid, status, actor=actor, reason=reason)
        if isinstance(proposal, str):
            raise Conflict("a cycle without a store needs the Proposal object, not its id")
        if not proposal.status.can_become(status):
            raise Conflict(f"proposal {proposal.id} is {proposal.status.value}; it cannot become {status.value}",
                           proposal=proposal.id)
        return replace(proposal, status=status)

    def proposal(self, proposal: Proposal | str) -> Proposal:
        """The stored proposal (a Proposal object is returned as it is)."""
        if isinstance(proposal, Proposal):
            return proposal
        if self.store is None:
            raise Conflict("a cycle without a store needs the Proposal object, not its id")
        return self.store.proposals.get(proposal)

    # ------------------------------------------------------------------------------------------
    # Execute
    # ------------------------------------------------------------------------------------------

    def execute(
        self,
        proposal: Proposal | str,
        *,
        brokers: BrokerSource | None = None,
        ledger: LotLedger | None = None,
        household: Household | None = None,
        actor: str | None = None,
        save: bool = True,
        on: date | None = None,
    ) -> ExecutionReport:
        """Execute a proposal: broker accounts traded behind the rails, held-away accounts advised, fills booked,
        holdings saved, every step audited. A proposal that needs approval must be approved first; one that does
        not is approved here (recorded as such). A proposal left ``executing`` by a dead run is resumed: orders
        already at the broker are found by client order id and never placed twice. ``on`` is the trading day of
        the execution (default: the newest price day); a proposal planned too long before it expires.

        Raises:
            Conflict: the proposal is not executable (needs approval, rejected, expired, executed).
            ConfigError: no safety rails, or no broker for an account with orders.
        """
        actor = actor or self.actor
        p = self.proposal(proposal)
        h = household or self.household(p.household)
        self._expire_if_stale(p, actor, on)
        if p.status is ProposalStatus.PROPOSED:
            if p.needs_approval:
                raise Conflict(
                    f"proposal {p.id} needs approval: {'; '.join(p.approval_reasons)}; "
                    f"approve it (robo approve {p.id}) before executing",
                    proposal=p.id,
                )
            p = self.approve(p, actor=actor, reason="no approval needed")
        if p.status is not ProposalStatus.EXECUTING:
            p = self.transition(p, ProposalStatus.EXECUTING, actor=actor)
        ledger = ledger if ledger is not None else self.planner.ledger(h)
        routes = Routes(h, brokers if brokers is not None else self.brokers)
        advised = tuple(o for o in p.orders if routes.route(o.account) is Route.ADVICE)
        traded = [o for o in p.orders if routes.route(o.account) is Route.BROKER]
        runs: list[BrokerRun] = []
        if traded:
            if self.rails is None:
                raise ConfigError("the cycle has no safety rails; every path that trades goes through them",
                                  field="Cycle.rails", fix="pass rails=brokers.SafetyRails.from_settings()")
            day = self.planner.day(p.as_of)
            data_time = getattr(self.planner.market, "last_day", p.as_of)  # the newest price day the cycle has
            accounts = sorted({o.account for o in traded})
            for broker, members in routes.groups(accounts):
                guarded = self.rails.guard(broker, prices=day.prices, data_time=data_time)
                self._book_earlier_fills(p, guarded, ledger)
                runs.append(trade(guarded, members, [o for o in traded if o.account in members], ledger,
                                  prices=day.prices, assets=self.planner.assets_for(h),
                                  rules=self.planner.config.order_rules, timeout=self.planner.config.fill_timeout_s,
                                  notional_buys=self.planner.config.notional_buys))
        report = self._finish(p, runs, advised, actor, ledger)
        if save and self.store is not None and (traded or advised):
            self.save_holdings(h, ledger, routes, on=p.as_of)
        return report

    def _expire_if_stale(self, p: Proposal, actor: str, on: date | None) -> None:
        """A proposed or approved proposal older than ``proposal_max_age_days`` expires: its prices are stale."""
        newest = on or getattr(self.planner.market, "last_day", None)
        limit = self.planner.config.proposal_max_age_days
        if newest is None or p.status not in (ProposalStatus.PROPOSED, ProposalStatus.APPROVED):
            return
        age = (newest - p.as_of).days
        if age > limit:
            self.transition(p, ProposalStatus.EXPIRED, actor=actor,
                            reason=f"planned on {p.as_of}, {age} days before {newest}")
            raise Conflict(f"proposal {p.id} expired: planned on {p.as_of}, {age} days before {newest} "
                           f"(at most {limit})", proposal=p.id,
                           fix=f"plan again (robo rebalance {p.household})")

    def _book_earlier_fills(self, p: Proposal, broker: Broker, ledger: LotLedger) -> None:
        """On a resumed proposal, book the fills an earlier (dead) run's orders got but did not book."""
        if self.store is None or p.status is not ProposalStatus.EXECUTING:
            return
        from engine.cycle.execute import fills_for

        placed = [o for o in (broker.order(x.client_order_id) for x in p.orders) if o is not None]
        known = {f.id for f in self.store.fills.for_household(p.household)}
        new = [f for f in fills_for(broker, placed) if f.id not in known]
        book_fills(ledger, new, {o.client_order_id: o for o in p.orders})
        for f in new:
            self.store.fills.add(f, household=p.household)

    def _finish(self, p: Proposal, runs: Sequence[BrokerRun], advised: Sequence[Order], actor: str,
                ledger: LotLedger) -> ExecutionReport:
        submitted = [o for r in runs for o in r.submitted]
        fills = [f for r in runs for f in r.fills]
        errors = [e for r in runs for e in r.errors]
        filled = {f.client_order_id for f in fills}
        if errors and not fills:
            status = ProposalStatus.FAILED if submitted or not advised else ProposalStatus.PARTIALLY_EXECUTED
        elif errors or len(filled) < len(submitted):
            status = ProposalStatus.PARTIALLY_EXECUTED
        else:
            status = ProposalStatus.EXECUTED
        if not runs and advised:
            status = ProposalStatus.EXECUTED  # nothing for a broker: the engine's part is done, advice is out
        self.transition(p, status, actor=actor, reason="; ".join(errors))
        if self.store is not None:
            self._record(p, submitted, fills, advised, actor)
            keep_realizations(self.store, p.household, ledger)
        return ExecutionReport(p.id, status, tuple(submitted), tuple(fills),
                               tuple(s for r in runs for s in r.skipped),
                               tuple(d for r in runs for d in r.discrepancies), tuple(errors), tuple(advised))

    def _record(self, p: Proposal, submitted: Sequence[BrokerOrder], fills: Sequence[Fill],
                advised: Sequence[Order], actor: str) -> None:
        """Carry each order's broker status into the store, the fills, and the advice (status ``advised``)."""
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
        for f in fills:
            self.store.fills.add(f, household=p.household)
        for o in submitted:
            self.store.orders.update_status(o.client_order_id, OrderStatus.SUBMITTED, actor=actor)
            state = final.get(o.status)
            if state is not None:
                self.store.orders.update_status(o.client_order_id, state, actor=actor, reason=o.reason)
        for a in advised:
            self.store.orders.update_status(a.client_order_id, OrderStatus.ADVISED, actor=actor,
                                            reason="held-away account: a person places this trade")

    # ------------------------------------------------------------------------------------------
    # Life events, advice, sync
    # ------------------------------------------------------------------------------------------

    def record_event(self, household: str, event: LifeEvent, *, actor: str = "user") -> Household:
        """Record a life event (with a store) and apply it: the next plan sees the changed household."""
        if self.store is None:
            raise ConfigError("recording an event needs a store", field="Cycle.store")
        self.store.households.record_event(household, event, actor=actor)
        return self.household(household)

    def confirm_advice(self, proposal: Proposal | str, fills: Sequence[Fill], *, actor: str = "user") -> Household:
        """Book the trades a person placed by hand for a held-away account's advice; the household is saved."""
        from engine.cycle.advice import confirm_fills

        p = self.proposal(proposal)
        return confirm_fills(self.planner, self.store, self.household(p.household), p, fills, actor=actor)

    def import_positions(
        self, household: Household | str, account: str, positions: Sequence[BrokerPosition], *, on: date | None = None,
        actor: str = "user",
    ) -> Household:
        """Replace a held-away account's lots with positions a person imported (``BrokerPosition`` rows: symbol,
        shares, average cost); basis marked as reported, the change audited, the household saved."""
        from engine.cycle.advice import import_positions

        h = self.household(household)
        return import_positions(self.planner, self.store, h, account, positions, on=on or self.default_day(h),
                                actor=actor)

    def sync(
        self,
        household: Household | str,
        *,
        brokers: BrokerSource | None = None,
        adopt: bool = False,
        as_of: date | None = None,
        actor: str | None = None,
    ) -> SyncReport:
        """Read each broker account: book new fills of our orders, compare lots with positions and cash; with
        ``adopt`` replace a differing account's lots with the broker's positions (audited)."""
        from engine.cycle.sync import sync_household

        h = self.household(household)
        routes = Routes(h, brokers if brokers is not None else self.brokers)
        return sync_household(self.planner, self.store, h, routes, adopt=adopt,
                              as_of=as_of or self.default_day(h), actor=actor or self.actor)
