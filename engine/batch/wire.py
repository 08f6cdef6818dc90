"""Cheap pickling for what crosses between a batch's processes (households out, outcomes back).

    fast_pickling()        # in every process that sends: the caller (chunks) and each worker (outcomes)

The engine's value types are frozen dataclasses with slots. Python 3.11 pickles those through
``dataclasses``' own ``__getstate__``/``__setstate__``, which call ``fields()`` on every object — two
thirds of the 3.4 ms it took to send one household's outcome to the caller and read it back (~150 objects
each). ``fast_pickling`` registers a reducer per such class with ``copyreg`` (which ``pickle``, the
process pool and Dask all consult): the state is the tuple of field values in field order, restored
straight into the slots. The bytes name ``engine.batch.wire._restore``, so the reading side needs nothing
registered, only this package installed. Same objects back, field for field.
"""

from __future__ import annotations

import copyreg
import dataclasses
import sys
import threading
from collections.abc import Callable
from operator import attrgetter
from typing import Any

__all__ = ["fast_pickling"]

_SETTERS: dict[type, tuple[Callable[[Any, Any], None], ...]] = {}
_REGISTERED: set[type] = set()
_LOCK = threading.Lock()


def _restore(cls: type, state: tuple[Any, ...]) -> Any:
    """Rebuild a frozen slotted dataclass from its field values (no ``__init__``: the values were checked)."""
    obj = cls.__new__(cls)
    setters = _SETTERS.get(cls) or _setters(cls)
    if len(state) != len(setters):
        raise TypeError(
            f"a {cls.__name__} arrived with {len(state)} fields where this process's has {len(setters)}: the batch's "
            "caller and its workers run different versions of adaptive-robo; install the same version on every worker"
        )
    for put, value in zip(setters, state, strict=True):
        put(obj, value)
    return obj


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
    names = [f.name for f in dataclasses.fields(cls)]
    if len(names) == 1:
        name = names[0]
        return lambda obj: (_restore, (cls, (getattr(obj, name),)))
    get = attrgetter(*names)
    return lambda obj: (_restore, (cls, get(obj)))


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
