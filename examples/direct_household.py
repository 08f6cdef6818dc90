"""A household's direct-index sleeve through the one cycle: plan, approve, execute on the simulated broker, then a
harvest day that sells loss lots one by one without washing them (offline, on the shipped 20-stock demo set).

    python examples/direct_household.py

The household (``engine/config/defaults/households/direct.yaml``) holds IVV in a taxable brokerage and declares
``direct_index:`` there: the household solve plans IVV, IVV's dollar target in the brokerage becomes the sleeve's
target, and the sleeve holds it as single stocks (excluding oil, gas & coal and Walmart) within 6 %/yr tracking.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from brokers import rails_for
from brokers.factory import simulated_for
from engine.config import load_universe
from engine.config.loader import default_file, load_household
from engine.data import MarketData
from engine.data.market import with_stock_prices
from engine.data.stocks import embedded_stocks
from engine.engine import Engine
from engine.model import OrderSide, RunKind
from engine.store import Store

START, HARVEST = date(2022, 1, 3), date(2022, 6, 16)

market = with_stock_prices(MarketData.embedded(), embedded_stocks())  # funds and stocks in one frame
household = load_household(default_file("households/direct.yaml"), universe=load_universe(), as_of=START)
store = Store(f"sqlite:///{Path(tempfile.mkdtemp()) / 'robo.db'}")
store.upgrade()
store.households.add(household)
broker = simulated_for(household, market, START, universe=Engine(market).planner.assets_for(household))

for day, kind in ((START, RunKind.FULL_REBALANCE), (HARVEST, RunKind.TAX_LOSS_HARVEST)):
    if broker.today < day:
        broker.advance_to(day)
    engine = Engine(market.as_of(day), store=store, brokers=broker, rails=rails_for())
    proposal = engine.plan("chen", day, run_kind=kind)
    (sleeve,) = proposal.details["direct_index"]
    print(f"{day} {kind.value}: sleeve target ${sleeve['target_usd']:,.0f}, tracking error "
          f"{sleeve['tracking_error']:.2%}/yr, {sleeve['names_held']} stocks, net tax ${sleeve['net_tax']:,.0f}")
    for o in proposal.orders:
        if o.account == "brokerage" and (o.side is OrderSide.SELL or o.symbol in embedded_stocks().universe):
            lots = f"lots {', '.join(o.lots)}" if o.lots else ""
            print(f"  {o.side.value:4} {o.symbol:5} {o.qty or o.notional:>16} {lots}")
    for line in proposal.explanation:
        if line.startswith("Direct index"):
            print("  why: " + line)
    report = engine.execute(engine.approve(proposal, reason="example"))
    print(f"  executed: {report.status.value}; ledger and broker agree: {not report.discrepancies}")

after = store.households.get("chen")
print("loss sales whose 30-day window is open:", ", ".join(sorted({s.symbol for s in after.loss_sales})))
