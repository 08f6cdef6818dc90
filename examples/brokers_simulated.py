"""Trade a two-account household on the simulated broker (offline): rails, sells first, fills, ledger, reconcile.

    .venv/bin/python examples/brokers_simulated.py
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from brokers import (
    CostModel,
    FillAt,
    GuardedBroker,
    MarketRule,
    SafetyPolicy,
    SimulatedBroker,
    reconcile,
    submit_all,
    total_by_symbol,
    wait_for_final,
)
from engine.data import MarketData
from engine.model import Order

market = MarketData.embedded(["VTI", "BND", "VEA"])
closes = market.prices.loc["2025-01-02":"2025-01-31"]
start = closes.index[0].date()

sim = SimulatedBroker(
    closes,
    accounts={"brokerage": 20_000, "ira": 5_000},
    positions={"ira": {"BND": 80}},
    start=start,
    fill_at=FillAt.NEXT_CLOSE,
    costs=CostModel(half_spread=Decimal("0.0005"), per_order=Decimal("0")),
)
broker = GuardedBroker(
    sim,
    SafetyPolicy(max_order_fraction=0.6, market=MarketRule.QUEUE_FOR_OPEN),  # daily bars: orders queue for the open
    data_time=lambda: sim.today,
)

orders = [
    Order("demo-000", "ira", "BND", "sell", qty=Decimal(30)),
    Order("demo-001", "brokerage", "VTI", "buy", notional=Decimal("9000")),
    Order("demo-002", "brokerage", "VEA", "buy", qty=Decimal("40.5")),
    Order("demo-003", "ira", "VTI", "buy", notional=Decimal("2000")),
]
since = datetime(2025, 1, 1, tzinfo=UTC)
placed = submit_all(broker, orders)  # sells first; a second call would place nothing
print("placed:", [(p.client_order_id, p.side.value, p.symbol, p.status.value) for p in placed])
assert submit_all(broker, orders) == placed

states = wait_for_final(broker, [p.client_order_id for p in placed], timeout=5, sleep=lambda _: sim.process())
fills = broker.fills(since)
for f in fills:
    print(f"{f.at:%Y-%m-%d} {f.account:9} {f.side.value:4} {f.qty:>14} {f.symbol} @ {f.price} fees {f.fees}")

# The ledger owns lots; here simply shares per account from the opening positions plus the fills.
ledger: dict[str, dict[str, Decimal]] = {"brokerage": {}, "ira": {"BND": Decimal(80)}}
for f in fills:
    book = ledger[f.account]
    book[f.symbol] = book.get(f.symbol, Decimal(0)) + (f.qty if f.side == "buy" else -f.qty)
for account in sim.accounts:
    found = reconcile(total_by_symbol(broker.positions(account)), ledger[account], account=account)
    info = broker.account(account)
    print(f"{account}: cash {info.cash:.2f} USD, equity {info.equity:.2f} USD, discrepancies {found}")
    assert not found
assert all(s.final for s in states.values()) and date(2025, 1, 3) == sim.today
