"""Every trigger, the combinators, cooldown and once-a-day rules."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from engine.model import LifeEvent, LifeEventKind, RunKind
from engine.rebalancer import (
    Frequency,
    PortfolioState,
    all_of,
    any_of,
    calendar,
    cash_flow,
    cooldown,
    default_policy,
    drift,
    drift_exceeds,
    harvest_opportunity,
    life_event,
    once_per_day,
)

TARGET = {"us_equity": 0.5, "intl_equity": 0.2, "us_bonds": 0.3}


def state(actual=None, **kw) -> PortfolioState:
    base = dict(as_of=date(2026, 3, 16), actual=actual or TARGET, target=TARGET, previous_day=date(2026, 3, 13))
    base.update(kw)
    return PortfolioState(**base)


def test_drift_is_half_the_absolute_deviation():
    assert drift({"a": 0.6, "b": 0.4}, {"a": 0.5, "b": 0.5}) == pytest.approx(0.10)
    assert drift({"a": 1.0}, {"b": 1.0}) == pytest.approx(1.0)  # a class missing on either side counts
    assert drift(TARGET, TARGET) == 0.0


def test_drift_band_absolute():
    t = drift_exceeds(0.03)
    assert t(state({"us_equity": 0.52, "intl_equity": 0.19, "us_bonds": 0.29})) is None  # 2 %
    d = t(state({"us_equity": 0.54, "intl_equity": 0.18, "us_bonds": 0.28}))  # 4 %
    assert d is not None and d.run_kind is RunKind.FULL_REBALANCE and "4.00%" in d.reason


def test_drift_band_relative_names_the_class():
    t = drift_exceeds(0.25, relative=True)
    d = t(state({"us_equity": 0.5, "intl_equity": 0.14, "us_bonds": 0.36}))  # intl 30 % under
    assert d is not None and "intl_equity" in d.reason
    assert t(state({"us_equity": 0.5, "intl_equity": 0.17, "us_bonds": 0.33})) is None


def test_calendar_fires_on_new_period_only():
    q = calendar(Frequency.QUARTERLY)
    assert q(state(as_of=date(2026, 4, 1), previous_day=date(2026, 3, 31))) is not None
    assert q(state(as_of=date(2026, 3, 31), previous_day=date(2026, 3, 30))) is None
    m = calendar(Frequency.MONTHLY)
    assert m(state(as_of=date(2026, 3, 2), previous_day=date(2026, 2, 27))) is not None
    a = calendar(Frequency.ANNUALLY)
    assert a(state(as_of=date(2026, 1, 2), previous_day=date(2025, 12, 31))) is not None
    assert a(state(as_of=date(2026, 7, 1), previous_day=date(2026, 6, 30))) is None


def test_cash_flows_choose_run_kind():
    t = cash_flow(Decimal(100))
    d = t(state(pending_cash=Decimal(5000)))
    assert d.run_kind is RunKind.INVEST_CASH
    w = t(state(pending_cash=Decimal(-2500)))
    assert w.run_kind is RunKind.PARTIAL_LIQUIDATION and w.amount == Decimal(2500)
    assert t(state(pending_cash=Decimal(50))) is None


def test_harvest_and_life_event():
    assert harvest_opportunity()(state(harvest_candidates=2)).sources == ("harvest",)
    assert harvest_opportunity()(state()) is None
    ev = LifeEvent(LifeEventKind.CHILD, date(2026, 3, 10))
    assert "child" in life_event()(state(new_events=(ev,))).reason


def test_any_of_strongest_run_kind_wins_and_keeps_amount():
    t = any_of(cash_flow(), drift_exceeds(0.03))
    d = t(state({"us_equity": 0.6, "intl_equity": 0.1, "us_bonds": 0.3}, pending_cash=Decimal(-1000)))
    assert d.run_kind is RunKind.FULL_REBALANCE and d.amount == Decimal(1000)
    assert d.sources == ("withdrawal", "drift")


def test_all_of_needs_every_part():
    t = all_of(calendar(Frequency.MONTHLY), drift_exceeds(0.01))
    new_month = dict(as_of=date(2026, 4, 1), previous_day=date(2026, 3, 31))
    assert t(state(**new_month)) is None
    assert t(state({"us_equity": 0.55, "intl_equity": 0.2, "us_bonds": 0.25}, **new_month)) is not None


def test_cooldown_blocks_full_runs_but_not_cash_or_exempt():
    t = cooldown(any_of(drift_exceeds(0.03), cash_flow(), life_event()), days=30)
    drifted = {"us_equity": 0.6, "intl_equity": 0.1, "us_bonds": 0.3}
    recent = date(2026, 3, 1)
    assert t(state(drifted, last_rebalance=recent)) is None
    assert t(state(drifted, last_rebalance=date(2026, 1, 1))) is not None
    assert t(state(pending_cash=Decimal(500), last_rebalance=recent)).run_kind is RunKind.INVEST_CASH
    ev = LifeEvent(LifeEventKind.JOB_LOSS, date(2026, 3, 15))
    assert t(state(drifted, last_rebalance=recent, new_events=(ev,))) is not None


def test_once_per_day():
    t = once_per_day(drift_exceeds(0.0))
    drifted = {"us_equity": 0.6, "intl_equity": 0.1, "us_bonds": 0.3}
    assert t(state(drifted, last_automatic_run=date(2026, 3, 16))) is None
    assert t(state(drifted, last_automatic_run=date(2026, 3, 13))) is not None


def test_default_policy_soft_band_invests_idle_cash_only():
    p = default_policy()
    soft = {"us_equity": 0.525, "intl_equity": 0.2, "us_bonds": 0.275}  # 2.5 % drift
    assert p(state(soft)) is None
    d = p(state(soft, idle_cash=Decimal(3000)))
    assert d.run_kind is RunKind.INVEST_CASH
    hard = {"us_equity": 0.55, "intl_equity": 0.2, "us_bonds": 0.25}
    assert p(state(hard)).run_kind is RunKind.FULL_REBALANCE
