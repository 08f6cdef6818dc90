"""The direct-index sleeve: tracking limit, exclusions in every solve, tax budget, wash sales across share classes,
and an independent check against the same problem written plainly in cvxpy."""

from __future__ import annotations

from datetime import date, timedelta

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest

from engine.data.stocks import Stock, StockUniverse, embedded_stocks, universe_weights
from engine.errors import ConfigError, Infeasible
from engine.estimates.sector_model import sector_risk_model
from engine.model import AccountType
from engine.optimizer.sleeve import DirectIndexSleeve, Exclusion, SleeveRules, sleeve_inputs
from engine.tax.ledger import LotLedger

DAY = date(2022, 6, 30)
TE_TOL = 1e-5


@pytest.fixture(scope="module")
def demo():
    data = embedded_stocks()
    uni = data.universe
    model = sector_risk_model(data.returns(end=DAY), {s.ticker: s.sector for s in uni.stocks}, as_of=DAY)
    px = data.prices.loc[:str(DAY)].iloc[-1]
    return uni, model, {t: float(px[t]) for t in uni.tickers}, universe_weights(uni)


def _ledger(uni, prices, gain=1.5, fund_price=None):
    led = LotLedger({"tax": AccountType.TAXABLE}, uni.identical)
    for t in uni.tickers:
        led.buy("tax", t, "10", f"{prices[t] / gain:.2f}", date(2015, 1, 5))
    if fund_price:
        led.buy("tax", "IVV", "100", f"{fund_price / gain:.2f}", date(2015, 1, 5))
    return led


def test_matches_the_plain_cvxpy_problem(demo):
    # Independent check (STYLE habit 11): from cash, minimise TE² with the full covariance written plainly.
    uni, model, prices, b = demo
    rules = SleeveRules(te_limit=0.10, exclusions=(Exclusion.fossil_fuels(),), max_weight=0.08, cost=0.0,
                        risk_aversion=1.0)
    led = LotLedger({"tax": AccountType.TAXABLE})
    x = sleeve_inputs(led, "tax", uni, model, prices, DAY, benchmark=b, rules=rules, cash=100_000)
    res = DirectIndexSleeve.for_inputs(x).solve(x, explain_exclusions=False)
    w = cp.Variable(len(uni))
    ub = np.where([t in {"CVX", "XOM", "RRC"} for t in uni.tickers], 0.0, 0.08)
    sigma = model.covariance()
    plain = cp.Problem(cp.Minimize(cp.quad_form(w - b, sigma)), [w >= 0, w <= ub, cp.sum(w) <= 1])
    plain.solve(solver=cp.CLARABEL)
    assert res.tracking_error == pytest.approx(np.sqrt(plain.value), rel=1e-4)
    ours = np.array([res.weights.get(t, 0.0) for t in uni.tickers])
    np.testing.assert_allclose(ours, w.value, atol=2e-4)
    assert model.tracking_error(ours, b) == pytest.approx(res.tracking_error, rel=1e-9)


def test_exclusions_hold_in_every_solve_and_each_has_a_price(demo):
    uni, model, prices, b = demo
    rules = SleeveRules(te_limit=0.12, exclusions=(Exclusion.fossil_fuels(), Exclusion.defense(),
                                                   Exclusion("Walmart by name", tickers=("WMT",))))
    led = _ledger(uni, prices)
    for shift in range(3):  # held at a gain, yet sold every time: exclusions are hard
        x = sleeve_inputs(led, "tax", uni, model, prices, DAY + timedelta(days=shift), benchmark=b, rules=rules)
        res = DirectIndexSleeve.for_inputs(x).solve(x)
        assert not {"CVX", "XOM", "RRC", "GE", "WMT"} & set(res.weights)
        assert res.tracking_error <= rules.te_limit + TE_TOL
    costs = {c.label: c for c in res.exclusion_costs}
    assert set(costs) == {"oil, gas & coal", "aerospace & defense", "Walmart by name"}
    assert costs["oil, gas & coal"].tickers == ("CVX", "RRC", "XOM") and costs["oil, gas & coal"].tracking_error > 0
    assert all(c.tracking_error >= 0 for c in costs.values())
    assert any("oil, gas & coal" in line and "tracking error" in line for line in res.explanation)


