"""What crosses between a batch's processes is a record of plain values that comes back the same, field for field."""

from __future__ import annotations

import copyreg
import dataclasses
import io
import pickle
import warnings
from datetime import date
from decimal import Decimal
from enum import Enum

import pytest

from engine.batch import BatchOptions, Executor, run_batch, synthetic, wire
from engine.batch.wire import FORMAT, pack, unpack
from engine.errors import ConfigError
from engine.model import Household, Lot, Proposal
from engine.tax.ledger import Realization, Term
from engine.tax.preview import TaxImpactPreview

AS_OF = date(2026, 7, 31)
INLINE = BatchOptions(executor=Executor.INLINE)


def _globals(data: bytes) -> set[tuple[str, str]]:
    """Every (module, name) a pickle refers to by reference (what its loading imports)."""
    found: set[tuple[str, str]] = set()

    class Recording(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> object:
            found.add((module, name))
            return super().find_class(module, name)

    Recording(io.BytesIO(data)).load()
    return found


def _is_enum(module: str, name: str) -> bool:
    import importlib

    obj = getattr(importlib.import_module(module), name)
    return isinstance(obj, type) and issubclass(obj, Enum)


def test_outcomes_and_households_round_trip_field_for_field():
    households = synthetic(3, seed=5, as_of=AS_OF)
    result = run_batch(households, AS_OF, INLINE)
    for thing in (households, result.outcomes, result.mandates, (households, result.mandates)):
        data = pack(thing)
        assert unpack(data) == thing
        # plain values only: the standard library's types and our enums (by name), never our classes or functions
        for module, name in _globals(data):
            assert module in ("decimal", "datetime", "builtins") or _is_enum(module, name), (module, name)
    proposal = result.outcomes[0].proposal
    assert isinstance(proposal, Proposal) and proposal.orders
    back = unpack(pack(proposal))
    assert back == proposal and back.orders[0].qty == proposal.orders[0].qty
    assert type(back.orders[0].qty) is type(proposal.orders[0].qty)
    assert back.tax_preview == proposal.tax_preview


def test_the_wire_registers_nothing_and_pickles_our_values_as_usual():
    """No copyreg entry for any class, in this process, after a batch on a process pool (workers pack too)."""
    before = dict(copyreg.dispatch_table)
    households = synthetic(4, seed=9, as_of=AS_OF)
    pooled = run_batch(households, AS_OF, BatchOptions(executor=Executor.PROCESSES, workers=2, chunk_size=2))
    assert dict(copyreg.dispatch_table) == before
    assert all(o.ok and o.proposal is not None and o.proposal.orders for o in pooled.outcomes)
    household = households[0]
    assert pickle.loads(pickle.dumps(household)) == household  # the standard pickling of the values still works


def test_a_restored_object_is_still_frozen():
    household = synthetic(1, seed=2, as_of=AS_OF)[0]
    back = unpack(pack(household))
    assert isinstance(back, Household) and back == household
    with pytest.raises(dataclasses.FrozenInstanceError):
        back.id = "other"  # type: ignore[misc]


def test_a_different_version_on_the_other_side_is_named_not_a_zip_error():
    lot = synthetic(1, seed=2, as_of=AS_OF)[0].lots[0]
    _, table, body = pickle.loads(pack(lot))
    ((module, qualname, names, deep),) = table
    older = pickle.dumps((FORMAT, ((module, qualname, names[:-1], deep),), (body[0], body[1], *body[2:-1])))
    with pytest.raises(TypeError, match="different versions of adaptive-robo"):
        unpack(older)
    with pytest.raises(TypeError, match="different versions of adaptive-robo"):
        unpack(pickle.dumps((FORMAT + 1, table, body)))
    with pytest.raises(TypeError, match="different versions of adaptive-robo"):
        unpack(pickle.dumps((FORMAT, (("engine.model", "NoSuchThing", names, deep),), body)))
    with pytest.raises(TypeError, match="different versions of adaptive-robo"):  # looks into other fields
        unpack(pickle.dumps((FORMAT, ((module, qualname, names, (0,)),), body)))
    with pytest.raises(TypeError, match="not one of adaptive-robo's values"):
        unpack(pickle.dumps((FORMAT, (("os", "system", (), ()),), body)))
    assert isinstance(unpack(pickle.dumps((FORMAT, table, body))), Lot)


def _realization(i: int, shares: str, lost: str = "0") -> Realization:
    return Realization(
        id=f"r{i}", account="taxable", symbol="VTI", shares=Decimal(shares), acquired=date(2024, 1, 2 + i % 20),
        sold=AS_OF, proceeds=Decimal("100.10"), basis=Decimal("90.00"), disallowed=Decimal("0"),
        term=Term.LONG if i % 2 else Term.SHORT, lot_id=f"l{i}", lost=Decimal(lost), replacements=(f"x{i}",) * (i % 3),
    )


def _preview() -> TaxImpactPreview:
    proposal = run_batch(synthetic(2, seed=3, as_of=AS_OF), AS_OF, INLINE).outcomes[0].proposal
    assert proposal is not None and isinstance(proposal.tax_preview, TaxImpactPreview)
    return proposal.tax_preview


def _tags(node: object) -> set[int]:
    """Every node tag in an encoded body (see the module docstring of engine.batch.wire)."""
    if type(node) is not tuple or not node:
        return set()
    return {node[0], *(t for child in node[1:] for t in _tags(child))}


def test_many_objects_of_one_class_travel_as_columns_and_come_back_exactly():
    proposal = run_batch(synthetic(2, seed=3, as_of=AS_OF), AS_OF, INLINE).outcomes[0].proposal
    assert proposal is not None and len(proposal.orders) >= 8 and len(proposal.tax_preview.realizations) >= 8
    assert wire._ROWS in _tags(wire._Packer().value(proposal))
    back = unpack(pack(proposal))
    assert back == proposal and back.tax_preview == proposal.tax_preview
    # Decimal text (trailing zeros, signed zero, exponents), dates, enum identity and nested tuples survive
    odd = ["1.50", "-0", "1E+2", "0.000000001", "123456789.123456789", "7", "2.0", "3.3300", "5", "6"]
    rows = tuple(_realization(i, s, lost=s.lstrip("-")) for i, s in enumerate(odd))
    preview = dataclasses.replace(proposal.tax_preview, realizations=rows)
    again = unpack(pack(preview)).realizations
    assert again == rows
    assert [str(r.shares) for r in again] == [str(r.shares) for r in rows]
    assert all(type(r.shares) is Decimal and type(r.lost) is Decimal for r in again)
    assert all(a.term is r.term and type(a.acquired) is date for a, r in zip(again, rows, strict=True))
    assert again[1].term is Term.LONG and again[2].replacements == ("x2", "x2")


def test_short_or_mixed_tuples_keep_the_object_form():
    preview = _preview()
    few = dataclasses.replace(preview, realizations=tuple(_realization(i, "1") for i in range(3)), wash_sales=())
    assert wire._ROWS not in _tags(wire._Packer().value(few))  # 3 stay objects
    assert unpack(pack(few)) == few
    household = synthetic(1, seed=3, as_of=AS_OF)[0]
    mixed = dataclasses.replace(few, realizations=(*[_realization(i, "1") for i in range(9)], household))
    back = unpack(pack(mixed))
    assert back == mixed and all(type(r) is Realization for r in back.realizations[:9])


def test_containers_round_trip_with_their_types():
    lot = synthetic(1, seed=2, as_of=AS_OF)[0].lots[0]
    value = {"a": [lot, (1, "x")], ("k", 2): frozenset({1, 2}), "s": {3}, "e": (), "n": None}
    back = unpack(pack(value))
    assert back == value
    assert type(back["a"]) is list and type(back["a"][1]) is tuple and type(back[("k", 2)]) is frozenset


def test_options_replace_the_eighteen_keywords_which_still_work_for_now():
    households = synthetic(2, seed=4, as_of=AS_OF)
    with pytest.warns(DeprecationWarning, match="BatchOptions"):
        old = run_batch(households, AS_OF, executor=Executor.INLINE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = run_batch(households, AS_OF, INLINE)
    assert [o.proposal.orders for o in old.outcomes] == [o.proposal.orders for o in new.outcomes]  # type: ignore[union-attr]
    with pytest.raises(TypeError, match="not both"):
        run_batch(households, AS_OF, INLINE, workers=2)
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        run_batch(households, AS_OF, executr=Executor.INLINE)
    for bad in ({"workers": 0}, {"chunk_size": -1}, {"execute_threads": 0}, {"mandate_max_age_days": -1},
                {"workers": 1.5}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            BatchOptions(**bad)  # type: ignore[arg-type]
    assert BatchOptions(executor="inline").executor is Executor.INLINE
