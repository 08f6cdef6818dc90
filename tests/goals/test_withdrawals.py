"""RMD ages and divisors, taxes on withdrawals, the life table — each with its source."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from engine.goals.longevity import load_life_table
from engine.goals.withdrawals import YearTax, distribution_period, load_rmd_tables, rmd_start_age
from engine.model import FilingStatus


def test_rmd_start_ages_secure_2():
    # SECURE 2.0 Act §107 (IRC §401(a)(9)(C)(v)): 73 for people born 1951–1959, 75 for 1960 or later;
    # SECURE Act (2019) §114: 72 for births July 1949 – 1950.
    assert rmd_start_age(date(1951, 1, 1)) == 73
    assert rmd_start_age(date(1959, 12, 31)) == 73
    assert rmd_start_age(date(1960, 1, 1)) == 75
    assert rmd_start_age(date(1990, 9, 3)) == 75
    assert rmd_start_age(date(1950, 3, 1)) == 72
    assert rmd_start_age(date(1949, 3, 1)) == 70


def test_uniform_lifetime_table():
    # IRS Publication 590-B, Appendix B, Table III (Uniform Lifetime), for years 2022 and later.
    assert distribution_period(72) == 27.4
    assert distribution_period(73) == 26.5
    assert distribution_period(75) == 24.6
    assert distribution_period(80) == 20.2
    assert distribution_period(90) == 12.2
    assert distribution_period(100) == 6.4
    assert distribution_period(120) == 2.0
    assert distribution_period(125) == 2.0  # "120 and over"
    # A $500,000 balance at 75 must distribute 500,000 / 24.6 = $20,325.20.
    assert round(500_000 / distribution_period(75), 2) == 20325.20
    t = load_rmd_tables()
    div = t.divisors(np.array([70, 74, 75, 121]), start=75)
    assert div[0] == 0 and div[1] == 0 and div[2] == pytest.approx(1 / 24.6) and div[3] == pytest.approx(0.5)


def test_year_tax_on_ordinary_income_and_gains():
    # Rev. Proc. 2025-32 (config/tax/us_2026.yaml): MFJ standard deduction $32,200; 10 % to $24,800, 12 % to $100,800.
    tax = YearTax.for_status(FilingStatus.MARRIED_JOINT)
    z = np.zeros(1)
    assert tax.total(np.array([100_000.0]), z, z)[0] == pytest.approx(2480 + 0.12 * (67_800 - 24_800))
    # Long-term gains stack on ordinary income: under the 0 % threshold ($98,900 MFJ) they are tax-free.
    assert tax.total(z, np.array([50_000.0]), z)[0] == pytest.approx(0.0)
    # Roth withdrawals are not income at all: no income, no tax.
    assert tax.total(z, z, z)[0] == 0.0
    # Benefits alone under the §86 base are untaxed (IRS Pub. 915).
    assert tax.total(z, z, np.array([40_000.0]))[0] == 0.0
    # A flat state rate applies to income above the deduction.
    ca = YearTax.for_status(FilingStatus.MARRIED_JOINT, state_rate=0.05)
    assert ca.total(np.array([100_000.0]), z, z)[0] - tax.total(np.array([100_000.0]), z, z)[0] == pytest.approx(
        0.05 * 67_800
    )
    assert tax.bracket_top(0.12) == 100_800


def test_life_table_matches_the_published_life_expectancy():
    # SSA period life table (config/planning/life_table.yaml): e(65) is 17.51 for men and 20.19 for women.
    t = load_life_table()
    assert t.life_expectancy(65, "male") == pytest.approx(17.51, abs=0.1)
    assert t.life_expectancy(65, "female") == pytest.approx(20.19, abs=0.1)
    s = t.survival(65, "male")
    assert s[0] == 1.0 and s[-1] == 0.0 and (np.diff(s) <= 0).all()
    u = np.random.default_rng(1).random(200_000)
    years = t.sample_years_left(65, "male", u)
    assert years.mean() + 0.5 == pytest.approx(17.51, abs=0.1)
