"""Monte Carlo, risk profile, glide paths, what-ifs and the mandate on the sample household."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from decimal import Decimal

import numpy as np
import pytest
from scipy.stats import norm

from engine.errors import ConfigError, PlanningError
from engine.goals import (
    RiskBound,
    Shock,
    Sleeve,
    assess_risk,
    build_mandate,
    load_capital_market,
    load_glide_paths,
    parse_what_if,
    plan_household,
    savings_needed,
    score_questionnaire,
    simulate,
    what_if,
)
from engine.goals.montecarlo import Composites
from engine.model import AssetClass, GoalKind

AS_OF = date(2026, 3, 2)
PATHS = 4000


@pytest.fixture(scope="module")
def comp() -> Composites:
    return Composites(0.07, 0.15, 0.04, 0.05, 0.1, 0.03, 0.0)


def test_lognormal_terminal_probability_matches_closed_form(comp):
    months = 120
    s = Sleeve(start=100.0, contributions=np.zeros(months), equity=np.ones(months), target=150.0)
    r = simulate([s], comp, paths=100_000, seed=5, bands=False)
    mu_m = math.log1p(0.07) / 12 - 0.15**2 / 24
    exact = 1 - norm.cdf((math.log(1.5) - mu_m * months) / (0.15 / math.sqrt(12) * math.sqrt(months)))
    assert r.probability[0] == pytest.approx(exact, abs=4 * r.standard_error() + 0.002)


def test_contributions_and_withdrawals_are_exact_without_risk():
    c = Composites(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    s = Sleeve(
        start=1000.0,
        contributions=np.r_[np.full(12, 100.0), np.zeros(12)],
        withdrawals=np.r_[np.zeros(12), np.full(12, 150.0)],
        equity=np.zeros(24),
        target=400.0,
    )
    r = simulate([s], c, paths=10, seed=1)
    assert r.median_final[0] == pytest.approx(1000 + 1200 - 1800)
    assert r.probability[0] == 1.0  # exactly the target
    assert simulate([replace(s, target=401.0)], c, paths=10, seed=1).probability[0] == 0.0


def test_ruin_is_a_shortfall_and_partial_counts_flexibility(comp):
    c = Composites(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    s = Sleeve(
        start=900.0, contributions=np.zeros(10), withdrawals=np.full(10, 100.0), equity=np.zeros(10), flexibility=0.85
    )
    r = simulate([s], c, paths=4, seed=0)
    assert r.probability[0] == 0.0 and r.partial_probability[0] == 1.0
    assert r.shortfall[0] == pytest.approx(100.0)


def test_seeded_reproducible_and_independent_of_threads(comp):
    s = Sleeve(start=100.0, contributions=np.full(60, 1.0), equity=np.full(60, 0.6), target=140.0)
    a = simulate([s], comp, paths=120_000, seed=9, workers=1, bands=False)
    b = simulate([s], comp, paths=120_000, seed=9, workers=2, bands=False)
    assert a.probability[0] == b.probability[0]
    assert simulate([s], comp, paths=120_000, seed=10, bands=False).probability[0] != a.probability[0]


def _month_by_month(sleeves, comp, paths, seed, shock=None):
    """Reference: one chunk drawn and grown one month at a time (the pre-block loop); final wealth and unmet."""
    from engine.goals.montecarlo import _monthly_terms

    months = max(s.months for s in sleeves)
    drift, la, lb = _monthly_terms(sleeves, comp, months)
    one = len(sleeves) == 1
    d32, s32 = drift.astype(np.float32), np.sqrt(la**2 + lb**2).astype(np.float32)
    a32, b32 = la.astype(np.float32), lb.astype(np.float32)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    W = np.repeat(np.array([s.start for s in sleeves], np.float32)[:, None], paths, axis=1)
    unmet = np.zeros_like(W)
    h = (paths + 1) // 2
    z1, z2, r, tmp = (np.empty(paths, np.float32) for _ in range(4))
    for t in range(months):
        rng.standard_normal(out=z1[:h], dtype=np.float32)
        np.negative(z1[: paths - h], out=z1[h:])
        if not one:
            rng.standard_normal(out=z2[:h], dtype=np.float32)
            np.negative(z2[: paths - h], out=z2[h:])
        for g, s in enumerate(sleeves):
            if t >= s.months:
                continue
            if shock is not None and t == shock.month:
                W[g] *= np.float32(1.0 - shock.equity_drop * s.equity[min(shock.month, s.months - 1)])
            if one:
                np.multiply(z1, s32[g, t], out=r)
            else:
                np.multiply(z1, a32[g, t], out=r)
                np.multiply(z2, b32[g, t], out=tmp)
                r += tmp
            r += d32[g, t]
            W[g] *= np.exp(r)
            c, w = np.float32(s.contributions[t]), np.float32(s.withdrawals[t])
            if c:
                W[g] += c
            if w:
                np.minimum(W[g], w, out=tmp)
                W[g] -= tmp
                unmet[g] += w
                unmet[g] -= tmp
    return W, unmet


@pytest.mark.parametrize("paths", [2000, 2001, 3])
def test_blocks_and_kept_draws_give_the_month_by_month_bits(comp, paths, monkeypatch):
    import engine.goals.montecarlo as mc

    months = 30
    glide = np.linspace(0.9, 0.3, months)
    sleeves = [
        Sleeve(start=100.0, contributions=np.full(months, 2.0), equity=glide, target=150.0, name="a"),
        Sleeve(start=80.0, contributions=np.zeros(20), withdrawals=np.full(20, 5.0), equity=np.full(20, 0.5),
               cash=np.full(20, 0.2), flexibility=0.8, name="b"),
    ]
    monkeypatch.setattr(mc, "BLOCK", 7 * paths)  # blocks of 7 months: a partial last block, a sleeve ending inside
    for group in (sleeves[:1], sleeves):
        for shock in (None, Shock(month=4, equity_drop=0.3)):
            W, unmet = _month_by_month(group, comp, paths, seed=11, shock=shock)
            for keep in (0, mc.DRAWS_CACHE):  # drawn afresh, then kept (the second call reads the kept draws)
                monkeypatch.setattr(mc, "DRAWS_CACHE", keep)
                for _ in range(2):
                    r = simulate(group, comp, paths=paths, seed=11, shock=shock, bands=False)
                    assert np.array_equal(r.median_final, np.median(W, axis=1))
                    assert np.array_equal(r.shortfall, (np.maximum([[s.target] for s in group] - W, 0) + unmet).mean(1))


def test_kept_draws_extend_to_a_longer_horizon(comp):
    short = Sleeve(start=100.0, contributions=np.full(12, 1.0), equity=np.full(12, 0.6), target=110.0)
    long = Sleeve(start=100.0, contributions=np.full(48, 1.0), equity=np.full(48, 0.6), target=140.0)
    fresh = simulate([long], comp, paths=1000, seed=123, bands=False)
    from engine.goals.montecarlo import _draws

    _draws.clear()
    simulate([short], comp, paths=1000, seed=123, bands=False)  # keeps 12 months of draws
    again = simulate([long], comp, paths=1000, seed=123, bands=False)  # extends them to 48
    assert np.array_equal(again.median_final, fresh.median_final) and again.probability[0] == fresh.probability[0]


def test_crash_lowers_probability_and_bands_are_ordered(comp):
    s = Sleeve(start=100.0, contributions=np.zeros(60), equity=np.full(60, 0.8), target=130.0)
    base = simulate([s], comp, paths=PATHS, seed=2)
    crash = simulate([s], comp, paths=PATHS, seed=2, shock=Shock(0, 0.35))
    assert crash.probability[0] < base.probability[0] - 0.1
    assert base.bands.shape == (1, 6, 5)
    assert np.all(np.diff(base.bands[0], axis=1) >= 0)
    assert base.household_bands.shape == (6, 5)


def test_bad_sleeves_raise(comp):
    with pytest.raises(PlanningError):
        Sleeve(start=-1.0, contributions=np.zeros(3), equity=np.zeros(3))
    with pytest.raises(PlanningError):
        Sleeve(start=1.0, contributions=np.zeros(3), equity=np.full(3, 1.2))
    with pytest.raises(PlanningError):
        Sleeve(start=1.0, contributions=np.zeros(0), equity=np.zeros(0))
    with pytest.raises(PlanningError):
        simulate([], comp)


def test_questionnaire_and_risk_bound(household):
    answers = {"horizon": 5, "drawdown_reaction": 5, "experience": 5, "income_need": 5, "loss_tolerance": 5}
    assert score_questionnaire(answers) == 10
    assert score_questionnaire({k: 1 for k in answers}) == 1
    assert score_questionnaire(household.risk.answers) == 6
    with pytest.raises(PlanningError):
        score_questionnaire({"horizon": 3})
    with pytest.raises(PlanningError):
        score_questionnaire({**answers, "horizon": 6})
    low = assess_risk(household, horizon_years=1.0, funded_ratio=0.0, reserve_months=0.0)
    assert low.bound is RiskBound.CAPACITY and low.level == low.capacity < household.risk.willingness
    high = assess_risk(household, horizon_years=30.0, funded_ratio=1.0, reserve_months=6.0)
    assert high.level == household.risk.willingness and high.bound in (RiskBound.WILLINGNESS, RiskBound.BOTH)
    assert low.equity_cap < high.equity_cap and low.risk_aversion > high.risk_aversion


def test_glide_paths_and_class_mix():
    g = load_glide_paths()
    assert g.equity_share(GoalKind.RETIREMENT, 30) == pytest.approx(0.90)
    assert g.equity_share(GoalKind.RETIREMENT, 0) < g.equity_share(GoalKind.RETIREMENT, 10)
    assert g.equity_share(GoalKind.EMERGENCY, 5) == 0.0 and g.cash_share(GoalKind.EMERGENCY, 5) == 1.0
    mix = g.class_mix(0.6, 0.1)
    assert sum(mix.values()) == pytest.approx(1.0)
    assert sum(w for c, w in mix.items() if c.is_equity) == pytest.approx(0.6)
    assert mix[AssetClass.CASH] == pytest.approx(0.1)
    edited = g.with_overrides({GoalKind.HOME: [(0, 0.0), (10, 0.2)]}, {})
    assert edited.equity_share(GoalKind.HOME, 10) == pytest.approx(0.2)


def test_glide_path_file_errors_name_the_field(tmp_path):
    bad = tmp_path / "glide.yaml"
    bad.write_text(
        "version: 1\npaths:\n  home: {equity: [[5, 0.5], [1, 0.2]]}\n"
        "class_split: {equity: {us_equity: 1}, bonds: {us_bonds: 1}}\n"
    )
    with pytest.raises(ConfigError, match=r"paths\.home\.equity"):
        load_glide_paths(bad)


def test_capital_market_loader(tmp_path):
    m = load_capital_market()
    assert m.moments({AssetClass.US_EQUITY: 1.0})[1] == pytest.approx(0.165)
    f = tmp_path / "cma.yaml"
    f.write_text("classes: {us_equity: {expected_return: 0.06, volatility: 0.17}}\ninflation: 0.02\n")
    m2 = load_capital_market(f)
    assert m2.moments({AssetClass.US_EQUITY: 1.0}) == pytest.approx((0.06, 0.17)) and m2.inflation == 0.02
    f.write_text("classes: {us_equity: {expected_return: 0.06, volatility: -1}}\n")
    with pytest.raises(ConfigError):
        load_capital_market(f)


def test_plan_of_the_sample(household):
    plan = plan_household(household, AS_OF, paths=PATHS)
    assert [f.goal_id for f in plan.forecasts] == ["emergency", "home", "college", "retirement"]
    p = plan.probabilities
    assert p["emergency"] == 0.0  # $12,500 of $54,000 and nothing planned toward it
    assert 0.3 < p["home"] < 0.95 and 0.5 < p["college"] <= 1.0
    assert all(0 <= f.partial_probability - f.probability <= 1 for f in plan.forecasts)
    with pytest.raises(PlanningError):
        plan.forecast("nope")


def test_past_goal_date_is_an_error_for_a_sleeve_and_left_out_of_plans(household):
    from engine.goals import goal_sleeve

    old = replace(household.goals[1], target_date=date(2025, 1, 1))
    with pytest.raises(PlanningError, match="home"):
        goal_sleeve(old, AS_OF, 1000.0, load_glide_paths())
    h = replace(household, goals=(old, household.goals[2]))
    assert [f.goal_id for f in plan_household(h, AS_OF, paths=100).forecasts] == ["college"]
    m = build_mandate(h, AS_OF, paths=100)
    assert m.sleeve("home") is None and any("fell due on 2025-01-01" in line for line in m.explanation)


def test_savings_needed_reaches_the_target(household):
    need = savings_needed(household, AS_OF, "home", 0.9, paths=PATHS)
    assert need is not None and need > 0
    bumped = replace(
        household,
        goals=tuple(
            replace(g, monthly_contribution=g.monthly_contribution + need) if g.id == "home" else g
            for g in household.goals
        ),
    )
    assert plan_household(bumped, AS_OF, paths=PATHS).forecast("home").probability >= 0.9
    less = replace(
        household,
        goals=tuple(
            replace(g, monthly_contribution=g.monthly_contribution + need - 20) if g.id == "home" else g
            for g in household.goals
        ),
    )
    assert plan_household(less, AS_OF, paths=PATHS).forecast("home").probability < 0.9


@pytest.mark.parametrize(
    "text, focus, direction",
    [
        ("retire-at=60", "retirement", -1),
        ("earlier=home:2", "home", -1),
        ("save-more=500", "retirement", 1),
        ("crash=0.35", "retirement", -1),
    ],
)
def test_what_ifs(household, text, focus, direction):
    r = what_if(household, AS_OF, [parse_what_if(text)], paths=2000)
    assert r.focus == focus
    before, after = r.before.forecast(focus).probability, r.after.forecast(focus).probability
    assert (after - before) * direction >= 0
    assert r.savings_needed is not None and r.lines()[0].startswith("What if")


def test_what_if_parse_errors():
    for bad in ("fly=1", "retire-at=abc", "save-more=-5", "earlier=home"):
        with pytest.raises(PlanningError):
            parse_what_if(bad)


def test_mandate_of_the_sample(household):
    m = build_mandate(household, AS_OF, paths=PATHS)
    assert sum(m.strategic_mix.values()) == pytest.approx(1.0)
    assert m.equity_share == pytest.approx(sum(w for c, w in m.strategic_mix.items() if c.is_equity))
    assert all(lo <= m.strategic_mix.get(c, 0.0) <= hi for c, (lo, hi) in m.class_bands.items())
    assert 1 <= m.risk_level <= 10 and m.risk_level == min(m.risk.willingness, m.risk.capacity)
    assert m.liquidity_reserve == Decimal("54000.00")  # 6 months × $9,000
    assert set(m.horizons) == {a.id for a in household.accounts}
    assert m.horizons["alex_401k"] > m.horizons["brokerage"]
    assert all(s.equity_share <= m.risk.equity_cap + 1e-9 for s in m.goal_sleeves)
    assert m.sleeve("emergency").equity_share == 0.0
    assert any(f.amount > 0 for f in m.cash_flows) and not m.needs_approval
    assert any("Risk level" in line for line in m.explanation)


def test_mandate_approval_thresholds(household):
    prev = build_mandate(household, AS_OF, paths=PATHS)
    nudged = replace(prev, equity_share=prev.equity_share + 0.2)
    again = build_mandate(household, AS_OF, previous=nudged, paths=PATHS)
    assert again.needs_approval and "points" in again.approval_reasons[0]
    soon = replace(household.goals[1], target_date=date(2026, 9, 1))
    h2 = replace(household, goals=(household.goals[0], soon, *household.goals[2:]))
    m2 = build_mandate(h2, AS_OF, paths=PATHS)
    assert m2.needs_approval and any("withdrawal" in r for r in m2.approval_reasons)
    assert m2.liquidity_reserve > prev.liquidity_reserve


def test_nudges(household):
    from engine.goals.nudges import NudgeKind, nudges

    m = build_mandate(household, AS_OF, paths=PATHS)
    kinds = {n.kind for n in nudges(household, m)}
    assert NudgeKind.OFF_TRACK in kinds  # the emergency fund and retirement
    total = 300_000.0
    holdings = {c: w * total for c, w in m.strategic_mix.items()}
    assert not any(n.kind is NudgeKind.DEPOSIT_FIXES_DRIFT for n in nudges(household, m, holdings=holdings))
    holdings[AssetClass.US_EQUITY] *= 1.3  # overweight US equity
    fix = [n for n in nudges(household, m, holdings=holdings) if n.kind is NudgeKind.DEPOSIT_FIXES_DRIFT]
    assert len(fix) == 1 and fix[0].amount > 0
    t2 = sum(holdings.values()) + float(fix[0].amount)
    _, hi = m.class_bands[AssetClass.US_EQUITY]
    assert holdings[AssetClass.US_EQUITY] / t2 <= hi + 1e-9
    soon = replace(household.goals[1], target_date=date(2026, 5, 1))
    h2 = replace(household, goals=(household.goals[0], soon, *household.goals[2:]))
    m2 = build_mandate(h2, AS_OF, paths=PATHS)
    short = [n for n in nudges(h2, m2) if n.kind is NudgeKind.CASH_SHORTFALL]
    assert short and short[0].amount > 0
