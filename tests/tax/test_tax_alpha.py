"""Issue 19: the daily harvest run, wash-avoiding buys, the wash-sale matching order, the §1212(b)(2) carryover.

Sources named per test: Treas. Reg. §1.1091-1(b)–(d) (matching replacement shares with loss shares),
IRC §1091(a) (30-day window) and §1091(d) (basis), IRC §1211(b) / §1212(b)(2) and the Schedule D Capital Loss
Carryover Worksheet (IRS Pub. 550), Betterment's TLH+ white paper (primary/secondary tickers).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import TaxRuleError
from engine.model import Account, AccountType, Asset, AssetClass, Household, Member, TaxProfile, Universe
from engine.tax import HarvestConfig, LotLedger, LotMethod, plan_harvest, tax_on, wash_avoiding_buys
from engine.tax.ledger import Realization, Term

ACCTS = {"brk": AccountType.TAXABLE, "ira": AccountType.TRADITIONAL, "roth": AccountType.ROTH}


def universe() -> Universe:
    a = {
        "VTI": Asset("VTI", AssetClass.US_EQUITY, substitute_group="us"),
        "IVV": Asset("IVV", AssetClass.US_EQUITY, substitute_group="us"),
        "SUSA": Asset("SUSA", AssetClass.US_EQUITY, substitute_group="esg"),
        "DSI": Asset("DSI", AssetClass.US_EQUITY, substitute_group="esg"),
        "BND": Asset("BND", AssetClass.US_BONDS),
    }
    return Universe(a, ())


def household(lots=()) -> Household:
    return Household(
        id="h", name="H", members=(Member(id="m", name="M", birth_date=date(1975, 1, 1)),),
        accounts=(Account(id="brk", name="B", type=AccountType.TAXABLE, cash=D(0)),
                  Account(id="ira", name="I", type=AccountType.TRADITIONAL, cash=D(0)),
                  Account(id="roth", name="R", type=AccountType.ROTH, cash=D(0))),
        tax=TaxProfile(ordinary_income=D(400000), state_rate=0.09), lots=tuple(lots),
    )


# -- §1.1091-1: one sell order relieving several loss lots ---------------------------------------------

def test_one_sale_of_several_loss_lots_is_matched_in_their_acquisition_order():
    """Treas. Reg. §1.1091-1(b): replacement shares are matched with the loss shares in the order the loss
    shares were *acquired*, not the order the sale named its lots."""
    led = LotLedger(ACCTS)
    led.buy("brk", "VTI", 10, "100", date(2025, 1, 2))   # L1, earliest
    led.buy("brk", "VTI", 10, "90", date(2025, 2, 3))    # L2
    # sell both at 50, naming the later lot first; buy 10 back: the washed loss must be L1's (the earliest)
    out = led.sell("brk", "VTI", 20, "50", date(2025, 6, 2), method=LotMethod.SPECIFIC, lots=["L2", "L1"])
    led.buy("brk", "VTI", 10, "50", date(2025, 6, 10))
    by_lot = {r.lot_id: r for r in led.realized()}
    assert [r.lot_id for r in out] == ["L2", "L1"]
    assert by_lot["L1"].disallowed == D("500.00") and by_lot["L2"].disallowed == 0


def test_replacement_before_the_sale_matches_the_earliest_loss_shares_too():
    """§1.1091-1(b)/(c): a replacement bought within 30 days *before* the sale is matched at the sale, again
    with the earliest-acquired loss shares first; its basis rises by the disallowed loss (§1091(d))."""
    led = LotLedger(ACCTS)
    led.buy("brk", "VTI", 5, "100", date(2025, 1, 2))
    led.buy("brk", "VTI", 5, "80", date(2025, 2, 3))
    led.buy("ira", "VTI", 5, "60", date(2025, 5, 20))    # replacement in the IRA, 13 days before
    led.sell("brk", "VTI", 10, "50", date(2025, 6, 2), method=LotMethod.SPECIFIC, lots=["L2", "L1"])
    by_lot = {r.lot_id: r for r in led.realized()}
    assert by_lot["L1"].disallowed == D("250.00")  # 5 × (100 − 50): the earliest loss shares
    assert by_lot["L2"].disallowed == 0
    assert by_lot["L1"].lost == D("250.00")  # an IRA replacement: the loss is gone for good (Rev. Rul. 2008-5)


def test_partial_wash_splits_the_replacement_and_tacks_the_holding_period():
    """§1.1091-1(d) and §1223(3): only as many loss shares as were replaced are washed; the replacement lot's
    basis rises by that loss and its holding period includes the sold shares'."""
    led = LotLedger(ACCTS)
    led.buy("brk", "VTI", 10, "100", date(2024, 1, 2))
    led.sell("brk", "VTI", 10, "80", date(2025, 3, 3))
    led.buy("brk", "VTI", 4, "80", date(2025, 3, 20))
    r = led.realized()[0]
    assert r.disallowed == D("80.00") and r.gain == D("-120.00")
    new = next(lot for lot in led.open_lots() if lot.symbol == "VTI")
    assert new.basis == D("400.00") and new.acquired < date(2025, 3, 20)


