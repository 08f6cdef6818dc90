"""What crosses between a batch's processes: an explicit record of plain values, pickled by the standard pickle.

    data = pack(report)        # a worker: a ChunkReport → bytes (households and kept mandates go out the same way)
    report = unpack(data)      # the caller: the very same objects back, field for field

A message is ``pickle.dumps((FORMAT, classes, body))`` and nothing else: ``classes`` names each of our value
classes it holds (module, qualified name, field names) and ``body`` is the value as nested tuples of plain
values — str, int, float, bool, None, ``Decimal``, ``date``, enum members. The standard pickle writes those
with its own reducers; no class of ours is pickled by reference, nothing is registered with ``copyreg``, and
no private name of ``dataclasses`` is used. The reading side needs only this package installed, and a
class whose fields differ on the two sides (caller and workers of different versions) is named in a
``TypeError`` instead of being filled wrongly.

Why not pickle the objects as they are: the engine's values are frozen slotted dataclasses, which pickle
through ``dataclasses``' ``__getstate__``/``__setstate__``, calling ``fields()`` on every object — two thirds
of the 3.4 ms it took to send one household's outcome (~150 objects) and read it back. Here each class's
fields are read by one ``attrgetter`` and written back straight into their slots, and a tuple of many objects
of one class (a tax preview's realizations, a proposal's orders, a household's lots) travels as columns:
Decimals joined into one string, dates as day numbers, each column set on every object at once.

Node forms of ``body`` (a ``tuple`` in it is always a node; anything else is a plain value):
``(_OBJ, class index, *fields)``, ``(_ROWS, class index, count, *columns)``, ``(_TUPLE, *items)``,
``(_PLAIN, tuple)`` (a tuple of plain values, as is), ``(_LIST, *items)``, ``(_DICT, *keys_and_values)``,
``(_SET, *items)``, ``(_FROZENSET, *items)``; a column is ``(_DECIMALS, joined)``, ``(_DAYS, ordinals)``,
``(_PLAIN, values)`` or ``(_TUPLE, *encoded values)``. Only the fields whose declared type may hold one of
our value classes are looked into (``_Shape.deep``, sent with the class); the others — ``str``, ``Decimal``,
``Mapping[tuple[str, str], float]``, ``tuple[str, ...]``, our enums — are written as they are.
"""

from __future__ import annotations

import dataclasses
import importlib
import pickle
import re
import sys
from collections import deque
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from itertools import repeat
from operator import attrgetter
from typing import Any

__all__ = ["FORMAT", "pack", "unpack"]

FORMAT = 1  # bump when the node forms change; a record of another format is refused by name
_ROWS_MIN = 8  # a tuple of at least this many objects of one class travels as columns
_SEP = "\x1f"  # between the Decimals of a column (a Decimal's text never holds it)

_OBJ, _ROWS, _TUPLE, _PLAIN, _LIST, _DICT, _SET, _FROZENSET, _DECIMALS, _DAYS = range(10)

# Types written as they are (the standard pickle's own reducers); enum classes and other opaque types join on
# first sight. A cache of what this module has seen, not a registration anywhere.
_PLAIN_TYPES: set[type] = {str, int, float, bool, type(None), bytes, Decimal, date, datetime, timedelta, complex}
_SIMPLE = frozenset({str, int, float, bool, type(None)})  # a tuple of only these travels as is


class _Shape:
    """One value class as the wire sees it: its fields in order, one getter for all, one slot setter each, and
    which fields are looked into (``deep``): those whose declared type may hold one of our value classes."""

    __slots__ = ("cls", "deep", "get", "names", "setters")

    def __init__(self, cls: Any) -> None:
        fields = dataclasses.fields(cls)
        self.cls = cls
        self.names = tuple(f.name for f in fields)
        getter = attrgetter(*self.names)
        self.get: Callable[[Any], tuple[Any, ...]] = (
            getter if len(self.names) > 1 else lambda obj: (getter(obj),)
        )
        self.setters = tuple(_slot(cls, name).__set__ for name in self.names)
        self.deep = tuple(i for i, f in enumerate(fields) if not _flat(cls, f.type))


# Names a declared field type may use and still hold only plain values (written as they are, not looked into).
_FLAT_NAMES = frozenset(
    "str int float bool bytes complex None tuple list dict set frozenset Mapping Sequence Optional Union "
    "Decimal date datetime timedelta".split()
)


