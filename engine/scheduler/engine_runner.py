"""``EngineRunner``: the scheduler's jobs done by the ``Engine`` facade, with a broker per household passed in.

    runner = EngineRunner(store, market=MarketData.embedded, broker_for=lambda household: broker)
    SchedulerService(store, runner).run_once()

Approved proposals are executed by ``Engine.execute`` under the key ``(execute_approved, household, day,
proposal id)``; a run that takes over from a dead worker finds the proposal ``executing`` and resumes it,
re-using the orders already at the broker.

Cycles use the key's deterministic ``proposal_id``, so a re-run re-derives the same client order ids and
``Engine.execute`` (which looks every client order id up at the broker before submitting) places none twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engine.errors import Conflict, NotFound
from engine.model import Fill, Household, Proposal, ProposalStatus
from engine.scheduler.jobs import JobKind
from engine.scheduler.runner import JobContext, JobOutcome

if TYPE_CHECKING:
    from engine.data import MarketData
    from engine.engine import Engine
    from engine.model.broker import Broker
    from engine.store import Store
    from engine.tax import LotLedger

__all__ = ["EngineRunner"]

log = logging.getLogger("engine.scheduler")

_FINISHED = frozenset({ProposalStatus.EXECUTED, ProposalStatus.PARTIALLY_EXECUTED, ProposalStatus.FAILED})


class EngineRunner:
    """A ``CycleRunner`` over ``Engine``: data, estimates, sync, harvest scan, drift check, reactions, approved runs.

    ``market`` builds fresh market data (called again by every market-data job); ``broker_for`` gives the
    broker of a household. ``large_deposit`` (USD) is the cash increase found by a sync that wakes the cycle.
    """

    def __init__(
        self,
        store: Store,
        *,
        market: Callable[[], MarketData],
        broker_for: Callable[[Household], Broker],
        large_deposit: Decimal = Decimal(5000),
        engine_options: dict[str, Any] | None = None,
    ) -> None:
        self.store = store
        self._market = market
        self._broker_for = broker_for
        self.large_deposit = Decimal(large_deposit)
        self._options = dict(engine_options or {})
        self._engine: Engine | None = None
        self._handlers: dict[JobKind, Callable[[JobContext], JobOutcome]] = {
            JobKind.MARKET_DATA: self._market_data,
            JobKind.ESTIMATES: self._estimates,
            JobKind.ACCOUNT_SYNC: self._sync,
            JobKind.HARVEST_SCAN: self._harvest_scan,
            JobKind.DRIFT_CHECK: self._cycle,
            JobKind.REACT: self._cycle,
            JobKind.EXECUTE_APPROVED: self._execute_approved,
        }

    @property
    def engine(self) -> Engine:
        """The engine over the current market data (built on first use)."""
        if self._engine is None:
            from engine.engine import Engine

            self._engine = Engine(self._market(), store=self.store, **self._options)
        return self._engine

    def run(self, ctx: JobContext) -> JobOutcome:
        return self._handlers[ctx.job](ctx)

    # ------------------------------------------------------------------------------------------

    def _market_data(self, ctx: JobContext) -> JobOutcome:
        self._engine = None  # the next use loads the refreshed prices
        day = self.engine.day(ctx.trading_day)
        return JobOutcome(notes={"tickers": len(day.tradable), "as_of": day.as_of})

    def _estimates(self, ctx: JobContext) -> JobOutcome:
        self.engine.estimates(ctx.trading_day)
        return JobOutcome(notes={"as_of": ctx.trading_day})

    def _household(self, ctx: JobContext) -> Household:
        assert ctx.household is not None  # household jobs always carry one
        return self.store.households.get(ctx.household)

    def _sync(self, ctx: JobContext) -> JobOutcome:
        household = self._household(ctx)
        broker = self._broker_for(household)
        report = self.engine.sync(household, broker, ledger=self.engine.ledger(household))
        deposit = Decimal(report.cash) - household.cash
        wake = (("deposit", f"deposit:{ctx.trading_day}:{deposit}"),) if deposit >= self.large_deposit else ()
        return JobOutcome(
            fills=len(report.new_fills),
            notes={"cash": report.cash, "deposit": deposit, "discrepancies": len(report.discrepancies)},
            wake=wake,
        )

    def _harvest_scan(self, ctx: JobContext) -> JobOutcome:
        household = self._household(ctx)
        decision = self.engine.check(household, ctx.trading_day)
        label = decision.label if decision is not None else None
        harvest = decision is not None and any("harvest" in source for source in decision.sources)
        wake = (("harvest", f"harvest:{ctx.trading_day}"),) if harvest else ()
        return JobOutcome(notes={"decision": label}, wake=wake)

    def _cycle(self, ctx: JobContext) -> JobOutcome:
        household = self._household(ctx)
        engine = self.engine
        ledger = engine.ledger(household)
        try:
            proposal = self.store.proposals.get(ctx.proposal_id)  # an earlier attempt planned it already
        except NotFound:
            events = tuple(e for e in household.events if ctx.reason == "life_event" and ctx.ref == f"event:{e.id}")
            decision = engine.check(household, ctx.trading_day, ledger=ledger, new_events=events)
            if decision is None:
                return JobOutcome(notes={"decision": None})
            proposal = engine.plan(household, ctx.trading_day, decision=decision, ledger=ledger,
                                   proposal_id=ctx.proposal_id)
            try:
                self.store.proposals.get(proposal.id)  # an Engine with a store records its proposals itself
            except NotFound:
                self.store.proposals.add(proposal, actor="scheduler")
        ids = tuple(o.client_order_id for o in proposal.orders)
        if proposal.status is ProposalStatus.EXECUTING and ctx.resumed:  # an earlier attempt died mid-execution
            return self._resume(ctx, proposal, household)
        if proposal.status is not ProposalStatus.PROPOSED or proposal.needs_approval:
            return JobOutcome((proposal.id,), ids, notes={"status": proposal.status.value,
                                                         "needs_approval": proposal.needs_approval})
        ctx.heartbeat()  # never submit after losing the claim
        broker = self._broker_for(household)
        report = engine.execute(proposal, broker, ledger=ledger, household=household)
        self._store_holdings(household, ledger, broker, ctx.trading_day)
        return JobOutcome((proposal.id,), ids, fills=len(report.fills),
                          notes={"status": report.status.value, "discrepancies": len(report.discrepancies)})

    # ------------------------------------------------------------------------------------------
    # Approved proposals
    # ------------------------------------------------------------------------------------------

    def _execute_approved(self, ctx: JobContext) -> JobOutcome:
        """Execute the approved proposal ``ctx.ref`` through ``Engine.execute``; resume it after a dead attempt."""
        household = self._household(ctx)
        proposal = self.store.proposals.get(ctx.ref)
        if proposal.household != household.id:
            raise Conflict(f"proposal {proposal.id} belongs to {proposal.household}, not {household.id}",
                           proposal=proposal.id)
        ids = tuple(o.client_order_id for o in proposal.orders)
        if proposal.status is ProposalStatus.APPROVED:
            engine = self.engine
            ctx.heartbeat()  # never submit after losing the claim
            broker, ledger = self._broker_for(household), engine.ledger(household)
            report = engine.execute(proposal, broker, ledger=ledger, household=household)
            self._store_holdings(household, ledger, broker, ctx.trading_day)
            return JobOutcome((proposal.id,), ids, fills=len(report.fills),
                              notes={"status": report.status.value, "discrepancies": len(report.discrepancies),
                                     "errors": list(report.errors)})
        if proposal.status is ProposalStatus.EXECUTING and ctx.resumed:
            return self._resume(ctx, proposal, household)
        if proposal.status in _FINISHED and ctx.resumed:
            # the earlier attempt finished the proposal but may have died before booking the fills
            booked = self._book_broker_fills(proposal, self._broker_for(household))
            return JobOutcome((proposal.id,), ids, fills=booked, notes={"status": proposal.status.value})
        # executing under another live run (e.g. the cycle that planned it), or no longer executable
        return JobOutcome((proposal.id,), ids, notes={"status": proposal.status.value, "executed": False})

    def _resume(self, ctx: JobContext, proposal: Proposal, household: Household) -> JobOutcome:
        """Finish a proposal an earlier (dead) attempt left ``executing``: orders already at the broker are re-used.

        ``Engine.execute`` looks every client order id up before submitting, so the orders the dead worker placed
        are not placed again. The stored proposal is already ``executing``, so the engine runs without the store
        (on an ``approved`` copy); the fills are booked here (once each, by fill id) and the stored proposal moves
        on to the engine's final status.
        """
        from engine.engine import Engine

        engine = self.engine
        loose = Engine(engine.market, engine.universe, config=engine.config)
        broker = self._broker_for(household)
        log.warning("resuming %s left executing by an earlier attempt; re-using its orders at the broker",
                    proposal.id, extra={"job": ctx.job.value, "household": household.id, "run_id": ctx.run_id})
        ctx.heartbeat()  # never submit after losing the claim
        ledger = engine.ledger(household)
        report = loose.execute(replace(proposal, status=ProposalStatus.APPROVED), broker, ledger=ledger,
                               household=household)
        self._store_holdings(household, ledger, broker, ctx.trading_day)
        booked = sum(self.store.fills.add(f, household=household.id) for f in report.fills)
        booked += self._book_broker_fills(proposal, broker)
        ctx.heartbeat()
        reason = f"resumed by run {ctx.run_id} (attempt {ctx.attempt})"
        if report.errors:
            reason += "; " + "; ".join(report.errors)
        self.store.proposals.transition(proposal.id, report.status, actor="scheduler", reason=reason)
        return JobOutcome((proposal.id,), tuple(o.client_order_id for o in proposal.orders), fills=len(report.fills),
                          notes={"status": report.status.value, "resumed": True, "newly_booked": booked,
                                 "discrepancies": len(report.discrepancies), "errors": list(report.errors)})

    def _store_holdings(self, household: Household, ledger: LotLedger, broker: Broker, day: date) -> None:
        """Store the household's lots, cash and open loss sales after trading on ``day`` (the next cycle's start)."""
        from engine.execution import holdings_after

        self.store.households.update(holdings_after(household, ledger, broker, on=day), actor="scheduler")

    @staticmethod
    def _broker_fills(proposal: Proposal, broker: Broker) -> list[Fill]:
        """Every fill the broker holds for the proposal's orders (looked up by client order id)."""
        placed = [o for o in (broker.order(x.client_order_id) for x in proposal.orders) if o is not None]
        if not placed:
            return []
        since = min(o.submitted_at for o in placed) - timedelta(seconds=1)
        wanted = {o.client_order_id for o in placed}
        found: dict[str, Fill] = {}
        for account in sorted({o.account for o in placed}):
            for f in broker.fills(since, account):
                if f.client_order_id in wanted:
                    found[f.id] = f
        return list(found.values())

    def _book_broker_fills(self, proposal: Proposal, broker: Broker) -> int:
        """Book the proposal's fills at the broker into the store; returns how many were new (each once, by id)."""
        return sum(self.store.fills.add(f, household=proposal.household) for f in self._broker_fills(proposal, broker))
