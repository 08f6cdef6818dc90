"""The store keeps every realization across runs, so a year's Form 8949 comes from it (issue 19, item 5).

Source of the rule: IRS Form 8949 instructions — one row per sale with (b) acquired, (c) sold, (d) proceeds,
(e) basis, (f) code W and (g) the disallowed wash-sale loss as a positive adjustment.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from engine.errors import ValidationError
from engine.model import AccountType, LossSale
from engine.store import Store
from engine.tax import LotLedger

ACCTS = {"brk": AccountType.TAXABLE, "ira": AccountType.TRADITIONAL}


def test_add_many_is_idempotent_and_updates_a_later_wash(store: Store) -> None:
    led = LotLedger(ACCTS)
    led.buy("brk", "VTI", 10, "100", date(2026, 1, 5))
    led.buy("brk", "BND", 10, "70", date(2026, 1, 5))
    led.sell("brk", "VTI", 10, "80", date(2026, 3, 2))
    led.sell("brk", "BND", 10, "75", date(2026, 3, 2))
    assert store.realizations.add_many("h1", led.realized(include_sheltered=True)) == 2
    assert store.realizations.add_many("h1", led.realized(include_sheltered=True)) == 0  # the same: no new rows
    led.buy("brk", "VTI", 4, "81", date(2026, 3, 10))  # washes 4 of the 10 loss shares later in the same run
    assert store.realizations.add_many("h1", led.realized(include_sheltered=True)) == 0
    rows = store.realizations.for_year("h1", 2026)
    vti = next(r for r in rows if r.symbol == "VTI")
    assert vti.disallowed == D("80.00") and vti.gain == D("-120.00")
    form = store.realizations.form_8949("h1", 2026)
    washed = [r for r in form if "VTI" in r.description]
    assert len(form) == 2 and washed[0].code == "W" and washed[0].adjustment == D("80.00")


def test_a_later_runs_wash_of_a_stored_sale_is_folded_in(store: Store) -> None:
    """Run 1 sells at a loss; run 2 rebuilds its ledger from the household (the loss sale carried) and buys
    the fund back within 30 days: the year's rows show the sale once, with the loss disallowed (code W)."""
    run1 = LotLedger(ACCTS)
    run1.buy("brk", "VTI", 10, "100", date(2026, 1, 5))
    run1.sell("brk", "VTI", 10, "80", date(2026, 3, 2))
    store.realizations.add_many("h1", run1.realized(include_sheltered=True))
    carried = run1.open_loss_sales(date(2026, 3, 3))
    run2 = LotLedger(ACCTS)
    for sale in carried:
        run2.add_loss_sale(LossSale(sale.id, sale.account, sale.symbol, sale.sold, sale.acquired, sale.shares,
                                    sale.loss, sale.lot_id))
    run2.buy("brk", "VTI", 10, "82", date(2026, 3, 20))
    store.realizations.add_many("h1", run2.realized(include_sheltered=True), run2.amendments())
    store.realizations.add_many("h1", run2.realized(include_sheltered=True), run2.amendments())  # idempotent
    rows = store.realizations.for_year("h1", 2026)
    assert len(rows) == 1 and rows[0].disallowed == D("200.00") and rows[0].gain == 0
    assert store.realizations.for_year("h1", 2025) == []
    assert store.realizations.for_year("other", 2026) == []


def test_share_counts_beyond_18_decimals_are_refused_not_rounded(store: Store) -> None:
    """Shares are exact: a count the NUMERIC(38, 18) column cannot hold is refused and nothing is stored."""
    led = LotLedger(ACCTS)
    led.buy("brk", "VTI", D("1.0000000000000000001"), "100", date(2026, 1, 5))
    led.sell("brk", "VTI", D("1.0000000000000000001"), "90", date(2026, 3, 2))
    with pytest.raises(ValidationError, match="NUMERIC"):
        store.realizations.add_many("h1", led.realized())
    assert store.realizations.for_year("h1", 2026) == []


def test_the_same_sale_spelt_with_other_trailing_zeros_is_one_row(store: Store) -> None:
    """A sale's key is its values, not their spelling: 25.000 and 25 shares (or 0E-18 and 0) are one sale."""
    from dataclasses import replace

    led = LotLedger(ACCTS)
    led.buy("brk", "VTI", 25, "100", date(2026, 1, 5))
    led.sell("brk", "VTI", 25, "80", date(2026, 3, 2))
    (sale,) = led.realized(include_sheltered=True)
    spelt = replace(sale, shares=D("25.000"), proceeds=sale.proceeds + D("0E-18"), basis=sale.basis + D("0.00"))
    assert store.realizations.add_many("h1", [sale]) == 1
    assert store.realizations.add_many("h1", [spelt]) == 0  # the same sale, not a second Form 8949 row
    assert len(store.realizations.form_8949("h1", 2026)) == 1
