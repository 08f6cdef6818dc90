"""Loss sales carried across runs: a ledger rebuilt from a household keeps the wash-sale windows of recent losses.

Every store-backed run rebuilds the ledger from the stored household; a loss sold last night must block buys and
be washed by a purchase exactly as if it had been sold in the same ledger, without being realized a second time.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from engine.errors import TaxRuleError
from engine.model import (
    Account,
    AccountType,
    Asset,
    AssetClass,
    FilingStatus,
    Household,
    LossSale,
    Lot,
    TaxProfile,
    Universe,
)
from engine.tax import LotLedger, Term, preview, tax_on

SOLD = date(2026, 3, 2)
P = TaxProfile(filing_status=FilingStatus.SINGLE, ordinary_income=D(100000), state_rate=0.05)
UNIVERSE = Universe(
    {t: Asset(t, c) for t, c in [("VOO", AssetClass.US_EQUITY), ("IVV", AssetClass.US_EQUITY),
                                 ("BND", AssetClass.US_BONDS)]},
    identical=(frozenset({"VOO", "IVV"}),),
)
ACCOUNTS = (Account("brokerage", AccountType.TAXABLE), Account("joint", AccountType.TAXABLE),
            Account("ira", AccountType.TRADITIONAL))
GAIN_LOT = Lot("g1", "joint", "BND", D(100), D("7000.00"), date(2020, 5, 1))


def _last_night() -> LotLedger:
    """The in-memory truth: one ledger that bought VOO, holds a BND lot at a gain and sold the VOO at a $500 loss."""
    led = LotLedger({a.id: a.type for a in ACCOUNTS}, identical=UNIVERSE.identical)
    led.add_lot(GAIN_LOT)
    led.buy("brokerage", "VOO", 10, 500, date(2025, 1, 2))
    (sale,) = led.sell("brokerage", "VOO", 10, 450, SOLD)
    assert sale.gain == D("-500.00") and sale.term is Term.LONG
    return led


def _household(led: LotLedger, on: date = SOLD) -> Household:
    """What the store keeps after last night's run: open lots and the loss sales still open on ``on``."""
    return Household("h", "H", (), ACCOUNTS, lots=tuple(led.open_lots()), loss_sales=led.open_loss_sales(on))


def _tonight() -> LotLedger:
    return LotLedger.from_household(_household(_last_night()), UNIVERSE)


def test_the_open_loss_sale_is_what_the_store_keeps():
    (kept,) = _last_night().open_loss_sales(SOLD)
    assert kept == LossSale(kept.id, "brokerage", "VOO", SOLD, date(2025, 1, 2), D(10), D("500.00"), kept.lot_id)
    assert _tonight().open_loss_sales(SOLD + timedelta(days=5)) == (kept,)  # loaded and kept again, unchanged
    assert _last_night().open_loss_sales(SOLD + timedelta(days=30)) == (kept,)  # a buy that day still washes it
    assert _last_night().open_loss_sales(SOLD + timedelta(days=31)) == ()  # the window closed: nothing to keep


def test_a_loss_sold_five_days_ago_blocks_the_symbol_and_identical_funds_until_day_31():
    led = _tonight()
    five = SOLD + timedelta(days=5)
    assert led.blocked_buys(["VOO", "IVV", "BND"], five) == {"VOO", "IVV"}
    window = led.wash_sale_window("IVV", five)
    assert window.buy_blocked and window.buy_blocked_until == SOLD + timedelta(days=30)
    assert window.pending_loss == D("500.00") and window.pending_shares == D(10)
    assert "VOO sold at a loss of $500.00" in window.reasons[0]
    (why,) = led.buy_block_reasons(five)
    assert "IVV/VOO" in why and "before 2026-04-02" in why and "$500.00" in why
    assert led.blocked_buys(["VOO", "IVV"], SOLD + timedelta(days=30)) == {"VOO", "IVV"}
    later = SOLD + timedelta(days=31)
    assert led.blocked_buys(["VOO", "IVV", "BND"], later) == frozenset() and led.buy_block_reasons(later) == []
    assert not led.wash_sale_window("VOO", later).buy_blocked


