"""Tax Impact Preview, Form 8949 and unrealized reports, and a multi-year, multi-account scenario."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest

from engine.errors import TaxRuleError
from engine.model import (
    AccountType,
    FilingStatus,
    Order,
    OrderSide,
    Proposal,
    RunKind,
    TaxProfile,
)
from engine.tax import (
    LotLedger,
    Term,
    form_8949,
    form_8949_csv,
    form_8949_rows,
    preview,
    tax_on,
    unrealized,
    unrealized_frame,
)

P = TaxProfile(filing_status=FilingStatus.SINGLE, ordinary_income=D(100000), state_rate=0.05)
ACCTS = {"b": AccountType.TAXABLE, "ira": AccountType.TRADITIONAL, "roth": AccountType.ROTH}


def test_preview_does_not_touch_the_ledger_and_reports_wash_consequences():
    led = LotLedger(ACCTS)
    led.buy("b", "XYZ", 100, 10, date(2025, 1, 2), lot_id="old")
    led.buy("b", "XYZ", 100, 20, date(2026, 1, 5), lot_id="new")
    before = (led.open_lots(), led.realized())
    p = preview(led, [("b", "XYZ", 200, 15)], date(2026, 3, 2), P, buys=[("ira", "XYZ", 40, 15)])
    assert (led.open_lots(), led.realized()) == before
    assert p.long_term_gain == D("500.00") and p.short_term_loss == D("300.00")  # 500 loss, 200 disallowed
    assert p.disallowed == D("200.00") and p.wash_sales[0].permanent
    assert p.net_gain == D("200.00")
    # 200 net: LT 500 − ST 300 → net LT 200 at 15 % + 5 % state
    assert p.estimated_tax == D("40.00") and p.bill.net_long_term == D("200.00")
    assert p.buy_blocks == {"XYZ": date(2026, 4, 2)}
    text = "\n".join(p.lines())
    assert "wash sale: $200.00" in text and "lost for good" in text and "before 2026-04-02" in text


def test_preview_of_an_unsized_buy_is_the_worst_case_and_counts_earlier_losses():
    led = LotLedger(ACCTS)
    led.buy("b", "XYZ", 10, 100, date(2026, 1, 5))
    led.sell("b", "XYZ", 10, 80, date(2026, 2, 20))  # −200 already realized this year
    p = preview(led, [], date(2026, 3, 2), P, buys=[("b", "XYZ")])
    assert p.disallowed == D("200.00") and p.realizations == ()
    assert p.estimated_tax == D("54.00")  # losing a 200 ST loss deduction at 22 % + 5 %
    assert any("up to $200.00" in w for w in p.warnings)


def test_preview_takes_orders_and_a_proposal():
    led = LotLedger(ACCTS)
    led.buy("b", "XYZ", 10, 100, date(2026, 1, 5), lot_id="x")
    sell = Order("p-0", "b", "XYZ", OrderSide.SELL, qty=D(4), lots=("x",))
    buy = Order("p-1", "roth", "ABC", OrderSide.BUY, notional=D(500))
    prop = Proposal("p", "h", date(2026, 3, 2), datetime(2026, 3, 2, tzinfo=UTC), "manual",
                    RunKind.FULL_REBALANCE, {}, (sell, buy))
    p = preview(led, prop, date(2026, 3, 2), P, prices={"XYZ": 110, "ABC": 50})
    (r,) = p.realizations
    assert r.gain == D("40.00") and r.term is Term.SHORT and p.estimated_tax == D("10.80")
    with pytest.raises(TaxRuleError, match="no price"):
        preview(led, [sell], date(2026, 3, 2), P)


def test_sheltered_sales_in_preview():
    led = LotLedger(ACCTS)
    led.buy("ira", "XYZ", 10, 100, date(2026, 1, 5))
    p = preview(led, [("ira", "XYZ", 10, 50)], date(2026, 3, 2), P)
    assert p.estimated_tax == 0 and p.short_term_loss == 0 and "tax-deferred" in p.lines()[-1]


def test_form_8949_rows_csv_and_frame():
    led = LotLedger(ACCTS)
    led.buy("b", "XYZ", 100, 10, date(2025, 1, 2))
    led.buy("b", "ABC", "2.5", 40, date(2026, 1, 5))
    led.sell("b", "XYZ", 50, 12, date(2026, 2, 2))  # LT +100
    led.sell("b", "XYZ", 50, "7.50", date(2026, 3, 2))  # LT −125
    led.buy("b", "XYZ", 20, 8, date(2026, 3, 20))  # washes 20/50 of it: 50
    led.sell("b", "ABC", "2.5", 44, date(2026, 4, 1))  # ST +10
    rows = form_8949_rows(led, 2026)
    assert [(r.part, r.code, r.adjustment, r.gain) for r in rows] == [
        ("I", "", 0, D("10.00")),
        ("II", "", 0, D("100.00")),
        ("II", "W", D("50.00"), D("-75.00")),
    ]
    assert rows[0].description == "2.5 sh ABC"
    text = form_8949_csv(led, 2026)
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][:9] == ["part", "description", "acquired", "sold", "proceeds", "basis", "code", "adjustment",
                            "gain"]
    assert ["II", "TOTAL", "", "", "975.00", "1000.00", "", "50.00", "25.00", "", ""] in table
    frame = form_8949(led, 2026)
    assert len(frame) == 3 and frame["adjustment"].sum() == D("50.00")
    assert all(isinstance(x, D) for x in frame["gain"])
    assert form_8949_rows(led, 2025) == []


def test_unrealized_report():
    led = LotLedger(ACCTS)
    led.buy("b", "XYZ", 10, 100, date(2025, 6, 2), lot_id="a")
    led.buy("roth", "XYZ", 1, 90, date(2026, 1, 5), lot_id="r")
    rows = unrealized(led, {"XYZ": "95.5"}, date(2026, 3, 2))
    a = next(x for x in rows if x.lot_id == "a")
    assert a.gain == D("-45.00") and a.term is Term.SHORT and a.long_term_on == date(2026, 6, 3)
    frame = unrealized_frame(led, {"XYZ": "95.5"}, date(2026, 7, 1), account="b")
    assert list(frame["lot_id"]) == ["a"] and frame["term"][0] == Term.LONG


def test_multi_year_multi_account_scenario(household, universe):
    """The sample household over three years: harvest, a wash sale through the IRA, carryforwards."""
    led = LotLedger.from_household(household, universe)
    profile = household.tax  # MFJ, 243,000 other income, CA 9.3 %
    # 2026: trim VTI at a long-term gain (FIFO takes b1: 180 sh bought 2019 for 26,100)
    (g,) = led.sell("brokerage", "VTI", 40, 300, date(2026, 2, 2), method="fifo")
    assert g.basis == D("5800.00") and g.gain == D("6200.00") and g.term is Term.LONG
    # sell the recent VTI lot b2 (45 sh, basis 12,487.50) at a short-term loss
    (loss,) = led.sell("brokerage", "VTI", 45, 250, date(2026, 3, 2), lots=["b2"])
    assert loss.gain == D("-1237.50") and loss.term is Term.SHORT
    # the 401(k) buys VTI 10 days later: 30 of the 45 loss shares are washed, for good
    led.buy("alex_401k", "VTI", 30, 255, date(2026, 3, 12))
    loss = next(r for r in led.realized(2026) if r.lot_id == "b2")
    assert loss.disallowed == D("825.00") and loss.lost == D("825.00") and loss.gain == D("-412.50")
    # VWO at a big long-term loss (250 sh, basis 13,000)
    led.sell("brokerage", "VWO", 250, 40, date(2026, 6, 1))
    bill26 = tax_on(led.realized(2026), profile)
    assert bill26.short_term == D("-412.50") and bill26.long_term == D("3200.00")  # 6,200 − 3,000
    assert bill26.net_long_term == D("2787.50") and bill26.loss_deduction == 0
    # 2,787.50 at 15 % federal + 9.3 % state (AGI stays under the NIIT threshold)
    assert bill26.total == D("677.36")
    # 2027: a big long-term loss in VEA → 3,000 deducted, the rest carried forward
    led.sell("brokerage", "VEA", 400, 30, date(2027, 3, 1))  # basis 17,600 → −5,600
    bill27 = tax_on(led.realized(2027), profile)
    assert bill27.loss_deduction == 3000 and bill27.lt_carryforward == D("2600")
    # 2028: the carryforward offsets a gain
    p28 = replace(profile, lt_loss_carryforward=bill27.lt_carryforward)
    led.sell("brokerage", "BND", 150, 90, date(2028, 5, 1))  # basis 12,675 → +825
    bill28 = tax_on(led.realized(2028), p28)
    assert bill28.net_long_term == D("-1775") and bill28.loss_deduction == D("1775")
    rows = form_8949_rows(led)
    assert [r.code for r in rows].count("W") == 1 and len(rows) == 5
    assert sum((r.gain for r in rows), D(0)) == D("6200") - D("412.50") - D("3000") - D("5600") + D("825")
    # the IRA replacement got no basis; the household's basis ledger still balances
    assert led.permanently_disallowed == D("825.00")