def test_split_beyond_18_decimals_is_refused_and_changes_nothing():
    """Shares are exact: a split that would need more than 18 decimals (NUMERIC(38, 18) in the store) is refused."""
    led = LotLedger(ACCTS)
    led.buy("brk", "VTI", D("1.000000001"), "100", date(2025, 1, 2))
    with pytest.raises(TaxRuleError, match="more than 18 decimals"):
        led.split("VTI", D("1.0000000000001"), date(2025, 2, 1))
    assert led.open_lots()[0].shares == D("1.000000001")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(1, 30), st.integers(60, 140)), min_size=2, max_size=5),
       st.sampled_from(list(ACCTS)), st.integers(1, 60), st.permutations(range(5)))
def test_property_multi_lot_loss_sale_with_replacements_across_accounts(buys, where, replace_qty, order):
    """Property (§1.1091-1(b)–(d)): a sell order of several loss lots (named in any order), replaced in any
    account: the washed shares are min(replaced, sold), washing follows the loss lots' acquisition order (the
    washed lots are a prefix of it), and basis is conserved up to the disallowed and IRA-lost losses."""
    led = LotLedger(ACCTS)
    day = date(2024, 1, 2)
    for i, (qty, px) in enumerate(buys):
        led.buy("brk", "VTI", qty, str(px), day + timedelta(days=7 * i))
    ids = [lot.id for lot in led.open_lots()]
    named = [ids[i] for i in order if i < len(ids)]
    sold = sum(D(q) for q, _ in buys)
    basis_before = sum(lot.basis for lot in led.open_lots())
    reals = led.sell("brk", "VTI", sold, "50", date(2025, 6, 2), method=LotMethod.SPECIFIC, lots=named)
    led.buy(where, "VTI", replace_qty, "50", date(2025, 6, 20))
    reals = {r.lot_id: r for r in led.realized()}
    washed = {i: reals[i].disallowed > 0 for i in ids}
    seq = [washed[i] for i in ids]  # acquisition order
    assert seq == sorted(seq, reverse=True)  # washed lots form a prefix of the acquisition order
    washed_shares = sum(w.shares for w in led.wash_sales())
    assert washed_shares == min(D(replace_qty), sold)
    lost = sum(r.lost for r in reals.values())
    disallowed = sum(r.disallowed for r in reals.values())
    basis_after = sum(lot.basis for lot in led.open_lots()) + sum(r.basis for r in reals.values())
    # §1091(d): a taxable replacement's basis rises by the disallowed loss; an IRA's is lost (Rev. Rul. 2008-5)
    assert basis_after + lost == basis_before + D(replace_qty) * 50 + disallowed


