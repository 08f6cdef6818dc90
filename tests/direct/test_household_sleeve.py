"""A household's direct-index sleeve, driven as its users drive it: the CLI (import → rebalance → approve → execute)
and the Python API (Engine) on the shipped 20-stock demo set with the simulated broker, through the one cycle.

Checked in every solve: the proposal buys stocks, an excluded stock is never bought, the sleeve's tracking error is
within its limit (or the explanation says why not), the ledger equals the broker after execution; a later harvest
day sells loss lots, and neither the harvested stocks nor their share-class siblings are bought within 30 days.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from engine.config import load_universe
from engine.config.loader import default_file, household_from_dict, household_to_dict, load_household
from engine.data import MarketData
from engine.data.market import with_stock_prices
from engine.data.stocks import embedded_stocks
from engine.model import OrderSide, RunKind
from engine.planner import Planner
from engine.planner.direct import PROXY_PREFIX
from robo.cli import main

DIRECT_YAML = default_file("households/direct.yaml")
EXCLUDED = {"CVX", "RRC", "XOM", "WMT"}  # fossil_fuels (the demo set's oil & gas) and the named WMT
DAY = date(2022, 12, 22)


@pytest.fixture(scope="module")
def market() -> MarketData:
    return with_stock_prices(MarketData.embedded(), embedded_stocks())


def _stock_orders(orders, side: OrderSide) -> set[str]:
    stocks = set(embedded_stocks().universe.tickers)
    return {o.symbol for o in orders if o.side is side and o.symbol in stocks}


def test_the_yaml_section_reads_and_dumps_back_identically() -> None:
    universe = load_universe()
    h = load_household(DIRECT_YAML, universe=universe, as_of=DAY)
    d = h.direct_index
    assert d is not None and d.accounts == ("brokerage",) and d.fund == "IVV" and d.exclude == ("fossil_fuels",)
    assert d.tax_budget == Decimal("3000") and d.exclude_tickers == ("WMT",) and d.te_limit == 0.06
    assert household_from_dict(household_to_dict(h), universe=universe, as_of=DAY) == h


def test_the_household_solve_sees_the_stocks_as_its_index_fund(market: MarketData) -> None:
    """The proxy: one lot of the fund per sleeve account, worth what the stocks are worth, with their basis."""
    h = load_household(DIRECT_YAML, universe=load_universe(), as_of=DAY)
    planner = Planner(market)
    prices = planner.day(DAY).prices
    view = planner.direct.fund_view(h, prices)
    stock_lots = [lot for lot in h.lots if lot.symbol in {"AMD", "MSFT"}]
    (proxy,) = [lot for lot in view.lots if lot.id.startswith(PROXY_PREFIX)]
    assert proxy.symbol == "IVV" and proxy.account == "brokerage" and not proxy.replaceable
    value = sum(lot.shares * prices[lot.symbol] for lot in stock_lots)
    assert abs(proxy.shares * prices["IVV"] - value) < Decimal("0.01")
    assert proxy.basis == sum(lot.basis for lot in stock_lots)
    assert {lot.symbol for lot in view.lots} <= set(planner.universe.tickers)  # no stock reaches the fund rooms


def test_a_plan_buys_stocks_within_the_limit_and_never_an_excluded_one(market: MarketData) -> None:
    h = load_household(DIRECT_YAML, universe=load_universe(), as_of=DAY)
    planner = Planner(market)
    proposal = planner.plan(h, DAY)
    bought = _stock_orders(proposal.orders, OrderSide.BUY)
    assert len(bought) >= 10 and not bought & EXCLUDED
    (sleeve,) = proposal.details["direct_index"]
    assert sleeve["tracking_error"] <= h.direct_index.te_limit * (1 + 1e-3)
    assert sleeve["net_tax"] <= float(h.direct_index.tax_budget) + 1  # the move out of IVV stays in its budget
    assert {c["label"] for c in sleeve["exclusion_costs"]} == {"oil, gas & coal", "named companies (WMT)"}
    sells = {o.symbol: o for o in proposal.orders if o.side is OrderSide.SELL and o.account == "brokerage"}
    assert sells["AMD"].lots == ("s1",)  # the loss lot, named: the ledger relieves it (LotMethod.SPECIFIC)
    # the household solve's IVV target in the brokerage is the sleeve's dollar target, and the sleeve spends it
    # (up to a little cash the tracking-only optimum keeps when the exclusions leave it under-hedged: a beta match)
    target = sleeve["target_usd"]
    prices = planner.day(DAY).prices
    after = {s: Decimal(0) for s in bought}
    for o in proposal.orders:
        if o.account == "brokerage" and o.symbol in after and o.qty is not None:
            after[o.symbol] += o.qty * prices[o.symbol]
    held = {lot.symbol: lot.shares for lot in h.lots if lot.account == "brokerage"}
    kept = (held["IVV"] - sells["IVV"].qty) * prices["IVV"] + (held["MSFT"] - sells["MSFT"].qty) * prices["MSFT"]
    assert 0.95 * target < float(sum(after.values()) + kept) <= target * 1.001
    explanation = "\n".join(proposal.explanation)
    assert "Direct index in brokerage" in explanation and "tracking error" in explanation
    assert "excluding oil, gas & coal" in explanation


@pytest.fixture()
def robo(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ROBO_DATABASE_URL", f"sqlite:///{tmp_path / 'robo.db'}")

    def run(*argv: str, code: int = 0) -> dict:
        capsys.readouterr()
        assert main(list(argv)) == code
        return json.loads(capsys.readouterr().out)

    return run


def test_the_cli_journey_imports_plans_approves_and_executes_the_sleeve(robo, tmp_path) -> None:
    robo("household", "import", str(DIRECT_YAML), "--json")
    proposal = robo("rebalance", "chen", "--data", "stocks", "--json")
    assert proposal["status"] == "proposed" and proposal["needs_approval"]  # the first run waits for a person
    stocks = set(embedded_stocks().universe.tickers)
    bought = {o["symbol"] for o in proposal["orders"] if o["side"] == "buy" and o["symbol"] in stocks}
    assert len(bought) >= 10 and not bought & EXCLUDED
    sold = {o["symbol"]: o["lots"] for o in proposal["orders"] if o["side"] == "sell"}
    assert sold["AMD"] == ["s1"] and sold["IVV"] == ["f1"]
    assert any("tracking error" in line for line in proposal["explanation"])
    robo("approve", proposal["id"], "--json")
    report = robo("execute", proposal["id"], "--data", "stocks", "--json")
    assert report["status"] == "executed" and not report["errors"] and not report["discrepancies"]
    assert {f["symbol"] for f in report["filled"]} >= bought
    from engine.store import Store

    h = Store(f"sqlite:///{tmp_path / 'robo.db'}").households.get("chen")
    held = {lot.symbol for lot in h.lots if lot.account == "brokerage"}
    assert held >= bought and not held & EXCLUDED and "AMD" not in held  # s1 relieved, nothing excluded held
    assert h.direct_index is not None and h.direct_index.fund == "IVV"  # the sleeve survives the store
    assert [s.symbol for s in h.loss_sales] == ["AMD"]  # AMD's loss keeps its 30-day window across runs


def test_the_engine_harvests_lot_by_lot_later_without_washing_across_share_classes(market, tmp_path) -> None:
    """Buy on 2022-01-03, harvest on 2022-06-16 (stocks fell), re-plan two weeks later: no harvested stock and no
    share-class sibling of one is bought within 30 days. AMD and BBY are made share classes of one issuer."""
    from brokers import rails_for
    from brokers.factory import simulated_for
    from engine.engine import Engine
    from engine.store import Store

    frame = embedded_stocks().universe.to_frame()
    frame.loc[frame.ticker.isin(["AMD", "BBY"]), "issuer"] = "Twin Classes Inc."
    frame.to_csv(tmp_path / "universe.csv", index=False)
    start = date(2022, 1, 3)
    h = load_household(DIRECT_YAML, universe=load_universe(), as_of=start)
    h = replace(h, lots=tuple(lot for lot in h.lots if lot.symbol != "AMD"),
                direct_index=replace(h.direct_index, universe=str(tmp_path / "universe.csv")))
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    store.upgrade()
    store.households.add(h)
    broker = simulated_for(h, market, start, universe=Planner(market).assets_for(h))

    def run(day: date, kind: RunKind):
        if broker.today < day:
            broker.advance_to(day)
        engine = Engine(market.as_of(day), store=store, brokers=broker, rails=rails_for())
        proposal = engine.plan("chen", day, run_kind=kind)
        assert not _stock_orders(proposal.orders, OrderSide.BUY) & EXCLUDED  # exclusions hold in every solve
        (sleeve,) = proposal.details["direct_index"]
        te_ok = sleeve["tracking_error"] <= h.direct_index.te_limit * (1 + 1e-3)
        assert te_ok or any("above the limit" in line for line in proposal.explanation)
        report = engine.execute(engine.approve(proposal))
        assert report.status.value == "executed" and not report.errors and not report.discrepancies
        held = store.households.get("chen").positions()
        assert {(p.account, p.symbol): p.shares for p in held if p.account == "brokerage"} == {
            ("brokerage", p.symbol): p.qty for p in broker.positions("brokerage")}  # ledger = broker
        return proposal

    first = run(start, RunKind.FULL_REBALANCE)
    assert len(_stock_orders(first.orders, OrderSide.BUY)) >= 10
    harvest_day = date(2022, 6, 16)
    harvest = run(harvest_day, RunKind.TAX_LOSS_HARVEST)
    harvested = _stock_orders(harvest.orders, OrderSide.SELL)
    assert harvested, "a falling market leaves loss lots to harvest"
    assert all(o.lots for o in harvest.orders if o.side is OrderSide.SELL)  # lot by lot
    realized = harvest.tax_preview.realizations
    assert all(r.proceeds < r.basis for r in realized if r.symbol in harvested)  # losses, not gains
    siblings = {"AMD", "BBY"}
    blocked = harvested | (siblings if harvested & siblings else set())
    assert not _stock_orders(harvest.orders, OrderSide.BUY) & blocked  # no washing replacement the same day
    later = run(harvest_day + timedelta(days=14), RunKind.FULL_REBALANCE)
    assert not _stock_orders(later.orders, OrderSide.BUY) & blocked  # nor within 30 days, share classes included
    assert harvested & siblings, "the test universe's share classes must be exercised"
    assert harvested <= {s.symbol for s in store.households.get("chen").loss_sales}  # windows kept across runs
