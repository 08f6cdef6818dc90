"""Compare two benchmark strategies of the shipped ESG scenario, after taxes, and write the report.

Both trade through the SimulatedBroker + LotLedger via Engine.execute; the second harvests losses with the
engine's TaxLossHarvester.
"""

from pathlib import Path

from backtests import load_scenario, run_scenario

scenario = load_scenario("esg").with_strategies(["esg_static_80_20", "esg_static_tlh"])
result = run_scenario(scenario, processes=1)
print(result.metrics[["twr_pre_tax", "twr_after_tax", "taxes_paid", "harvested_losses", "tax_alpha"]])
print("report:", result.report(Path("esg_report.html")).resolve())
