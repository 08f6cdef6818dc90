"""The retirement Monte Carlo against closed forms and the rules it applies."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy.stats import norm

from engine.goals.inflation import InflationModel
from engine.goals.longevity import load_life_table
from engine.goals.montecarlo import Composites
from engine.goals.retirement import Person, RetirementSpec, simulate_retirement
from engine.goals.withdrawals import YearTax, load_rmd_tables
from engine.model import FilingStatus


def _person(age: int = 65, years: int = 30, ss: float = 0.0, name: str = "a", plan_to: int | None = 95) -> Person:
    return Person(
        name=name, age=age, sex=None, own=np.full(years, ss), spousal=np.zeros(years), survivor_base=ss,
        survivor_before_claim=ss, claim_year=0, survivor_year=0, rmd_age=75, pension_real=np.zeros(years),
        pension_nominal=np.zeros(years), plan_to_age=plan_to,
    )


def _spec(years: int = 30, vol: float = 0.0, mu: float = 0.05, infl_vol: float = 0.0, **kw) -> RetirementSpec:
    tax = YearTax.for_status(FilingStatus.SINGLE)
    base = dict(
        years=years, accumulation_months=0, retire_year=0, equity=np.ones(12 * years), cash=np.zeros(12 * years),
        taxable=0.0, basis=0.0, traditional=(0.0,), roth=1_000_000.0, contributions=np.zeros(12 * years),
        shares=(0.0, 1.0, 0.0), spending=60_000.0, survivor_spending=1.0, people=(_person(65, years),),
        joint_tax=tax, single_tax=tax, rmd=load_rmd_tables(), life=None,
        inflation=InflationModel(0.02, infl_vol, 0.5, 0.0, 0.0),
        composites=Composites(mu, vol, 0.03, 0.0, 0.0, 0.02, 0.02),
    )
    base.update(kw)
    return RetirementSpec(**base)


def _annuity_due(payment: float, rate: float, n: int) -> float:
    return payment * sum((1 + rate) ** -k for k in range(n))


def test_deterministic_roth_drawdown_matches_the_annuity_value():
    # No volatility, deterministic inflation: real growth (1.05 / 1.02) a year, spending at each year's start.
    # Plan to 95 from 65: 30 payments. Success iff the start wealth ≥ the annuity-due value.
    g = 1.05 / 1.02 - 1
    need = _annuity_due(60_000, g, 30)
    ok = simulate_retirement(_spec(roth=need * 1.001), paths=200, seed=1)
    short = simulate_retirement(_spec(roth=need * 0.99), paths=200, seed=1)
    assert ok.probability == 1.0 and short.probability == 0.0
    assert short.shortfall > 0 and ok.shortfall == 0


def test_lump_sum_against_the_lognormal_probability():
    # Grow for 10 years with no flows, then spend S once (plan to 76 from 65 + retire at 10):
    # P(W0 · G10 ≥ S) with log G10 ~ N(10·(ln 1.07 − σ²/2) − 10·ln 1.02, 10·σ²).
    vol, mu, years = 0.18, 0.07, 11
    spec = _spec(years=years, vol=vol, mu=mu, roth=100_000.0, spending=150_000.0, retire_year=10,
                 people=(_person(65, years, plan_to=76),))
    res = simulate_retirement(spec, paths=40_000, seed=3, bands=False)
    m = 10 * (math.log1p(mu) - vol**2 / 2) - 10 * math.log(1.02)
    closed = 1 - norm.cdf((math.log(150_000 / 100_000) - m) / (vol * math.sqrt(10)))
    assert res.probability == pytest.approx(closed, abs=4 * math.sqrt(closed * (1 - closed) / 40_000) + 0.005)


def test_social_security_covering_spending_needs_no_portfolio():
    years = 30
    rich = _spec(roth=0.0, people=(_person(65, years, ss=60_000.0),))
    poor = _spec(roth=0.0, people=(_person(65, years, ss=50_000.0),))
    assert simulate_retirement(rich, paths=100, seed=1).probability == 1.0
    assert simulate_retirement(poor, paths=100, seed=1).probability == 0.0


def test_traditional_withdrawals_pay_tax_roth_does_not():
    # Traditional withdrawals are ordinary income (IRC §402(a), §408(d)); qualified Roth ones are not (§408A(d)).
    g = 1.05 / 1.02 - 1
    w = _annuity_due(60_000, g, 30) * 1.05
    roth = simulate_retirement(_spec(roth=w), paths=100, seed=1)
    trad = simulate_retirement(_spec(roth=0.0, traditional=(w,)), paths=100, seed=1)
    assert roth.probability == 1.0 and trad.probability == 0.0
    fill = simulate_retirement(_spec(roth=w / 2, traditional=(w / 2,), order="fill_bracket"), paths=100, seed=1)
    plain = simulate_retirement(_spec(roth=w / 2, traditional=(w / 2,)), paths=100, seed=1)
    assert fill.median_final >= plain.median_final  # using the low brackets every year wastes less to tax


def test_rmds_force_traditional_money_out():
    # IRS Pub. 590-B: from the RMD age, at least balance / period leaves the traditional account each year;
    # what is not spent is reinvested (taxable account), so a tiny budget still empties the IRA over time.
    spec = _spec(roth=0.0, traditional=(1_000_000.0,), spending=1.0, people=(_person(75, 30),))
    res = simulate_retirement(spec, paths=50, seed=1)
    assert res.probability == 1.0
    assert res.bands[10, 2] < 1_000_000 * (1.05 / 1.02) ** 10  # RMD taxes leaked out of the total


def test_taxable_account_pays_tax_only_on_gains():
    g = 1.05 / 1.02 - 1
    w = _annuity_due(60_000, g, 30)
    all_basis = simulate_retirement(_spec(roth=0.0, taxable=w * 1.001, basis=w * 1.001), paths=50, seed=1)
    assert all_basis.probability == 1.0  # no gain, no tax (basis is recovered tax-free)


def test_mortality_shortens_the_plan_and_survivor_gets_the_larger_benefit():
    life = load_life_table()
    g = 1.05 / 1.02 - 1
    w = _annuity_due(60_000, g, 20)  # enough for 20 years, not for 30
    fixed = simulate_retirement(_spec(roth=w), paths=4000, seed=2)
    survival = simulate_retirement(
        _spec(roth=w, life=life, people=(_person(65, 55, plan_to=None),), years=55), paths=4000, seed=2
    )
    assert fixed.probability == 0.0 and survival.probability > 0.5  # most 65-year-olds die before 85
    # A couple: when one dies, the survivor keeps the larger benefit (20 CFR 404.335): 40k survives, spending ×0.7.
    a = replace(_person(65, 30, ss=40_000.0, name="a", plan_to=70), survivor_base=40_000.0)
    b = _person(65, 30, ss=15_000.0, name="b", plan_to=95)
    couple = _spec(roth=0.0, spending=55_000.0, survivor_spending=0.7, people=(a, b), traditional=(0.0, 0.0),
                   shares=(0.0, 0.5, 0.5, 0.0))
    res = simulate_retirement(couple, paths=50, seed=1)
    assert res.probability == 1.0  # 55k both alive (40k + 15k), then 38.5k ≤ 40k for the widow(er)


def test_stochastic_inflation_erodes_fixed_pensions_and_widens_outcomes():
    years = 30
    p = replace(_person(65, years), pension_nominal=np.full(years, 60_000.0))
    fixed = _spec(roth=0.0, people=(p,), spending=50_000.0)  # 60k pension less its income tax covers 50k
    assert simulate_retirement(fixed, paths=200, seed=1).probability == 0.0  # 2 % a year eats a level pension
    p_real = replace(_person(65, years), pension_real=np.full(years, 60_000.0))
    assert simulate_retirement(replace(fixed, people=(p_real,)), paths=200, seed=1).probability == 1.0
    calm = simulate_retirement(_spec(vol=0.12, roth=900_000.0), paths=4000, seed=4)
    wild = simulate_retirement(_spec(vol=0.12, roth=900_000.0, infl_vol=0.03), paths=4000, seed=4)
    spread = lambda r: r.bands[20, 4] - r.bands[20, 0]  # noqa: E731
    assert spread(wild) > spread(calm)


def test_guardrails_raise_the_probability_of_a_stretched_plan():
    spec = _spec(vol=0.15, mu=0.06, roth=1_000_000.0, spending=65_000.0, flexibility=0.7)
    plain = simulate_retirement(spec, paths=4000, seed=5)
    guarded = simulate_retirement(replace(spec, guardrails=True), paths=4000, seed=5)
    assert guarded.probability > plain.probability


def test_results_depend_on_seed_and_paths_only():
    spec = _spec(vol=0.15, roth=900_000.0)
    a = simulate_retirement(spec, paths=30_000, seed=9, workers=1)
    b = simulate_retirement(spec, paths=30_000, seed=9, workers=2)
    assert a.probability == b.probability and a.shortfall == b.shortfall
