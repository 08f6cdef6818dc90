"""Direct indexing on the shipped 20-stock demo set: move from an index fund into single stocks within a tax
budget, exclude oil, gas & coal and defence, harvest a loss lot, and see what each exclusion costs.

    python examples/direct_indexing.py
"""

from __future__ import annotations

from datetime import date

from engine.data.stocks import embedded_stocks, universe_weights
from engine.estimates.sector_model import sector_risk_model
from engine.model import AccountType
from engine.optimizer.sleeve import DirectIndexSleeve, Exclusion, SleeveRules, sleeve_inputs
from engine.tax.corporate import SpinOff, apply_action
from engine.tax.ledger import LotLedger

DAY = date(2022, 6, 30)

data = embedded_stocks()  # skfolio's 20-stock set (BSD-3), shipped with the package
uni = data.universe
model = sector_risk_model(data.returns(end=DAY), {s.ticker: s.sector for s in uni.stocks}, as_of=DAY)
last = data.prices.loc[: str(DAY)].iloc[-1]
prices = {t: float(last[t]) for t in uni.tickers} | {"IVV": 380.0}
benchmark = universe_weights(uni)  # no market caps in the demo set: equal weights

ledger = LotLedger({"taxable": AccountType.TAXABLE}, uni.identical)
ledger.buy("taxable", "IVV", "500", "250.00", date(2016, 3, 1))  # the index fund, at a gain
ledger.buy("taxable", "AMD", "200", "150.00", date(2021, 11, 1))  # a single stock, now at a loss

rules = SleeveRules(te_limit=0.06, tax_budget=3_000,
                    exclusions=(Exclusion.fossil_fuels(), Exclusion.defense()))
x = sleeve_inputs(ledger, "taxable", uni, model, prices, DAY, benchmark=benchmark, rules=rules, fund="IVV",
                  cash=10_000)
result = DirectIndexSleeve.for_inputs(x).solve(x)

print(f"sleeve value ${x.value:,.0f}; tracking error {result.tracking_error:.2%}/yr (limit {rules.te_limit:.0%})")
print(f"index fund kept: {result.weights.get('IVV', 0):.1%}; stocks held: {result.names_held}")
for sell in result.sells:
    print(f"  sell lot {sell.lot_id} of {sell.symbol}: ${sell.value:,.0f}, tax ${sell.tax:+,.0f}")
print("why:")
for line in result.explanation:
    print("  " + line)

# A spin-off on the lots: 25 % of AMD's basis moves to a hypothetical spun-off "AMDX" (Form 8937's percentage).
out = apply_action(ledger.open_lots(), SpinOff("AMD", "AMDX", 1, DAY, basis_fraction="0.25"))
print(out.note)
