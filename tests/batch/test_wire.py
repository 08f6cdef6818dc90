"""What crosses between a batch's processes pickles through the fast reducers and comes back the same."""

from __future__ import annotations

import copyreg
import dataclasses
import pickle
from datetime import date
from decimal import Decimal

import pytest

from engine.batch import Executor, run_batch, synthetic
from engine.batch.wire import _restore, _restore_rows, fast_pickling
from engine.model import Household, Proposal
from engine.tax.ledger import Realization, Term
from engine.tax.preview import TaxImpactPreview

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
    from engine.model import Lot

    old_state = ("b1", "brokerage", "VTI", Decimal(1), Decimal(100), date(2024, 1, 2), date(2024, 1, 2))  # 7 fields
    with pytest.raises(TypeError, match="different versions of adaptive-robo"):
        _restore(Lot, old_state)


def _realization(i: int, shares: str, lost: str = "0") -> Realization:
    return Realization(
        id=f"r{i}", account="taxable", symbol="VTI", shares=Decimal(shares), acquired=date(2024, 1, 2 + i % 20),
        sold=AS_OF, proceeds=Decimal("100.10"), basis=Decimal("90.00"), disallowed=Decimal("0"),
        term=Term.LONG if i % 2 else Term.SHORT, lot_id=f"l{i}", lost=Decimal(lost), replacements=(f"x{i}",) * (i % 3),
    )


def _preview() -> TaxImpactPreview:
    fast_pickling()
    proposal = run_batch(synthetic(2, seed=3, as_of=AS_OF), AS_OF, executor=Executor.INLINE).outcomes[0].proposal
    assert proposal is not None and isinstance(proposal.tax_preview, TaxImpactPreview)
    return proposal.tax_preview


def test_many_objects_of_one_class_travel_as_columns_and_come_back_exactly():
    fast_pickling()
    proposal = run_batch(synthetic(2, seed=3, as_of=AS_OF), AS_OF, executor=Executor.INLINE).outcomes[0].proposal
    assert proposal is not None and len(proposal.orders) >= 8 and len(proposal.tax_preview.realizations) >= 8
    data = pickle.dumps(proposal, protocol=pickle.HIGHEST_PROTOCOL)
    assert b"_restore_rows" in data
    back = pickle.loads(data)
    assert back == proposal and back.tax_preview == proposal.tax_preview
    # Decimal text (trailing zeros, signed zero, exponents), dates, enum identity and nested tuples survive
    odd = ["1.50", "-0", "1E+2", "0.000000001", "123456789.123456789", "7", "2.0", "3.3300", "5", "6"]
    rows = tuple(_realization(i, s, lost=s.lstrip("-")) for i, s in enumerate(odd))
    preview = dataclasses.replace(proposal.tax_preview, realizations=rows)
    data = pickle.dumps(preview)
    assert b"_restore_rows" in data
    again = pickle.loads(data).realizations
    assert again == rows
    assert [str(r.shares) for r in again] == [str(r.shares) for r in rows]
    assert all(type(r.shares) is Decimal and type(r.lost) is Decimal for r in again)
    assert all(a.term is r.term and type(a.acquired) is date for a, r in zip(again, rows, strict=True))
    assert again[1].term is Term.LONG and again[2].replacements == ("x2", "x2")


def test_short_or_mixed_tuples_keep_the_plain_form():
    preview = _preview()
    few = dataclasses.replace(preview, realizations=tuple(_realization(i, "1") for i in range(3)), wash_sales=())
    reduce = copyreg.dispatch_table[TaxImpactPreview]
    assert reduce(few)[0] is _restore and reduce(preview)[0] is _restore_rows  # 3 stay objects; the real ones pack
    assert pickle.loads(pickle.dumps(few)) == few
    household = synthetic(1, seed=3, as_of=AS_OF)[0]
    mixed = dataclasses.replace(few, realizations=(*[_realization(i, "1") for i in range(9)], household))
    assert reduce(mixed)[0] is _restore
    back = pickle.loads(pickle.dumps(mixed))
    assert back == mixed and all(type(r) is Realization for r in back.realizations[:9])


def test_rows_from_a_different_version_are_named():
    from engine.batch.wire import _rows
    from engine.model import Lot

    with pytest.raises(TypeError, match="different versions of adaptive-robo"):
        _rows(Lot, 1, (("o", ("b1",)),) * 7)
