"""Rates, incremental tax and tax drag against hand-computed 2026 figures (Rev. Proc. 2025-32)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from engine.errors import ConfigError
from engine.model import AccountType, FilingStatus, TaxProfile
from engine.tax import Realization, Term, load_tax_tables, marginal_rates, tax_drag, tax_on
from engine.tax.location import asset_location_matrix

S, MFJ, MFS, HOH = (FilingStatus.SINGLE, FilingStatus.MARRIED_JOINT, FilingStatus.MARRIED_SEPARATE,
                    FilingStatus.HEAD_OF_HOUSEHOLD)


def real(gain: str, term: Term, disallowed: str = "0") -> Realization:
    g = D(gain)
    proceeds = D(10_000) + g
    sold = date(2026, 6, 1)
    acquired = date(2024, 1, 2) if term is Term.LONG else date(2026, 1, 2)
    return Realization("r", "b", "X", D(1), acquired, sold, proceeds, D(10_000), D(disallowed),
                       term, "l")


def test_tables_match_rev_proc_2025_32():
    t = load_tax_tables()
    assert t.year == 2026 and "2025-32" in t.source
    assert [b for b, _ in t.ordinary[S]] == [0, 12400, 50400, 105700, 201775, 256225, 640600]
    assert [b for b, _ in t.ordinary[MFJ]] == [0, 24800, 100800, 211400, 403550, 512450, 768700]
    assert [b for b, _ in t.ordinary[HOH]] == [0, 17700, 67450, 105700, 201750, 256200, 640600]
    assert t.ordinary[MFS][-1][0] == 384350
    assert [r for _, r in t.ordinary[S]] == [D("0.10"), D("0.12"), D("0.22"), D("0.24"), D("0.32"), D("0.35"),
                                            D("0.37")]
    assert dict(t.standard_deduction) == {S: 16100, MFJ: 32200, MFS: 16100, HOH: 24150}
    assert [b for b, _ in t.capital_gains[S]] == [0, 49450, 545500]
    assert [b for b, _ in t.capital_gains[MFJ]] == [0, 98900, 613700]
    assert [b for b, _ in t.capital_gains[HOH]] == [0, 66200, 579600]
    assert [b for b, _ in t.capital_gains[MFS]] == [0, 49450, 306850]
    assert t.niit_rate == D("0.038") and dict(t.niit_threshold) == {S: 200000, MFJ: 250000, MFS: 125000, HOH: 200000}
    assert t.capital_loss_limit[MFS] == 1500 and t.capital_loss_limit[S] == 3000


def test_baseline_tax_hand_computed():
    # single, taxable income exactly at the top of the 24 % bracket: 1,240 + 4,560 + 12,166 + 23,058
    bill = tax_on([], TaxProfile(filing_status=S, ordinary_income=D(201775 + 16100)))
    assert bill.baseline == D("41024.00") and bill.total == 0
    # the sample household: MFJ 243,000 → taxable 210,800 → 35,800 federal, 9.3 % of 243,000 state
    bill = tax_on([], TaxProfile(filing_status=MFJ, ordinary_income=D(243000), state_rate=0.093))
    assert bill.baseline == D("58399.00")


def test_short_term_gain_taxed_as_ordinary_plus_state():
    p = TaxProfile(filing_status=S, ordinary_income=D(100000), state_rate=0.05)
    bill = tax_on([real("10000", Term.SHORT)], p)
    assert (bill.federal, bill.niit, bill.state, bill.total) == (D("2200.00"), 0, D("500.00"), D("2700.00"))


def test_long_term_gain_straddles_the_zero_bracket():
    # ordinary taxable 43,900; 5,550 of the gain at 0 %, 4,450 at 15 % = 667.50
    bill = tax_on([real("10000", Term.LONG)], TaxProfile(filing_status=S, ordinary_income=D(60000)))
    assert bill.federal == D("667.50") and bill.total == D("667.50")


def test_niit_on_the_part_above_the_threshold():
    bill = tax_on([real("50000", Term.LONG)], TaxProfile(filing_status=MFJ, ordinary_income=D(240000)))
    assert bill.niit == D("1520.00")  # 3.8 % × min(50,000, 290,000 − 250,000)
    assert bill.federal == D("7500.00")  # all at 15 %
    assert bill.total == D("9020.00")


def test_net_loss_deducts_3000_and_carries_the_rest_with_its_character():
    p = TaxProfile(filing_status=S, ordinary_income=D(100000))
    bill = tax_on([real("-10000", Term.SHORT)], p)
    assert bill.loss_deduction == 3000 and bill.st_carryforward == 7000 and bill.lt_carryforward == 0
    assert bill.total == D("-660.00")  # 3,000 × 22 %
    bill = tax_on([real("-2000", Term.SHORT), real("-5000", Term.LONG)], p)
    assert (bill.st_carryforward, bill.lt_carryforward) == (0, 4000)  # ST losses are deducted first
    mfs = tax_on([real("-10000", Term.LONG)], TaxProfile(filing_status=MFS, ordinary_income=D(100000)))
    assert mfs.loss_deduction == 1500 and mfs.lt_carryforward == 8500


def test_netting_across_terms_and_carryforwards():
    p = TaxProfile(filing_status=S, ordinary_income=D(100000))
    bill = tax_on([real("5000", Term.SHORT), real("-8000", Term.LONG)], p)
    assert bill.net_short_term == 0 and bill.net_long_term == -3000 and bill.loss_deduction == 3000
    assert bill.lt_carryforward == 0
    bill = tax_on([real("-2000", Term.SHORT), real("10000", Term.LONG)], p)
    assert bill.net_long_term == 8000 and bill.net_short_term == 0 and bill.federal == D("1200.00")
    carried = TaxProfile(filing_status=S, ordinary_income=D(100000), st_loss_carryforward=D(4000))
    bill = tax_on([real("10000", Term.SHORT)], carried)
    assert bill.net_short_term == 6000
    # the baseline already deducts 3,000 of the carryforward: AGI 97,000 → 106,000, all at 22 %
    assert bill.total == D("1980.00")
    assert bill.baseline == D("12510.00")  # taxable 80,900: 1,240 + 4,560 + 22 % × 30,500

def test_disallowed_losses_and_sheltered_sales_do_not_count():
    p = TaxProfile(filing_status=S, ordinary_income=D(100000))
    washed = real("-1000", Term.SHORT, disallowed="1000")
    assert washed.gain == 0 and tax_on([washed], p).total == 0 and tax_on([washed], p).disallowed == 1000
    from dataclasses import replace

    ira = replace(real("5000", Term.SHORT), reportable=False)
    assert tax_on([ira], p).total == 0


def test_dividends_in_tax_on():
    p = TaxProfile(filing_status=S, ordinary_income=D(100000))
    assert tax_on([], p, qualified_dividends=D(1000)).federal == D("150.00")
    assert tax_on([], p, ordinary_dividends=D(1000)).federal == D("220.00")


@pytest.mark.parametrize(
    ("profile", "st", "lt", "niit"),
    [
        (TaxProfile(filing_status=MFJ, ordinary_income=D(243000), state_rate=0.093), 0.313, 0.243, 0.0),
        (TaxProfile(filing_status=S, ordinary_income=D(300000)), 0.388, 0.188, 0.038),
        (TaxProfile(filing_status=S, ordinary_income=D(40000)), 0.12, 0.0, 0.0),
        (TaxProfile(filing_status=S, ordinary_income=D(0)), 0.10, 0.0, 0.0),
        (TaxProfile(filing_status=S, ordinary_income=D(900000), state_rate=0.05), 0.458, 0.288, 0.038),
        (TaxProfile(filing_status=HOH, ordinary_income=D(150000)), 0.24, 0.15, 0.0),
    ],
)
def test_marginal_rates(profile, st, lt, niit):
    r = marginal_rates(profile)
    assert r.short_term == pytest.approx(st) and r.long_term == pytest.approx(lt) and r.niit == pytest.approx(niit)
    assert r.ordinary == r.short_term and r.for_term(Term.LONG) == r.long_term


def test_tax_drag_per_account_type(universe):
    p = TaxProfile(filing_status=MFJ, ordinary_income=D(243000), state_rate=0.093)
    assert tax_drag(universe["BND"], AccountType.TAXABLE, p) == pytest.approx(0.037 * 0.313)
    assert tax_drag(universe["MUB"], AccountType.TAXABLE, p) == pytest.approx(0.031 * 0.093)
    assert tax_drag(universe["VTI"], AccountType.TAXABLE, p) == pytest.approx(0.012 * (0.95 * 0.243 + 0.05 * 0.313))
    for kind in (AccountType.ROTH, AccountType.TRADITIONAL, AccountType.HSA, AccountType.PLAN_529):
        assert tax_drag(universe["BND"], kind, p) == 0.0
    m = asset_location_matrix(universe, {"b": AccountType.TAXABLE, "r": AccountType.ROTH}, p, ["BND", "VTI"])
    assert m["b"]["BND"] > m["b"]["VTI"] > 0 and m["r"] == {"BND": 0.0, "VTI": 0.0}


def test_asset_location_matrix_is_tax_drag_cell_by_cell(universe):
    p = TaxProfile(filing_status=MFJ, ordinary_income=D(243000), state_rate=0.093)
    accounts = {"b": AccountType.TAXABLE, "t": "taxable", "ira": AccountType.TRADITIONAL, "r": "roth"}
    m = asset_location_matrix(universe, accounts, p)
    assert m == {a: {t: tax_drag(universe[t], k, p) for t in universe.tickers} for a, k in accounts.items()}
    with pytest.raises(ValueError):
        asset_location_matrix(universe, {"x": "brokerage"}, p, ["BND"])


def test_tax_drag_rejects_inconsistent_shares():
    from engine.model import Asset, AssetClass

    bad = Asset("ZZZ", AssetClass.US_BONDS, dividend_yield=0.03, qualified_share=0.7, tax_exempt_share=0.6)
    with pytest.raises(ConfigError, match="exceed 1"):
        tax_drag(bad, AccountType.TAXABLE, TaxProfile())


def test_bad_tables_file_names_file_and_field(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(
        "version: 1\nyear: 2026\nsource: x\nordinary_brackets: {single: [[10, '0.1']], married_joint: [[0, '0.1']],"
        " married_separate: [[0, '0.1']], head_of_household: [[0, '0.1']]}\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_tax_tables(path)
    assert "t.yaml" in str(exc.value) and "ordinary_brackets" in str(exc.value)
