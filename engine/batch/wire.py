"""Cheap pickling for what crosses between a batch's processes (households out, outcomes back).

    fast_pickling()        # in every process that sends: the caller (chunks) and each worker (outcomes)

The engine's value types are frozen dataclasses with slots. Python 3.11 pickles those through
``dataclasses``' own ``__getstate__``/``__setstate__``, which call ``fields()`` on every object — two
thirds of the 3.4 ms it took to send one household's outcome to the caller and read it back (~150 objects
each). ``fast_pickling`` registers a reducer per such class with ``copyreg`` (which ``pickle``, the
process pool and Dask all consult): the state is the tuple of field values in field order, restored
straight into the slots. The bytes name ``engine.batch.wire._restore``, so the reading side needs nothing
registered, only this package installed. Same objects back, field for field.

A field holding a tuple of many objects of one such class (a tax preview's realizations, a proposal's
orders, a household's lots) travels as columns instead: each field's values in one list, Decimals as one
joined string and dates as day numbers, rebuilt column by column. Per object that saves the reducer call, a
``Decimal``/``date`` reduce per value and the restore loop: ~60 % of an outcome's pickling and reading.
"""

from __future__ import annotations

import builtins
import copyreg
import dataclasses
import sys
import threading
from collections import deque
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from itertools import repeat
from operator import attrgetter
from typing import Any

__all__ = ["fast_pickling"]

_SETTERS: dict[type, tuple[Callable[[Any, Any], None], ...]] = {}
_REGISTERED: set[type] = set()
_GETTERS: dict[type, Callable[[Any], Any]] = {}
_LOCK = threading.Lock()
_ROWS = 8  # a tuple of at least this many objects of one registered class travels as columns
_SEP = "\x1f"  # between the Decimals of a column (a Decimal's text never holds it)


def _restore(cls: type, state: tuple[Any, ...]) -> Any:
    """Rebuild a frozen slotted dataclass from its field values (no ``__init__``: the values were checked)."""
    obj = cls.__new__(cls)
    setters = _SETTERS.get(cls) or _setters(cls)
    if len(state) != len(setters):
        raise _other_version(f"a {cls.__name__}", len(state), len(setters))
    for put, value in zip(setters, state, strict=True):
        put(obj, value)
    return obj


def _other_version(what: str, got: int, have: int) -> TypeError:
    return TypeError(
        f"{what} arrived with {got} fields where this process's has {have}: the batch's caller and its workers "
        "run different versions of adaptive-robo; install the same version on every worker"
    )


def _restore_rows(cls: type, state: tuple[Any, ...], packed: tuple[int, ...]) -> Any:
    """``_restore`` for an object whose fields at ``packed`` arrived as columns (see ``_columns``)."""
    state = list(state)
    for i in packed:
        state[i] = _rows(*state[i])
    return _restore(cls, tuple(state))


def _columns(objs: tuple[Any, ...]) -> tuple[type, int, tuple[tuple[str, Any], ...]] | None:
    """Objects of one registered class as (class, count, one tagged column per field); None if they are not."""
    cls = type(objs[0])
    if cls not in _REGISTERED or any(type(o) is not cls for o in objs):
        return None
    get = _GETTERS[cls]
    cols = []
    for col in zip(*map(get, objs), strict=True):
        kinds = set(map(type, col))
        if kinds == {Decimal}:
            cols.append(("D", _SEP.join(map(str, col))))
        elif kinds == {date}:
            cols.append(("d", list(map(date.toordinal, col))))
        else:
            cols.append(("o", col))
    return cls, len(objs), tuple(cols)


def _rows(cls: type, n: int, cols: tuple[tuple[str, Any], ...]) -> tuple[Any, ...]:
    """The objects back from ``_columns``: each column set on every object at once."""
    setters = _SETTERS.get(cls) or _setters(cls)
    if len(cols) != len(setters):
        raise _other_version(f"{cls.__name__} rows", len(cols), len(setters))
    objs = list(map(cls.__new__, repeat(cls, n)))
    for put, (kind, col) in zip(setters, cols, strict=True):
        values = map(Decimal, col.split(_SEP)) if kind == "D" else map(date.fromordinal, col) if kind == "d" else col
        deque(map(put, objs, values), maxlen=0)
    return tuple(objs)


def _setters(cls: type) -> tuple[Callable[[Any, Any], None], ...]:
    """Each field's slot setter, in field order (slots may sit on a base class)."""
    out = []
    for f in dataclasses.fields(cls):
        slot = next(k.__dict__[f.name] for k in cls.__mro__ if f.name in k.__dict__)
        out.append(slot.__set__)
    setters = tuple(out)
    _SETTERS[cls] = setters
    return setters


def _reducer(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    fields = dataclasses.fields(cls)
    get = attrgetter(*(f.name for f in fields)) if len(fields) > 1 else lambda obj: (getattr(obj, fields[0].name),)
    _GETTERS[cls] = get
    rows = [i for i, f in enumerate(fields) if _may_hold_rows(f)]
    if not rows:
        return lambda obj: (_restore, (cls, get(obj)))

    def reduce(obj: Any) -> tuple[Any, ...]:
        state = get(obj)
        packed = []
        for i in rows:
            value = state[i]
            if type(value) is tuple and len(value) >= _ROWS and (cols := _columns(value)) is not None:
                if not packed:
                    state = list(state)
                state[i] = cols
                packed.append(i)
        if not packed:
            return _restore, (cls, state)
        return _restore_rows, (cls, tuple(state), tuple(packed))

    return reduce


def _may_hold_rows(f: dataclasses.Field[Any]) -> bool:
    """A field annotated ``tuple[X, ...]``, X not a builtin like ``str``: it may hold many objects of one class."""
    hint = f.type if isinstance(f.type, str) else str(f.type)
    if not (hint.startswith("tuple[") and hint.endswith(", ...]")):
        return False
    return hint[len("tuple[") : -len(", ...]")] not in vars(builtins)


def _pickled_by_dataclasses(cls: type) -> bool:
    """A frozen slotted dataclass still using the ``dataclasses`` pickling (not its own ``__reduce__``)."""
    getstate = cls.__dict__.get("__getstate__")
    return (
        dataclasses.is_dataclass(cls)
        and getattr(getstate, "__qualname__", "") == "_dataclass_getstate"
        and "__reduce__" not in cls.__dict__
        and "__reduce_ex__" not in cls.__dict__
    )


def fast_pickling(prefix: str = "engine") -> int:
    """Register the fast reducer for every frozen slotted dataclass of the loaded ``prefix`` modules.

    Idempotent; classes of modules imported later keep the standard (slower, equally correct) pickling
    until the next call. Returns how many classes are registered in all.
    """
    with _LOCK:
        for name, module in list(sys.modules.items()):
            if module is None or not (name == prefix or name.startswith(prefix + ".")):
                continue
            for value in list(vars(module).values()):
                if (
                    isinstance(value, type)
                    and value.__module__ == name
                    and value not in _REGISTERED
                    and _pickled_by_dataclasses(value)
                ):
                    _setters(value)
                    copyreg.pickle(value, _reducer(value))
                    _REGISTERED.add(value)
        return len(_REGISTERED)
