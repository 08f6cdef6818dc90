"""Engine.check's speed paths give the very same answers: goals config read once, harvest pre-check exact."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from engine.model import Lot


@pytest.mark.parametrize("day", [date(2022, 6, 16), date(2022, 10, 12), date(2024, 3, 1)])
def test_harvest_pre_check_never_hides_a_candidate(engine, household, day):
    from engine.tax import TaxLossHarvester

    # Lots bought at the 2021/2022 highs: deep losses in 2022, gains by 2024; plus one at cost.
    extra = (
        Lot("x-vti", "brokerage", "VTI", Decimal(50), Decimal(12000), date(2021, 12, 28)),
        Lot("x-bnd", "brokerage", "BND", Decimal(40), Decimal(3500), date(2021, 8, 2)),
    )
    ledger = engine.ledger(household)
    for lot in extra:
        ledger.add_lot(lot)
    ctx = engine.day(day)
    lots = ledger.open_lots()
    fast = engine.planner._harvest_candidates(household, ledger, ctx, lots)
    full = len(TaxLossHarvester(engine.universe, household.tax).scan(ledger, ctx.prices, day))
    assert fast == full
    assert day.year == 2024 or full > 0  # the 2022 days do have candidates: the check is not vacuous
    if not engine.planner._may_harvest(engine.planner._harvesters[household.tax], ledger, ctx, lots):
        assert full == 0


def test_goals_config_is_read_once_per_engine(engine, household):
    first = engine.planner.goals_config(household.id)
    again = engine.planner.goals_config(household.id)
    assert all(first[k] is again[k] for k in first)
    assert set(first) == {"capital_market", "rules", "glide"}
