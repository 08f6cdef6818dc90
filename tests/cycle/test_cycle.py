"""The one cycle through the Python API: held-away accounts advised, holdings saved, no repeated orders, recorded
life events applied by the next plan, the planning day never before the last booked fill, sync and adoption."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from engine.errors import ConfigError, Conflict
from engine.model import Fill, LifeEvent, LifeEventKind, OrderSide, ProposalStatus
from tests.cycle.conftest import PLAN_DAY


def _sim(household, market, universe):
    from brokers import simulated_for

    return simulated_for(household, market, PLAN_DAY, universe)


def test_broker_accounts_trade_held_away_accounts_get_advice_and_holdings_are_saved(cycle, store, market, universe,
                                                                                   household):
    proposal = cycle.plan(household.id, PLAN_DAY, proposal_id="p1")
    away = {a.id for a in household.accounts if a.broker_account == "away"}
    assert proposal.details["advice"] == [o.client_order_id for o in proposal.orders if o.account in away]
    cycle.approve(proposal.id, actor="alex")
    broker = _sim(household, market, universe)
    report = cycle.execute(proposal.id, brokers=broker)
    assert report.status is ProposalStatus.EXECUTED and report.ok, report.errors
    assert {o.account for o in report.submitted} == {"brokerage"}  # only the broker-held account was traded
    assert {o.account for o in report.advised} == away and report.advised
    assert all(p.qty >= 0 for acct in broker.accounts for p in broker.positions(acct))
    saved = store.households.get(household.id)
    held = {(p.symbol, p.qty) for p in broker.positions("brokerage")}
    mine: dict[str, Decimal] = {}
    for lot in saved.lots:
        if lot.account == "brokerage":
            mine[lot.symbol] = mine.get(lot.symbol, Decimal(0)) + lot.shares
    assert held == set(mine.items()), "the saved lots are what the broker holds"
    assert saved.account("brokerage").cash == broker.account("brokerage").cash
    # held-away accounts are unchanged until a person confirms the trades
    def key(x):
        return x.id

    assert sorted((x for x in saved.lots if x.account in away), key=key) == sorted(
        (x for x in household.lots if x.account in away), key=key)
    statuses = {r.order.client_order_id: r.status.value for r in store.orders.for_proposal(proposal.id)}
    assert {statuses[o.client_order_id] for o in report.advised} == {"advised"}
    # executing again is refused; the same orders are never placed twice
    with pytest.raises(Conflict):
        cycle.execute(proposal.id, brokers=broker)
    assert len(broker.orders(status="all")) == len(report.submitted)


def test_a_re_plan_after_execution_starts_from_the_saved_holdings(cycle, store, market, universe, household):
    first = cycle.plan(household.id, PLAN_DAY, proposal_id="p1")
    cycle.approve(first.id, actor="alex")
    broker = _sim(household, market, universe)
    cycle.execute(first.id, brokers=broker)
    # the planning day is never before the last fill already booked (the buys filled on 08-03)
    assert cycle.default_day(household.id, PLAN_DAY) == date(2026, 8, 3)
    again = cycle.plan(household.id, date(2026, 8, 3), proposal_id="p2")
    traded_before = sum(o.qty or 0 for o in first.orders if o.account == "brokerage")
    traded_again = sum(o.qty or 0 for o in again.orders if o.account == "brokerage")
    assert traded_again < traded_before / 5, "the next plan starts from the trades, not from yesterday's lots"


def test_confirming_advice_books_the_trades_in_the_held_away_account(cycle, store, market, universe, household):
    from datetime import UTC, datetime

    proposal = cycle.plan(household.id, PLAN_DAY, proposal_id="p1")
    cycle.approve(proposal.id, actor="alex")
    cycle.execute(proposal.id, brokers=_sim(household, market, universe))
    prices = cycle.planner.day(PLAN_DAY).prices
    advice = [o for o in proposal.orders if o.account == "alex_401k"]  # sells first, as a person places them
    assert advice and any(o.side is OrderSide.BUY for o in advice)
    fills = [Fill(o.client_order_id, o.account, o.symbol, o.side, o.qty, prices[o.symbol],
                  datetime(2026, 7, 31, 15, tzinfo=UTC), id=f"hand-{i}") for i, o in enumerate(advice)]
    before = store.households.get(household.id)
    after = cycle.confirm_advice(proposal.id, fills, actor="alex")
    flow = sum((f.qty * f.price * (1 if f.side is OrderSide.SELL else -1) for f in fills), Decimal(0))
    assert after.account("alex_401k").cash == before.account("alex_401k").cash + flow
    for o in advice:
        held = sum((x.shares for x in after.lots if (x.account, x.symbol) == ("alex_401k", o.symbol)), Decimal(0))
        was = sum((x.shares for x in before.lots if (x.account, x.symbol) == ("alex_401k", o.symbol)), Decimal(0))
        assert held == (was + o.qty if o.side is OrderSide.BUY else was - o.qty)
    assert {store.orders.get(o.client_order_id).status.value for o in advice} == {"filled"}
    with pytest.raises(Conflict, match="does not match"):
        cycle.confirm_advice(proposal.id, [replace(fills[0], id="hand-x", symbol="ZZZ")], actor="alex")


def test_a_recorded_life_event_is_applied_by_the_next_plan_as_robo_event_would(cycle, store, household):
    from engine.goals import apply_event

    event = LifeEvent(LifeEventKind.CHILD, date(2026, 7, 1), id="baby")
    store.households.record_event(household.id, event, actor="alex")
    assert not store.households.get(household.id).events[-1].applied  # recorded, its rule not yet run
    cycle.plan(household.id, PLAN_DAY, proposal_id="p1")
    stored = store.households.get(household.id)
    assert stored.events[-1].id == "baby" and stored.events[-1].applied
    values = cycle.planner.account_values(household, PLAN_DAY)
    expected = apply_event(household, event, PLAN_DAY, account_values=values,
                           **cycle.planner.goals_config(household.id)).household
    assert replace(stored, events=()) == replace(expected, events=())  # the same facts robo event computes
    assert stored.monthly_expenses != household.monthly_expenses or stored.goals != household.goals


def test_sync_reports_differences_and_adopt_takes_the_brokers_positions(cycle, store, market, universe, household):
    from brokers import SimulatedBroker

    # a fresh account at the broker: cash only, none of the stored lots
    fresh = SimulatedBroker(market.prices, accounts={"brokerage": Decimal(50_000)}, start=PLAN_DAY,
                            positions={"brokerage": {"VTI": Decimal(10)}}, assets=universe)
    report = cycle.sync(household.id, brokers={"brokerage": fresh})
    assert {d.symbol for d in report.discrepancies} >= {"VEA", "BND"} and not report.adopted
    proposal = cycle.plan(household.id, PLAN_DAY, proposal_id="p1")
    cycle.approve(proposal.id, actor="alex")
    blocked = cycle.execute(proposal.id, brokers={"brokerage": fresh})
    assert fresh.orders(status="all") == [] and any("disagree" in e for e in blocked.errors)  # nothing traded
    adopted = cycle.sync(household.id, brokers={"brokerage": fresh}, adopt=True)
    assert adopted.adopted == ("brokerage",) and not adopted.discrepancies
    saved = store.households.get(household.id)
    lots = [x for x in saved.lots if x.account == "brokerage"]
    assert [(x.symbol, x.shares, x.basis_source.value) for x in lots] == [("VTI", Decimal(10), "broker")]
    assert saved.account("brokerage").cash == Decimal(50_000)
    assert any(e.action == "household.adopt_broker" for e in store.audit.list(household=household.id))


def test_a_cycle_without_rails_refuses_to_trade(market, universe, household):
    from engine.cycle import Cycle
    from engine.planner import Planner

    bare = Cycle(Planner(market, universe))
    proposal = replace(bare.plan(household, PLAN_DAY, proposal_id="p"), needs_approval=False)
    with pytest.raises(ConfigError, match="safety rails"):
        bare.execute(proposal, brokers=_sim(household, market, universe), household=household)


def test_every_realization_is_kept_in_the_store_for_form_8949(cycle, store, market, universe, household):
    """The store keeps each realization the cycle booked, so a year's Form 8949 comes from the store across runs."""
    proposal = cycle.plan(household.id, PLAN_DAY, proposal_id="p1")
    cycle.approve(proposal.id, actor="alex")
    report = cycle.execute(proposal.id, brokers=_sim(household, market, universe))
    sold = {(f.symbol, f.qty) for f in report.fills if f.side is OrderSide.SELL and f.account == "brokerage"}
    assert sold
    kept = store.realizations.for_year(household.id, 2026)
    assert {r.symbol for r in kept} >= {s for s, _ in sold}
    rows = store.realizations.form_8949(household.id, 2026)
    assert rows and len(rows) >= len(sold)
    again = cycle.sync(household.id, brokers=_sim(household, market, universe))  # a later run adds none twice
    assert len(store.realizations.for_year(household.id, 2026)) == len(kept) and again is not None
