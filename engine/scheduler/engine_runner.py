"""``EngineRunner``: the scheduler's jobs done by the ``Engine`` facade, with a broker per household passed in.

    runner = EngineRunner(store, market=MarketData.embedded, broker_for=lambda household: broker)
    SchedulerService(store, runner).run_once()

Cycles use the key's deterministic ``proposal_id``, so a re-run re-derives the same client order ids and
``Engine.execute`` (which looks every client order id up at the broker before submitting) places none twice.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engine.errors import NotFound
from engine.model import Household, ProposalStatus
from engine.scheduler.jobs import JobKind
from engine.scheduler.runner import JobContext, JobOutcome

if TYPE_CHECKING:
    from engine.data import MarketData
    from engine.engine import Engine
    from engine.model.broker import Broker
    from engine.store import Store

__all__ = ["EngineRunner"]


class EngineRunner:
    """A ``CycleRunner`` over ``Engine``: data, estimates, sync, harvest scan, drift check and reactions.

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
        if proposal.status is not ProposalStatus.PROPOSED or proposal.needs_approval:
            return JobOutcome((proposal.id,), ids, notes={"status": proposal.status.value,
                                                         "needs_approval": proposal.needs_approval})
        ctx.heartbeat()  # never submit after losing the claim
        report = engine.execute(proposal, self._broker_for(household), ledger=ledger, household=household)
        return JobOutcome((proposal.id,), ids, fills=len(report.fills),
                          notes={"status": report.status.value, "discrepancies": len(report.discrepancies)})
