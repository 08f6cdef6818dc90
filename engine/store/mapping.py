"""The one schema: how a stored dataclass's fields become a table's columns (or a JSON document's keys) and back.

    LOTS = RowMapper(Lot, LotRow, renames={"account": "account_id"}, keys=("household_id", "position"))
    LOTS.values(lot, household_id="h1", position=0)   # {"household_id": "h1", ..., "account_id": "brk", ...}
    LOTS.to_domain(row)                               # Lot(id=..., account=row.account_id, ...)

A mapper is generated from the dataclass's fields and their type hints; only what differs is said explicitly:
``renames`` (field → column), ``converters`` (a field whose column holds another shape), ``nested`` (a dataclass
field whose own fields are columns of the same row), ``children`` (fields the aggregate keeps in other tables)
and ``document`` (fields kept in a JSON document the aggregate places elsewhere). By type, with no word needed:
an enum is stored as its value and read back as the member, a tuple or frozenset as a JSON list, a mapping as a
dict; Decimal, date, datetime, str, int, float and bool go to their column as they are (``Money`` keeps Decimal
exact). Every field must land somewhere: a field with no column, or a dataclass field with no word on how it is
stored, makes the mapper refuse to be built — at import, naming the field — instead of dropping the value on the
way (the way ``Lot.replaceable`` was once dropped by a hand mapping, which became a wash-sale bug).
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from enum import Enum
from operator import attrgetter
from typing import Any, Generic, NamedTuple, TypeVar, Union, cast, get_args, get_origin, get_type_hints

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import DeclarativeBase

__all__ = ["Converter", "DocumentMapper", "Nested", "RowMapper"]

T = TypeVar("T")


class Converter(NamedTuple):
    """How one field's value becomes what its column (or document key) holds, and back."""

    to_row: Callable[[Any], Any]
    to_domain: Callable[[Any], Any]


@dataclasses.dataclass(frozen=True)
class Nested:
    """A dataclass-valued field whose own fields are columns of the parent's row (``Household.tax``).

    ``renames`` and ``converters`` are the nested dataclass's, as for ``RowMapper``.
    """

    renames: Mapping[str, str] = dataclasses.field(default_factory=dict)
    converters: Mapping[str, Converter] = dataclasses.field(default_factory=dict)


def _optional(inner: Converter) -> Converter:
    """``inner`` with None passed through both ways (an ``X | None`` field)."""
    to_row, to_domain = inner
    return Converter(lambda v: None if v is None else to_row(v), lambda v: None if v is None else to_domain(v))


def _each(inner: Converter | None, outer: Callable[[Iterable[Any]], Any]) -> Converter:
    """A collection field: a JSON list of its items (each converted by ``inner``), ``outer`` of them back."""
    if inner is None:
        return Converter(list, outer)
    to_row, to_domain = inner
    return Converter(lambda v: [to_row(x) for x in v], lambda v: outer(to_domain(x) for x in v))


def _sorted_list(value: Iterable[Any]) -> list[Any]:
    return sorted(value)


def converter_for(hint: object, *, document: bool) -> Converter | None:
    """The converter a field of type ``hint`` needs (None: stored as it is).

    ``document``: the value goes into a JSON document, where a Decimal is kept as its exact text and a nested
    dataclass as a dict of its fields; in a row, a Decimal goes to its ``Money`` column as it is and a nested
    dataclass needs an explicit word (``nested``, ``children``, ``document`` or a converter).

    Raises:
        TypeError: a dataclass (or a collection of them) outside a document.
    """
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) == 1:
            inner = converter_for(args[0], document=document)
            return None if inner is None else _optional(inner)
        return None  # a union of several types (Any-like): the JSON column takes it as it is
    if isinstance(hint, type) and issubclass(hint, Enum):
        return Converter(attrgetter("_value_"), hint)  # _value_: the attribute Enum.value's descriptor reads
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not document:
            raise TypeError(f"a {hint.__name__} field needs a word on how it is stored")
        sub: DocumentMapper[Any] = DocumentMapper(hint)
        return Converter(sub.to_doc, sub.from_doc)
    if document and hint is Decimal:
        return Converter(str, Decimal)
    if origin is tuple:
        items = get_args(hint)
        item = converter_for(items[0], document=document) if len(items) == 2 and items[1] is Ellipsis else None
        return _each(item, tuple)
    if origin is frozenset or hint is frozenset:
        return Converter(_sorted_list, frozenset)
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        return Converter(dict, dict)
    return None


