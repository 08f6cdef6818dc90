"""Row mappers generated from a domain dataclass's fields: one field, one column, renames said explicitly.

    lots = RowMapper(Lot, LotRow, renames={"account": "account_id"}, keys=("household_id", "position"))
    lots.values(lot, household_id="h1", position=0)   # {"household_id": "h1", ..., "account_id": "brk", ...}
    lots.to_domain(row)                               # Lot(id=..., account=row.account_id, ...)

A field added to the dataclass is persisted without touching the mapper; if the table has no column for it, the
mapper refuses to be built (at import), naming the field and the table, instead of dropping the value on the way
(the way ``Lot.replaceable`` was once dropped by a hand mapping, which became a wash-sale bug).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import inspect as sa_inspect

__all__ = ["RowMapper"]

T = TypeVar("T")


def _column_value(value: Any) -> Any:
    """A field's value as its column holds it: an enum by its value, a tuple or frozenset as a JSON list."""
    if isinstance(value, Enum):
        return value._value_
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, frozenset):
        return sorted(value)
    return value


class RowMapper(Generic[T]):
    """Maps instances of the frozen dataclass ``domain`` to ``table`` row values and rows back to instances.

    ``renames`` maps a field name to its row attribute where they differ; ``keys`` are the row attributes that
    are not fields (the parent's id, the position), given to ``values`` by the caller.

    Raises:
        TypeError: a field has no column, or a column is neither a field nor a key (at construction).
    """

    def __init__(
        self, domain: type[T], table: type[Any], *, renames: Mapping[str, str] | None = None,
        keys: Sequence[str] = (),
    ) -> None:
        self.domain = domain
        self.table = table
        renames = dict(renames or {})
        names = [f.name for f in dataclasses.fields(cast(Any, domain))]
        unknown = sorted(set(renames) - set(names))
        if unknown:
            raise TypeError(f"renames name no field of {domain.__name__}: {unknown}")
        self.pairs: tuple[tuple[str, str], ...] = tuple((n, renames.get(n, n)) for n in names)
        columns = {c.key for c in sa_inspect(table).column_attrs}
        table_name = getattr(table, "__tablename__", table.__name__)
        for name, column in self.pairs:
            if column not in columns:
                raise TypeError(
                    f"{domain.__name__}.{name} has no column {table_name}.{column}: add the column in "
                    "engine/store/tables.py with a migration (or a rename) so the field is stored"
                )
        extra = sorted(columns - {c for _, c in self.pairs} - set(keys))
        if extra:
            raise TypeError(f"{table_name} columns {extra} are neither {domain.__name__} fields nor keys")
        self.keys = tuple(keys)

    def values(self, obj: T, **keys: Any) -> dict[str, Any]:
        """The row values of ``obj`` by row attribute name, with the ``keys`` given (all of them)."""
        if set(keys) != set(self.keys):
            raise TypeError(f"{self.table.__name__} rows need keys {self.keys}, got {tuple(keys)}")
        out = dict(keys)
        for name, column in self.pairs:
            out[column] = _column_value(getattr(obj, name))
        return out

    def to_domain(self, row: Any) -> T:
        """The domain object a row holds (its ``__post_init__`` turns enum values back into members)."""
        return self.domain(**{name: getattr(row, column) for name, column in self.pairs})