def test_tax_budget_limits_the_transition_from_the_index_fund(demo):
    uni, model, prices, b = demo
    led = LotLedger({"tax": AccountType.TAXABLE}, uni.identical)
    led.buy("tax", "IVV", "1000", "200.00", date(2012, 1, 3))  # worth 400 each below: 200,000 of gain
    px = dict(prices, IVV=400.0)
    free = SleeveRules(te_limit=0.12, exclusions=(Exclusion.fossil_fuels(),))
    x = sleeve_inputs(led, "tax", uni, model, px, DAY, benchmark=b, rules=free, fund="IVV")
    res = DirectIndexSleeve.for_inputs(x).solve(x, explain_exclusions=False)
    assert res.weights.get("IVV", 0) < 0.01  # no budget: the fund goes (the exclusion costs tracking inside it)
    capped = SleeveRules(te_limit=0.12, exclusions=(Exclusion.fossil_fuels(),), tax_budget=5_000)
    x = sleeve_inputs(led, "tax", uni, model, px, DAY, benchmark=b, rules=capped, fund="IVV")
    res = DirectIndexSleeve.for_inputs(x).solve(x, explain_exclusions=False)
    assert res.net_tax <= 5_000 + 1 and res.net_tax > 1_000
    assert res.weights["IVV"] > 0.8  # most of the fund stays until the budget allows more
    # The fund is the benchmark's look-through: sold only into stocks, never bought.
    assert "IVV" not in res.buys
    # An excluded stock held at a gain must go (exclusions are hard), which a zero tax budget forbids: a clear error.
    held = _ledger(uni, prices)
    tight = SleeveRules(te_limit=0.2, exclusions=(Exclusion.fossil_fuels(),), tax_budget=0)
    x = sleeve_inputs(held, "tax", uni, model, prices, DAY, benchmark=b, rules=tight)
    with pytest.raises(Infeasible, match="tax budget"):
        DirectIndexSleeve.for_inputs(x).solve(x, explain_exclusions=False)
    # A limit the exclusions alone cannot meet: the error gives the least tracking error they allow.
    x = sleeve_inputs(held, "tax", uni, model, prices, DAY, benchmark=b,
                      rules=SleeveRules(te_limit=0.005, exclusions=(Exclusion.fossil_fuels(),)))
    with pytest.raises(Infeasible, match=r"at least \d+\.\d+%/yr") as err:
        DirectIndexSleeve.for_inputs(x).solve(x, explain_exclusions=False)
    assert err.value.conflicts["te_limit"] > 0


def _class_universe():
    sectors = ["Communication Services"] * 3 + ["Energy"] * 2 + ["Health Care"] * 3
    stocks = (Stock("GOOGL", "Alphabet Inc. (Class A)", sectors[0]), Stock("GOOG", "Alphabet Inc. (Class C)",
              sectors[1]), Stock("META", "Meta", sectors[2]), Stock("XOM", "Exxon", sectors[3]),
              Stock("CVX", "Chevron", sectors[4]), Stock("JNJ", "J&J", sectors[5]), Stock("PFE", "Pfizer", sectors[6]),
              Stock("MRK", "Merck", sectors[7]))
    uni = StockUniverse(stocks)
    rng = np.random.default_rng(11)
    days = pd.bdate_range(end=DAY, periods=400)
    f = rng.normal(0, 0.01, (400, 3))
    col = {"Communication Services": 0, "Energy": 1, "Health Care": 2}
    r = np.column_stack([f[:, col[s]] + rng.normal(0, 0.01, 400) for s in sectors])
    model = sector_risk_model(pd.DataFrame(r, index=days, columns=uni.tickers), {s.ticker: s.sector for s in stocks})
    return uni, model


