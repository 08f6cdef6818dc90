"""The one cycle through the Python API on the shipped sample household, offline.

Plan (stored as proposed) → approve → execute: the joint brokerage account trades on the simulated broker behind
the safety rails, the held-away retirement accounts get advice; the saved household holds what the broker holds.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from brokers import rails_for, simulated_for
from engine.config import load_household
from engine.cycle import Cycle
from engine.data import MarketData, previous_trading_day
from engine.planner import Planner
from engine.store import Store

with tempfile.TemporaryDirectory() as tmp:
    store = Store(f"sqlite:///{Path(tmp) / 'robo.db'}")
    store.upgrade()
    household = load_household()
    store.households.add(household)
    market = MarketData.embedded()
    cycle = Cycle(Planner(market), store=store, rails=rails_for(), actor="example")
    day = previous_trading_day(previous_trading_day(market.last_day))  # two bars left: sells fill, then buys
    proposal = cycle.plan(household.id, day)
    print(f"proposal {proposal.id}: {len(proposal.orders)} orders, needs approval: {proposal.needs_approval}")
    cycle.approve(proposal.id, actor="advisor@example")
    report = cycle.execute(proposal.id, brokers=simulated_for(household, market, day))
    print(f"status {report.status.value}: {len(report.submitted)} placed, {len(report.fills)} filled, "
          f"{len(report.advised)} advised for held-away accounts")
    for order in report.advised[:3]:
        print(f"  advice: {order.side.value} {order.qty} {order.symbol} in {order.account}")
    saved = store.households.get(household.id)
    print(f"brokerage cash after trading: ${saved.account('brokerage').cash:,.2f}")
    store.close()
