"""The YAML schemas and the model share one set of bounds (issue 23, item 3 "One schema").

Each bounded field is read from the model's constants (``engine.model.RETIREMENT_AGE`` …) by both the domain
objects and ``engine.config.loader``: at each end of its range both accept, one step outside both refuse — a
``ConfigError`` naming the YAML field, and a ``ValidationError`` from the dataclass itself.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from engine.config.loader import household_from_dict, universe_from_dict
from engine.errors import ConfigError, ValidationError
from engine.model import (
    CARBON_INTENSITY,
    CLAIM_AGE,
    DIVIDEND_YIELD,
    EMERGENCY_MONTHS,
    ESG_SCORE,
    EXPENSE_RATIO,
    GOAL_PRIORITY,
    GOAL_YEARS,
    PENSION_START_AGE,
    PLAN_TO_AGE,
    RETIREMENT_AGE,
    RISK_WILLINGNESS,
    SEXES,
    STATE_RATE,
    WITHDRAWAL_ORDERS,
)

HOUSEHOLD: dict[str, Any] = {
    "id": "h1",
    "name": "Bounds",
    "members": [{"id": "m1", "name": "Ana", "birth_date": "1980-05-01",
                 "pensions": [{"name": "teachers", "annual": "12000"}]}],
    "accounts": [{"id": "brk", "type": "taxable"}],
    "goals": [{"id": "g1", "kind": "wealth", "target": "1000", "target_date": "2060-01-01"}],
}
UNIVERSE: dict[str, Any] = {"assets": {"VTI": {"asset_class": "us_equity"}}}

# (YAML path, the model's bounds, a step past an end)
HOUSEHOLD_BOUNDS = [
    ("members.0.retirement_age", RETIREMENT_AGE, 1),
    ("members.0.claim_age", CLAIM_AGE, 0.5),
    ("members.0.pensions.0.start_age", PENSION_START_AGE, 0.5),
    ("goals.0.priority", GOAL_PRIORITY, 1),
    ("goals.0.years", GOAL_YEARS, 1),
    ("goals.0.plan_to_age", PLAN_TO_AGE, 1),
    ("risk.willingness", RISK_WILLINGNESS, 1),
    ("values.min_esg_score", ESG_SCORE, 0.5),
    ("values.max_carbon", CARBON_INTENSITY, 1.0),
    ("tax.state_rate", STATE_RATE, 0.01),
    ("emergency_months", EMERGENCY_MONTHS, 1.0),
]
UNIVERSE_BOUNDS = [
    ("assets.VTI.expense_ratio", EXPENSE_RATIO, 0.01),
    ("assets.VTI.dividend_yield", DIVIDEND_YIELD, 0.01),
]


def _with(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    *parents, leaf = path.split(".")
    node: Any = out
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    node[leaf] = value
    return out


def _domain_object(root: Any, path: str) -> tuple[Any, str]:
    """The dataclass that holds the field at ``path`` (e.g. the household's first member) and the field name."""
    *parents, leaf = path.split(".")
    node = root
    for part in parents:
        node = node[int(part)] if part.isdigit() else getattr(node, part)
    return node, leaf


@pytest.mark.parametrize(("path", "bounds", "step"), HOUSEHOLD_BOUNDS, ids=[c[0] for c in HOUSEHOLD_BOUNDS])
def test_household_bounds_are_the_models(path: str, bounds: tuple[float, float], step: float) -> None:
    lo, hi = bounds
    for ok in (lo, hi):
        household = household_from_dict(_with(HOUSEHOLD, path, ok))
        obj, name = _domain_object(household, path)
        assert getattr(obj, name) == ok
        for bad in (lo - step, hi + step):
            with pytest.raises(ValidationError, match=name):
                dataclasses.replace(obj, **{name: bad})
    for bad in (lo - step, hi + step):
        with pytest.raises(ConfigError) as err:
            household_from_dict(_with(HOUSEHOLD, path, bad))
        assert err.value.field == path


@pytest.mark.parametrize(("path", "bounds", "step"), UNIVERSE_BOUNDS, ids=[c[0] for c in UNIVERSE_BOUNDS])
def test_universe_bounds_are_the_models(path: str, bounds: tuple[float, float], step: float) -> None:
    lo, hi = bounds
    for ok in (lo, hi):
        asset = universe_from_dict(_with(UNIVERSE, path, ok))["VTI"]
        name = path.rsplit(".", 1)[1]
        assert getattr(asset, name) == ok
        with pytest.raises(ValidationError, match=name):
            dataclasses.replace(asset, **{name: hi + step})
    for bad in (lo - step, hi + step):
        with pytest.raises(ConfigError) as err:
            universe_from_dict(_with(UNIVERSE, path, bad))
        assert err.value.field == path


@pytest.mark.parametrize(
    ("path", "allowed"), [("members.0.sex", SEXES), ("goals.0.withdrawal_order", WITHDRAWAL_ORDERS)]
)
def test_vocabularies_are_the_models(path: str, allowed: tuple[str, ...]) -> None:
    for ok in allowed:
        obj, name = _domain_object(household_from_dict(_with(HOUSEHOLD, path, ok)), path)
        assert getattr(obj, name) == ok
        with pytest.raises(ValidationError, match=name):
            dataclasses.replace(obj, **{name: "other"})
    with pytest.raises(ConfigError) as err:
        household_from_dict(_with(HOUSEHOLD, path, "other"))
    assert err.value.field == path