@pytest.mark.parametrize("account", ["joint", "ira"])
def test_a_buy_within_the_window_washes_the_loaded_loss_with_the_same_numbers(account):
    on = SOLD + timedelta(days=10)
    same, loaded = _last_night(), _tonight()
    lots = [led.buy(account, "IVV", 4, 460, on) for led in (same, loaded)]
    assert replace(lots[0], id="x") == replace(lots[1], id="x")
    if account == "joint":  # $200 of the loss (4 of 10 shares) moves into the replacement with the holding period
        assert lots[1].basis == D("2040.00") and lots[1].acquired == on - (SOLD - date(2025, 1, 2))
    (w_same,), (w_loaded,) = same.wash_sales(), loaded.wash_sales()
    assert replace(w_same, replacement_lot="x") == replace(w_loaded, replacement_lot="x")
    assert w_loaded.disallowed == D("200.00") and w_loaded.permanent is (account == "ira")
    assert same.permanently_disallowed == loaded.permanently_disallowed
    # what is left to wash, and kept for the next night, is the same too: 6 shares, $300
    assert same.open_loss_sales(on) == loaded.open_loss_sales(on)
    assert [(s.shares, s.loss) for s in loaded.open_loss_sales(on)] == [(D(6), D("300.00"))]
    assert loaded.wash_sale_window("VOO", on).pending_loss == D("300.00")


def test_a_loaded_loss_is_not_realized_again():
    led = _tonight()
    assert led.realized() == [] and led.realized(2026) == [] and led.amendments() == []
    led.buy("joint", "IVV", 4, 460, SOLD + timedelta(days=10))
    assert led.realized(2026) == []  # the sale belongs to last night's ledger
    (amended,) = led.amendments(2026)  # only what tonight's buy changed on it: $200 of the loss taken back
    assert amended.gain == amended.disallowed == D("200.00") and amended.term is Term.LONG
    assert led.amendments(2025) == []


def test_tonights_preview_does_not_count_last_nights_loss_again():
    on = SOLD + timedelta(days=1)
    sell = [("joint", "BND", 100, 80)]  # $1,000 long-term gain tonight
    with_loss = preview(_tonight(), sell, on, P, prices={"IVV": 460})
    without = preview(LotLedger.from_household(replace(_household(_last_night()), loss_sales=()), UNIVERSE),
                      sell, on, P)
    assert with_loss.long_term_gain == D("1000.00")
    assert [replace(r, id="x") for r in with_loss.realizations] == [replace(r, id="x") for r in without.realizations]
    assert with_loss.estimated_tax == without.estimated_tax == D("200.00")  # 15 % + 5 % state on $1,000: no offset
    # a buy that washes the loaded loss costs the tax on the loss it takes back
    washed = preview(_tonight(), sell, on, P, buys=[("joint", "IVV", 4, 460)])
    assert washed.disallowed == D("200.00") and washed.wash_sales[0].sold == SOLD
    assert washed.estimated_tax == D("240.00")  # $1,200 long-term gain at 20 %
    assert washed.estimated_tax == tax_on(
        [*washed.realizations, *_washed_amendments(on)], P
    ).total


def _washed_amendments(on: date):
    led = _tonight()
    led.buy("joint", "IVV", 4, 460, on)
    return led.amendments(on.year)


