"""Resolve a HOUSEHOLD command-line argument: a YAML path, ``sample``, or an id in the store."""

from __future__ import annotations

import re
from pathlib import Path

from engine.config import load_household, load_universe
from engine.errors import NotFound
from engine.model import Household, Universe

_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def resolve_household(arg: str, universe: Universe | None = None) -> Household:
    """``sample`` → the shipped sample; an existing ``.yaml``/``.yml`` path → that file; else a store id.

    Raises:
        NotFound: no file of that name and no household with that id in the store.
    """
    universe = universe or load_universe()
    if arg == "sample":
        return load_household(universe=universe)
    path = Path(arg)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return load_household(path, universe=universe)
    try:
        from engine.store import Store  # the store is optional until its issue lands
    except ImportError as exc:  # pragma: no cover - only before the store exists
        raise NotFound(f"no household file {arg!r}; pass a YAML path or 'sample'") from exc
    if not _ID.match(arg):
        raise NotFound(
            f"no household file {arg!r}, and it is not a household id (letters, digits, _ . -) — "
            "pass a YAML path, 'sample' or the id of a stored household"
        )
    with Store.from_settings(create=False) as store:  # a read: a missing database is not created
        return store.households.get(arg)
