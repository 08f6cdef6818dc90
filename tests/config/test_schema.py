"""The YAML schemas come from the model's dataclasses (engine.config.schema): every field is in its schema or
excluded with a reason, every rule names a real field, bounds are the model's constants, and a field added to a
dataclass is in the schema with no change to the loader."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pydantic
import pytest
from annotated_types import Ge, Gt, Le

from engine.config import household_from_dict, household_to_dict, load_household, load_universe
from engine.config.loader import validate
from engine.config.schema import RULES, Rules, build, schema_of
from engine.errors import ConfigError, ValidationError
from engine.model import (
    Account,
    Asset,
    DirectIndex,
    Goal,
    Household,
    IncomeStream,
    LifeEvent,
    LifeEventKind,
    LossSale,
    Lot,
    Member,
    RiskProfile,
    SocialSecurity,
    TaxProfile,
    Values,
)


def _dataclasses_under(root: type) -> list[type]:
    """``root`` and every dataclass its fields hold (in tuples, unions, mappings), each once."""
    found: list[type] = []
    todo = [root]
    while todo:
        cls = todo.pop()
        if cls in found:
            continue
        found.append(cls)
        stack = list(typing.get_type_hints(cls).values())
        while stack:
            hint = stack.pop()
            if isinstance(hint, type) and dataclasses.is_dataclass(hint):
                todo.append(hint)
            stack.extend(typing.get_args(hint))
    return found


YAML_TYPES = [*_dataclasses_under(Household), Asset]


@pytest.mark.parametrize("model", YAML_TYPES, ids=[m.__name__ for m in YAML_TYPES])
def test_every_model_field_is_in_its_schema_or_excluded_with_a_reason(model: type) -> None:
    rules = RULES.get(model, Rules())
    model_fields = [f.name for f in dataclasses.fields(model)]
    schema_fields = list(schema_of(model).model_fields)
    assert schema_fields == [f for f in model_fields if f not in rules.exclude], (
        f"{model.__name__}: a field is neither in its YAML schema nor in RULES[{model.__name__}].exclude"
    )
    for name, reason in rules.exclude.items():
        assert name in model_fields, f"{model.__name__}.{name} is excluded but is not a field (renamed?)"
        assert len(reason.strip()) > 10, f"{model.__name__}.{name} is excluded without a reason"


@pytest.mark.parametrize("model", list(RULES), ids=[m.__name__ for m in RULES])
def test_every_rule_names_a_field_the_schema_has(model: type) -> None:
    rules = RULES[model]
    schema_fields = set(schema_of(model).model_fields)
    for kind in ("bounds", "limits", "defaults", "also"):
        unknown = set(getattr(rules, kind)) - schema_fields
        assert not unknown, f"RULES[{model.__name__}].{kind} names no field of its schema: {sorted(unknown)}"


@pytest.mark.parametrize("model", list(RULES), ids=[m.__name__ for m in RULES])
def test_bounds_are_the_models_constants(model: type) -> None:
    for name, (lo, hi) in RULES[model].bounds.items():
        meta = schema_of(model).model_fields[name].metadata
        assert [m.ge for m in meta if isinstance(m, Ge)] == [lo]
        assert [m.le for m in meta if isinstance(m, Le)] == [hi]


def test_defaults_are_the_models() -> None:
    for model in YAML_TYPES:
        rules = RULES.get(model, Rules())
        for f in dataclasses.fields(model):
            if f.name in rules.exclude or f.name in rules.defaults or f.default is dataclasses.MISSING:
                continue
            default = schema_of(model).model_fields[f.name].default
            expected = sorted(f.default) if isinstance(f.default, frozenset) else f.default
            expected = list(expected) if isinstance(expected, tuple) else expected
            assert default == expected, f"{model.__name__}.{f.name}"


def test_money_is_never_negative_unless_a_rule_says_more() -> None:
    savings = schema_of(Household).model_fields["monthly_savings"].metadata
    assert any(isinstance(m, Ge) and m.ge == 0 for m in savings)
    shares = schema_of(Lot).model_fields["shares"].metadata
    assert any(isinstance(m, Gt) and m.gt == 0 for m in shares) and not any(isinstance(m, Ge) for m in shares)


def test_the_sample_household_and_universe_round_trip() -> None:
    household = load_household(universe=load_universe())
    assert household_from_dict(household_to_dict(household)) == household


# A dataclass a future change might add: every kind of field the model uses, nothing registered in RULES.


@dataclass(frozen=True)
class _Leg:
    name: str
    weight: float = 0.5


@dataclass(frozen=True)
class _Sleeve:
    id: str
    start: date
    budget: Decimal
    legs: tuple[_Leg, ...] = ()
    tags: frozenset[str] = frozenset()
    cap: Decimal | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    leg: _Leg = field(default_factory=lambda: _Leg("core"))


def test_a_dataclass_added_to_the_model_gets_its_schema_without_a_loader_change() -> None:
    schema = schema_of(_Sleeve)
    assert list(schema.model_fields) == [f.name for f in dataclasses.fields(_Sleeve)]
    data = {"id": "s1", "start": "2026-01-02", "budget": "1000.10", "legs": [{"name": "a", "weight": 0.25}],
            "tags": ["b", "a"]}
    sleeve = build(_Sleeve, validate(data, schema, file="x.yaml"))
    assert sleeve == _Sleeve("s1", date(2026, 1, 2), Decimal("1000.10"), (_Leg("a", 0.25),), frozenset({"a", "b"}),
                             leg=_Leg("core"))
    assert type(sleeve.legs) is tuple and type(sleeve.tags) is frozenset


@pytest.mark.parametrize(
    ("change", "field_path", "words"),
    [
        ({"budget": -1}, "budget", "greater than or equal to 0"),
        ({"budget": 0.1 + 0.2}, "budget", ""),  # a float is read through its text: accepted exactly
        ({"legs": [{"name": "a", "weigth": 1}]}, "legs.0.weigth", "Extra inputs"),
        ({"start": "2026-02-30"}, "start", "date"),
        ({"leg": "core"}, "leg", "mapping"),
    ],
)
def test_a_new_dataclass_gets_the_loaders_errors(change: dict[str, Any], field_path: str, words: str) -> None:
    data = {"id": "s1", "start": "2026-01-02", "budget": "10", **change}
    if not words:
        assert build(_Sleeve, validate(data, schema_of(_Sleeve))).budget == Decimal(repr(0.1 + 0.2))
        return
    with pytest.raises(ConfigError) as err:
        validate(data, schema_of(_Sleeve), file="x.yaml")
    assert err.value.field == field_path and err.value.file == "x.yaml" and err.value.fix
    assert words in str(err.value)


def test_a_field_type_the_yaml_cannot_write_is_refused_at_import_with_the_fix() -> None:
    @dataclass(frozen=True)
    class Odd:
        when: complex

    with pytest.raises(TypeError, match=r"engine\.config\.schema\._yaml_type"):
        schema_of(Odd)


def test_schemas_refuse_unknown_keys_and_are_frozen() -> None:
    schema = schema_of(Household)
    assert schema.model_config.get("extra") == "forbid" and schema.model_config.get("frozen") is True
    with pytest.raises(pydantic.ValidationError):
        schema.model_validate({"id": "x", "name": "n", "members": [], "accounts": [], "unknown": 1})


def _samples() -> dict[type, Any]:
    """One valid instance of each YAML dataclass (the sample household's, or made here)."""
    household = load_household()
    day = household.lots[0].acquired
    out: dict[type, Any] = {
        Household: household, Member: household.members[0], Account: household.accounts[0],
        Lot: household.lots[0], Goal: household.goals[0], RiskProfile: household.risk, Values: household.values,
        TaxProfile: household.tax, SocialSecurity: SocialSecurity(pia=Decimal(2000)),
        IncomeStream: IncomeStream("pension", Decimal(12000)), Asset: load_universe()["VTI"],
        LifeEvent: LifeEvent(LifeEventKind.INHERITANCE, day, amount=Decimal(1)),
        LossSale: LossSale("s1", household.lots[0].account, "VTI", day, day, Decimal(1), Decimal(1)),
        DirectIndex: DirectIndex(accounts=(household.accounts[0].id,), fund="IVV", tax_budget=Decimal(3000),
                                 esg_floor=40.0),
    }
    assert set(out) >= set(YAML_TYPES)
    return out


@pytest.mark.parametrize("model", YAML_TYPES, ids=[m.__name__ for m in YAML_TYPES])
def test_the_schemas_limits_are_the_models(model: type) -> None:
    """Where the dataclass refuses a number, the schema declares the same limit (and the reverse): a bound added to
    a dataclass's checks without its RULES entry fails here."""
    obj, rules = _samples()[model], RULES.get(model, Rules())
    hints = typing.get_type_hints(model)
    for f in dataclasses.fields(model):
        hint = hints[f.name]
        union = typing.get_origin(hint) in (typing.Union, types.UnionType)
        kind = {t for t in (hint, *(typing.get_args(hint) if union else ())) if t in (int, float, Decimal)}
        if not kind or f.name in rules.exclude:
            continue
        if Decimal in kind:
            strict = "gt" in rules.limits.get(f.name, {})
            with pytest.raises(ValidationError):
                dataclasses.replace(obj, **{f.name: Decimal(0) if strict else Decimal(-1)})
            if not strict:
                dataclasses.replace(obj, **{f.name: Decimal(0)})
            continue
        step = 1 if int in kind and float not in kind else 0.01
        if f.name in rules.bounds:
            lo, hi = rules.bounds[f.name]
            for bad in (lo - step, hi + step):
                with pytest.raises(ValidationError):
                    dataclasses.replace(obj, **{f.name: bad})
            dataclasses.replace(obj, **{f.name: hi})
        else:
            dataclasses.replace(obj, **{f.name: 10**6 * step})  # no bound in the schema: none in the model