def test_wash_sale_rule_across_share_classes():
    # IRC §1091 and Treas. Reg. §1.1091-1: GOOG and GOOGL (one issuer's share classes) are treated as
    # substantially identical, as the universe file says (docs/direct-indexing.md states the assumption).
    uni, model = _class_universe()
    assert uni.identical == [{"GOOGL", "GOOG"}]
    prices = {t: 100.0 for t in uni.tickers}
    b = np.full(8, 1 / 8)
    rules = SleeveRules(te_limit=0.05, max_weight=0.5)
    led = LotLedger({"tax": AccountType.TAXABLE}, uni.identical)
    for t in uni.tickers:
        led.buy("tax", t, "100", "100", date(2021, 1, 4))
    led.buy("tax", "GOOGL", "50", "150", date(2021, 2, 1))  # now at a 33 % loss: harvestable
    x = sleeve_inputs(led, "tax", uni, model, prices, DAY, benchmark=b, rules=rules, cash=1_000)
    gi, ci = uni.position("GOOGL"), uni.position("GOOG")
    assert x.buy_ok[gi] == 0 and x.buy_ok[ci] == 0 and x.buy_ok[uni.position("META")] == 1
    res = DirectIndexSleeve.for_inputs(x).solve(x, explain_exclusions=False)
    assert any(s.symbol == "GOOGL" and s.tax < 0 for s in res.sells)  # the loss lot is harvested
    assert "GOOG" not in res.buys and "GOOGL" not in res.buys  # ... and not washed by its other share class
    assert res.tracking_error <= rules.te_limit + TE_TOL
    # After the harvest: the realized loss blocks buys of either class for 30 days (LotLedger.blocked_buys).
    led.sell("tax", "GOOGL", "50", "100", DAY, lots=[led.open_lots("tax", "GOOGL")[-1].id], method="specific")
    later = DAY + timedelta(days=10)
    x = sleeve_inputs(led, "tax", uni, model, prices, later, benchmark=b, rules=rules, cash=1_000)
    assert x.buy_ok[ci] == 0 and x.buy_ok[gi] == 0
    assert any("IRC §1091" in n for n in x.notes)
    x = sleeve_inputs(led, "tax", uni, model, prices, DAY + timedelta(days=31), benchmark=b, rules=rules, cash=1_000)
    assert x.buy_ok[ci] == 1


def test_a_loss_within_30_days_of_a_purchase_of_the_other_class_earns_no_credit():
    uni, model = _class_universe()
    prices = {t: 100.0 for t in uni.tickers}
    led = LotLedger({"tax": AccountType.TAXABLE}, uni.identical)
    led.buy("tax", "GOOGL", "10", "150", date(2022, 1, 3))
    led.buy("tax", "GOOG", "10", "100", DAY - timedelta(days=10))  # a purchase of the other class 10 days ago
    x = sleeve_inputs(led, "tax", uni, model, prices, DAY, benchmark=np.full(8, 1 / 8), rules=SleeveRules())
    assert x.lot_tax[uni.position("GOOGL"), 0] == 0.0  # selling would be washed: no harvest credit
    assert any("no harvest credit" in n for n in x.notes)


def test_compiled_once_per_shape(demo):
    uni, model, prices, b = demo
    rules = SleeveRules(te_limit=0.05)
    led = _ledger(uni, prices)
    x1 = sleeve_inputs(led, "tax", uni, model, prices, DAY, benchmark=b, rules=rules)
    s1 = DirectIndexSleeve.for_inputs(x1)
    n = s1.compiled.solves
    moved = {t: p * 0.9 for t, p in prices.items()}
    x2 = sleeve_inputs(led, "tax", uni, model, moved, DAY, benchmark=b, rules=SleeveRules(te_limit=0.02))
    assert DirectIndexSleeve.for_inputs(x2) is s1
    s1.solve(x1, explain_exclusions=False)
    r2 = s1.solve(x2, explain_exclusions=False)
    assert s1.compiled.solves == n + 2 and r2.tracking_error <= 0.02 + TE_TOL


