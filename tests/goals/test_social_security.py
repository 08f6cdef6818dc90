"""Social Security benefit rules, each checked against the source that states it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from engine.errors import ConfigError, PlanningError
from engine.goals.social_security import (
    aime_from_earnings,
    benefit_taxable,
    claim_factor,
    full_retirement_age_months,
    load_earnings_file,
    load_social_security_tables,
    member_pia,
    pia,
    spousal_factor,
    survivor_benefit,
    survivor_factor,
)
from engine.model import FilingStatus, Member


def test_pia_2026_bend_points_and_dime_rounding():
    # SSA, "Benefit formula bend points" (ssa.gov/oact/cola/bendpoints.html): 2026 eligibility → $1,286 and $7,749;
    # 42 U.S.C. 415(a)(1)(A): 90 % / 32 % / 15 %; 415(g): round down to the next lower multiple of $0.10.
    assert load_social_security_tables().bend_points(2026) == (1286, 7749)
    assert pia(8000, 2026) == Decimal("3263.2")  # 1157.40 + 2068.16 + 37.65 = 3263.21
    assert pia(1000, 2026) == Decimal("900.0")
    assert pia(1287, 2026) == Decimal("1157.7")  # 1157.72 rounds down to the dime, never up
    assert pia(0, 2026) == Decimal("0.0")
    # 2025 eligibility uses 2025's bend points ($1,226 / $7,391).
    assert pia(1226, 2025) == Decimal("1103.4")


def test_bend_point_formula_reproduces_ssa_published_values():
    # 42 U.S.C. 415(a)(1)(B): 180 and 1,085 × AWI(y − 2) / AWI(1977), rounded to the dollar.
    t = load_social_security_tables()
    for year, published in t.bend.items():
        ratio = t.awi[year - 2] / t.awi[1977]
        assert (round(180 * ratio), round(1085 * ratio)) == published, year


def test_pia_rejects_bad_input():
    with pytest.raises(PlanningError):
        pia(-1, 2026)
    with pytest.raises(PlanningError):
        pia("abc", 2026)


@pytest.mark.parametrize(
    ("birth", "months"),
    [
        (date(1937, 6, 1), 65 * 12),
        (date(1938, 6, 1), 65 * 12 + 2),
        (date(1943, 6, 1), 66 * 12),
        (date(1954, 6, 1), 66 * 12),
        (date(1955, 6, 1), 66 * 12 + 2),
        (date(1959, 6, 1), 66 * 12 + 10),
        (date(1960, 6, 1), 67 * 12),
        (date(1960, 1, 2), 67 * 12),
        (date(1960, 1, 1), 66 * 12 + 10),  # born January 1: the prior year's FRA (20 CFR 404.2(c)(4))
        (date(1943, 1, 1), 65 * 12 + 10),
    ],
)
def test_full_retirement_age_by_birth_year(birth, months):
    # SSA, "Retirement age calculator" (ssa.gov/benefits/retirement/planner/agereduction.html).
    assert full_retirement_age_months(birth) == months


def test_claim_factor_early_and_delayed():
    # 20 CFR 404.410: 5/9 of 1 % a month for the first 36 months, 5/12 of 1 % beyond;
    # SSA: with FRA 67, claiming at 62 pays 70 %; with FRA 66, 75 %.
    born_1962 = date(1962, 5, 10)
    assert claim_factor(born_1962, 62 * 12) == pytest.approx(0.70)
    assert claim_factor(born_1962, 64 * 12) == pytest.approx(1 - 36 * 5 / 900)  # 80 %
    assert claim_factor(born_1962, 65 * 12) == pytest.approx(1 - 24 * 5 / 900)  # 86.67 %
    assert claim_factor(date(1954, 5, 10), 62 * 12) == pytest.approx(0.75)
    assert claim_factor(born_1962, 67 * 12) == 1.0
    # 20 CFR 404.313: 2/3 of 1 % a month (8 %/yr) for births 1943+, none after 70.
    assert claim_factor(born_1962, 70 * 12) == pytest.approx(1.24)
    assert claim_factor(born_1962, 72 * 12) == pytest.approx(1.24)
    assert claim_factor(date(1954, 5, 10), 70 * 12) == pytest.approx(1.32)
    assert claim_factor(born_1962, 68 * 12 + 3) == pytest.approx(1 + 15 * 2 / 300)
    with pytest.raises(PlanningError):
        claim_factor(born_1962, 61 * 12)


def test_spousal_factor():
    # 20 CFR 404.333 and 404.410(b); SSA "Benefits for spouses": at 62, 32.5 % of the worker's PIA with FRA 67,
    # 35 % with FRA 66; 50 % at FRA; no delayed retirement credits on spousal benefits.
    assert spousal_factor(date(1962, 5, 10), 62 * 12) == pytest.approx(0.325)
    assert spousal_factor(date(1954, 5, 10), 62 * 12) == pytest.approx(0.35)
    assert spousal_factor(date(1962, 5, 10), 67 * 12) == 0.5
    assert spousal_factor(date(1962, 5, 10), 70 * 12) == 0.5
    assert spousal_factor(date(1962, 5, 10), 64 * 12) == pytest.approx(0.5 * (1 - 36 * 25 / 3600))


def test_survivor_rules():
    # 20 CFR 404.410(b)(4): survivor benefits at 60 are reduced 28.5 %; unreduced at the survivor FRA.
    assert survivor_factor(date(1962, 5, 10), 60 * 12) == pytest.approx(0.715)
    assert survivor_factor(date(1962, 5, 10), 67 * 12) == 1.0
    # POMS RS 00615.320 (RIB-LIM): at least 82.5 % of the PIA when the deceased claimed early.
    assert survivor_benefit(2000.0, 1400.0) == pytest.approx(1650.0)
    assert survivor_benefit(2000.0, 2480.0) == 2480.0
    assert survivor_benefit(2000.0, None) == 2000.0


def test_taxable_part_of_benefits():
    # IRC §86 and IRS Publication 915 worksheet: $32,000 / $44,000 married filing jointly, $25,000 / $34,000 single.
    mfj = FilingStatus.MARRIED_JOINT
    assert benefit_taxable(30_000, 10_000, mfj) == 0.0  # provisional 25,000 ≤ 32,000
    assert benefit_taxable(30_000, 20_000, mfj) == pytest.approx(1_500)  # ½ × (35,000 − 32,000)
    assert benefit_taxable(30_000, 50_000, mfj) == pytest.approx(0.85 * 21_000 + 6_000)
    assert benefit_taxable(30_000, 200_000, mfj) == pytest.approx(0.85 * 30_000)  # at most 85 %
    assert benefit_taxable(20_000, 20_000, FilingStatus.SINGLE) == pytest.approx(2_500)  # ½ × (30,000 − 25,000)


def test_aime_indexes_earnings_to_age_60():
    # SSA "Indexing factors for earnings": earnings before the indexing year (age 60) × AWI(60) / AWI(year).
    t = load_social_security_tables()
    birth = date(1962, 7, 1)  # eligible 2024, indexing year 2022
    record = {y: t.awi[y] for y in range(1985, 2020)}  # exactly the average wage each year
    aime, eligible = aime_from_earnings(record, birth, t)
    assert eligible == 2024
    assert aime == int(35 * t.awi[2022] / 420)
    # Only the top 35 years count.
    more = {**record, 1980: Decimal(1)}
    assert aime_from_earnings(more, birth, t)[0] == aime


def test_earnings_files(tmp_path):
    csv = tmp_path / "earnings.csv"
    csv.write_text("year,earnings\n2019,54000\n2020,\"56,000\"\n")
    assert load_earnings_file(csv) == {2019: Decimal(54000), 2020: Decimal(56000)}
    xml = tmp_path / "statement.xml"
    xml.write_text(
        '<osss:OnlineSocialSecurityStatementData xmlns:osss="http://ssa.gov/osss/schemas/2.0">'
        '<osss:EarningsRecord><osss:Earnings startYear="2021" endYear="2021"><osss:FicaEarnings>60000'
        "</osss:FicaEarnings></osss:Earnings></osss:EarningsRecord></osss:OnlineSocialSecurityStatementData>"
    )
    assert load_earnings_file(xml) == {2021: Decimal(60000)}
    bad = tmp_path / "bad.csv"
    bad.write_text("2019,-5\n")
    with pytest.raises(ConfigError, match="amount ≥ 0"):
        load_earnings_file(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_earnings_file(tmp_path / "missing.csv")


def test_member_pia_auto_and_given(tmp_path):
    as_of = date(2026, 3, 2)
    given = Member("a", "A", date(1980, 1, 5), social_security={"pia": "2400"})
    assert member_pia(given, as_of) == Decimal("2400")
    assert member_pia(Member("b", "B", date(1980, 1, 5)), as_of) is None
    # auto: a career at $145,000 (below the 2026 taxable maximum) in today's wages → AIME 12,083.
    auto = Member("c", "C", date(1988, 4, 12), income=Decimal(145000), social_security="auto")
    assert member_pia(auto, as_of) == pia(12083, 2026)
    # Above the taxable maximum ($184,500 in 2026, SSA contribution and benefit base), earnings are capped.
    rich = Member("d", "D", date(1988, 4, 12), income=Decimal(400000), social_security="auto")
    assert member_pia(rich, as_of) == pia(184500 // 12, 2026)
    f = tmp_path / "e.csv"
    f.write_text("\n".join(f"{y},50000" for y in range(1990, 2026)))
    from_file = Member("e", "E", date(1968, 3, 3), retirement_age=62, social_security={"earnings_file": str(f)})
    assert member_pia(from_file, as_of) > 0
