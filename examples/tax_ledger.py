"""The tax engine on the sample household: a wash sale through the IRA, a harvest, a preview, Form 8949."""

from datetime import date
from decimal import Decimal

from engine import load_household, load_universe
from engine.tax import LotLedger, TaxLossHarvester, form_8949_csv, marginal_rates, preview, tax_on

universe = load_universe()
household = load_household(universe=universe)
ledger = LotLedger.from_household(household, universe)
rates = marginal_rates(household.tax)
print(f"{household.name}: short-term {rates.short_term:.1%}, long-term {rates.long_term:.1%} (federal + state + NIIT)")

# The classic: buy 100 at $10, sell at $7.50, buy back at $8 within 30 days → $250 disallowed, basis $1,050.
ledger.buy("brokerage", "VB", 100, 10, date(2026, 1, 5))
ledger.sell("brokerage", "VB", 100, "7.50", date(2026, 2, 2))
lot = ledger.buy("brokerage", "VB", 100, 8, date(2026, 2, 20))
print(f"replacement lot {lot.id}: basis ${lot.basis:,.2f}, holding period from {lot.acquired}")

# Preview before trading: sell the recent VTI lot at a loss while the Roth buys VTI the same day.
p = preview(ledger, [("brokerage", "VTI", 45, "250.00", ["b2"])], date(2026, 3, 2), household.tax,
            buys=[("alex_roth", "VTI", 10, "250.00")])
print("\n".join(p.lines()))

# The harvester: VWO and VEA are under water on this day; each decision explains itself.
prices = {"VTI": Decimal("250"), "IVV": Decimal("600"), "VEA": Decimal("38"), "IEFA": Decimal("70"),
          "VWO": Decimal("44"), "IEMG": Decimal("55"), "BND": Decimal("72"), "AGG": Decimal("98")}
harvester = TaxLossHarvester(universe, household.tax)
for decision in harvester.scan(ledger, prices, date(2026, 3, 2)):
    print(decision.explain())
    harvester.apply(ledger, decision)

bill = tax_on(ledger.realized(2026), household.tax)
print(f"2026 realized: ST ${bill.short_term:,.2f}, LT ${bill.long_term:,.2f}, tax change ${bill.total:,.2f}")
print(form_8949_csv(ledger, 2026))