def _flat(cls: type, annotation: Any) -> bool:
    """True when a field declared ``annotation`` holds plain values only: builtins, Decimal, dates, our enums.

    ``Mapping[tuple[str, str], float]`` and ``tuple[str, ...]`` are flat; ``tuple[Order, ...]``, ``Any`` and
    anything unknown are not (looked into). A flat field that holds something else anyway still travels
    correctly: the standard pickle writes it as it is.
    """
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    namespace = vars(sys.modules[cls.__module__]) if cls.__module__ in sys.modules else {}
    for word in re.findall(r"[A-Za-z_][\w.]*", text):
        name = word.rsplit(".", 1)[-1]
        if name in _FLAT_NAMES:
            continue
        found = namespace.get(name)
        if not (isinstance(found, type) and issubclass(found, Enum)):
            return False
    return True


_SHAPES: dict[type, _Shape | None] = {}  # None: a class the wire does not take apart (pickled as it is)


def _slot(cls: type, name: str) -> Any:
    return next(k.__dict__[name] for k in cls.__mro__ if name in k.__dict__)


def _shape(cls: type) -> _Shape | None:
    """The shape of one of our slotted dataclasses whose fields are its whole state; None for anything else."""
    if cls in _SHAPES:
        return _SHAPES[cls]
    shape = None
    if (
        dataclasses.is_dataclass(cls)
        and cls.__module__.split(".", 1)[0] == "engine"
        and "__slots__" in cls.__dict__
        and not {"__reduce__", "__reduce_ex__"} & set(cls.__dict__)
    ):
        names = {f.name for f in dataclasses.fields(cls)}
        slots = {s for k in cls.__mro__ for s in k.__dict__.get("__slots__", ())} - {"__weakref__", "__dict__"}
        if slots == names:  # no state beyond the fields (a cache slot would be lost)
            shape = _Shape(cls)
    _SHAPES[cls] = shape
    return shape


class _Packer:
    """Turns one message's values into nodes, numbering the classes it meets."""

    __slots__ = ("index", "table")

    def __init__(self) -> None:
        self.index: dict[type, int] = {}
        self.table: list[tuple[str, str, tuple[str, ...], tuple[int, ...]]] = []

    def _number(self, shape: _Shape) -> int:
        i = self.index.get(shape.cls)
        if i is None:
            i = self.index[shape.cls] = len(self.table)
            self.table.append((shape.cls.__module__, shape.cls.__qualname__, shape.names, shape.deep))
        return i

    def value(self, v: Any) -> Any:
        t = type(v)
        if t in _PLAIN_TYPES:
            return v
        if t is tuple:
            return self.seq(v)
        if t is list:
            return (_LIST, *[x if type(x) in _PLAIN_TYPES else self.value(x) for x in v])
        if t is dict:
            out: list[Any] = [_DICT]
            for k, x in v.items():
                out.append(k if type(k) in _PLAIN_TYPES else self.value(k))
                out.append(x if type(x) in _PLAIN_TYPES else self.value(x))
            return tuple(out)
        if t is frozenset or t is set:
            return (_FROZENSET if t is frozenset else _SET, *[self.value(x) for x in v])
        shape = _SHAPES[t] if t in _SHAPES else _shape(t)
        if shape is not None:
            return self.obj(shape, v)
        if issubclass(t, Enum) or not isinstance(v, tuple | list | dict | set | frozenset):
            _PLAIN_TYPES.add(t)  # pickled by reference (enums) or by its own reducer, and never looked into
        return v

    def obj(self, shape: _Shape, v: Any) -> tuple[Any, ...]:
        state = shape.get(v)
        if shape.deep:
            state = list(state)  # type: ignore[assignment]
            for i in shape.deep:
                x = state[i]
                if type(x) not in _PLAIN_TYPES:
                    state[i] = self.value(x)  # type: ignore[index]
        number = self.index.get(shape.cls)
        return (_OBJ, self._number(shape) if number is None else number, *state)

    def seq(self, v: tuple[Any, ...]) -> tuple[Any, ...]:
        kinds = set(map(type, v))
        if kinds <= _SIMPLE:  # the empty tuple too
            return (_PLAIN, v)
        if len(v) >= _ROWS_MIN and len(kinds) == 1:
            shape = _shape(type(v[0]))
            if shape is not None:
                return self.rows(shape, v)
        plain = _PLAIN_TYPES
        return (_TUPLE, *[x if type(x) in plain else self.value(x) for x in v])

    def rows(self, shape: _Shape, objs: tuple[Any, ...]) -> tuple[Any, ...]:
        cols: list[Any] = [_ROWS, self._number(shape), len(objs)]
        deep = shape.deep
        for i, col in enumerate(zip(*map(shape.get, objs), strict=True)):
            kinds = set(map(type, col))
            if kinds == {Decimal}:
                cols.append((_DECIMALS, _SEP.join(map(str, col))))
            elif kinds == {date}:
                cols.append((_DAYS, list(map(date.toordinal, col))))
            elif i not in deep or kinds <= _PLAIN_TYPES:
                cols.append((_PLAIN, col))
            else:
                cols.append((_TUPLE, *[x if type(x) in _PLAIN_TYPES else self.value(x) for x in col]))
        return tuple(cols)