# -- §1212(b)(2): the carryover with adjusted taxable income --------------------------------------------

def real(gain: str, term: Term = Term.SHORT) -> Realization:
    g = D(gain)
    return Realization(id="S1", account="brk", symbol="VTI", shares=D(1), acquired=date(2025, 1, 2),
                       sold=date(2025, 6, 2), proceeds=D(1000) + g if g > -1000 else D(0),
                       basis=D(1000) if g > -1000 else -g, disallowed=D(0), term=term, lot_id="L1")


def test_carryover_is_limited_by_adjusted_taxable_income():
    """IRC §1212(b)(2) and the Capital Loss Carryover Worksheet (Pub. 550): the carried loss is the net loss
    less the smaller of the $3,000 deduction and adjusted taxable income (taxable income, possibly negative,
    plus that deduction). A household below its standard deduction carries the whole loss forward."""
    poor = TaxProfile(ordinary_income=D(5000))  # below the single standard deduction
    rich = TaxProfile(ordinary_income=D(200000))
    loss = [real("-10000")]
    assert tax_on(loss, rich).st_carryforward == D(7000)  # §1211(b): $3,000 used
    assert tax_on(loss, poor).st_carryforward == D(10000)  # nothing used: adjusted taxable income ≤ 0
    near = TaxProfile(ordinary_income=D(17100))  # $1,000 above the 2026 single standard deduction ($16,100)
    assert tax_on(loss, near).st_carryforward == D(9000)  # only $1,000 of the $3,000 deduction is used


def test_carryover_uses_short_term_losses_first():
    """Schedule D worksheet: the deduction used comes out of short-term losses before long-term ones."""
    rich = TaxProfile(ordinary_income=D(200000))
    bill = tax_on([real("-2000"), real("-5000", Term.LONG)], rich)
    assert bill.st_carryforward == 0 and bill.lt_carryforward == D(4000)


# -- the harvest run and the wash-avoiding buys ---------------------------------------------------------

def ledger_with_loss() -> LotLedger:
    led = LotLedger(ACCTS)
    led.buy("brk", "VTI", 100, "100", date(2025, 1, 2))
    led.buy("brk", "SUSA", 100, "100", date(2025, 1, 2))
    return led


def test_harvest_run_sells_the_loss_lot_and_buys_a_substitute_with_reasons():
    """The harvest run (issue 19 item 1): a loss above the floors is sold into a not-identical substitute of its
    group; the plan names the lot, the shares, the substitute and the first day the fund may be bought back."""
    led = ledger_with_loss()
    prices = {"VTI": D(80), "IVV": D(40), "SUSA": D(99), "DSI": D(50), "BND": D(70)}
    plan = plan_harvest(household(), led, prices, date(2025, 3, 3), universe(),
                        config=HarvestConfig(min_loss_usd=D(500), min_loss_fraction=0.05))
    assert [(d.symbol, d.substitute) for d in plan.decisions] == [("VTI", "IVV")]
    assert plan.sell_lots == {("brk", "VTI"): ["L1"]}
    assert plan.buys == {("brk", "IVV"): D(200)}
    assert plan.targets({("brk", "VTI"): D(100)})[("brk", "VTI")] == 0
    text = "\n".join(plan.explanation)
    assert "Tax-loss harvest" in text and "Do not buy VTI" in text and "SUSA" in text  # SUSA's 1 % loss: skipped


def test_harvest_thresholds_decide():
    """The thresholds reach the run: a floor above the loss keeps the lot."""
    led = ledger_with_loss()
    prices = {"VTI": D(80), "IVV": D(40), "SUSA": D(99), "DSI": D(50)}
    plan = plan_harvest(household(), led, prices, date(2025, 3, 3), universe(),
                        config=HarvestConfig(min_loss_usd=D(5000)))
    assert not plan.decisions and plan.skipped


