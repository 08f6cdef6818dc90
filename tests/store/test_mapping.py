"""Row mappers generated from dataclass fields (engine/store/mapping.py): a new field is stored without touching
the mapper, and a field with no column is refused by name instead of dropped (the ``Lot.replaceable`` bug)."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from enum import StrEnum

import pytest
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import engine.store.households as repos
from engine.model import BasisSource, Lot
from engine.store.mapping import RowMapper


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
    values = repos._lot_values("h1", 3, lot)
    assert values["account_id"] == "brk" and values["basis_source"] == "broker" and values["replaceable"] is False
    assert repos.LOTS.to_domain(repos.LotRow(**values)) == lot
