"""Resolve a HOUSEHOLD command-line argument: a YAML path, ``sample``, or an id in the store."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from engine.config import load_household, load_universe
from engine.config.loader import check_planning_day
from engine.errors import NotFound
from engine.model import Household, Universe

_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def resolve_household(arg: str, universe: Universe | None = None, as_of: date | None = None) -> Household:
    """``sample`` → the shipped sample; an existing ``.yaml``/``.yml`` path → that file; else a store id.

    With ``as_of`` (the planning day) the household must already exist then: no member born, lot bought or loss
    sale after it (``check_planning_day``).

    Raises:
        NotFound: no file of that name and no household with that id in the store.
        ConfigError: the file is invalid, or ``as_of`` precedes the household's own dates.
    """
    household = _resolve(arg, universe or load_universe())
    if as_of is not None:
        check_planning_day(household, as_of, file=None if arg == "sample" or not Path(arg).exists() else arg)
    return household


def _resolve(arg: str, universe: Universe) -> Household:
    if arg == "sample":
        return load_household(universe=universe)
    path = Path(arg)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return load_household(path, universe=universe)
    if not _ID.match(arg):
        raise NotFound(
            f"no household file {arg!r}, and it is not a household id (letters, digits, _ . -) — "
            "pass a YAML path, 'sample' or the id of a stored household"
        )
    from engine.store import Store

    with Store.from_settings(create=False) as store:  # a read: a missing database is not created
        return store.households.get(arg)
