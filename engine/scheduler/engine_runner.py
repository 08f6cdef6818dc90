"""``EngineRunner``: the scheduler's jobs run through the one cycle (``engine.cycle.Cycle``).

    runner = EngineRunner(store, market=MarketData.embedded, broker_for=lambda household: brokers, rails=rails)
    SchedulerService(store, runner).run_once()

The scheduler chooses *when*; every step — sync, plan, persist, approve rules, execute behind the safety rails,
book fills, save holdings, audit — is the cycle's. Approved proposals are executed under the key
``(execute_approved, household, day, proposal id)``; a run that takes over from a dead worker finds the proposal
``executing`` and the cycle resumes it, re-using the orders already at the broker (looked up by client order id).
Cycles use the key's deterministic ``proposal_id``, so a re-run re-derives the same client order ids.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engine.errors import Conflict
from engine.model import Fill, Household, Proposal, ProposalStatus
from engine.scheduler.jobs import JobKind
from engine.scheduler.runner import JobContext, JobOutcome

if TYPE_CHECKING:
    from engine.cycle import BrokerSource, Cycle
    from engine.data import MarketData
    from engine.model.broker import Broker, Rails
    from engine.store import Store

__all__ = ["EngineRunner"]

log = logging.getLogger("engine.scheduler")

_FINISHED = frozenset({ProposalStatus.EXECUTED, ProposalStatus.PARTIALLY_EXECUTED, ProposalStatus.FAILED})


class EngineRunner:
    """A ``CycleRunner`` over the one cycle: data, estimates, sync, harvest scan, drift check, reactions, approved runs.

    ``market`` builds fresh market data (called again by every market-data job); ``broker_for`` gives the brokers
    of a household (a Broker, a mapping account id → broker, or a callable); ``rails`` are the safety rails every
    order passes. ``large_deposit`` (USD) is the cash increase found by a sync that wakes the cycle.
    """

    def __init__(
        self,
        store: Store,
        *,
        market: Callable[[], MarketData],
        broker_for: Callable[[Household], BrokerSource],
        rails: Rails | None = None,
        large_deposit: Decimal = Decimal(5000),
        engine_options: dict[str, Any] | None = None,
    ) -> None:
        self.store = store
        self._market = market
        self._broker_for = broker_for
        self._rails = rails
        self.large_deposit = Decimal(large_deposit)
        self._options = dict(engine_options or {})
        self._cycle: Cycle | None = None
        self._handlers: dict[JobKind, Callable[[JobContext], JobOutcome]] = {
            JobKind.MARKET_DATA: self._market_data,
            JobKind.ESTIMATES: self._estimates,
            JobKind.ACCOUNT_SYNC: self._sync,
            JobKind.HARVEST_SCAN: self._harvest_scan,
            JobKind.DRIFT_CHECK: self._run_cycle,
            JobKind.REACT: self._run_cycle,
            JobKind.EXECUTE_APPROVED: self._execute_approved,
        }

    @property
    def cycle(self) -> Cycle:
        """The cycle over the current market data (built on first use)."""
        if self._cycle is None:
            from engine.cycle import Cycle
            from engine.planner import Planner

            planner = Planner(self._market(), **self._options)
            self._cycle = Cycle(planner, store=self.store, rails=self._rails, actor="scheduler")
        return self._cycle

    def run(self, ctx: JobContext) -> JobOutcome:
        return self._handlers[ctx.job](ctx)

    # ------------------------------------------------------------------------------------------

    def _market_data(self, ctx: JobContext) -> JobOutcome:
        self._cycle = None  # the next use loads the refreshed prices
        day = self.cycle.planner.day(ctx.trading_day)
        return JobOutcome(notes={"tickers": len(day.tradable), "as_of": day.as_of})

    def _estimates(self, ctx: JobContext) -> JobOutcome:
        self.cycle.planner.estimates(ctx.trading_day)
        return JobOutcome(notes={"as_of": ctx.trading_day})

    def _household(self, ctx: JobContext) -> Household:
        assert ctx.household is not None  # household jobs always carry one
        return self.cycle.household(ctx.household)

    def _sync(self, ctx: JobContext) -> JobOutcome:
        household = self._household(ctx)
        report = self.cycle.sync(household, brokers=self._broker_for(household), as_of=ctx.trading_day)
        deposit = Decimal(report.cash) - sum((a.cash for a in household.accounts
                                              if a.id in (report.cash_by_account or {})), Decimal(0))
        wake = (("deposit", f"deposit:{ctx.trading_day}:{deposit}"),) if deposit >= self.large_deposit else ()
        return JobOutcome(
            fills=len(report.new_fills),
            notes={"cash": report.cash, "deposit": deposit, "discrepancies": len(report.discrepancies)},
            wake=wake,
        )

    def _harvest_scan(self, ctx: JobContext) -> JobOutcome:
        household = self._household(ctx)
        decision = self.cycle.check(household, ctx.trading_day)
        label = decision.label if decision is not None else None
        harvest = decision is not None and any("harvest" in source for source in decision.sources)
        wake = (("harvest", f"harvest:{ctx.trading_day}"),) if harvest else ()
        return JobOutcome(notes={"decision": label}, wake=wake)

    def _run_cycle(self, ctx: JobContext) -> JobOutcome:
        from engine.errors import NotFound

        household = self._household(ctx)
        cycle = self.cycle
        try:
            proposal = self.store.proposals.get(ctx.proposal_id)  # an earlier attempt planned it already
        except NotFound:
            events = tuple(e for e in household.events if ctx.reason == "life_event" and ctx.ref == f"event:{e.id}")
            decision = cycle.check(household, ctx.trading_day, new_events=events)
            if decision is None:
                return JobOutcome(notes={"decision": None})
            proposal = cycle.plan(household, ctx.trading_day, decision=decision, proposal_id=ctx.proposal_id,
                                  actor="scheduler")
        ids = tuple(o.client_order_id for o in proposal.orders)
        resume = proposal.status is ProposalStatus.EXECUTING and ctx.resumed  # an earlier attempt died mid-execution
        if not resume and (proposal.status is not ProposalStatus.PROPOSED or proposal.needs_approval):
            return JobOutcome((proposal.id,), ids, notes={"status": proposal.status.value,
                                                         "needs_approval": proposal.needs_approval})
        return self._execute(ctx, proposal, household)

    def _execute(self, ctx: JobContext, proposal: Proposal, household: Household) -> JobOutcome:
        """Execute (or resume) ``proposal`` through the cycle; never submit after losing the claim."""
        if proposal.status is ProposalStatus.EXECUTING:
            log.warning("resuming %s left executing by an earlier attempt; re-using its orders at the broker",
                        proposal.id, extra={"job": ctx.job.value, "household": household.id, "run_id": ctx.run_id})
        ctx.heartbeat()
        report = self.cycle.execute(proposal, brokers=self._broker_for(household), household=household,
                                    actor="scheduler", on=ctx.trading_day)
        ctx.heartbeat()
        return JobOutcome((proposal.id,), tuple(o.client_order_id for o in proposal.orders), fills=len(report.fills),
                          notes={"status": report.status.value, "discrepancies": len(report.discrepancies),
                                 "errors": list(report.errors), "advised": len(report.advised),
                                 "resumed": proposal.status is ProposalStatus.EXECUTING})

    # ------------------------------------------------------------------------------------------
    # Approved proposals
    # ------------------------------------------------------------------------------------------

    def _execute_approved(self, ctx: JobContext) -> JobOutcome:
        """Execute the approved proposal ``ctx.ref`` through the cycle; resume it after a dead attempt."""
        household = self._household(ctx)
        proposal = self.store.proposals.get(ctx.ref)
        if proposal.household != household.id:
            raise Conflict(f"proposal {proposal.id} belongs to {proposal.household}, not {household.id}",
                           proposal=proposal.id)
        ids = tuple(o.client_order_id for o in proposal.orders)
        if proposal.status is ProposalStatus.APPROVED or (proposal.status is ProposalStatus.EXECUTING and ctx.resumed):
            return self._execute(ctx, proposal, household)
        if proposal.status in _FINISHED and ctx.resumed:
            # the earlier attempt finished the proposal but may have died before booking the fills
            booked = self._book_broker_fills(proposal, self._brokers(household))
            return JobOutcome((proposal.id,), ids, fills=booked, notes={"status": proposal.status.value})
        # executing under another live run (e.g. the cycle that planned it), or no longer executable
        return JobOutcome((proposal.id,), ids, notes={"status": proposal.status.value, "executed": False})

    def _brokers(self, household: Household) -> list[Broker]:
        """The distinct broker objects holding the household's traded accounts."""
        from engine.cycle import Routes

        routes = Routes(household, self._broker_for(household))
        return [b for b, _ in routes.groups(routes.traded())]

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

    def _book_broker_fills(self, proposal: Proposal, brokers: list[Broker]) -> int:
        """Book the proposal's fills at its brokers into the store; returns how many were new (each once, by id)."""
        return sum(self.store.fills.add(f, household=proposal.household)
                   for broker in brokers for f in self._broker_fills(proposal, broker))