def test_sales_in_tax_deferred_accounts_are_ignored_and_ids_stay_unique():
    led = LotLedger.from_household(
        replace(_household(_last_night()),
                loss_sales=(LossSale("X1", "ira", "VOO", SOLD, date(2025, 1, 2), D(10), D(500)),)),
        UNIVERSE,
    )
    assert led.blocked_buys(["VOO"], SOLD) == frozenset() and led.open_loss_sales(SOLD) == ()
    with pytest.raises(TaxRuleError, match=r"loss sale id 'g1' is already in the ledger"):
        led.add_loss_sale(LossSale("g1", "brokerage", "VOO", SOLD, date(2025, 1, 2), D(1), D(1)))
    with pytest.raises(TaxRuleError, match=r"unknown account 'nowhere'"):
        led.add_loss_sale(LossSale("X2", "nowhere", "VOO", SOLD, date(2025, 1, 2), D(1), D(1)))
    tonight = _tonight()
    (kept,) = tonight.open_loss_sales(SOLD)
    tonight.buy("brokerage", "VOO", 1, 455, SOLD + timedelta(days=1))
    (again,) = tonight.sell("brokerage", "VOO", 1, 400, SOLD + timedelta(days=2))  # a new sale: a fresh id
    assert again.id != kept.id and {s.id for s in tonight.open_loss_sales(SOLD)} == {kept.id, again.id}


def test_a_split_scales_a_loaded_loss_and_a_copy_leaves_the_original_alone():
    led = _tonight()
    led.split("VOO", 2, SOLD + timedelta(days=3))
    assert [(s.shares, s.loss) for s in led.open_loss_sales(SOLD)] == [(D(20), D("500.00"))]
    scratch = led.copy()
    scratch.buy("joint", "VOO", 20, 230, SOLD + timedelta(days=4))
    assert scratch.open_loss_sales(SOLD) == () and len(scratch.amendments()) == 1
    assert [(s.shares, s.loss) for s in led.open_loss_sales(SOLD)] == [(D(20), D("500.00"))]
    assert led.amendments() == [] and led.wash_sales() == []


def test_a_loss_sale_is_validated_with_the_field_and_the_fix():
    from engine.errors import ValidationError

    with pytest.raises(ValidationError, match=r"must be > 0") as info:
        LossSale("S1", "brokerage", "VOO", SOLD, date(2025, 1, 2), D(10), D(0))
    assert info.value.field == "LossSale.loss"
    with pytest.raises(ValidationError, match=r"must be > 0"):
        LossSale("S1", "brokerage", "VOO", SOLD, date(2025, 1, 2), D(-1), D(5))
    with pytest.raises(ValidationError, match=r"before its shares were acquired") as info:
        LossSale("S1", "brokerage", "VOO", SOLD, SOLD + timedelta(days=1), D(1), D(5))
    assert info.value.field == "LossSale.acquired" and "on or before the sale" in str(info.value.fix)
    with pytest.raises(ValidationError, match=r"datetime.date"):
        LossSale("S1", "brokerage", "VOO", "2026-03-02", date(2025, 1, 2), D(1), D(5))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"two loss_sales with id 'S1'"):
        sale = LossSale("S1", "brokerage", "VOO", SOLD, date(2025, 1, 2), D(1), D(5))
        Household("h", "H", (), ACCOUNTS, loss_sales=(sale, sale))
    assert LossSale("S1", "brokerage", " voo ", SOLD, date(2025, 1, 2), "1.5", 2).symbol == "VOO"


def test_a_lot_that_replaced_a_washed_loss_washes_no_second_loss_after_a_reload():
    led = _last_night()
    led.add_lot(Lot("v2", "joint", "VOO", D(10), D("5000.00"), date(2024, 1, 2)))
    led.buy("brokerage", "VOO", 10, 455, SOLD + timedelta(days=3))  # washes last night's loss: a replacement
    (replacement,) = led.open_lots("brokerage", "VOO")
    assert replacement.replaceable is False and len(led.wash_sales()) == 1
    day = SOLD + timedelta(days=5)
    reloaded = LotLedger.from_household(_household(led, day), UNIVERSE)  # what tomorrow's run rebuilds
    assert reloaded.open_lots("brokerage", "VOO") == [replacement]
    # v2 sold at a $500 loss: the only VOO bought within 30 days already carries a washed loss, so none is washed
    (here,), (there,) = (x.sell("joint", "VOO", 10, 450, day, lots=["v2"]) for x in (led, reloaded))
    assert here.disallowed == there.disallowed == 0 and here.gain == there.gain == D("-500.00")
