"""Store a household, walk a proposal through approval, and read the audit trail (a temporary SQLite file).

    python examples/store_households.py
"""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from engine import load_household, load_universe
from engine.model import LifeEvent, LifeEventKind, Order, OrderSide, Proposal, ProposalStatus, RunKind
from engine.store import Store


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{Path(folder) / 'robo.db'}")
        print("migrated to revision", store.upgrade())

        household = load_household(universe=load_universe())
        store.households.add(household, actor="example")
        assert store.households.get(household.id) == household  # exact round trip, Decimals included
        print("stored households:", store.households.list())

        baby = LifeEvent(LifeEventKind.CHILD, date(2026, 6, 1), details={"name": "Sam"})
        household = store.households.record_event(household.id, baby, actor="alex")
        print("events now:", [e.id for e in household.events])

        run_id = store.runs.start(RunKind.FULL_REBALANCE, {"risk_aversion": 2.5, "drift_band": 0.03}, household.id)
        proposal = Proposal(
            id="rivera-2026-06-01",
            household=household.id,
            as_of=date(2026, 6, 1),
            created=datetime.now(UTC),
            trigger="life event: child",
            run_kind=RunKind.FULL_REBALANCE,
            targets={("brokerage", "BND"): 0.12, ("brokerage", "VTI"): 0.30},
            orders=(Order("rivera-2026-06-01-0", "brokerage", "BND", OrderSide.BUY, notional=Decimal("2500")),),
            explanation=("BND raised: a college goal was added for Sam",),
            needs_approval=True,
            approval_reasons=("life event",),
        )
        store.proposals.add(proposal)
        store.proposals.transition(proposal.id, ProposalStatus.APPROVED, actor="jordan", reason="agreed")
        store.proposals.transition(proposal.id, ProposalStatus.EXECUTING, actor="scheduler")
        done = store.proposals.transition(proposal.id, ProposalStatus.EXECUTED, actor="broker")
        record = store.runs.finish(run_id, "succeeded", {"proposal": done.id, "orders": len(done.orders)})
        print(f"proposal {done.id}: {done.status.value}; run {record.id[:8]} config hash {record.config_hash[:12]}")

        for entry in store.audit.list(household=household.id):
            print(f"audit #{entry.seq} {entry.at:%H:%M:%S} {entry.actor:<9} {entry.action} {entry.entity_id}")
        store.close()


if __name__ == "__main__":
    main()
