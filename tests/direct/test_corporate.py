"""Corporate actions on lots, each rule with its source (IRC sections, Treas. Reg., Rev. Rul., Form 8937)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pandas as pd
import pytest

from engine.errors import TaxRuleError
from engine.model import AccountType, Lot
from engine.tax.corporate import (
    CashMerger,
    Delisting,
    SpinOff,
    Split,
    StockMerger,
    apply_action,
    apply_actions,
    apply_to_ledger,
    splits_from_data,
)
from engine.tax.ledger import LotLedger, Term

LOTS = (
    Lot("L1", "tax", "ABT", D("10"), D("400.00"), date(2010, 3, 1)),
    Lot("L2", "tax", "ABT", D("5"), D("300.00"), date(2012, 11, 1)),
    Lot("L3", "ira", "ABT", D("7"), D("350.00"), date(2011, 1, 3)),
    Lot("L4", "tax", "MSFT", D("2"), D("50.00"), date(2009, 1, 2)),
)


def _basis(lots, symbol):
    return sum((lot.basis for lot in lots if lot.symbol == symbol), D(0))


def test_split_scales_shares_and_keeps_basis_and_dates():
    # IRC §307(a), Treas. Reg. §1.307-1: basis spread over the new shares; holding period unchanged.
    out = apply_action(LOTS, Split("ABT", "3", date(2013, 6, 3)))
    abt = {lot.id: lot for lot in out.lots if lot.symbol == "ABT"}
    assert abt["L1"].shares == D("30") and abt["L1"].basis == D("400.00") and abt["L1"].acquired == date(2010, 3, 1)
    assert _basis(out.lots, "ABT") == _basis(LOTS, "ABT") and out.sales == ()
    assert {lot.id for lot in out.lots if lot.symbol == "MSFT"} == {"L4"}


def test_cash_merger_is_a_sale_at_the_deal_price():
    # IRC §1001: gain = amount realized − adjusted basis; term by holding period (§1222).
    out = apply_action(LOTS, CashMerger("ABT", "45.50", date(2013, 1, 2)), {"tax": AccountType.TAXABLE,
                                                                              "ira": AccountType.TRADITIONAL})
    sales = {s.lot_id: s for s in out.sales}
    assert sales["L1"].proceeds == D("455.00") and sales["L1"].gain == D("55.00") and sales["L1"].term is Term.LONG
    assert sales["L2"].proceeds == D("227.50") and sales["L2"].gain == D("-72.50") and sales["L2"].term is Term.SHORT
    assert sales["L3"].reportable is False  # an IRA's sale is not a taxable realization
    assert not [lot for lot in out.lots if lot.symbol == "ABT"] and out.cash == {"tax": D("682.50"), "ira": D("318.50")}


def test_stock_merger_carries_basis_and_holding_period():
    # IRC §354/§358(a)(1): new shares take the old basis; §1223(1): the holding period tacks.
    out = apply_action(LOTS, StockMerger("ABT", "XYZ", "0.75", date(2013, 1, 2)))
    new = {lot.id: lot for lot in out.opened}
    assert new["L1>XYZ"].shares == D("7.50") and new["L1>XYZ"].basis == D("400.00")
    assert new["L1>XYZ"].acquired == date(2010, 3, 1) and new["L1>XYZ"].purchased == date(2010, 3, 1)
    assert _basis(out.lots, "XYZ") == _basis(LOTS, "ABT") and out.sales == ()


def test_stock_merger_cash_in_lieu_of_fractional_shares():
    # Rev. Rul. 66-365: cash for a fractional share is a sale of that fraction, basis allocated pro rata.
    out = apply_action(LOTS, StockMerger("ABT", "XYZ", "0.75", date(2013, 1, 2), cash_in_lieu_price="60"))
    tax = [lot for lot in out.opened if lot.account == "tax"]
    assert sum(lot.shares for lot in tax) == D("11")  # 15 × 0.75 = 11.25 → 11 whole shares
    (sale,) = [s for s in out.sales if s.account == "tax"]
    assert sale.lot_id == "L2" and sale.shares == D("0.25") and sale.proceeds == D("15.00")  # latest lot pays it
    assert sale.basis == D("20.00")  # 300 × 0.25 / 3.75
    assert _basis(tax, "XYZ") + sale.basis == D("700.00")  # basis conserved to the cent


def test_spin_off_by_form_8937_fraction():
    # IRC §358(b)(2),(c); Treas. Reg. §1.358-2(a)(2)(iv); the issuer's Form 8937 line 15 states the split.
    out = apply_action(LOTS, SpinOff("ABT", "ABBV", 1, date(2013, 1, 2), basis_fraction="0.4"))
    by = {lot.id: lot for lot in out.lots}
    assert by["L1"].basis == D("240.00") and by["L1:ABBV"].basis == D("160.00")
    assert by["L1:ABBV"].shares == D("10") and by["L1:ABBV"].acquired == date(2010, 3, 1)  # §1223(1)
    assert _basis(out.lots, "ABT") + _basis(out.lots, "ABBV") == _basis(LOTS, "ABT")


def test_spin_off_by_fair_values():
    # Relative fair market value after the distribution: 0.5 × 20 / (30 + 0.5 × 20) = 0.25 of basis moves.
    action = SpinOff("ABT", "NEW", "0.5", date(2013, 1, 2), parent_price="30", spun_price="20")
    assert action.fraction == D("0.25")
    out = apply_action(LOTS, action)
    by = {lot.id: lot for lot in out.lots}
    assert by["L2:NEW"].shares == D("2.5") and by["L2:NEW"].basis == D("75.00") and by["L2"].basis == D("225.00")
    with pytest.raises(TaxRuleError, match="Form 8937"):
        SpinOff("ABT", "NEW", 1, date(2013, 1, 2))


def test_delisting_liquidates_at_the_last_price_and_worthless_dates_to_year_end():
    out = apply_action(LOTS, Delisting("ABT", "12.5", date(2013, 5, 6), reason="acquired, prices end"))
    assert {s.lot_id: s.proceeds for s in out.sales} == {"L1": D("125.00"), "L2": D("62.50"), "L3": D("87.50")}
    assert "last price" in out.sales[0].note
    # IRC §165(g)(1): a security that becomes worthless is treated as sold on the last day of the tax year.
    gone = apply_action(LOTS, Delisting("ABT", "0", date(2013, 5, 6), reason="bankrupt"))
    assert {s.sold for s in gone.sales} == {date(2013, 12, 31)} and gone.sales[0].gain == D("-400.00")


def test_actions_in_date_order_and_late_lots_refused():
    final, outs = apply_actions(LOTS, [CashMerger("ABT", 50, date(2014, 1, 2)), Split("ABT", 2, date(2013, 1, 2))])
    assert [o.action.kind for o in outs] == ["split", "cash_merger"] and not [x for x in final if x.symbol == "ABT"]
    assert sum(s.shares for s in outs[1].sales) == D("44")
    with pytest.raises(TaxRuleError, match="date order"):
        apply_action(LOTS, Split("ABT", 2, date(2011, 1, 1)))
    with pytest.raises(TaxRuleError):
        Split("ABT", "-2", date(2013, 1, 2))
    with pytest.raises(TaxRuleError):
        StockMerger("ABT", "abt", 1, date(2013, 1, 2))


def test_ledger_path_for_splits_and_cash_outs_applies_the_wash_sale_rule():
    ledger = LotLedger({"tax": AccountType.TAXABLE})
    ledger.buy("tax", "ABC", 10, "100", date(2020, 1, 2))
    ledger.buy("tax", "ABC", 10, "60", date(2020, 3, 2))
    assert apply_to_ledger(ledger, Split("ABC", 2, date(2020, 3, 10))) == []
    assert ledger.shares("tax", "ABC") == D("40")
    reals = apply_to_ledger(ledger, CashMerger("ABC", "30", date(2020, 3, 20)))
    assert sum(r.proceeds for r in reals) == D("1200.00")
    # IRC §1091 via the ledger: the 2020-03-02 lot is within 30 days before the sale of the 2020-01-02 lot, but
    # it was sold in the same sale, so nothing is washed: shares sold together are not replacements.
    assert sorted(r.gain for r in reals) == [D("-400.00"), D("0.00")] and not any(r.wash_sale for r in reals)
    with pytest.raises(TaxRuleError, match="apply_action"):
        apply_to_ledger(ledger, SpinOff("ABC", "D", 1, date(2020, 3, 20), basis_fraction="0.1"))


def test_splits_from_data_route_flagged_rows_to_review(sp500):
    splits, review = splits_from_data(sp500.actions)
    # sp500 README: 32 non-standard split ratios (spin-offs encoded as splits) and 11 split+dividend days.
    flagged = sp500.actions[(sp500.actions["split_coefficient"] != 1) & sp500.actions["flag"].notna()]
    assert len(review) == len(flagged) and "nonstandard_split_ratio" in set(review["flag"])
    held_back = {(t, d.date()) for t, d in zip(review["ticker"], review["date"], strict=True)}
    assert not {(s.symbol, s.on) for s in splits} & held_back
    aapl = [s for s in splits if s.symbol == "AAPL"]
    assert [(s.on, s.ratio) for s in aapl][-1] == (date(2020, 8, 31), D("4.0"))


def test_splits_from_a_small_table():
    frame = pd.DataFrame({"date": pd.to_datetime(["2020-08-31", "2019-06-03"]), "ticker": ["AAPL", "DD"],
                          "split_coefficient": [4.0, 0.3333], "flag": [None, "nonstandard_split_ratio"]})
    splits, review = splits_from_data(frame)
    assert [(s.symbol, s.ratio) for s in splits] == [("AAPL", D("4.0"))] and list(review["ticker"]) == ["DD"]
