"""The tax engine: exact lot ledger, household-wide wash sales, loss harvesting, rates, preview, reports.

    ledger = LotLedger.from_household(household, universe)
    preview(ledger, [("brokerage", "VTI", 40, "250")], date(2026, 3, 2), household.tax).lines()

Money and shares are ``Decimal`` (USD, shares); rates and drag are ``float`` fractions. Imports only
``engine.model``, ``engine.errors`` and ``engine.config`` (pandas lazily, for the report frames).
"""

from datetime import date

from engine.tax.harvest import HarvestConfig, HarvestDecision, HarvestKind, HarvestSkip, TaxLossHarvester
from engine.tax.harvest_run import (
    HarvestPlan,
    buyable_tickers,
    count_harvestable,
    harvester_for,
    plan_harvest,
    wash_avoiding_buys,
)
from engine.tax.ledger import (
    WASH_SALE_DAYS,
    AcquisitionKind,
    Amount,
    LotLedger,
    LotMethod,
    Realization,
    Term,
    WashSale,
    WashSaleWindow,
    add_years,
    holding_term,
    long_term_from,
)
from engine.tax.location import asset_location_matrix
from engine.tax.preview import TaxImpactPreview, preview
from engine.tax.rates import (
    MarginalRates,
    TaxBill,
    TaxTables,
    load_tax_tables,
    marginal_rates,
    tax_drag,
    tax_on,
)
from engine.tax.reports import (
    Form8949Row,
    UnrealizedLot,
    form_8949,
    form_8949_csv,
    form_8949_rows,
    unrealized,
    unrealized_frame,
)

__all__ = [
    "WASH_SALE_DAYS",
    "AcquisitionKind",
    "Amount",
    "Form8949Row",
    "HarvestConfig",
    "HarvestDecision",
    "HarvestKind",
    "HarvestPlan",
    "HarvestSkip",
    "LotLedger",
    "LotMethod",
    "MarginalRates",
    "Realization",
    "TaxBill",
    "TaxImpactPreview",
    "TaxLossHarvester",
    "TaxTables",
    "Term",
    "UnrealizedLot",
    "WashSale",
    "WashSaleWindow",
    "add_years",
    "asset_location_matrix",
    "buyable_tickers",
    "count_harvestable",
    "form_8949",
    "form_8949_csv",
    "form_8949_rows",
    "harvester_for",
    "holding_term",
    "load_tax_tables",
    "long_term_from",
    "marginal_rates",
    "plan_harvest",
    "preview",
    "tax_drag",
    "tax_on",
    "unrealized",
    "unrealized_frame",
    "wash_avoiding_buys",
    "wash_sale_window",
]


def wash_sale_window(ledger: LotLedger, symbol_group: str | set[str], on: date) -> WashSaleWindow:
    """``ledger.wash_sale_window(symbol_group, on)`` as a plain function (for the optimizer)."""
    return ledger.wash_sale_window(symbol_group, on)
