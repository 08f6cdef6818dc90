"""Column types that keep money exact and instants in UTC on every database.

    amount: Mapped[Decimal] = mapped_column(Money())      # NUMERIC(38, 18); exact text on SQLite
    at: Mapped[datetime] = mapped_column(UTCDateTime())   # timestamptz; always aware UTC on the way out
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, is_dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, localcontext
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Numeric, String
from sqlalchemy.types import TypeDecorator, TypeEngine

from engine.errors import ValidationError

__all__ = [
    "MONEY_PRECISION",
    "MONEY_SCALE",
    "JSONValue",
    "Money",
    "UTCDateTime",
    "canonical_decimal",
    "decode_json",
    "encode_json",
]

MONEY_PRECISION = 38
MONEY_SCALE = 18
_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)
_LIMIT = Decimal(10) ** (MONEY_PRECISION - MONEY_SCALE)


def canonical_decimal(value: Decimal) -> Decimal:
    """The value without trailing fractional zeros (``Decimal('12.50')`` → ``Decimal('12.5')``), never in E-notation."""
    with localcontext(prec=MONEY_PRECISION + 10):  # the default 28 digits would round a NUMERIC(38, 18)
        if value == value.to_integral_value():
            return value.quantize(Decimal(1))
        return value.normalize()


class Money(TypeDecorator[Decimal]):
    """Exact decimal, ``NUMERIC(38, 18)``: USD amounts and share counts up to 18 decimals (a lot's basis is
    9-decimal shares × a 6-decimal price: 15 decimals, kept exact).

    SQLite has no exact decimal (its NUMERIC affinity rounds through an 8-byte float), so there the
    canonical decimal text is stored instead. Values come back canonical (no trailing zeros).

    Raises:
        ValidationError: on bind, a value with more than 18 decimals or 20 integer digits (it would be rounded).
    """

    impl = Numeric(MONEY_PRECISION, MONEY_SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(48))
        return dialect.type_descriptor(Numeric(MONEY_PRECISION, MONEY_SCALE, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValidationError("expected a finite Decimal for a money/shares column", field="Money", value=value)
        with localcontext(prec=MONEY_PRECISION + 10):
            fits = abs(value) < _LIMIT and value == value.quantize(_QUANTUM)
        if not fits:
            raise ValidationError(
                f"does not fit NUMERIC({MONEY_PRECISION}, {MONEY_SCALE}) exactly",
                field="Money",
                value=str(value),
                fix=f"round to {MONEY_SCALE} decimals (Decimal.quantize(Decimal('1e-{MONEY_SCALE}')))",
            )
        value = canonical_decimal(value)
        return format(value, "f") if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return canonical_decimal(Decimal(value) if not isinstance(value, Decimal) else value)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant, stored as ``TIMESTAMP WITH TIME ZONE`` (UTC text on SQLite).

    Raises:
        ValidationError: on bind, a naive datetime.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
            raise ValidationError(
                "naive or missing datetime for a timestamp column",
                field="UTCDateTime",
                value=value,
                fix="pass a timezone-aware datetime, e.g. datetime.now(timezone.utc)",
            )
        instant: datetime = value.astimezone(UTC)
        return instant.replace(tzinfo=None) if dialect.name == "sqlite" else instant

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        instant: datetime = value
        if instant.tzinfo is None:
            return instant.replace(tzinfo=UTC)
        return instant.astimezone(UTC)


# ---------------------------------------------------------------------------------------------
# JSON that keeps Decimal, date, datetime and tuple exact (tagged objects)
# ---------------------------------------------------------------------------------------------

def encode_json(value: Any) -> Any:
    """Plain JSON data for ``value``; Decimal, date, datetime, tuple and frozenset become tagged objects.

    Dataclasses become dicts of their fields (decoded as dicts). StrEnums become their string value.

    Raises:
        ValidationError: a value JSON cannot hold (a float NaN/inf, an arbitrary object).
    """
    encode = _ENCODERS.get(type(value))  # the exact type first: a stored proposal is ~1,500 values
    return encode(value) if encode is not None else _encode_other(value)


def _float(value: float) -> float:
    if value != value or value in (float("inf"), float("-inf")):
        raise ValidationError("JSON cannot hold NaN or infinity", field="JSON", value=value)
    return value


def _dict(value: dict[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in value.items():
        if not isinstance(k, str):
            raise ValidationError(
                "JSON object keys must be strings", field="JSON", value=k, fix="convert the keys to str"
            )
        out[str(k)] = encode_json(v)
    return out


_ENCODERS: dict[type, Callable[[Any], Any]] = {
    str: str,  # a StrEnum (found through its bases) becomes its plain value
    int: lambda v: v,
    bool: lambda v: v,
    type(None): lambda v: v,
    float: _float,
    Decimal: lambda v: {"__decimal__": str(v)},
    datetime: lambda v: {"__datetime__": v.isoformat()},
    date: lambda v: {"__date__": v.isoformat()},
    tuple: lambda v: {"__tuple__": [encode_json(x) for x in v]},
    list: lambda v: [encode_json(x) for x in v],
    dict: _dict,
}


def _encode_other(value: Any) -> Any:
    """``encode_json`` for subclasses of the types above (a StrEnum: its plain value), sets and dataclasses."""
    for base in type(value).__mro__[1:]:
        encode = _ENCODERS.get(base)
        if encode is not None:
            return encode(value)
    if isinstance(value, frozenset | set):
        return {"__frozenset__": [encode_json(v) for v in sorted(value, key=repr)]}
    if is_dataclass(value) and not isinstance(value, type):
        names = tuple(f.name for f in fields(value))

        def encode_fields(v: Any) -> dict[str, Any]:
            return {name: encode_json(getattr(v, name)) for name in names}

        _ENCODERS[type(value)] = encode_fields  # the next one of this class goes straight here
        return encode_fields(value)
    raise ValidationError(
        f"cannot store a {type(value).__name__} as JSON",
        field="JSON",
        value=repr(value)[:80],
        fix="use str, int, float, bool, None, Decimal, date, datetime, list, tuple, dict or a dataclass",
    )


def decode_json(value: Any) -> Any:
    """Inverse of ``encode_json`` (dataclasses come back as dicts)."""
    if isinstance(value, list):
        return [decode_json(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            (tag, inner), = value.items()
            if tag == "__decimal__":
                return Decimal(inner)
            if tag == "__date__":
                return date.fromisoformat(inner)
            if tag == "__datetime__":
                return datetime.fromisoformat(inner)
            if tag == "__tuple__":
                return tuple(decode_json(v) for v in inner)
            if tag == "__frozenset__":
                return frozenset(decode_json(v) for v in inner)
        return {k: decode_json(v) for k, v in value.items()}
    return value


class JSONValue(TypeDecorator[Any]):
    """JSON column that round-trips Decimal, date, datetime, tuple and frozenset exactly (see ``encode_json``)."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else encode_json(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        # The JSON impl has decoded the text already: a str here is a JSON string value, not JSON to parse again.
        return None if value is None else decode_json(value)

