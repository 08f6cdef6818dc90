"""The wash-sale rule across nightly runs: a loss sold tonight blocks the fund in tomorrow's plan from the store.

Every store-backed path rebuilds the ledger from the stored household, so the loss sales whose 30-day window is
still open must be stored with it (``Household.loss_sales``) and loaded back (``LotLedger.from_household``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from engine.model import Lot, Order, OrderSide, Proposal, ProposalStatus, RunKind

SELL_DAY = date(2026, 7, 30)  # planned Thursday: the sell fills at Friday's (07-31) close
NEXT_DAY = date(2026, 7, 31)  # the next night's plan
GROUP = frozenset({"SUSA", "DSI"})  # declared substantially identical for this test


@pytest.fixture(scope="module")
def strict_universe(universe):
    return replace(universe, identical=(GROUP,))


@pytest.fixture(scope="module")
def loss_household(household):
    # A SUSA lot bought last September far above today's price: selling it realizes a short-term loss.
    lot = Lot("b7", "brokerage", "SUSA", Decimal(200), Decimal("40000.00"), date(2025, 9, 2))
    return replace(household, lots=(*household.lots, lot))


def _broker(market, household, universe, start):
    from brokers.simulated import SimulatedBroker

    positions: dict[str, dict[str, Decimal]] = {}
    for lot in household.lots:
        book = positions.setdefault(lot.account, {})
        book[lot.symbol] = book.get(lot.symbol, Decimal(0)) + lot.shares
    return SimulatedBroker(market.prices, accounts={a.id: a.cash for a in household.accounts}, start=start,
                           positions=positions, assets=universe)


def _sell_at_a_loss(engine, store, market, universe, household_id):
    """Tonight's run: sell lot b7 at a loss through the engine and a simulated broker, store the holdings."""
    from engine.cycle import Routes

    stored = store.households.get(household_id)
    ledger = engine.ledger(stored)
    broker = _broker(market, stored, universe, SELL_DAY)
    sell = Order("t-loss-000", "brokerage", "SUSA", OrderSide.SELL, qty=Decimal(200), lots=("b7",))
    proposal = Proposal("t-loss", household_id, SELL_DAY, datetime.now(UTC), "harvest", RunKind.FULL_REBALANCE,
                        {}, (sell,))
    report = engine.execute(proposal, broker, ledger=ledger, household=stored)
    assert report.status is ProposalStatus.EXECUTED, report.errors
    (loss,) = ledger.realized(account="brokerage")
    assert loss.gain < 0 and loss.sold == date(2026, 7, 31)
    after = engine.cycle.save_holdings(stored, ledger, Routes(stored, broker), on=SELL_DAY)  # no store: returned
    store.households.update(after, actor="test")
    return loss


def test_tomorrows_plan_from_the_store_does_not_buy_back_what_was_sold_at_a_loss(
    market, strict_universe, loss_household, tmp_path, rails
):
    from engine.engine import Engine
    from engine.store import Store

    engine = Engine(market, strict_universe, rails=rails)
    with Store(f"sqlite:///{tmp_path / 'robo.db'}") as store:
        store.upgrade()
        store.households.add(loss_household)
        loss = _sell_at_a_loss(engine, store, market, strict_universe, loss_household.id)
        tomorrow = store.households.get(loss_household.id)
    # the loss sale is kept with the household, as much of it as no replacement has absorbed
    assert [(s.symbol, s.account, s.sold, s.shares, s.loss) for s in tomorrow.loss_sales] == [
        ("SUSA", "brokerage", loss.sold, Decimal(200), -loss.gain)
    ]
    proposal = engine.plan(tomorrow, NEXT_DAY, proposal_id="t-next")
    bought = {o.symbol for o in proposal.orders if o.side is OrderSide.BUY}
    assert proposal.orders and not bought & GROUP, f"a wash sale: {sorted(bought & GROUP)} bought back"
    why = [line for line in proposal.explanation if "wash-sale" in line and "SUSA" in line]
    assert why and "DSI" in why[0] and str(loss.sold) in why[0], proposal.explanation
    assert proposal.tax_preview.disallowed == 0 and not proposal.tax_preview.wash_sales


def test_without_the_stored_loss_sales_the_same_plan_would_wash_the_loss(
    market, strict_universe, loss_household, tmp_path, rails
):
    """The control: the same household without its loss sales buys SUSA back (what the stored sales prevent)."""
    from engine.engine import Engine
    from engine.store import Store

    engine = Engine(market, strict_universe, rails=rails)
    with Store(f"sqlite:///{tmp_path / 'robo.db'}") as store:
        store.upgrade()
        store.households.add(loss_household)
        _sell_at_a_loss(engine, store, market, strict_universe, loss_household.id)
        forgetful = replace(store.households.get(loss_household.id), loss_sales=())
    proposal = engine.plan(forgetful, NEXT_DAY, proposal_id="t-forgetful")
    assert {o.symbol for o in proposal.orders if o.side is OrderSide.BUY} & GROUP


def test_a_class_whose_every_fund_is_in_a_wash_sale_window_waits_instead_of_making_the_plan_infeasible(
    market, universe, household
):
    """Loss sales of every international fund last week: nothing of the class may be bought for 30 days.

    Its band floor (above what is held) could not be met; the floor waits at what is held, the plan goes on
    without buying the class, and the explanation says until when.
    """
    from engine.engine import Engine
    from engine.model import AssetClass, LossSale

    intl = [t for t, a in universe.assets.items() if a.asset_class is AssetClass.INTL_EQUITY]
    sold = date(2026, 7, 28)
    sales = tuple(
        LossSale(f"ls-{t}", "brokerage", t, sold, date(2025, 1, 2), Decimal(10), Decimal(100)) for t in intl
    )
    without_intl = tuple(lot for lot in household.lots if lot.symbol not in intl)
    blocked = replace(household, lots=without_intl, loss_sales=sales)
    proposal = Engine(market, universe).plan(blocked, NEXT_DAY, proposal_id="t-intl-blocked")
    bought = {o.symbol for o in proposal.orders if o.side is OrderSide.BUY}
    assert bought and not bought & set(intl)
    (note,) = [line for line in proposal.explanation if "No intl_equity fund may be bought" in line]
    assert "before 2026-08-28" in note and "what is held (0.0%" in note
