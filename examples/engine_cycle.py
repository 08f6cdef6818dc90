"""One household cycle, offline: plan a proposal, approve it, execute it through the simulated broker.

The engine trades behind the safety rails (``rails_for``: kill switch, market hours, size cap); the sample's
retirement accounts are held away, so their orders come back as advice for a person to place.
"""

from datetime import date
from decimal import Decimal

from brokers import SimulatedBroker, rails_for
from engine import Engine, MarketData, load_household

market = MarketData.embedded()
engine = Engine(market, rails=rails_for())
household = load_household(universe=engine.universe)
ledger = engine.ledger(household)  # the household's lots, exact Decimal shares and basis
as_of = date(2026, 7, 30)

proposal = engine.plan(household, as_of, ledger=ledger)
print(f"{proposal.id}: {len(proposal.orders)} orders, needs approval: {proposal.needs_approval}")
for reason in proposal.approval_reasons:
    print("  approval needed:", reason)
print(" ", proposal.tax_preview.lines()[0])

positions: dict[str, dict[str, Decimal]] = {}
for lot in ledger.open_lots():
    positions.setdefault(lot.account, {}).setdefault(lot.symbol, Decimal(0))
    positions[lot.account][lot.symbol] += lot.shares
broker = SimulatedBroker(market.prices, accounts={a.id: a.cash for a in household.accounts}, start=as_of,
                         positions=positions, assets=engine.universe)

report = engine.execute(engine.approve(proposal, actor="advisor"), broker, ledger=ledger, household=household)
print(f"{report.status.value}: {len(report.fills)} fills, {len(report.advised)} advised, "
      f"discrepancies: {len(report.discrepancies)}")
print("realized this year in the brokerage:", sum(r.gain for r in ledger.realized(account="brokerage")))