def pack(value: Any) -> bytes:
    """``value`` (a chunk report, a chunk of households with their kept mandates, …) as one message."""
    packer = _Packer()
    body = packer.value(value)
    return pickle.dumps((FORMAT, tuple(packer.table), body), protocol=pickle.HIGHEST_PROTOCOL)


def unpack(data: bytes) -> Any:
    """The value ``pack`` was given, rebuilt here (objects without ``__init__``: their values were checked).

    Raises:
        TypeError: the message comes from another version of adaptive-robo (another format, or a class whose
            fields differ here) — install the same version on the caller and every worker.
    """
    record = pickle.loads(data)
    if not (type(record) is tuple and len(record) == 3 and record[0] == FORMAT):
        got = record[0] if type(record) is tuple and record else type(record).__name__
        raise _other_version(f"a message of format {got!r}", f"format {FORMAT}")
    _, table, body = record
    return _Unpacker([_resolve(*entry) for entry in table]).value(body)


def _resolve(module: str, qualname: str, names: tuple[str, ...], deep: tuple[int, ...]) -> _Shape:
    """The local class a message names, checked to have the same fields (and to look into the same ones)."""
    if module.split(".", 1)[0] != "engine":
        raise TypeError(f"a batch message names {module}.{qualname}, which is not one of adaptive-robo's values")
    try:
        cls: Any = importlib.import_module(module)
        for part in qualname.split("."):
            cls = getattr(cls, part)
    except (ImportError, AttributeError):
        raise _other_version(f"{module}.{qualname}", "no such class") from None
    shape = _shape(cls)
    if shape is None or shape.names != tuple(names) or shape.deep != tuple(deep):
        have = "not a value class" if shape is None else f"{len(shape.names)} fields {shape.names}"
        raise _other_version(f"{qualname} with {len(names)} fields {tuple(names)}", have)
    return shape


def _other_version(what: str, have: str) -> TypeError:
    return TypeError(
        f"{what} arrived where this process has {have}: the batch's caller and its workers run different "
        "versions of adaptive-robo; install the same version on every worker"
    )


class _Unpacker:
    __slots__ = ("shapes",)

    def __init__(self, shapes: list[_Shape]) -> None:
        self.shapes = shapes

    def value(self, v: Any) -> Any:
        if type(v) is not tuple:
            return v
        tag = v[0]
        if tag == _OBJ:
            shape = self.shapes[v[1]]
            obj = shape.cls.__new__(shape.cls)
            state: Any = v[2:]
            if shape.deep:
                state = list(state)
                for i in shape.deep:
                    if type(state[i]) is tuple:
                        state[i] = self.value(state[i])
            for put, x in zip(shape.setters, state, strict=True):
                put(obj, x)
            return obj
        if tag == _PLAIN:
            return v[1]
        if tag == _TUPLE:
            return tuple([x if type(x) is not tuple else self.value(x) for x in v[1:]])
        if tag == _ROWS:
            return self.rows(self.shapes[v[1]], v[2], v[3:])
        if tag == _LIST:
            return [x if type(x) is not tuple else self.value(x) for x in v[1:]]
        if tag == _DICT:
            items = [x if type(x) is not tuple else self.value(x) for x in v[1:]]
            return dict(zip(items[::2], items[1::2], strict=True))
        if tag == _SET:
            return {self.value(x) for x in v[1:]}
        if tag == _FROZENSET:
            return frozenset(self.value(x) for x in v[1:])
        raise TypeError(f"a batch message holds an unknown node {tag!r}: caller and workers run different versions")

    def rows(self, shape: _Shape, n: int, cols: tuple[Any, ...]) -> tuple[Any, ...]:
        if len(cols) != len(shape.setters):
            raise _other_version(f"{shape.cls.__qualname__} rows of {len(cols)} fields", f"{len(shape.setters)}")
        objs = list(map(shape.cls.__new__, repeat(shape.cls, n)))
        for put, (kind, *payload) in zip(shape.setters, cols, strict=True):
            if kind == _DECIMALS:
                values: Any = map(Decimal, payload[0].split(_SEP))
            elif kind == _DAYS:
                values = map(date.fromordinal, payload[0])
            elif kind == _PLAIN:
                values = payload[0]
            else:
                values = [x if type(x) is not tuple else self.value(x) for x in payload]
            deque(map(put, objs, values), maxlen=0)
        return tuple(objs)