def test_wash_sale_days_below_the_legal_window_is_refused():
    """IRC §1091(a): the window is 30 days; a shorter wait is not a setting."""
    with pytest.raises(TaxRuleError, match="30"):
        HarvestConfig(wash_sale_days=20)


def test_longer_wash_sale_days_delays_the_switch_back():
    """``wash_sale_days`` (the scenario's setting) keeps the harvested fund from being bought back for that long."""
    led = LotLedger(ACCTS)
    led.buy("brk", "VTI", 100, "100", date(2025, 1, 2))
    led.sell("brk", "VTI", 100, "80", date(2025, 3, 3))
    led.buy("brk", "IVV", 200, "40", date(2025, 3, 3))
    prices = {"VTI": D(79), "IVV": D(40)}
    on = date(2025, 4, 15)  # 43 days later: outside the 30-day window, inside a 60-day wait
    short = plan_harvest(household(), led, prices, on, universe(), config=HarvestConfig())
    long_ = plan_harvest(household(), led, prices, on, universe(), config=HarvestConfig(wash_sale_days=60))
    assert [d.kind.value for d in short.decisions] == ["switch_back"]
    assert not long_.decisions


def test_new_money_goes_to_the_alternate_while_the_primary_is_at_a_loss():
    """Betterment TLH+ (primary/secondary tickers): while taxable VTI lots are under water, no account buys VTI
    (IRA and Roth included) — IVV takes the buy, so a harvest of VTI is never washed by our own purchase."""
    led = ledger_with_loss()
    prices = {"VTI": D(80), "IVV": D(40), "SUSA": D(101), "DSI": D(50)}
    avoid = wash_avoiding_buys(led, prices, ["VTI", "IVV", "SUSA", "DSI"], universe(), date(2025, 3, 3))
    assert set(avoid) == {"VTI"} and "IVV" in avoid["VTI"]


def test_no_alternate_means_no_block():
    """Without a buyable alternate the primary stays buyable (nothing to divert to)."""
    led = ledger_with_loss()
    prices = {"VTI": D(80), "IVV": D(40)}
    assert wash_avoiding_buys(led, prices, ["VTI", "IVV"], universe(), date(2025, 3, 3), buyable=["VTI"]) == {}


def test_position_limit_cuts_the_substitute_buy_and_a_tertiary_fund_takes_the_rest():
    """The harvest never leaves a position the planner's limit forbids: IVV is capped at 40 % of household value,
    the rest buys another fund of the asset class (not identical, not at a loss), here BND's class has none."""
    uni = Universe({
        "VTI": Asset("VTI", AssetClass.US_EQUITY, substitute_group="us"),
        "IVV": Asset("IVV", AssetClass.US_EQUITY, substitute_group="us"),
        "VB": Asset("VB", AssetClass.US_EQUITY, sub_class="small"),
        "BND": Asset("BND", AssetClass.US_BONDS),
    }, ())
    led = LotLedger(ACCTS)
    led.buy("brk", "VTI", 100, "100", date(2025, 1, 2))
    led.buy("brk", "BND", 20, "100", date(2025, 1, 2))
    prices = {"VTI": D(80), "IVV": D(40), "VB": D(50), "BND": D(100)}
    plan = plan_harvest(household(), led, prices, date(2025, 3, 3), uni, max_position=0.40,
                        config=HarvestConfig(min_loss_usd=D(500)))
    total = D(8000) + D(2000)
    assert plan.buys[("brk", "IVV")] * 40 <= D("0.40") * total
    assert plan.tertiary and plan.tertiary[0][1] == "VB"
    assert sum(sh * prices[f] for (_a, f), sh in plan.buys.items()) <= D(8000)
    assert any("position limit" in line for line in plan.explanation)
    assert [o.symbol for o in plan.orders("p") if o.side.value == "buy"] == ["IVV", "VB"]
