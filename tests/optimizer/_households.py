"""Small synthetic households for the optimizer tests (plain arrays, no other rooms)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np

from engine.model import AccountType, AssetClass
from engine.optimizer import HouseholdInputs, LotInputs

AS_OF = date(2026, 3, 31)

TICKERS = ("VTI", "IVV", "VEA", "BND", "AGG", "BIL")
CLASSES = (
    AssetClass.US_EQUITY,
    AssetClass.US_EQUITY,
    AssetClass.INTL_EQUITY,
    AssetClass.US_BONDS,
    AssetClass.US_BONDS,
    AssetClass.CASH,
)
PRICES = np.array([300.0, 550.0, 50.0, 72.0, 98.0, 91.5])
MU = np.array([0.07, 0.069, 0.065, 0.035, 0.034, 0.03])
VOL = np.array([0.16, 0.155, 0.17, 0.05, 0.05, 0.005])
CORR = np.array(
    [
        [1.0, 0.99, 0.8, 0.1, 0.1, 0.0],
        [0.99, 1.0, 0.8, 0.1, 0.1, 0.0],
        [0.8, 0.8, 1.0, 0.1, 0.1, 0.0],
        [0.1, 0.1, 0.1, 1.0, 0.95, 0.1],
        [0.1, 0.1, 0.1, 0.95, 1.0, 0.1],
        [0.0, 0.0, 0.0, 0.1, 0.1, 1.0],
    ]
)
COV = CORR * np.outer(VOL, VOL)
MIX = {AssetClass.US_EQUITY: 0.45, AssetClass.INTL_EQUITY: 0.15, AssetClass.US_BONDS: 0.35, AssetClass.CASH: 0.05}
BANDS = {c: (max(0.0, w - 0.1), min(1.0, w + 0.1)) for c, w in MIX.items()}
GUARD = np.array([0, 0, 1, 2, 2, 3])  # VTI/IVV and BND/AGG are substitute pairs
ESG = np.array([6.0, 6.2, 7.0, 4.0, 4.2, 5.0])
CARBON = np.array([120.0, 118.0, 100.0, 20.0, 22.0, 0.0])
# Annual tax drag: taxable pays ordinary rates on bond income, little on equity dividends.
DRAG_TAXABLE = np.array([0.002, 0.002, 0.004, 0.014, 0.014, 0.016])


def lots(rows):
    """LotInputs from (id, account, asset, shares, basis USD, long_term) rows."""
    if not rows:
        return LotInputs.empty()
    ids, acc, ast, sh, bs, lt = zip(*rows, strict=True)
    return LotInputs(ids, np.array(acc), np.array(ast), np.array(sh, float), np.array(bs, float), np.array(lt))


def household(**changes) -> HouseholdInputs:
    """A taxable and a traditional account; lots at modest gains; VTI/IVV and BND/AGG guard pairs."""
    base = HouseholdInputs(
        household_id="smith",
        as_of=AS_OF,
        tickers=TICKERS,
        prices=PRICES,
        asset_class=CLASSES,
        accounts=("brokerage", "ira"),
        account_types=(AccountType.TAXABLE, AccountType.TRADITIONAL),
        cash=np.array([5_000.0, 2_000.0]),
        lots=lots(
            [
                ("b1", 0, 0, 100, 20_000.0, True),
                ("b2", 0, 2, 400, 18_000.0, True),
                ("b3", 0, 3, 300, 20_000.0, True),
                ("r1", 1, 0, 50, 9_000.0, True),
                ("r2", 1, 4, 200, 19_000.0, True),
            ]
        ),
        mu=MU,
        cov=COV,
        strategic_mix=MIX,
        class_bands=BANDS,
        st_rate=0.37,
        lt_rate=0.20,
        tax_drag=np.vstack([DRAG_TAXABLE, np.zeros(6)]),
        guard_group=GUARD,
        esg_score=ESG,
        carbon=CARBON,
    )
    return replace(base, **changes)
