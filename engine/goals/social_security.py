"""Social Security retirement benefits: the PIA from an earnings record, claiming-age factors, spousal and
survivor benefits, and the taxable part of benefits.

    pia(Decimal(8000), 2026)                          # USD/month at full retirement age, rounded down to the dime
    claim_factor(date(1962, 5, 10), 62 * 12)          # 0.70: claiming at 62 with FRA 67
    spousal_factor(date(1962, 5, 10), 62 * 12)        # 0.325 of the worker's PIA

Rules and their sources (Social Security Act §202, §215; SSA POMS; 20 CFR 404):
- PIA: 90 % / 32 % / 15 % of the AIME split at the bend points of the year of first eligibility (the year the
  worker turns 62), rounded down to the next lower dime (42 U.S.C. 415(a)(1), (g); POMS RS 00605.010).
- AIME: the highest 35 years of earnings, those before the indexing year (the year the worker turns 60)
  multiplied by AWI(indexing year) / AWI(year), divided by 420 months, rounded down to the dollar.
- Full retirement age (FRA) by birth year: 65 before 1938, +2 months a year to 66 for 1943–1954, +2 months a
  year to 67 for 1960 and later (ssa.gov/benefits/retirement/planner/agereduction.html). People born on
  January 1 use the prior year; a person attains an age the day before the birthday (20 CFR 404.2(c)(4)).
- Early claiming: 5/9 of 1 % a month for the first 36 months, 5/12 of 1 % beyond (20 CFR 404.410).
- Delayed retirement credits: 2/3 of 1 % a month (8 %/yr) for people born 1943 or later, up to 70 (20 CFR 404.313).
- Spousal benefit: up to 50 % of the worker's PIA at the spouse's FRA, reduced 25/36 of 1 % a month for 36
  months and 5/12 of 1 % beyond; no delayed credits (20 CFR 404.333, 404.410). Paid on top of the spouse's
  own benefit only by the excess of half the worker's PIA over the spouse's own PIA (POMS RS 00615.020).
- Survivor benefit: the deceased's benefit (with any delayed credits); if the deceased claimed early, at
  least 82.5 % of the PIA (RIB-LIM, POMS RS 00615.320); unreduced at the survivor's survivor FRA.
- Taxable part: provisional income (other income + half the benefits) over $25,000 / $32,000 (single /
  married filing jointly): 50 % of the excess up to $34,000 / $44,000, 85 % above, at most 85 % of the
  benefits (IRC §86; IRS Publication 915). These thresholds are not indexed to inflation.
"""

from __future__ import annotations

import csv
import functools
import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from engine.config.loader import default_file, load_yaml
from engine.errors import ConfigError, PlanningError
from engine.model import CLAIM_AGE, FilingStatus

__all__ = [
    "SocialSecurityTables",
    "aime_from_earnings",
    "benefit_taxable",
    "claim_factor",
    "delayed_credit_per_month",
    "estimate_earnings",
    "full_retirement_age_months",
    "load_earnings_file",
    "load_social_security_tables",
    "member_pia",
    "pia",
    "spousal_factor",
    "survivor_factor",
    "survivor_fra_months",
    "taxable_benefits",
]

_DIME = Decimal("0.1")
EARLIEST_CLAIM_MONTHS = 62 * 12
LATEST_CREDIT_MONTHS = 70 * 12

