"""Issue 19: the daily harvest scan is its own run kind and the full-rebalance cooldown never holds it back."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from engine.model import RunKind
from engine.rebalancer import PortfolioState, default_policy

TARGET = {"us_equity": 0.5, "intl_equity": 0.2, "us_bonds": 0.3}
DRIFTED = {"us_equity": 0.56, "intl_equity": 0.17, "us_bonds": 0.27}  # 6 % drift: a full rebalance


def state(**kw) -> PortfolioState:
    base = dict(as_of=date(2026, 3, 17), actual=TARGET, target=TARGET, previous_day=date(2026, 3, 16))
    base.update(kw)
    return PortfolioState(**base)


def test_harvest_fires_inside_the_full_rebalance_cooldown():
    p = default_policy(cooldown_days=30)
    d = p(state(actual=DRIFTED, last_rebalance=date(2026, 3, 10), harvest_candidates=2))
    assert d is not None and d.run_kind is RunKind.TAX_LOSS_HARVEST and d.sources == ("harvest",)
    assert p(state(actual=DRIFTED, last_rebalance=date(2026, 3, 10))) is None  # the drift alone waits


def test_a_full_rebalance_due_the_same_day_wins_and_names_the_harvest():
    d = default_policy()(state(actual=DRIFTED, harvest_candidates=1))
    assert d.run_kind is RunKind.FULL_REBALANCE and "harvest" in d.sources and "drift" in d.sources


def test_withdrawal_wins_and_a_deposit_waits_behind_a_harvest():
    p = default_policy()
    w = p(state(pending_cash=Decimal(-5000), harvest_candidates=1))
    assert w.run_kind is RunKind.PARTIAL_LIQUIDATION and w.amount == Decimal(5000)
    assert p(state(pending_cash=Decimal(5000), harvest_candidates=1)).run_kind is RunKind.TAX_LOSS_HARVEST
    assert p(state(pending_cash=Decimal(5000))).run_kind is RunKind.INVEST_CASH


def test_no_harvest_scan_when_harvesting_is_off():
    assert default_policy(harvest=False)(state(harvest_candidates=3)) is None


def test_at_most_one_run_a_day():
    assert default_policy()(state(harvest_candidates=1, last_automatic_run=date(2026, 3, 17))) is None