def test_bad_inputs_are_refused(demo):
    uni, model, prices, b = demo
    led = LotLedger({"tax": AccountType.TAXABLE})
    led.buy("tax", "TSLA", "1", "100", date(2020, 1, 2))
    with pytest.raises(ConfigError, match="outside the universe"):
        sleeve_inputs(led, "tax", uni, model, prices, DAY, benchmark=b, rules=SleeveRules())
    with pytest.raises(ConfigError):
        sleeve_inputs(LotLedger({"tax": AccountType.TAXABLE}), "tax", uni, model, prices, DAY, benchmark=b[:5],
                      rules=SleeveRules(), cash=1)
    with pytest.raises(ConfigError):
        SleeveRules(te_limit=-0.01)
    with pytest.raises(ConfigError):
        sleeve_inputs(LotLedger({"tax": AccountType.TAXABLE}), "tax", uni, model, prices, DAY, benchmark=b,
                      rules=SleeveRules(tilts={"ZZZ": 0.01}), cash=1)


def test_more_lots_than_slots_share_slots_cheapest_first_and_keep_the_tax_budget():
    uni, model = _class_universe()
    prices = {t: 100.0 for t in uni.tickers}
    led = LotLedger({"tax": AccountType.TAXABLE}, uni.identical)
    for k, cost in enumerate(("20", "40", "60", "80", "95")):  # five XOM lots, all at a gain
        led.buy("tax", "XOM", "100", cost, date(2015, 1, 5) + timedelta(days=k))
    budget = 1_500.0
    rules = SleeveRules(te_limit=0.5, tax_budget=budget, lot_slots=2, exclusions=(Exclusion("xom", ("XOM",)),))
    x = sleeve_inputs(led, "tax", uni, model, prices, DAY, benchmark=np.full(8, 1 / 8), rules=rules, cash=40_000)
    assert x.lot_weight.shape[1] == 2  # five lots, two slots
    rules_ok = SleeveRules(te_limit=0.5, tax_budget=budget, lot_slots=2, max_weight=1.0)
    x = sleeve_inputs(led, "tax", uni, model, prices, DAY, benchmark=np.full(8, 1 / 8), rules=rules_ok, cash=40_000)
    res = DirectIndexSleeve.for_inputs(x).solve(x, explain_exclusions=False)
    sold = [s.lot_id for s in res.sells]
    assert len(sold) >= 2  # overweight XOM is sold down until the budget binds
    by_cost = [lot.id for lot in sorted(led.open_lots("tax", "XOM"), key=lambda lot: -lot.basis)]
    assert sold == by_cost[: len(sold)]  # the cheapest tax first: highest basis first
    # The modelled tax of a shared slot is the chord of a convex curve: the real tax never exceeds the budget.
    assert sum(s.tax for s in res.sells) <= budget + 1
    with pytest.raises(ConfigError):
        SleeveRules(lot_slots=0)


def test_wash_sale_blocks_that_keep_tracking_above_the_limit_still_give_a_plan_and_say_why():
    uni, model = _class_universe()
    prices = {t: 100.0 for t in uni.tickers}
    led = LotLedger({"tax": AccountType.TAXABLE}, uni.identical)
    for t in uni.tickers:  # every stock at a 40 % loss: every group harvestable, so no buy anywhere today
        led.buy("tax", t, "100" if t in {"GOOGL", "XOM"} else "1", "170", date(2021, 3, 1))
    rules = SleeveRules(te_limit=0.01, max_weight=1.0, cost=0.0)
    x = sleeve_inputs(led, "tax", uni, model, prices, DAY, benchmark=np.full(8, 1 / 8), rules=rules, cash=20_000)
    assert (x.buy_ok == 0).all()
    res = DirectIndexSleeve.for_inputs(x).solve(x, explain_exclusions=False)
    assert res.tracking_error > rules.te_limit
    assert any("above the limit" in line and "wash-sale" in line for line in res.explanation)
    # Second pass: groups the first pass harvested stay unbought; groups it did not harvest may be bought again.
    harvested = {t for s in res.sells if s.tax < 0 for t in uni.share_classes(s.symbol)}
    assert harvested and res.buys and not harvested & set(res.buys)
    assert any("stay buyable" in line for line in res.explanation)