# IRC §86(c): base amount and adjusted base amount (USD per year), by filing status; not indexed.
SS_TAX_THRESHOLDS: Mapping[FilingStatus, tuple[float, float]] = {
    FilingStatus.SINGLE: (25_000.0, 34_000.0),
    FilingStatus.HEAD_OF_HOUSEHOLD: (25_000.0, 34_000.0),
    FilingStatus.MARRIED_JOINT: (32_000.0, 44_000.0),
    FilingStatus.MARRIED_SEPARATE: (0.0, 0.0),  # living together: 85 % from the first dollar
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _TablesSchema(_Strict):
    version: Literal[1] = 1
    source: str
    pia_factors: tuple[Decimal, Decimal, Decimal]
    bend_points: dict[int, tuple[int, int]]
    taxable_maximum: dict[int, Decimal]
    awi: dict[int, Decimal]


@dataclass(frozen=True, slots=True)
class SocialSecurityTables:
    """Bend points (USD/month) by eligibility year, AWI (USD/year) by year, taxable maximum (USD/year)."""

    source: str
    factors: tuple[Decimal, Decimal, Decimal]
    bend: Mapping[int, tuple[int, int]]
    awi: Mapping[int, Decimal]
    taxable_maximum: Mapping[int, Decimal]

    @property
    def latest_awi_year(self) -> int:
        return max(self.awi)

    @property
    def latest_bend_year(self) -> int:
        return max(self.bend)

    def bend_points(self, eligibility_year: int) -> tuple[int, int]:
        """The two bend points (USD/month) for workers first eligible in ``eligibility_year``.

        Listed years are SSA's published values; other years follow the statutory formula from the AWI of
        two years before (180 and 1,085 × AWI(y − 2) / AWI(1977), rounded). Years past the table use the
        latest year (today's wage level — the planner works in today's wage terms).
        """
        if eligibility_year in self.bend:
            return self.bend[eligibility_year]
        base_year = eligibility_year - 2
        if eligibility_year > self.latest_bend_year or base_year not in self.awi or 1977 not in self.awi:
            if eligibility_year > self.latest_bend_year:
                return self.bend[self.latest_bend_year]
            raise PlanningError(
                f"no bend points for eligibility year {eligibility_year}",
                fix="the PIA formula applies from 1979; add the year to config/planning/social_security.yaml",
            )
        ratio = self.awi[base_year] / self.awi[1977]
        return (int((180 * ratio).to_integral_value()), int((1085 * ratio).to_integral_value()))

    def cap(self, year: int) -> Decimal:
        """Taxable maximum (USD/year) for ``year``; later years use the latest."""
        known = [y for y in self.taxable_maximum if y <= year]
        return self.taxable_maximum[max(known) if known else min(self.taxable_maximum)]


def load_social_security_tables(path: str | Path | None = None) -> SocialSecurityTables:
    """The benefit-formula tables (default: ``config/planning/social_security.yaml``); cached per file.

    Raises:
        ConfigError: a malformed file (names the field).
    """
    p = Path(path) if path else default_file("planning/social_security.yaml")
    return _tables(str(p.resolve()), p.stat().st_mtime_ns if p.exists() else 0)


@functools.lru_cache(maxsize=4)
def _tables(path: str, _mtime: int) -> SocialSecurityTables:
    s = load_yaml(path, _TablesSchema)
    for year, (b1, b2) in s.bend_points.items():
        if not 0 < b1 < b2:
            raise ConfigError("bend points must be 0 < first < second", file=path, field=f"bend_points.{year}",
                              value=[b1, b2], fix="copy them from ssa.gov/oact/cola/bendpoints.html")
    return SocialSecurityTables(s.source, s.pia_factors, dict(s.bend_points), dict(s.awi), dict(s.taxable_maximum))


def _dec(x: Any, what: str) -> Decimal:
    try:
        d = x if isinstance(x, Decimal) else Decimal(str(x))
    except Exception:
        raise PlanningError(f"{what} must be a number", value=x) from None
    if not d.is_finite() or d < 0:
        raise PlanningError(f"{what} must be a finite number ≥ 0", value=x)
    return d


def pia(
    aime: Decimal | int | float | str, eligibility_year: int, tables: SocialSecurityTables | None = None
) -> Decimal:
    """Primary insurance amount (USD/month at FRA) for an AIME (USD/month) and the year of first eligibility.

    90 % of the AIME up to the first bend point, 32 % up to the second, 15 % above; rounded down to the dime.
    """
    a = _dec(aime, "aime")
    t = tables or load_social_security_tables()
    b1, b2 = (Decimal(b) for b in t.bend_points(int(eligibility_year)))
    f1, f2, f3 = t.factors
    raw = f1 * min(a, b1) + f2 * max(min(a, b2) - b1, Decimal(0)) + f3 * max(a - b2, Decimal(0))
    return raw.quantize(_DIME, rounding=ROUND_FLOOR)


def _effective_birth(birth_date: date) -> date:
    """SSA's birth date for age rules: an age is attained the day before the birthday (20 CFR 404.2(c)(4))."""
    return birth_date - timedelta(days=1)


def full_retirement_age_months(birth_date: date) -> int:
    """Full retirement age in months for a birth date (people born January 1 use the prior year)."""
    y = _effective_birth(birth_date).year
    if y <= 1937:
        return 65 * 12
    if y <= 1942:
        return 65 * 12 + 2 * (y - 1937)
    if y <= 1954:
        return 66 * 12
    if y <= 1959:
        return 66 * 12 + 2 * (y - 1954)
    return 67 * 12


def survivor_fra_months(birth_date: date) -> int:
    """Full retirement age for survivor benefits (two years behind the retirement table: 67 from 1962 births)."""
    y = _effective_birth(birth_date).year
    if y <= 1939:
        return 65 * 12
    if y <= 1944:
        return 65 * 12 + 2 * (y - 1939)
    if y <= 1956:
        return 66 * 12
    if y <= 1961:
        return 66 * 12 + 2 * (y - 1956)
    return 67 * 12


def delayed_credit_per_month(birth_date: date) -> float:
    """Delayed retirement credit per month past FRA (fraction of the PIA), by birth year (20 CFR 404.313)."""
    y = _effective_birth(birth_date).year
    yearly = (
        (1917, 0.03), (1925, 0.035), (1927, 0.04), (1929, 0.045), (1931, 0.05), (1933, 0.055),
        (1935, 0.06), (1937, 0.065), (1939, 0.07), (1941, 0.075), (1943, 0.08),
    )
    rate = 0.0
    for first, r in yearly:
        if y >= first:
            rate = r
    return rate / 12.0


def _check_claim(claim_age_months: int, what: str) -> int:
    m = int(claim_age_months)
    if m != claim_age_months or m < EARLIEST_CLAIM_MONTHS:
        raise PlanningError(
            f"{what}: a claiming age must be whole months from 62 × 12 = 744", value=claim_age_months,
            fix="retirement benefits start at 62 at the earliest",
        )
    return m


def claim_factor(birth_date: date, claim_age_months: int) -> float:
    """Own benefit as a fraction of the PIA when claimed at ``claim_age_months`` (age in whole months).

    Before FRA: minus 5/9 % a month for up to 36 months and 5/12 % a month beyond (20 CFR 404.410);
    after FRA: plus the delayed retirement credit (8 %/yr for births 1943+) up to age 70 (20 CFR 404.313).
    """
    m = _check_claim(claim_age_months, "claim_factor")
    fra = full_retirement_age_months(birth_date)
    if m < fra:
        early = fra - m
        return round(1.0 - 5.0 / 900.0 * min(early, 36) - 5.0 / 1200.0 * max(early - 36, 0), 12)
    late = min(m, LATEST_CREDIT_MONTHS) - fra
    return round(1.0 + delayed_credit_per_month(birth_date) * max(late, 0), 12)


def spousal_factor(birth_date: date, claim_age_months: int) -> float:
    """Spousal benefit as a fraction of the *worker's* PIA, for a spouse born ``birth_date`` claiming then.

    50 % at the spouse's FRA or later (no delayed credits); before it minus 25/36 % a month for 36 months
    and 5/12 % a month beyond (20 CFR 404.410(b)).
    """
    m = _check_claim(claim_age_months, "spousal_factor")
    early = max(full_retirement_age_months(birth_date) - m, 0)
    return round(0.5 * (1.0 - 25.0 / 3600.0 * min(early, 36) - 5.0 / 1200.0 * max(early - 36, 0)), 12)


def survivor_factor(survivor_birth: date, age_months: int) -> float:
    """Survivor benefit as a fraction of the deceased's benefit when taken at ``age_months`` (60 or later).

    Unreduced at the survivor FRA; at 60 reduced 28.5 %, linearly in between (20 CFR 404.410(b)(4)).
    """
    if age_months < 60 * 12:
        raise PlanningError("survivor benefits start at 60 at the earliest", value=age_months)
    fra = survivor_fra_months(survivor_birth)
    if age_months >= fra:
        return 1.0
    return 1.0 - 0.285 * (fra - age_months) / (fra - 60 * 12)


def survivor_benefit(deceased_pia: float, deceased_benefit: float | None) -> float:
    """What a survivor at survivor FRA receives (USD/month): the deceased's benefit, at least 82.5 % of the PIA
    when the deceased claimed early (RIB-LIM); the PIA when the deceased died before claiming."""
    if deceased_benefit is None:
        return deceased_pia
    return max(deceased_benefit, 0.825 * deceased_pia)


def taxable_benefits(benefits: Any, other_income: Any, base: float, adjusted_base: float) -> Any:
    """Taxable USD of Social Security benefits (IRC §86; Pub. 915 worksheet), numpy-vectorized.

    ``other_income`` is AGI without the benefits plus tax-exempt interest; ``base``/``adjusted_base`` the
    thresholds (USD/year, e.g. 32,000 / 44,000 married filing jointly).
    """
    ss = np.asarray(benefits, dtype=float)
    prov = np.asarray(other_income, dtype=float) + 0.5 * ss
    tier1 = np.minimum(0.5 * ss, 0.5 * np.clip(prov - base, 0.0, adjusted_base - base))
    return np.minimum(0.85 * ss, tier1 + 0.85 * np.maximum(prov - adjusted_base, 0.0))


def benefit_taxable(benefits: float, other_income: float, filing_status: FilingStatus | str) -> float:
    """Taxable USD of a year's benefits for a filing status (thresholds per IRC §86(c))."""
    base, adjusted = SS_TAX_THRESHOLDS[FilingStatus(filing_status)]
    return float(taxable_benefits(benefits, other_income, base, adjusted))


# ---------------------------------------------------------------------------------------------
# Earnings records
# ---------------------------------------------------------------------------------------------


def aime_from_earnings(
    earnings: Mapping[int, Decimal], birth_date: date, tables: SocialSecurityTables | None = None
) -> tuple[Decimal, int]:
    """(AIME USD/month, eligibility year) from taxed Social Security earnings by year.

    Earnings before the indexing year (age 60) are wage-indexed to it; when it lies past the AWI table, to
    the latest AWI year (today's wage level). The top 35 years count; the sum / 420, rounded down to $1.
    """
    t = tables or load_social_security_tables()
    eligibility = _effective_birth(birth_date).year + 62
    index_year = min(eligibility - 2, t.latest_awi_year)
    indexed = []
    for year, amount in earnings.items():
        e = _dec(amount, f"earnings for {year}")
        if year < index_year:
            if year not in t.awi:
                raise PlanningError(f"no average wage index for {year}", fix="earnings before 1951 are not indexed")
            e = e * t.awi[index_year] / t.awi[year]
        indexed.append(e)
    top = sorted(indexed, reverse=True)[:35]
    aime = (sum(top, Decimal(0)) / 420).quantize(Decimal(1), rounding=ROUND_FLOOR)
    return aime, eligibility


def estimate_earnings(
    income: Decimal, birth_date: date, as_of: date, retirement_age: int, tables: SocialSecurityTables | None = None
) -> dict[int, Decimal]:
    """An earnings record in today's wage terms from one current salary, as SSA's Quick Calculator assumes.

    Work from age 22 until ``retirement_age``; past years earned the same share of the average wage as today
    (``income`` × AWI(year) / AWI(latest)); future years earn ``income`` at today's wage level. Every year is
    capped at the taxable maximum of its wage level.
    """
    t = tables or load_social_security_tables()
    latest = t.latest_awi_year
    cap_now = t.cap(as_of.year)
    start = birth_date.year + 22
    stop = birth_date.year + retirement_age  # last year of work is the one before this
    out: dict[int, Decimal] = {}
    now = min(Decimal(income), cap_now)
    for year in range(start, stop):
        if year < latest and year in t.awi:
            out[year] = (now * t.awi[year] / t.awi[latest]).quantize(Decimal(1))
        else:
            out[year] = now.quantize(Decimal(1))
    return out


def load_earnings_file(path: str | Path) -> dict[int, Decimal]:
    """Taxed Social Security earnings by year from an SSA statement export.

    Accepts the XML file my Social Security lets you download (``<osss:Earnings startYear=…>`` with
    ``<osss:FicaEarnings>``) or a CSV with ``year,earnings`` rows (a header row is allowed).

    Raises:
        ConfigError: missing file, a row that is not a year and a non-negative amount, or a repeated year.
    """
    p = Path(path)
    if not p.exists():
        raise ConfigError("earnings file not found", file=str(p), fix="check social_security.earnings_file")
    text = p.read_text(encoding="utf-8")
    out: dict[int, Decimal] = {}

    def put(year_text: str, amount_text: str, where: str) -> None:
        try:
            year = int(str(year_text).strip())
            amount = Decimal(str(amount_text).replace(",", "").replace("$", "").strip())
        except Exception:
            raise ConfigError("an earnings row needs a year and an amount", file=str(p), field=where,
                              value=f"{year_text},{amount_text}", fix="write rows as 2019,54000") from None
        if not 1937 <= year <= 2100 or not amount.is_finite() or amount < 0:
            raise ConfigError("an earnings row needs a year from 1937 and an amount ≥ 0", file=str(p), field=where,
                              value=f"{year},{amount}", fix="check the row")
        if year in out:
            raise ConfigError(f"year {year} appears twice", file=str(p), field=where, fix="keep one row per year")
        out[year] = amount

    if text.lstrip().startswith("<"):
        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            raise ConfigError(f"broken XML: {exc}", file=str(p), fix="download the statement again") from exc
        for el in root.iter():
            if el.tag.split("}")[-1] == "Earnings" and "startYear" in el.attrib:
                fica = next((c for c in el if c.tag.split("}")[-1] == "FicaEarnings"), None)
                if fica is not None and fica.text and fica.text.strip() not in ("-1", ""):
                    put(el.attrib["startYear"], fica.text, f"Earnings[{el.attrib['startYear']}]")
    else:
        for n, row in enumerate(csv.reader(text.splitlines()), start=1):
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if n == 1 and not row[0].strip().isdigit():
                continue  # header
            if len(row) < 2:
                raise ConfigError("an earnings row needs two columns", file=str(p), field=f"line {n}",
                                  value=",".join(row), fix="write rows as 2019,54000")
            put(row[0], row[1], f"line {n}")
    if not out:
        raise ConfigError("no earnings found", file=str(p), fix="give one year,earnings row per year worked")
    return out


def months_of_age(birth_date: date, day: date) -> int:
    """Whole months of age on ``day`` by SSA's rule (an age is attained the day before the birthday)."""
    b = _effective_birth(birth_date)
    months = (day.year - b.year) * 12 + (day.month - b.month)
    if day.day < b.day:
        months -= 1
    return months


def nearest_claim_months(age_years: float) -> int:
    """A claiming age in years (e.g. 67 or 62.5) as whole months, within 62–70."""
    lo, hi = CLAIM_AGE
    if not math.isfinite(age_years) or not lo <= age_years <= hi:
        raise PlanningError(f"a claiming age must lie in [{lo}, {hi}]", value=age_years)
    return round(age_years * 12)


def member_pia(member: Any, as_of: date, tables: SocialSecurityTables | None = None) -> Decimal | None:
    """A member's PIA (USD/month at FRA, today's wage level) from their ``social_security`` entry, or None.

    ``pia`` is taken as given; ``earnings_file`` is read (future years repeat the last year's earnings, wage
    indexed, until the member's retirement age); ``auto`` estimates the record from the current income.
    """
    spec = getattr(member, "social_security", None)
    if spec is None:
        return None
    if spec.pia is not None:
        return Decimal(spec.pia)
    t = tables or load_social_security_tables()
    latest = t.latest_awi_year
    if spec.earnings_file:
        record = load_earnings_file(spec.earnings_file)
        last_year = max(record)
        last = record[last_year]
        if last_year in t.awi and last_year < latest:
            last = last * t.awi[latest] / t.awi[last_year]
        for year in range(max(last_year + 1, as_of.year), member.birth_date.year + member.retirement_age):
            record[year] = min(last, t.cap(as_of.year))
    else:
        record = estimate_earnings(member.income, member.birth_date, as_of, member.retirement_age, t)
    eligibility = _effective_birth(member.birth_date).year + 62
    if eligibility <= t.latest_bend_year:  # already eligible: SSA's own indexing year and bend points
        aime, _ = aime_from_earnings(record, member.birth_date, t)
        return pia(aime, eligibility, t)
    # Not yet 62: index to today's wage level (the latest AWI) and apply today's bend points — the PIA in
    # today's wage terms, as SSA's Quick Calculator reports it.
    indexed = {y: (e * t.awi[latest] / t.awi[y] if y in t.awi and y < latest else e) for y, e in record.items()}
    top = sorted(indexed.values(), reverse=True)[:35]
    aime = (sum(top, Decimal(0)) / 420).quantize(Decimal(1), rounding=ROUND_FLOOR)
    return pia(aime, t.latest_bend_year, t)
