"""The household fingerprint keys kept mandates across batches: its digest must not drift with refactoring."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from engine.goals.mandate import household_fingerprint
from engine.model import LifeEvent, LifeEventKind, LossSale, Values


def _reference_canon(x: Any) -> Any:
    """The first, plain implementation (isinstance checks per value): the digests must stay exactly these."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return (type(x).__name__, tuple((f.name, _reference_canon(getattr(x, f.name))) for f in dataclasses.fields(x)))
    if isinstance(x, enum.Enum):
        return repr(x.value)
    if isinstance(x, (set, frozenset)):
        return ("set", tuple(sorted(repr(_reference_canon(v)) for v in x)))
    if isinstance(x, Mapping):
        return ("map", tuple(sorted((repr(_reference_canon(k)), _reference_canon(v)) for k, v in x.items())))
    if isinstance(x, (list, tuple)):
        return tuple(_reference_canon(v) for v in x)
    return repr(x)


def _reference(h) -> str:
    facts = (h.id, h.members, tuple((a.id, a.type, a.owner) for a in h.accounts), h.goals, h.events, h.tax,
             h.values, h.risk, h.monthly_savings, h.monthly_expenses, h.emergency_months)
    return hashlib.sha1(repr(_reference_canon(facts)).encode()).hexdigest()


def test_fingerprint_digest_is_the_reference_digest(household):
    event = LifeEvent(LifeEventKind.RELOCATION, date(2026, 5, 1), amount=Decimal("1.50"),
                      details={"state": "TX", "nested": {"b": [1, 2], "a": {3, 1}}, "when": date(2026, 5, 2)})
    variants = [
        household,
        replace(household, events=(event,)),
        replace(household, values=Values(exclude_tags=frozenset({"tobacco", "gambling"}), tilt=0.5)),
        replace(household, lots=household.lots[:3], monthly_savings=Decimal("100.10")),
    ]
    digests = [household_fingerprint(h) for h in variants]
    assert digests == [_reference(h) for h in variants]
    assert len(set(digests[:3])) == 3 and digests[3] != digests[0]  # savings changed; lots alone would not


def test_loss_sales_do_not_change_the_fingerprint(household):
    """A night's loss sale must not discard the household's kept mandate (they change with trades, like lots)."""
    sale = LossSale("S1", "brokerage", "VEA", date(2026, 7, 31), date(2021, 6, 1), Decimal(400), Decimal("1234.56"))
    assert household_fingerprint(replace(household, loss_sales=(sale,))) == household_fingerprint(household)