def test_exclusion_by_name_sector_sub_industry_and_esg_score():
    stocks = (Stock("GOOGL", "Alphabet Inc. (Class A)", "Communication Services", "Interactive Media & Services",
                    esg_score=40.0),
              Stock("GOOG", "Alphabet Inc. (Class C)", "Communication Services", "Interactive Media & Services"),
              Stock("MO", "Altria", "Consumer Staples", "Tobacco", esg_score=20.0),
              Stock("LMT", "Lockheed Martin", "Industrials", "Aerospace & Defense"),
              Stock("COP", "ConocoPhillips", "Energy", "Oil & Gas Exploration & Production", esg_score=55.0),
              Stock("BTU", "Peabody", "Energy", "Coal & Consumable Fuels"),
              Stock("NEE", "NextEra", "Utilities", "Electric Utilities", esg_score=70.0))
    uni = StockUniverse(stocks)
    assert Exclusion("alphabet", tickers=("GOOGL",)).matches(uni) == ["GOOGL", "GOOG"]  # every share class
    assert Exclusion.tobacco().matches(uni) == ["MO"]
    assert Exclusion.defense().matches(uni) == ["LMT"]
    assert Exclusion.fossil_fuels().matches(uni) == ["COP", "BTU"]
    assert Exclusion("energy", sectors=("energy",)).matches(uni) == ["COP", "BTU"]  # GICS names, any case
    # ESG where data exists: GOOG has no score, so only GOOGL, MO and COP fall below 60.
    assert Exclusion("esg < 60", esg_below=60).matches(uni) == ["GOOGL", "MO", "COP"]


def test_sp500_sleeve_from_an_index_fund_holds_its_limit_and_exclusions(sp500):
    day = date(2020, 12, 31)
    last = sp500.prices.loc[: str(day)].ffill().iloc[-1]
    uni = sp500.universe.select([t for t in sp500.universe.tickers if np.isfinite(last[t])])
    model = sector_risk_model(sp500.returns(end=day)[uni.tickers], {s.ticker: s.sector for s in uni.stocks},
                              as_of=day)
    b = universe_weights(uni)
    prices = {t: float(last[t]) for t in uni.tickers} | {"IVV": 375.0}
    led = LotLedger({"tax": AccountType.TAXABLE}, uni.identical)
    led.buy("tax", "IVV", "2000", "250.00", date(2017, 1, 3))
    rules = SleeveRules(te_limit=0.015, tax_budget=20_000,
                        exclusions=(Exclusion.tobacco(), Exclusion.defense(), Exclusion.fossil_fuels()))
    x = sleeve_inputs(led, "tax", uni, model, prices, day, benchmark=b, rules=rules, fund="IVV", cash=50_000)
    res = DirectIndexSleeve.for_inputs(x).solve(x)
    assert res.tracking_error <= rules.te_limit + TE_TOL
    banned = {t for ts in x.excluded.values() for t in ts}
    assert {"MO", "PM", "LMT", "XOM"} <= banned and not banned & set(res.weights)
    assert res.net_tax <= 20_000 + 1 and 0 < res.weights["IVV"] < 1  # part of the fund moved within the budget
    costs = {c.label: c for c in res.exclusion_costs}
    assert costs["oil, gas & coal"].tracking_error > costs["tobacco"].tracking_error >= 0
    assert res.names_held >= 50
