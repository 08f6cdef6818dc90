"""Estimates and values: μ and Σ as of a day (short histories blended), a view, a values report of a portfolio.

Runs offline on the embedded prices; ESG figures are illustrative sample values, not vendor data.
"""

from __future__ import annotations

from datetime import date

from engine.config import load_household, load_universe
from engine.data import MarketData
from engine.esg import apply_values, load_esg, values_report
from engine.estimates import ReturnModel, RiskModel, View, estimate

universe = load_universe()
as_of = date(2020, 6, 30)
prices = MarketData.embedded().as_of(as_of).prices           # nothing after as_of

est = estimate(prices, as_of, universe, returns=ReturnModel.MEAN_HISTORICAL, risk=RiskModel.LEDOIT_WOLF)
for t in ("VTI", "ESGV", "BND"):
    i = est.index(t)
    print(f"{t}: mu {est.mu[i]:.1%}, vol {est.volatility[i]:.1%}, {est.history_years[i]:.1f} years, "
          f"weight on own data {est.return_credibility[i]:.2f} (returns) / {est.risk_credibility[i]:.2f} (risk)")

# prior (class assumptions): VTI − VEA = −1 %; a half-confident view says +2 %
bl = estimate(prices, as_of, universe, views=[View.relative("VTI", "VEA", 0.02, confidence=0.5)], factor_model=True)
print(f"Black-Litterman VTI − VEA: {bl.mu[bl.index('VTI')] - bl.mu[bl.index('VEA')]:+.2%}; "
      f"factors {', '.join(bl.factor_names[:3])}, ...")

household = load_household(universe=universe)
esg = load_esg()
screen = apply_values(universe, esg, household.values)
print(f"{household.name}: {len(screen.allowed)} funds allowed; VTI excluded for "
      f"{', '.join(x.label for x in screen.excluded['VTI'])}")
report = values_report({"VTI": 0.45, "VEA": 0.15, "BND": 0.3, "BIL": 0.1}, esg, household.values)
print("\n".join(report.lines()))
