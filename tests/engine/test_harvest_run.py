"""Issue 19 in the engine: the daily harvest run through Engine.check → Engine.plan, with its thresholds."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from engine.model import Lot, OrderSide, RunKind
from engine.tax import HarvestConfig
from tests.engine.conftest import AS_OF


def _with_loss(engine, household, symbol: str = "ESGV", factor: str = "1.4"):
    price = engine.day(AS_OF).prices[symbol]
    lot = Lot("tlh-1", "brokerage", symbol, Decimal(100), (price * 100 * Decimal(factor)).quantize(Decimal("0.01")),
              AS_OF - timedelta(days=200), AS_OF - timedelta(days=200))
    return replace(household, lots=(*household.lots, lot))


def test_check_fires_a_harvest_inside_the_cooldown_and_plan_harvests_into_a_substitute(engine, household):
    hh = _with_loss(engine, household)
    d = engine.check(hh, AS_OF, last_rebalance=AS_OF - timedelta(days=3), previous_day=AS_OF - timedelta(days=1))
    assert d is not None and d.run_kind is RunKind.TAX_LOSS_HARVEST
    p = engine.plan(hh, AS_OF, decision=d, proposal_id="t-tlh")
    assert p.run_kind is RunKind.TAX_LOSS_HARVEST
    sells = [o for o in p.orders if o.side is OrderSide.SELL]
    buys = [o for o in p.orders if o.side is OrderSide.BUY]
    assert any(o.symbol == "ESGV" and "tlh-1" in o.lots for o in sells)
    group = engine.universe["ESGV"].substitute_group
    assert buys and all(engine.universe[o.symbol].substitute_group == group and o.symbol != "ESGV" for o in buys)
    assert any("Tax-loss harvest" in line for line in p.explanation)


def _harvestable(engine, hh) -> int:
    d = engine.check(hh, AS_OF, last_rebalance=AS_OF - timedelta(days=3), previous_day=AS_OF - timedelta(days=1))
    if d is None or d.run_kind is not RunKind.TAX_LOSS_HARVEST:
        return 0
    return int(d.reason.split()[0])


def test_the_configured_thresholds_reach_the_engine(engine, household):
    hh = _with_loss(engine, household, factor="1.04")  # a 4 % loss on 100 shares
    default = _harvestable(engine, hh)
    planner = engine.planner
    before = planner.config
    planner.config = replace(before, harvest_thresholds=HarvestConfig(min_loss_fraction=0.10))
    try:
        strict = _harvestable(engine, hh)
    finally:
        planner.config = before
    assert strict == default - 1


def test_drift_is_measured_against_the_achievable_target(engine, household):
    """Classes the values screen leaves without a fund do not count as drift (issue 19, item 3)."""
    from engine.model import AssetClass
    from engine.optimizer.adapter import achievable_class_target

    mix = {AssetClass.US_EQUITY: 0.5, AssetClass.REAL_ESTATE: 0.1, AssetClass.US_BONDS: 0.4}
    prices = {"VTI": 1, "BND": 1, "VNQ": 1}
    t = achievable_class_target(mix, engine.universe, prices, excluded=["VNQ"])
    assert "real_estate" not in t or t["real_estate"] == 0
    assert abs(t["us_equity"] - 0.5 / 0.9) < 1e-9 and abs(sum(t.values()) - 1) < 1e-9
    assert achievable_class_target(mix, engine.universe, prices, reserve=0.2)["cash"] >= 0.2 - 1e-9
    assert date(2026, 7, 31) == AS_OF
