"""Partial liquidation raises the amount with the least tax, in the tax-aware account order."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from engine.model import AccountType, Lot
from engine.rebalancer.liquidation import plan_liquidation

TYPES = {"t": AccountType.TAXABLE, "ira": AccountType.TRADITIONAL, "roth": AccountType.ROTH}
ON = date(2026, 6, 1)
PRICES = {"VTI": D(300), "BND": D(70), "VEA": D(50)}


def lots():
    return [
        Lot("gain_st", "t", "VTI", D(10), D(2000), date(2026, 1, 5)),  # +1,000 short-term
        Lot("gain_lt", "t", "VTI", D(10), D(2000), date(2020, 1, 5)),  # +1,000 long-term
        Lot("loss", "t", "VEA", D(40), D(2400), date(2025, 12, 1)),  # −400 short-term loss
        Lot("ira", "ira", "BND", D(100), D(7000), date(2019, 1, 1)),
        Lot("roth", "roth", "VTI", D(50), D(5000), date(2018, 1, 1)),
    ]


def test_losses_first_then_long_term_gains_then_short_term():
    picks, short = plan_liquidation(D(6000), lots(), PRICES, TYPES, on=ON, st_rate=0.35, lt_rate=0.15)
    assert short == 0
    assert [p.lot_id for p in picks] == ["loss", "gain_lt", "gain_st"]
    assert picks[0].tax < 0 and "loss" in picks[0].reason
    assert sum(p.proceeds for p in picks) >= D(6000)
    assert picks[-1].shares < D(10)  # only what is needed of the last lot


def test_tax_deferred_before_roth_and_shortfall():
    picks, short = plan_liquidation(D(30000), lots(), PRICES, TYPES, on=ON, st_rate=0.35, lt_rate=0.15)
    order = [p.account for p in picks]
    assert order.index("ira") < order.index("roth")
    assert short == D(0)
    _, short = plan_liquidation(D(10**6), lots(), PRICES, TYPES, on=ON, st_rate=0.35, lt_rate=0.15)
    assert short > D(900000)


def test_cash_is_used_first_and_whole_shares_when_not_fractionable():
    picks, _ = plan_liquidation(D(500), lots(), PRICES, TYPES, on=ON, st_rate=0.3, lt_rate=0.15, cash={"t": D(600)})
    assert picks == []
    picks, _ = plan_liquidation(D(520), lots(), PRICES, TYPES, on=ON, st_rate=0.3, lt_rate=0.15,
                                fractionable={"VEA": False})
    assert picks[0].shares == D(11)  # 10.4 shares rounded up to whole shares