class _Fields(Generic[T]):
    """What both mappers share: the dataclass's fields, checked names, and a converter per converted field."""

    def __init__(self, domain: type[T], renames: Mapping[str, str] | None, converters: Mapping[str, Converter] | None,
                 *, document: bool, declared: Mapping[str, Iterable[str]], convert: Iterable[str]) -> None:
        if not dataclasses.is_dataclass(domain):
            raise TypeError(f"{domain!r} is not a dataclass")
        self.fields = tuple(dataclasses.fields(domain))
        names = [f.name for f in self.fields]
        self.renames = dict(renames or {})
        given = dict(converters or {})
        said: dict[str, Iterable[str]] = {"renames": self.renames, "converters": given, **declared}
        for what, named in said.items():
            unknown = sorted(set(named) - set(names))
            if unknown:
                raise TypeError(f"{what} name no field of {domain.__name__}: {unknown}")
        hints = get_type_hints(domain)
        self.converters: dict[str, Converter | None] = {}
        for name in convert:
            if name in given:
                self.converters[name] = given[name]
                continue
            try:
                self.converters[name] = converter_for(hints[name], document=document)
            except TypeError as exc:
                raise TypeError(
                    f"{domain.__name__}.{name}: {exc} (say it with nested=, children=, document= or a converter "
                    "in engine/store; see docs/store.md)"
                ) from None


class RowMapper(Generic[T]):
    """Maps instances of the dataclass ``domain`` to row values of ``table`` and rows back to instances.

    ``renames`` maps a field to its column where the names differ; ``converters`` say how a field's value is
    stored when its type does not (see the module docstring); ``nested`` flattens a dataclass field into
    columns of this row; ``children`` are fields the aggregate stores in other tables and hands to
    ``to_domain``; ``document`` fields are kept in a JSON document (``document()``) the aggregate stores
    elsewhere. ``keys`` are the columns that are not fields (the parent's id, the position), given to
    ``values`` by the caller; ``generated`` are the columns the database fills (an autoincrement ``seq``),
    left out of ``values`` and read back by ``to_domain``.

    Raises:
        TypeError: a field has no column (or no word on how it is stored), or a column is neither a field,
            a key nor generated (at construction, naming them).
    """

    def __init__(
        self,
        domain: type[T],
        table: type[DeclarativeBase],
        *,
        renames: Mapping[str, str] | None = None,
        keys: Sequence[str] = (),
        converters: Mapping[str, Converter] | None = None,
        nested: Mapping[str, Nested] | None = None,
        children: Sequence[str] = (),
        document: Sequence[str] = (),
        generated: Sequence[str] = (),
        _part: bool = False,
    ) -> None:
        nested = dict(nested or {})
        skip = set(nested) | set(children) | set(document)
        spec = _Fields(domain, renames, converters, document=False,
                       declared={"nested": nested, "children": children, "document": document},
                       convert=[f.name for f in dataclasses.fields(cast(Any, domain)) if f.name not in skip])
        self.domain = domain
        self.table = table
        self.keys = tuple(keys)
        self.generated = tuple(generated)
        self.children = tuple(children)
        table_name = getattr(table, "__tablename__", table.__name__)
        columns = {c.key for c in sa_inspect(table).column_attrs}
        self._nested: tuple[tuple[str, RowMapper[Any]], ...] = tuple(
            (name, RowMapper(cast(type[Any], _field_type(domain, name)), table, renames=n.renames,
                             converters=n.converters, _part=True))
            for name, n in nested.items()
        )
        self._document: DocumentMapper[T] | None = (
            DocumentMapper(domain, only=document, omit_defaults=True) if document else None)
        self.pairs: tuple[tuple[str, str], ...] = tuple(
            (f.name, spec.renames.get(f.name, f.name)) for f in spec.fields if f.name not in skip)
        for name, column in self.pairs:
            if column not in columns:
                raise TypeError(
                    f"{domain.__name__}.{name} has no column {table_name}.{column}: add the column in "
                    "engine/store/tables.py with a migration, or rename or place it in engine/store (see "
                    "docs/store.md), so the field is stored"
                )
        self._columns: tuple[tuple[str, str, Callable[[Any], Any] | None, Callable[[Any], Any] | None], ...] = tuple(
            (name, column, *(spec.converters[name] or (None, None))) for name, column in self.pairs)
        written = [c for c in self._columns if c[1] not in self.generated]
        # Plain values are read with one C-level attrgetter per direction; converted ones one by one.
        plain_out = [(n, c) for n, c, to_row, _ in written if to_row is None]
        self._out_columns = tuple(c for _, c in plain_out)
        self._out_get = _getter([n for n, _ in plain_out])
        self._out_converted = tuple((n, c, to_row) for n, c, to_row, _ in written if to_row is not None)
        plain_in = [(n, c) for n, c, _, to_domain in self._columns if to_domain is None]
        self._in_names = tuple(n for n, _ in plain_in)
        self._in_get = _getter([c for _, c in plain_in])
        self._in_converted = tuple((n, c, to_domain) for n, c, _, to_domain in self._columns if to_domain is not None)
        self._keyset = frozenset(self.keys)
        if not _part:
            covered = set(self.columns()) | set(self.keys) | set(self.generated)
            extra = sorted(columns - covered)
            if extra:
                raise TypeError(f"{table_name} columns {extra} are neither {domain.__name__} fields nor keys")

    def columns(self) -> tuple[str, ...]:
        """The columns the fields fill (nested fields' included), in field order."""
        return tuple(c for _, c in self.pairs) + tuple(c for _, sub in self._nested for c in sub.columns())

    def values(self, obj: T, **keys: Any) -> dict[str, Any]:
        """The row values of ``obj`` by row attribute name, with the ``keys`` given (all of them)."""
        if keys.keys() != self._keyset:
            raise TypeError(f"{self.table.__name__} rows need keys {self.keys}, got {tuple(keys)}")
        out = self._row(obj)
        out.update(keys)
        return out

    def _row(self, obj: Any) -> dict[str, Any]:
        out = dict(zip(self._out_columns, self._out_get(obj), strict=True))
        for name, column, to_row in self._out_converted:
            out[column] = to_row(getattr(obj, name))
        for name, sub in self._nested:
            out.update(sub._row(getattr(obj, name)))
        return out

    def document(self, obj: T) -> dict[str, Any]:
        """The ``document`` fields of ``obj`` that differ from their defaults, as plain JSON (empty if none)."""
        return {} if self._document is None else self._document.to_doc(obj)

    def to_domain(self, row: object, children: Mapping[str, Any] | None = None,
                  document: Mapping[str, Any] | None = None) -> T:
        """The domain object a row holds, with its ``children`` (all of them) and its ``document`` (if any)."""
        return self.domain(**self._kwargs(row, children, document))

    def _kwargs(self, row: object, children: Mapping[str, Any] | None = None,
                document: Mapping[str, Any] | None = None) -> dict[str, Any]:
        kwargs = dict(zip(self._in_names, self._in_get(row), strict=True))
        for name, column, to_domain in self._in_converted:
            kwargs[name] = to_domain(getattr(row, column))
        for name, sub in self._nested:
            kwargs[name] = sub.to_domain(row)
        if self.children:
            given = dict(children or {})
            if given.keys() != set(self.children):
                raise TypeError(f"{self.domain.__name__} needs its children {self.children}, got {tuple(given)}")
            kwargs.update(given)
        if self._document is not None and document:
            kwargs.update(self._document.fields_of(document))
        return kwargs


