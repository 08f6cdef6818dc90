"""What every request of the service shares: the store, the one cycle (built once, on first use) and the brokers.

    ctx = ServiceContext(store, cycle_factory=lambda: Cycle(Planner(market), store=store, rails=rails))
    ctx.cycle.approve(pid, actor=principal.actor)

The service holds no business rules: reads go to the store, plans to the planner, every change to the cycle.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.cycle import BrokerSource, Cycle, ExecutionReport
from engine.errors import NotFound
from engine.model import Household, Proposal
from engine.store import Role, Store
from service.auth import Action, Forbidden, Principal, hidden

if TYPE_CHECKING:
    from engine.scheduler import ScheduleStatus

__all__ = ["ServiceContext"]


@dataclass
class ServiceContext:
    """The store, a factory of the one ``Cycle`` (market data and planner are built once, lazily) and, optionally,
    a function giving the brokers that execute a household's proposal (``None``: the cycle's own ``brokers``) and
    the scheduler's configuration (``None``: ``config/scheduler.yaml``, read when status is first asked)."""

    store: Store
    cycle_factory: Callable[[], Cycle]
    brokers_for: Callable[[Household, Proposal], BrokerSource] | None = None
    scheduler_config: Any = None
    _cycle: Cycle | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def cycle(self) -> Cycle:
        """The service's cycle (market data and estimates are loaded on first use, then shared)."""
        if self._cycle is None:
            with self._lock:
                if self._cycle is None:
                    self._cycle = self.cycle_factory()
        return self._cycle

    # -- reads scoped to the principal: a household it may not see is answered as a missing one -------------

    def household(self, who: Principal, household_id: str) -> Household:
        """The stored household, if ``who`` may see it.

        Raises:
            NotFound: missing or not visible (the same message either way).
        """
        if not who.sees(household_id):
            raise hidden(f"household {household_id!r}")
        try:
            return self.store.households.get(household_id)
        except NotFound:
            raise hidden(f"household {household_id!r}") from None

    def proposal(self, who: Principal, proposal_id: str) -> Proposal:
        """The stored proposal, if ``who`` may see its household.

        Raises:
            NotFound: missing or not visible (the same message either way).
        """
        try:
            p = self.store.proposals.get(proposal_id)
        except NotFound:
            raise hidden(f"proposal {proposal_id!r}") from None
        if not who.sees(p.household):
            raise hidden(f"proposal {proposal_id!r}")
        return p

    def execute(self, who: Principal, proposal_id: str) -> ExecutionReport:
        """Execute a proposal ``who`` may execute, through the cycle, with ``who`` as the audit actor.

        Raises:
            NotFound: missing or not visible. Forbidden: a client. Conflict: not executable now (the cycle's rule).
        """
        p = self.proposal(who, proposal_id)
        who.require(Action.EXECUTE, p.household, f"proposal {proposal_id!r}")
        h = self.cycle.household(p.household)
        brokers = self.brokers_for(h, p) if self.brokers_for is not None else None
        return self.cycle.execute(proposal_id, brokers=brokers, household=h, actor=who.actor)

    def scheduler_status(self, who: Principal, *, limit: int = 20) -> ScheduleStatus:
        """What ``robo schedule status`` shows, as ``who`` may see it: an admin everything; an advisor the
        all-household jobs (market data, estimates) and their firm's households; a client nothing (403).

        Raises:
            Forbidden: a client.
            ConfigError: the scheduler configuration is invalid (names file and field).
        """
        from dataclasses import replace

        from engine.scheduler import ALL_HOUSEHOLDS, SchedulerService, load_scheduler_config

        if who.role is Role.CLIENT:
            raise Forbidden("the scheduler's status is for advisors and admins")
        if self.scheduler_config is None:
            self.scheduler_config = load_scheduler_config()
        status = SchedulerService(self.store, _NoRunner(), self.scheduler_config).status(limit=limit)
        if who.role is Role.ADMIN:
            return status
        seen: dict[str, bool] = {}

        def mine(household: str) -> bool:
            if household not in seen:
                seen[household] = household == ALL_HOUSEHOLDS or who.sees(household)
            return seen[household]

        return replace(status, recent=tuple(r for r in status.recent if mine(r.household)),
                       paused=tuple(p for p in status.paused if mine(p.household)),
                       alerts=tuple(a for a in status.alerts if mine(a.household)),
                       wakeups=tuple(w for w in status.wakeups if mine(w.household)))


class _NoRunner:
    """Status needs no runner (as ``robo schedule status``); refuses to run anything."""

    def run(self, ctx: Any) -> Any:  # pragma: no cover - status never runs jobs
        raise RuntimeError("status does not run jobs")
