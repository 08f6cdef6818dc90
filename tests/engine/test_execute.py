"""Engine.execute through the real SimulatedBroker: approval gate, sells-then-buys, ledger booking, reconciliation."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from engine.errors import Conflict
from engine.model import Order, OrderSide, ProposalStatus

PLAN_DAY = date(2026, 7, 30)  # two bars remain: sells fill on 07-31, buys on 08-03


def _broker(market, household, universe):
    from brokers.simulated import SimulatedBroker

    positions: dict[str, dict[str, Decimal]] = {}
    for lot in household.lots:
        book = positions.setdefault(lot.account, {})
        book[lot.symbol] = book.get(lot.symbol, Decimal(0)) + lot.shares
    return SimulatedBroker(market.prices, accounts={a.id: a.cash for a in household.accounts}, start=PLAN_DAY,
                           positions=positions, assets=universe)


@pytest.fixture()
def cycle(engine, market, household, universe):
    ledger = engine.ledger(household)
    proposal = engine.plan(household, PLAN_DAY, ledger=ledger, proposal_id="t-exec")
    return proposal, ledger, _broker(market, household, universe)


def test_unapproved_proposal_is_refused(engine, cycle, household):
    proposal, ledger, broker = cycle
    assert proposal.needs_approval
    with pytest.raises(Conflict, match="needs approval"):
        engine.execute(proposal, broker, ledger=ledger, household=household)
    assert broker.orders(status="all") == []


def test_full_cycle_books_fills_and_reconciles(engine, cycle, household):
    proposal, ledger, broker = cycle
    report = engine.execute(engine.approve(proposal), broker, ledger=ledger, household=household)
    assert report.status is ProposalStatus.EXECUTED and report.ok, report.errors
    assert {f.client_order_id for f in report.fills} == {o.client_order_id for o in report.submitted}
    sells = [f for f in report.fills if f.side is OrderSide.SELL]
    buys = [f for f in report.fills if f.side is OrderSide.BUY]
    assert sells and buys and max(f.at for f in sells) < min(f.at for f in buys)
    for acct in household.accounts:
        assert broker.account(acct.id).cash >= 0
    # Every sell in a taxable account left a realization in the ledger.
    taxable_sells = [f for f in sells if f.account == "brokerage"]
    assert len(ledger.realized(account="brokerage")) >= len(taxable_sells)
    # Placing the same orders again places nothing new: the client order ids are already at the broker.
    from engine.execution import submit_all

    submit_all(broker, [o for o in proposal.orders if o.side is OrderSide.SELL][:1])
    assert len(broker.orders(status="all")) == len(report.submitted)
    # And the proposal itself cannot run twice: executed is final in the one state machine.
    with pytest.raises(Conflict, match="executed"):
        engine.execute(report_proposal(proposal, report), broker, ledger=ledger, household=household)


def report_proposal(proposal, report):
    return replace(proposal, status=report.status)


def test_a_sell_beyond_the_broker_position_is_capped_never_a_short(engine, cycle, household):
    proposal, ledger, broker = cycle
    # The ledger thinks it holds a million VTI more than the broker does; the sell is capped at the broker's shares.
    held = sum(p.qty for p in broker.positions("brokerage") if p.symbol == "VTI")
    big = Order(f"{proposal.id}-999", "brokerage", "VTI", OrderSide.SELL, qty=Decimal(10**6))
    sells = tuple(o for o in proposal.orders if o.side is OrderSide.SELL and (o.account, o.symbol) != ("brokerage",
                                                                                                      "VTI"))
    broken = replace(proposal, orders=(big, *sells), needs_approval=False)
    report = engine.execute(broken, broker, ledger=ledger, household=household)
    sold = [o for o in report.submitted if o.client_order_id == big.client_order_id]
    assert sold and sold[0].qty == held  # capped at what the broker reports
    assert all(p.qty >= 0 for p in broker.positions("brokerage")), "no position ever goes short"


def test_kill_switch_stops_everything_and_places_nothing(engine, cycle, household, monkeypatch):
    proposal, ledger, broker = cycle
    monkeypatch.setenv("ROBO_TRADING_DISABLED", "1")
    report = engine.execute(replace(proposal, needs_approval=False), broker, ledger=ledger, household=household)
    assert report.status is ProposalStatus.FAILED
    assert report.errors and "kill switch" in report.errors[0]
    assert broker.orders(status="all") == []


def test_reconciliation_reports_a_difference(engine, cycle, household):
    from engine.cycle import reconcile_accounts

    _, ledger, broker = cycle
    ledger.buy("brokerage", "VTI", Decimal(3), Decimal(300), PLAN_DAY)  # a trade the broker never saw
    found = reconcile_accounts(broker, ledger, ["brokerage"])
    assert [(d.account, d.symbol, d.difference, d.kind.value) for d in found] == [
        ("brokerage", "VTI", Decimal(-3), "quantity")
    ]


def test_store_records_proposal_life_cycle_and_order_statuses(market, household, universe, tmp_path):
    from engine.engine import Engine
    from engine.store import OrderStatus, Store

    store = Store(f"sqlite:///{tmp_path / 'robo.db'}")
    store.upgrade()
    store.households.add(household)
    from brokers import MarketRule, SafetyPolicy, SafetyRails

    engine = Engine(market, universe, store=store, rails=SafetyRails(SafetyPolicy(
        max_order_fraction=1.0, max_data_age=None, market=MarketRule.QUEUE_FOR_OPEN)))
    ledger = engine.ledger(household)
    proposal = engine.plan(household, PLAN_DAY, ledger=ledger, proposal_id="t-store")
    assert "first automated run for this household" in proposal.approval_reasons
    engine.approve(proposal.id, actor="advisor@platform")
    report = engine.execute(store.proposals.get(proposal.id), _broker(market, household, universe), ledger=ledger,
                            household=household)
    assert store.proposals.get(proposal.id).status is report.status is ProposalStatus.EXECUTED
    history = [t.to_status for t in store.proposals.history(proposal.id)]
    assert [str(s) for s in history][-3:] == ["approved", "executing", "executed"]
    statuses = {r.status for r in store.orders.for_proposal(proposal.id)}
    assert statuses == {OrderStatus.FILLED}
    assert len(store.fills.for_household(household.id)) == len(report.fills)
