"""The Python API's facade: one object holding the pure planner and the one cycle service.

    engine = Engine(MarketData.embedded(), store=store, brokers=broker, rails=SafetyRails.from_settings())
    proposal = engine.plan(household, date(2026, 7, 31))           # stored as proposed (with a store)
    report = engine.execute(engine.approve(proposal), broker)       # traded behind the rails, holdings saved

``Engine`` adds no step of its own: planning is ``engine.planner.Planner``; persisting, approving, executing,
syncing and life events are ``engine.cycle.Cycle``. Keep callers on these two; this class only joins them.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engine.cycle import Cycle, ExecutionReport, SyncReport
from engine.model import AccountType, Household, LifeEvent, Proposal, RunKind, Universe
from engine.planner import FIRST_RUN_REASON, TRADED, ApprovalRules, Day, EngineConfig, Planner

if TYPE_CHECKING:
    from engine.cycle import BrokerSource
    from engine.data import MarketData
    from engine.estimates import Estimates
    from engine.goals import Mandate
    from engine.model.broker import Rails
    from engine.rebalancer import TriggerDecision
    from engine.store import Store
    from engine.tax import LotLedger

__all__ = ["FIRST_RUN_REASON", "TRADED", "ApprovalRules", "Engine", "EngineConfig", "ExecutionReport",
           "SyncReport", "taxable_accounts"]


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
        brokers: BrokerSource | None = None,
        rails: Rails | None = None,
    ) -> None:
        self.planner = Planner(market, universe, config=config, esg=esg)
        self.cycle = Cycle(self.planner, store=store, brokers=brokers, rails=rails)

    market = property(lambda self: self.planner.market)
    universe = property(lambda self: self.planner.universe)
    config = property(lambda self: self.planner.config)

    @property
    def store(self) -> Store | None:
        """The cycle's store (``None``: nothing is persisted)."""
        return self.cycle.store

    def day(self, as_of: date) -> Day:
        """Prices and estimates for ``as_of`` (point in time, cached per day)."""
        return self.planner.day(as_of)

    def estimates(self, as_of: date, **kw: Any) -> Estimates:
        """Expected returns and risk at ``as_of`` (annual fractions)."""
        return self.planner.estimates(as_of, **kw)

    def mandate(self, household: Household, as_of: date, **kw: Any) -> Mandate:
        """The household's goal-based mandate on ``as_of`` (holdings at market)."""
        return self.planner.mandate(household, as_of, **kw)

    def ledger(self, household: Household) -> LotLedger:
        """A lot ledger holding the household's lots and open loss sales."""
        return self.planner.ledger(household)

    def check(self, household: Household, as_of: date, **kw: Any) -> TriggerDecision | None:
        """The household's trigger policy on ``as_of`` (``None``: nothing needs doing)."""
        return self.planner.check(household, as_of, **kw)

    def plan(
        self,
        household: Household | str,
        as_of: date | None = None,
        *,
        decision: TriggerDecision | None = None,
        run_kind: RunKind | None = None,
        amount: Decimal | None = None,
        ledger: LotLedger | None = None,
        proposal_id: str | None = None,
        estimates: Estimates | None = None,
        mandate: Mandate | None = None,
    ) -> Proposal:
        """Plan through the cycle: pending life events applied, holdings at market, stored when there is a store."""
        return self.cycle.plan(household, as_of, decision=decision, run_kind=run_kind, amount=amount, ledger=ledger,
                               proposal_id=proposal_id, estimates=estimates, mandate=mandate)

    def approve(self, proposal: Proposal | str, *, actor: str = "user", reason: str = "") -> Proposal:
        """Approve a proposal (persisted and audited when the engine has a store)."""
        return self.cycle.approve(proposal, actor=actor, reason=reason)

    def reject(self, proposal: Proposal | str, *, actor: str = "user", reason: str = "") -> Proposal:
        """Reject a proposal; it can never be executed."""
        return self.cycle.reject(proposal, actor=actor, reason=reason)

    def execute(
        self,
        proposal: Proposal | str,
        broker: BrokerSource | None = None,
        *,
        ledger: LotLedger | None = None,
        household: Household | None = None,
    ) -> ExecutionReport:
        """Execute through the cycle: rails on, held-away accounts advised, fills booked, holdings saved."""
        return self.cycle.execute(proposal, brokers=broker, ledger=ledger, household=household)

    def sync(
        self, household: Household | str, broker: BrokerSource | None = None, *, adopt: bool = False
    ) -> SyncReport:
        """Read the brokers' fills and positions into the household (``adopt``: take the broker's positions)."""
        return self.cycle.sync(household, brokers=broker, adopt=adopt)

    def record_event(self, household: str, event: LifeEvent, *, actor: str = "user") -> Household:
        """Record a life event and apply it (the next plan sees the changed household)."""
        return self.cycle.record_event(household, event, actor=actor)


def taxable_accounts(household: Household) -> list[str]:
    """Ids of the household's taxable accounts (where gains are realized and losses harvested)."""
    return [a.id for a in household.accounts if a.type is AccountType.TAXABLE]
