"""Asset-location inputs for the optimizer: annual tax drag per account and asset (fractions of value).

    drag = asset_location_matrix(universe, {"brokerage": AccountType.TAXABLE, "roth": AccountType.ROTH}, profile)
    drag["brokerage"]["BND"]   # ≈ 0.037 × 31.3 % ≈ 0.0116 per year for the sample household
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from engine.model import AccountType, TaxProfile, Universe
from engine.tax.rates import TaxTables, marginal_rates, tax_drag

__all__ = ["asset_location_matrix"]


def asset_location_matrix(
    universe: Universe,
    accounts: Mapping[str, AccountType],
    profile: TaxProfile,
    tickers: Iterable[str] | None = None,
    tables: TaxTables | None = None,
) -> dict[str, dict[str, float]]:
    """``{account id: {ticker: annual tax drag}}`` (fractions of value per year) for the optimizer's location term."""
    rates = marginal_rates(profile, tables)
    names = [t.upper() for t in tickers] if tickers is not None else universe.tickers
    assets = [universe[t] for t in names] if accounts else []  # once, not once per account (unknown: raises)
    out: dict[str, dict[str, float]] = {}
    for acct, kind in accounts.items():
        if AccountType(kind) is AccountType.TAXABLE:
            out[acct] = {t: tax_drag(a, kind, profile, rates=rates) for t, a in zip(names, assets, strict=True)}
        else:  # tax_drag of any fund outside a taxable account
            out[acct] = dict.fromkeys(names, 0.0)
    return out
