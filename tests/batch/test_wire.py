"""What crosses between a batch's processes pickles through the fast reducers and comes back the same."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import date

import pytest

from engine.batch import Executor, run_batch, synthetic
from engine.batch.wire import fast_pickling
from engine.model import Household, Proposal

AS_OF = date(2026, 7, 31)


def test_outcomes_and_households_round_trip_field_for_field():
    households = synthetic(3, seed=5, as_of=AS_OF)
    result = run_batch(households, AS_OF, executor=Executor.INLINE)
    registered = fast_pickling()
    assert registered >= 50  # the model, tax, optimizer-result and batch types at least
    for thing in (households, result.outcomes, result.mandates):
        data = pickle.dumps(thing, protocol=pickle.HIGHEST_PROTOCOL)
        assert b"_restore" in data  # through the fast reducer, not dataclasses' __getstate__
        assert pickle.loads(data) == thing
    proposal = result.outcomes[0].proposal
    assert isinstance(proposal, Proposal) and proposal.orders
    back = pickle.loads(pickle.dumps(proposal))
    assert back == proposal and back.orders[0].qty == proposal.orders[0].qty
    assert type(back.orders[0].qty) is type(proposal.orders[0].qty)
    assert fast_pickling() == registered  # idempotent


def test_a_restored_object_is_still_frozen():
    fast_pickling()
    household = synthetic(1, seed=2, as_of=AS_OF)[0]
    back = pickle.loads(pickle.dumps(household))
    assert isinstance(back, Household) and back == household
    with pytest.raises(dataclasses.FrozenInstanceError):
        back.id = "other"  # type: ignore[misc]


def test_a_different_version_on_the_other_side_is_named_not_a_zip_error():
    from datetime import date
    from decimal import Decimal

    from engine.batch.wire import _restore
    from engine.model import Lot

    old_state = ("b1", "brokerage", "VTI", Decimal(1), Decimal(100), date(2024, 1, 2), date(2024, 1, 2))  # 7 fields
    with pytest.raises(TypeError, match="different versions of adaptive-robo"):
        _restore(Lot, old_state)
