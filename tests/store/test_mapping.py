"""Row mappers generated from dataclass fields (engine/store/mapping.py): a new field is stored without touching
the mapper, and a field with no column is refused by name instead of dropped (the ``Lot.replaceable`` bug)."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pytest
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import engine.store.households as repos
from engine.model import BasisSource, Lot
from engine.store.mapping import Converter, DocumentMapper, Nested, RowMapper


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass(frozen=True)
class Widget:
    id: str
    owner: str
    colour: Colour
    weight: Decimal
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "colour", Colour(self.colour))
        object.__setattr__(self, "tags", tuple(self.tags))


class _Base(DeclarativeBase):
    pass


class WidgetRow(_Base):
    __tablename__ = "widgets"
    parent_id: Mapped[str] = mapped_column(primary_key=True)
    id: Mapped[str] = mapped_column(primary_key=True)
    owner_id: Mapped[str]
    colour: Mapped[str]
    weight: Mapped[Decimal]
    tags: Mapped[str]


def test_values_follow_the_fields_with_renames_and_keys_and_read_back() -> None:
    mapper = RowMapper(Widget, WidgetRow, renames={"owner": "owner_id"}, keys=("parent_id",))
    w = Widget("w1", "ana", Colour.BLUE, Decimal("1.500"), ("a", "b"))
    values = mapper.values(w, parent_id="p1")
    assert values == {"parent_id": "p1", "id": "w1", "owner_id": "ana", "colour": "blue",
                      "weight": Decimal("1.500"), "tags": ["a", "b"]}
    assert mapper.to_domain(WidgetRow(**values)) == w


def test_a_field_without_a_column_is_refused_by_name() -> None:
    Longer = dataclasses.make_dataclass("Longer", [("size", int, dataclasses.field(default=0))], bases=(Widget,),
                                        frozen=True)
    with pytest.raises(TypeError, match=r"Longer\.size has no column widgets\.size"):
        RowMapper(Longer, WidgetRow, renames={"owner": "owner_id"}, keys=("parent_id",))


def test_a_column_no_field_or_key_fills_is_refused() -> None:
    with pytest.raises(TypeError, match=r"\['parent_id'\] are neither Widget fields nor keys"):
        RowMapper(Widget, WidgetRow, renames={"owner": "owner_id"})
    with pytest.raises(TypeError, match="renames name no field"):
        RowMapper(Widget, WidgetRow, renames={"owner": "owner_id", "nope": "x"}, keys=("parent_id",))
    mapper = RowMapper(Widget, WidgetRow, renames={"owner": "owner_id"}, keys=("parent_id",))
    with pytest.raises(TypeError, match="need keys"):
        mapper.values(Widget("w1", "ana", Colour.RED, Decimal(1)))


def test_the_lot_mapper_covers_every_lot_field() -> None:
    """Every field of Lot has a column (the mapper is built from them), so none can be dropped by hand."""
    assert [name for name, _ in repos.LOTS.pairs] == [f.name for f in dataclasses.fields(Lot)]
    lot = Lot("b1", "brk", "VTI", Decimal("2.5"), Decimal("250"), date(2026, 1, 5), date(2026, 1, 6),
              replaceable=False, basis_source=BasisSource.BROKER)
    values = repos.LOTS.values(lot, household_id="h1", position=3)
    assert values["account_id"] == "brk" and values["basis_source"] == "broker" and values["replaceable"] is False
    assert repos.LOTS.to_domain(repos.LotRow(**values)) == lot


# ---------------------------------------------------------------------------------------------
# What the mapper says explicitly: nested, children, document fields, converters, generated columns
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Size:
    width: Decimal
    unit: Colour = Colour.RED


@dataclasses.dataclass(frozen=True)
class Part:
    name: str
    weight: Decimal | None = None


@dataclasses.dataclass(frozen=True)
class Box:
    id: str
    size: Size
    parts: tuple[Part, ...] = ()
    label: tuple[Part, ...] = ()
    note: str | None = None


class BoxRow(_Base):
    __tablename__ = "boxes"
    seq: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[str]
    size_width: Mapped[Decimal]
    size_unit: Mapped[str]
    note: Mapped[str | None]


def _boxes(**extra: Any) -> RowMapper[Box]:
    return RowMapper(Box, BoxRow, nested={"size": Nested(renames={"width": "size_width", "unit": "size_unit"})},
                     children=("parts",), document=("label",), generated=("seq",), **extra)


def test_nested_children_and_document_fields_round_trip() -> None:
    boxes = _boxes()
    box = Box("b1", Size(Decimal("2.50"), Colour.BLUE), parts=(Part("lid"),), label=(Part("tag", Decimal("0.1")),))
    values = boxes.values(box)
    assert values == {"id": "b1", "size_width": Decimal("2.50"), "size_unit": "blue", "note": None}
    assert boxes.document(box) == {"label": [{"name": "tag", "weight": "0.1"}]}  # Decimal as exact text
    assert boxes.document(dataclasses.replace(box, label=())) == {}  # defaults are left out
    back = boxes.to_domain(BoxRow(seq=7, **values), {"parts": box.parts}, boxes.document(box))
    assert back == box and isinstance(back.size.unit, Colour)
    with pytest.raises(TypeError, match=r"needs its children \('parts',\)"):
        boxes.to_domain(BoxRow(seq=7, **values))


def test_a_dataclass_field_without_a_word_on_how_it_is_stored_is_refused() -> None:
    with pytest.raises(TypeError, match=r"Box\.size: a Size field needs a word on how it is stored"):
        RowMapper(Box, BoxRow, children=("parts",), document=("label",), generated=("seq",))
    with pytest.raises(TypeError, match=r"Box\.parts: .*needs a word"):
        RowMapper(Box, BoxRow, nested={"size": Nested(renames={"width": "size_width", "unit": "size_unit"})},
                  document=("label",), generated=("seq",))


def test_a_converter_says_how_a_field_is_stored() -> None:
    shout = Converter(str.upper, str.lower)
    boxes = _boxes(converters={"note": shout})
    box = Box("b1", Size(Decimal(1)), note="hello")
    assert boxes.values(box)["note"] == "HELLO"
    assert boxes.to_domain(BoxRow(seq=1, **boxes.values(box)), {"parts": ()}).note == "hello"


def test_documents_ignore_keys_they_do_not_know_and_default_missing_ones() -> None:
    sizes = DocumentMapper(Size)
    assert sizes.to_doc(Size(Decimal("3"), Colour.BLUE)) == {"width": "3", "unit": "blue"}
    assert sizes.from_doc({"width": "3", "planning": {"x": 1}}) == Size(Decimal(3))
