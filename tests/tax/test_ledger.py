"""The lot ledger: worked wash-sale examples with known answers, relief methods, holding periods, errors."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from engine.errors import TaxRuleError
from engine.model import AccountType, Lot
from engine.tax import LotLedger, LotMethod, Term, holding_term, long_term_from

T, IRA, ROTH = AccountType.TAXABLE, AccountType.TRADITIONAL, AccountType.ROTH


def ledger(**extra: AccountType) -> LotLedger:
    return LotLedger({"brokerage": T, "joint": T, "ira": IRA, "roth": ROTH, **extra}, identical=[{"VOO", "IVV"}])


def state(led: LotLedger) -> tuple:
    return (led.open_lots(), led.realized(include_sheltered=True), led.wash_sales(), led.last_event)


# ---------------------------------------------------------------------------------------------
# The classic worked examples
# ---------------------------------------------------------------------------------------------


def test_classic_wash_sale_rebuy_within_30_days():
    led = ledger()
    led.buy("brokerage", "XYZ", 100, 10, date(2026, 1, 5))
    (sale,) = led.sell("brokerage", "XYZ", 100, "7.50", date(2026, 3, 2))
    assert sale.gain == D("-250.00") and sale.disallowed == 0  # nothing bought yet
    new = led.buy("brokerage", "XYZ", 100, 8, date(2026, 3, 20))
    assert new.basis == D("1050.00")
    # 56 days of the old holding period are tacked on: 2026-03-20 − 56 days.
    assert new.acquired == date(2026, 1, 23) and new.purchased == date(2026, 3, 20)
    (sale,) = led.realized(2026)
    assert sale.disallowed == D("250.00") and sale.gain == 0 and sale.proceeds == D("750.00")
    assert sale.basis == D("1000.00") and sale.replacements == (new.id,)
    (w,) = led.wash_sales()
    assert w.basis_added == D("250.00") and not w.permanent


def test_replacement_bought_in_an_ira_loses_the_loss_for_good():
    led = ledger()
    led.buy("brokerage", "XYZ", 100, 10, date(2026, 1, 5))
    led.sell("brokerage", "XYZ", 100, "7.50", date(2026, 3, 2))
    ira_lot = led.buy("ira", "XYZ", 100, 8, date(2026, 3, 20))
    assert ira_lot.basis == D("800.00") and ira_lot.acquired == date(2026, 3, 20)  # no basis, no tacking
    (sale,) = led.realized()
    assert sale.disallowed == D("250.00") and sale.lost == D("250.00") and sale.gain == 0
    assert led.permanently_disallowed == D("250.00")
    assert led.wash_sales()[0].permanent


def test_roth_replacement_too():
    led = ledger()
    led.buy("brokerage", "XYZ", 10, 100, date(2026, 1, 5))
    led.sell("brokerage", "XYZ", 10, 90, date(2026, 2, 2))
    led.buy("roth", "XYZ", 1, 95, date(2026, 2, 3))
    (sale,) = led.realized()
    assert sale.disallowed == D("10.00") and sale.lost == D("10.00") and sale.gain == D("-90.00")


def test_partial_repurchase_disallows_a_proportional_part():
    led = ledger()
    led.buy("brokerage", "XYZ", 100, 10, date(2026, 1, 5))
    led.sell("brokerage", "XYZ", 100, "7.50", date(2026, 3, 2))
    new = led.buy("brokerage", "XYZ", 40, 8, date(2026, 3, 10))
    assert new.basis == D("420.00")  # 320 + 40 % of 250
    (sale,) = led.realized()
    assert sale.disallowed == D("100.00") and sale.gain == D("-150.00")
    # A second buy inside the window takes the rest, a third gets nothing.
    second = led.buy("joint", "XYZ", 100, 8, date(2026, 3, 25))
    third = led.buy("brokerage", "XYZ", 10, 8, date(2026, 3, 26))
    (sale,) = led.realized()
    assert sale.disallowed == D("250.00") and sale.gain == 0
    lots = {lot.id: lot for lot in led.open_lots()}
    # the 100-share buy was split: 60 shares matched (basis 480 + 150), 40 untouched at 320
    matched = [lot for lot in lots.values() if lot.account == "joint" and lot.basis == D("630.00")]
    assert len(matched) == 1 and matched[0].shares == 60
    assert lots[second.id].shares == 40 and lots[second.id].basis == D("320.00")
    assert lots[third.id].basis == D("80.00")


def test_gain_and_loss_the_same_day_stay_separate():
    led = ledger()
    led.buy("brokerage", "XYZ", 100, 10, date(2025, 1, 6))  # long-term gain lot
    led.buy("brokerage", "XYZ", 100, 20, date(2026, 1, 5))  # short-term loss lot
    led.buy("ira", "XYZ", 50, 14, date(2026, 2, 20))  # replacement for half the loss
    gain, loss = led.sell("brokerage", "XYZ", 200, 15, date(2026, 3, 2), method=LotMethod.FIFO)
    assert gain.term is Term.LONG and gain.gain == D("500.00") and gain.disallowed == 0
    assert loss.term is Term.SHORT and loss.disallowed == D("250.00") and loss.gain == D("-250.00")
    assert gain.gain + loss.gain == D("250.00")


def test_replacement_bought_before_the_sale():
    led = ledger()
    led.buy("brokerage", "XYZ", 100, 10, date(2026, 1, 5))
    led.buy("joint", "XYZ", 100, 8, date(2026, 2, 20))
    (sale,) = led.sell("brokerage", "XYZ", 100, "7.50", date(2026, 3, 2), method=LotMethod.FIFO)
    assert sale.disallowed == D("250.00") and sale.gain == 0
    (rep,) = led.open_lots("joint")
    assert rep.basis == D("1050.00") and rep.acquired == date(2025, 12, 26)  # 2026-02-20 − 56 days


def test_window_is_30_days_each_side_inclusive():
    for buy_day, washed in [(date(2026, 1, 31), True), (date(2026, 1, 30), False)]:
        led = ledger()
        led.buy("brokerage", "XYZ", 10, 10, date(2025, 6, 2))
        led.buy("joint", "XYZ", 10, 8, buy_day)
        (sale,) = led.sell("brokerage", "XYZ", 10, 7, date(2026, 3, 2), method=LotMethod.FIFO)
        assert (sale.disallowed > 0) is washed, buy_day
    for buy_day, washed in [(date(2026, 4, 1), True), (date(2026, 4, 2), False)]:
        led = ledger()
        led.buy("brokerage", "XYZ", 10, 10, date(2025, 6, 2))
        led.sell("brokerage", "XYZ", 10, 7, date(2026, 3, 2))
        led.buy("joint", "XYZ", 10, 8, buy_day)
        assert (led.realized()[0].disallowed > 0) is washed, buy_day


def test_same_purchase_is_not_its_own_replacement():
    led = ledger()
    led.buy("brokerage", "XYZ", 100, 10, date(2026, 1, 20))
    (sale,) = led.sell("brokerage", "XYZ", 50, 8, date(2026, 2, 1))
    assert sale.disallowed == 0 and sale.gain == D("-100.00")
    assert led.open_lots()[0].basis == D("500.00")


def test_lots_sold_together_do_not_wash_each_other():
    led = ledger()
    led.buy("brokerage", "XYZ", 10, 10, date(2026, 1, 2))
    led.buy("brokerage", "XYZ", 10, 10, date(2026, 1, 20))
    sales = led.sell("brokerage", "XYZ", 20, 8, date(2026, 2, 2))
    assert [s.disallowed for s in sales] == [0, 0] and led.wash_sales() == []


def test_replacement_shares_absorb_one_loss_each_in_sale_order():
    led = ledger()
    led.buy("brokerage", "XYZ", 100, 10, date(2025, 6, 2))
    led.buy("joint", "XYZ", 100, 12, date(2025, 6, 2))
    a = led.sell("brokerage", "XYZ", 100, 9, date(2026, 3, 2))[0]
    b = led.sell("joint", "XYZ", 100, 9, date(2026, 3, 5))[0]
    led.buy("brokerage", "XYZ", 150, 9, date(2026, 3, 10))
    got = {r.id: r for r in led.realized()}
    assert got[a.id].disallowed == D("100.00")  # all 100 shares matched first
    assert got[b.id].disallowed == D("150.00")  # 50 of 100 shares: half of $300
    assert sum(w.shares for w in led.wash_sales()) == 150
    assert len({w.replacement_lot for w in led.wash_sales()}) == 2


def test_replacements_matched_in_acquisition_order():
    led = ledger()
    led.buy("brokerage", "XYZ", 100, 10, date(2025, 6, 2))
    led.buy("joint", "XYZ", 60, 9, date(2026, 2, 10))
    led.buy("ira", "XYZ", 60, 9, date(2026, 2, 12))
    (sale,) = led.sell("brokerage", "XYZ", 100, 8, date(2026, 3, 2))
    assert sale.disallowed == D("200.00")
    w1, w2 = led.wash_sales()
    assert (w1.replacement_account, w1.shares, w1.disallowed) == ("joint", 60, D("120.00"))
    assert (w2.replacement_account, w2.shares, w2.disallowed) == ("ira", 40, D("80.00"))
    assert sale.lost == D("80.00")
    ira = sorted(led.open_lots("ira"), key=lambda lot: lot.shares)
    assert [lot.shares for lot in ira] == [20, 40]  # split: 40 used as replacement, 20 still free


def test_identical_group_and_retroactive_update_through_other_events():
    led = ledger()
    led.buy("brokerage", "VOO", 10, 500, date(2025, 1, 2))
    led.buy("brokerage", "BND", 10, 70, date(2025, 1, 2))
    (loss,) = led.sell("brokerage", "VOO", 10, 450, date(2026, 3, 2))
    led.sell("brokerage", "BND", 10, 75, date(2026, 3, 10))  # unrelated gain
    led.buy("joint", "VTI", 5, 300, date(2026, 3, 20))  # not identical: nothing happens
    assert led.realized()[0].disallowed == 0
    led.buy("ira", "IVV", 4, 460, date(2026, 3, 27))  # identical to VOO, 25 days later
    updated = led.realized()[0]
    assert loss.disallowed == 0  # the returned value is a snapshot
    assert updated.disallowed == D("200.00") and updated.lost == D("200.00") and updated.term is Term.LONG
    assert led.realized()[1].disallowed == 0  # the gain is untouched


def test_chain_of_wash_sales_carries_basis_and_holding_period():
    led = ledger()
    led.buy("brokerage", "XYZ", 10, 100, date(2026, 1, 2))
    led.sell("brokerage", "XYZ", 10, 90, date(2026, 1, 12))  # −100, 10 days held
    b = led.buy("brokerage", "XYZ", 10, 90, date(2026, 1, 22))
    assert b.basis == D("1000.00") and b.acquired == date(2026, 1, 12)
    (s2,) = led.sell("brokerage", "XYZ", 10, 80, date(2026, 2, 1))  # basis 1000 → −200
    assert s2.basis == D("1000.00") and s2.acquired == date(2026, 1, 12)
    c = led.buy("brokerage", "XYZ", 10, 80, date(2026, 2, 5))
    assert c.basis == D("1000.00") and c.acquired == date(2026, 1, 16)  # 2026-02-05 − 20 days
    assert [r.gain for r in led.realized()] == [0, 0]


def test_sheltered_sales_are_not_reportable_and_never_pending():
    led = ledger()
    led.buy("ira", "XYZ", 10, 100, date(2026, 1, 2))
    (r,) = led.sell("ira", "XYZ", 10, 80, date(2026, 1, 12))
    assert not r.reportable and led.realized() == [] and led.realized(include_sheltered=True) == [r]
    led.buy("brokerage", "XYZ", 10, 80, date(2026, 1, 13))
    assert led.wash_sales() == []


# ---------------------------------------------------------------------------------------------
# Relief methods
# ---------------------------------------------------------------------------------------------


def _three_lots() -> LotLedger:
    led = ledger()
    led.buy("brokerage", "XYZ", 10, 10, date(2024, 1, 2), lot_id="a")
    led.buy("brokerage", "XYZ", 10, 20, date(2024, 6, 3), lot_id="b")
    led.buy("brokerage", "XYZ", 10, 15, date(2025, 1, 2), lot_id="c")
    return led


@pytest.mark.parametrize(
    ("method", "lots", "expected"),
    [
        (LotMethod.FIFO, None, ["a", "b"]),
        (LotMethod.LIFO, None, ["c", "b"]),
        (LotMethod.HIFO, None, ["b", "c"]),
        (LotMethod.SPECIFIC, ["c", "a"], ["c", "a"]),
    ],
)
def test_relief_methods(method, lots, expected):
    led = _three_lots()
    out = led.sell("brokerage", "XYZ", 15, 18, date(2026, 3, 2), method=method, lots=lots)
    assert [r.lot_id for r in out] == expected and [r.shares for r in out] == [10, 5]
    assert sum(r.proceeds for r in out) == D("270.00")


def test_specific_ids_imply_specific_method_and_fifo_is_the_default_order():
    led = _three_lots()
    (r,) = led.sell("brokerage", "XYZ", 3, 18, date(2026, 3, 2), lots=["b"])
    assert r.lot_id == "b" and r.basis == D("60.00")


def test_tax_min_order_losses_first_then_long_term_gains_then_short_term():
    led = ledger()
    on = date(2026, 3, 2)
    led.buy("brokerage", "XYZ", 1, 45, date(2024, 1, 5), lot_id="lt_loss")  # at price 40
    led.buy("brokerage", "XYZ", 1, 20, date(2024, 1, 6), lot_id="lt_gain")
    led.buy("brokerage", "XYZ", 1, 25, date(2024, 1, 7), lot_id="lt_gain_big")
    led.buy("brokerage", "XYZ", 1, 40, date(2024, 1, 8), lot_id="zero")
    led.buy("brokerage", "XYZ", 1, 50, date(2025, 12, 1), lot_id="st_loss_small")
    led.buy("brokerage", "XYZ", 1, 60, date(2025, 12, 2), lot_id="st_loss_big")
    led.buy("brokerage", "XYZ", 1, 30, date(2026, 1, 5), lot_id="st_gain")
    out = led.sell("brokerage", "XYZ", 7, 40, on)
    assert [r.lot_id for r in out] == [
        "st_loss_big", "st_loss_small", "lt_loss", "zero", "lt_gain_big", "lt_gain", "st_gain",
    ]


# ---------------------------------------------------------------------------------------------
# Holding period
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("acquired", "sold", "term"),
    [
        (date(2025, 1, 5), date(2026, 1, 5), Term.SHORT),  # exactly one year: not more than one year
        (date(2025, 1, 5), date(2026, 1, 6), Term.LONG),
        (date(2024, 2, 29), date(2025, 2, 28), Term.SHORT),
        (date(2024, 2, 29), date(2025, 3, 1), Term.LONG),
        (date(2023, 3, 1), date(2024, 2, 29), Term.SHORT),
        (date(2023, 3, 1), date(2024, 3, 2), Term.LONG),
        (date(2025, 12, 31), date(2027, 1, 1), Term.LONG),
    ],
)
def test_holding_period(acquired, sold, term):
    assert holding_term(acquired, sold) is term


def test_long_term_from():
    assert long_term_from(date(2024, 2, 29)) == date(2025, 3, 1)
    assert long_term_from(date(2025, 1, 5)) == date(2026, 1, 6)


# ---------------------------------------------------------------------------------------------
# Other events
# ---------------------------------------------------------------------------------------------


def test_transfer_in_carries_basis_and_date_and_can_be_a_replacement():
    led = ledger()
    lot = led.transfer_in("brokerage", "XYZ", 10, "1234.56", date(2020, 5, 1), date(2026, 1, 2))
    assert lot.basis == D("1234.56") and lot.acquired == date(2020, 5, 1)
    (r,) = led.sell("brokerage", "XYZ", 10, 200, date(2026, 1, 5))
    assert r.term is Term.LONG and r.gain == D("765.44")
    led.buy("joint", "ABC", 10, 10, date(2026, 2, 1))
    led.sell("joint", "ABC", 10, 8, date(2026, 2, 2))
    moved = led.transfer_in("brokerage", "ABC", 5, 40, date(2026, 2, 10), date(2026, 2, 12))
    assert moved.basis == D("50.00")  # purchased 8 days after the loss: a replacement
    assert moved.acquired == date(2026, 2, 9)  # 2026-02-10 − 1 day held


def test_reinvested_dividend_is_an_acquisition():
    led = ledger()
    led.buy("brokerage", "XYZ", 10, 100, date(2026, 1, 2))
    led.sell("brokerage", "XYZ", 10, 90, date(2026, 3, 2))
    drip = led.reinvest("joint", "XYZ", "45.00", "90", date(2026, 3, 15))
    assert drip.shares == D("0.5")
    (r,) = led.realized()
    assert r.disallowed == D("5.00") and drip.basis == D("50.00")


def test_split_scales_shares_keeps_basis_and_pending_losses():
    led = ledger()
    led.buy("joint", "XYZ", 10, 100, date(2025, 1, 2))
    led.buy("brokerage", "XYZ", 10, 100, date(2026, 1, 2))
    led.sell("joint", "XYZ", 10, 90, date(2026, 3, 2))  # −100; the brokerage lot is 59 days older: no wash
    assert led.realized()[0].disallowed == 0
    led.split("XYZ", 2, date(2026, 3, 5))
    (lot,) = led.open_lots()
    assert lot.shares == 20 and lot.basis == D("1000.00")
    led.buy("brokerage", "XYZ", 10, 45, date(2026, 3, 10))  # 10 new = 5 old shares: half the loss
    assert led.realized()[0].disallowed == D("50.00")


def test_from_household_and_copy(household, universe):
    led = LotLedger.from_household(household, universe)
    assert len(led.open_lots()) == 12 and led.accounts["alex_roth"] is ROTH
    twin = led.copy()
    twin.sell("brokerage", "VTI", 10, 300, date(2026, 3, 2))
    assert led.shares("brokerage", "VTI") == 225 and twin.shares("brokerage", "VTI") == 215
    assert led.realized() == [] and len(twin.realized()) == 1


def test_opening_lot_view_is_the_lot_when_its_basis_is_in_cents():
    lot = Lot("o1", "brokerage", "vti", D("3"), D("300.10"), date(2025, 1, 2))
    odd = Lot("o2", "brokerage", "VTI", D("3"), D("300.105"), date(2025, 1, 2))
    whole = Lot("o3", "brokerage", "VTI", D("3"), D("300"), date(2025, 1, 2))
    led = ledger()
    assert led.add_lot(lot) is lot
    assert led.add_lot(odd).basis == D("300.10") and str(led.lot("o2").basis) == "300.10"  # half-even to cents
    assert str(led.add_lot(whole).basis) == "300.00"  # the ledger keeps cents, as a fresh view would
    led.sell("brokerage", "VTI", 1, 200, date(2026, 3, 2), lots=["o1"])
    assert led.lot("o1").shares == 2 and lot.shares == 3  # the caller's lot is never changed


def test_a_realization_read_before_its_wash_sale_shows_the_wash_after_it():
    led = ledger()
    led.buy("brokerage", "XYZ", 100, 10, date(2026, 1, 5))
    led.sell("brokerage", "XYZ", 100, "7.50", date(2026, 3, 2))
    assert led.realized()[0].disallowed == 0
    twin = led.copy()
    led.buy("brokerage", "XYZ", 40, 8, date(2026, 3, 20))
    (sale,) = led.realized()
    assert sale.disallowed == D("100.00") and sale.replacements == ("L3",)
    assert twin.realized()[0].disallowed == 0  # the copy did not see the buy


def test_a_copy_that_washes_an_old_loss_leaves_the_original_alone():
    # The loss's window closed before the copy; a transfer-in dated back into it still washes it, in the copy only.
    led = ledger()
    led.buy("brokerage", "XYZ", 10, 100, date(2026, 1, 5))
    led.sell("brokerage", "XYZ", 10, 80, date(2026, 2, 2))
    led.buy("brokerage", "ABC", 1, 10, date(2026, 4, 1))
    before = state(led)
    twin = led.copy()
    twin.transfer_in("brokerage", "XYZ", 5, 400, date(2026, 1, 20), date(2026, 4, 2))
    assert twin.realized()[0].disallowed == D("100.00")
    assert state(led) == before and led.realized()[0].disallowed == 0


# ---------------------------------------------------------------------------------------------
# Windows for the optimizer and the harvester
# ---------------------------------------------------------------------------------------------


def test_wash_sale_window_blocks_buys_after_a_loss_and_loss_sales_after_a_buy():
    led = ledger()
    led.buy("brokerage", "VOO", 10, 500, date(2025, 1, 2))
    led.sell("brokerage", "VOO", 10, 450, date(2026, 3, 2))
    w = led.wash_sale_window("IVV", date(2026, 3, 20))
    assert w.buy_blocked and w.buy_blocked_until == date(2026, 4, 1) and w.pending_loss == D("500.00")
    assert w.symbols == {"VOO", "IVV"} and not w.loss_sale_blocked and w.reasons
    assert not led.wash_sale_window("VOO", date(2026, 4, 2)).buy_blocked
    assert led.blocked_buys(["VOO", "IVV", "BND"], date(2026, 3, 3)) == {"VOO", "IVV"}
    led.buy("ira", "IVV", 1, 460, date(2026, 3, 20))
    w = led.wash_sale_window("VOO", date(2026, 3, 21))
    assert w.buy_blocked and w.pending_loss == D("450.00")  # 1 of 10 shares matched
    assert not w.loss_sale_blocked  # that share already absorbed a loss: it cannot wash another
    led.buy("joint", "VOO", 100, 460, date(2026, 4, 10))
    w = led.wash_sale_window("VOO", date(2026, 4, 20))
    assert not w.buy_blocked and w.loss_sale_blocked and w.loss_sale_blocked_until == date(2026, 5, 10)
    assert led.blocked_loss_sales(["IVV", "BND"], date(2026, 4, 20)) == {"IVV"}


# ---------------------------------------------------------------------------------------------
# Errors: typed, and the ledger is unchanged
# ---------------------------------------------------------------------------------------------


def _err_ledger() -> LotLedger:
    led = ledger()
    led.buy("brokerage", "XYZ", 10, 100, date(2026, 1, 2), lot_id="x1")
    led.buy("brokerage", "XYZ", 5, 100, date(2026, 2, 2), lot_id="x2")
    return led


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda led: led.sell("brokerage", "XYZ", 16, 90, date(2026, 3, 2)), "only 15"),
        (lambda led: led.sell("brokerage", "XYZ", 1, 90, date(2026, 3, 2), lots=["nope"]), "not an open"),
        (lambda led: led.sell("brokerage", "XYZ", 0, 90, date(2026, 3, 2)), "must be > 0"),
        (lambda led: led.sell("brokerage", "XYZ", -1, 90, date(2026, 3, 2)), "must be > 0"),
        (lambda led: led.buy("brokerage", "XYZ", -5, 90, date(2026, 3, 2)), "must be > 0"),
        (lambda led: led.buy("brokerage", "XYZ", 5, 0, date(2026, 3, 2)), "price must be > 0"),
        (lambda led: led.sell("brokerage", "XYZ", 1, -3, date(2026, 3, 2)), "≥ 0"),
        (lambda led: led.sell("brokerage", "XYZ", 1, 90, date(2026, 1, 3)), "before the last"),
        (lambda led: led.sell("brokerage", "XYZ", 6, 90, date(2026, 3, 2), lots=["x2"]), "only 5"),
        (lambda led: led.sell("brokerage", "XYZ", 2, 90, date(2026, 3, 2), lots=["x1", "x1"]), "twice"),
        (lambda led: led.sell("nowhere", "XYZ", 1, 90, date(2026, 3, 2)), "unknown account"),
        (lambda led: led.sell("brokerage", "XYZ", 1, 1, date(2026, 3, 2), fees=5), "exceed"),
        (lambda led: led.sell("brokerage", "XYZ", "abc", 1, date(2026, 3, 2)), "not a number"),
        (lambda led: led.sell("brokerage", "XYZ", 1, 1, date(2026, 3, 2), method="best"), "unknown lot method"),
        (lambda led: led.split("XYZ", 0, date(2026, 3, 2)), "ratio"),
        (lambda led: led.buy("brokerage", "XYZ", 1, 1, date(2026, 3, 2), lot_id="x1"), "already used"),
        (lambda led: led.transfer_in("brokerage", "XYZ", 1, 10, date(2026, 4, 1), date(2026, 3, 2)), "on or before"),
        (lambda led: led.reinvest("brokerage", "XYZ", "0.0000001", 100, date(2026, 3, 2)), "no shares"),
        (lambda led: led.lot("zzz"), "no open lot"),
        (lambda led: led.replacements_for(["zzz"], date(2026, 3, 2)), "unknown lots"),
    ],
)
def test_errors_are_typed_and_leave_the_ledger_unchanged(call, match):
    led = _err_ledger()
    before = state(led)
    with pytest.raises(TaxRuleError, match=match):
        call(led)
    assert state(led) == before


def test_sale_date_before_a_lots_purchase():
    led = ledger()
    led.add_lot(__import__("engine.model", fromlist=["Lot"]).Lot("f", "brokerage", "XYZ", 5, 50, date(2026, 5, 1)))
    with pytest.raises(TaxRuleError, match="after the sale"):
        led.sell("brokerage", "XYZ", 1, 10, date(2026, 4, 1), lots=["f"])
    with pytest.raises(TaxRuleError, match="only 0"):
        led.sell("brokerage", "XYZ", 1, 10, date(2026, 4, 1))
    with pytest.raises(TaxRuleError, match="already in the ledger"):
        led.add_lot(led.lot("f"))


def test_unknown_account_type_and_naive_datetime():
    from datetime import datetime

    with pytest.raises(TaxRuleError, match="unknown type"):
        LotLedger({"x": "brokerage"})
    with pytest.raises(TaxRuleError, match=r"datetime\.date"):
        ledger().buy("brokerage", "XYZ", 1, 1, datetime(2026, 1, 2))  # type: ignore[arg-type]