class DocumentMapper(Generic[T]):
    """Maps a dataclass to a plain JSON document (a dict by field name) and back, generated from its fields.

    Decimals are kept as exact text, enums by value, tuples and frozensets as lists, nested dataclasses as
    documents of their own. ``only`` maps a subset of the fields; ``omit_defaults`` leaves out the fields at
    their default (a document that grows with what is set). Keys a document has and the dataclass does not are
    ignored on the way back (the document may share its column with other keys); a missing key is the default.
    """

    def __init__(self, domain: type[T], *, renames: Mapping[str, str] | None = None,
                 converters: Mapping[str, Converter] | None = None, only: Sequence[str] | None = None,
                 omit_defaults: bool = False) -> None:
        names = [f.name for f in dataclasses.fields(cast(Any, domain))]
        chosen = names if only is None else [n for n in names if n in only]
        spec = _Fields(domain, renames, converters, document=True, declared={"only": only or ()}, convert=chosen)
        self.domain = domain
        self.omit_defaults = omit_defaults
        self._keys: tuple[tuple[str, str, Converter | None, Any], ...] = tuple(
            (f.name, spec.renames.get(f.name, f.name), spec.converters[f.name], _default(f))
            for f in spec.fields if f.name in spec.converters)

    def to_doc(self, obj: T) -> dict[str, Any]:
        """``obj``'s fields as plain JSON by key (only those off their default with ``omit_defaults``)."""
        out: dict[str, Any] = {}
        for name, key, conv, default in self._keys:
            value = getattr(obj, name)
            if self.omit_defaults and default is not dataclasses.MISSING and value == default:
                continue
            out[key] = value if conv is None else conv.to_row(value)
        return out

    def fields_of(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """The field values a document holds (missing keys left out, for the dataclass's defaults)."""
        out: dict[str, Any] = {}
        for name, key, conv, _ in self._keys:
            if key in doc:
                value = doc[key]
                out[name] = value if conv is None else conv.to_domain(value)
        return out

    def from_doc(self, doc: Mapping[str, Any]) -> T:
        """The instance a document holds."""
        return self.domain(**self.fields_of(doc))


def _getter(names: Sequence[str]) -> Callable[[Any], tuple[Any, ...]]:
    """A function giving the attributes ``names`` of an object as a tuple (one C call for all of them)."""
    if not names:
        return lambda _obj: ()
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return cast(Callable[[Any], tuple[Any, ...]], attrgetter(*names))


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _field_type(domain: type[Any], name: str) -> Any:
    return get_type_hints(domain)[name]
