"""YAML schemas derived from the model's dataclasses: one declaration of each field, its type and its default.

    MemberSchema = schema_of(Member)            # every field of Member, typed and defaulted as the model says
    member = build(Member, validated)           # a validated schema instance back into the dataclass

A schema's fields, types and defaults are the dataclass's (money as exact ``Money``, tuples and frozensets as
YAML lists, nested dataclasses as their own schemas). What the YAML edge adds is declared once per dataclass in
``RULES``: the bounds (the model's own constants, ``engine.model.RETIREMENT_AGE`` …), other pydantic
constraints, and the fields a YAML file does not carry, each with its reason. A field added to a dataclass is
in its YAML schema at once; ``tests/config/test_schema.py`` fails for a rule that names no field, an exclusion
without a reason, or a limit the dataclass checks differently.
"""

from __future__ import annotations

import enum
import functools
import operator
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal, TypeVar, cast

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from engine.config.exact import Money
from engine.model import (
    CARBON_INTENSITY,
    CLAIM_AGE,
    DIVIDEND_YIELD,
    EMERGENCY_MONTHS,
    ESG_SCORE,
    EXPENSE_RATIO,
    FRACTION,
    GOAL_PRIORITY,
    GOAL_YEARS,
    PENSION_START_AGE,
    PLAN_TO_AGE,
    RETIREMENT_AGE,
    RISK_WILLINGNESS,
    STATE_RATE,
    STOCK_ESG_SCORE,
    Account,
    Asset,
    DirectIndex,
    Goal,
    Household,
    IncomeStream,
    LifeEvent,
    LossSale,
    Lot,
    Member,
    RiskProfile,
    TaxProfile,
    Values,
)

__all__ = ["RULES", "Rules", "Strict", "build", "schema_of"]

T = TypeVar("T")


class Strict(BaseModel):
    """The base of every YAML schema: unknown keys are errors (a typo is never ignored), instances are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _EventBase(Strict):
    """A life event's schema base: its date key ``on:`` survives YAML 1.1's reading of it as ``True``."""

    @pydantic.model_validator(mode="before")
    @classmethod
    def _yaml_on_key(cls, data: Any) -> Any:
        # YAML 1.1 reads a bare `on:` key as the boolean True; take it back as the field name.
        if isinstance(data, dict) and True in data and "on" not in data:
            data = {("on" if k is True else k): v for k, v in data.items()}
        return data


@dataclass(frozen=True)
class Rules:
    """What the YAML edge adds to one dataclass's fields (every key names a field of that dataclass).

    Money (``Decimal``) fields are ``≥ 0`` unless ``limits`` gives ``gt`` or ``ge``: no amount in a household file
    is negative.
    """

    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # inclusive, the model's constants
    limits: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # other pydantic constraints
    defaults: Mapping[str, Any] = field(default_factory=dict)  # a YAML default for a field the model requires
    also: Mapping[str, Any] = field(default_factory=dict)  # a YAML spelling accepted before the model's type
    exclude: Mapping[str, str] = field(default_factory=dict)  # field → why a YAML file does not carry it
    base: type[Strict] = Strict  # validators that run before the fields


_NONEMPTY = {"min_length": 1}
_ESG = "ESG attributes come from esg.yaml (engine.esg.with_esg), not from the universe file"

#: The one declaration of what each dataclass's YAML schema adds; a dataclass without an entry gets ``Rules()``.
RULES: dict[type, Rules] = {
    Asset: Rules(
        bounds={"expense_ratio": EXPENSE_RATIO, "dividend_yield": DIVIDEND_YIELD, "qualified_share": FRACTION,
                "tax_exempt_share": FRACTION},
        exclude={"ticker": "the key of the fund's entry under assets:", "esg_score": _ESG,
                 "carbon_intensity": _ESG, "controversy": _ESG},
    ),
    IncomeStream: Rules(bounds={"start_age": PENSION_START_AGE, "survivor": FRACTION}, limits={"name": _NONEMPTY}),
    Member: Rules(
        bounds={"retirement_age": RETIREMENT_AGE, "claim_age": CLAIM_AGE}, limits={"id": _NONEMPTY},
        also={"social_security": Literal["auto"]},
    ),
    Account: Rules(limits={"id": _NONEMPTY}),
    Lot: Rules(limits={"id": _NONEMPTY, "shares": {"gt": 0}}),
    LossSale: Rules(limits={"id": _NONEMPTY, "symbol": _NONEMPTY, "shares": {"gt": 0}, "loss": {"gt": 0}}),
    Goal: Rules(
        bounds={"priority": GOAL_PRIORITY, "flexibility": FRACTION, "years": GOAL_YEARS, "plan_to_age": PLAN_TO_AGE},
        limits={"id": _NONEMPTY}, defaults={"target": Decimal(0)},  # a retirement goal's target comes from planning
    ),
    LifeEvent: Rules(base=_EventBase),
    RiskProfile: Rules(bounds={"willingness": RISK_WILLINGNESS}),
    Values: Rules(bounds={"min_esg_score": ESG_SCORE, "max_carbon": CARBON_INTENSITY, "tilt": FRACTION}),
    TaxProfile: Rules(bounds={"state_rate": STATE_RATE}),
    DirectIndex: Rules(
        # te_limit and max_weight are > 0 as well: the model refuses 0 with its own message
        bounds={"esg_floor": STOCK_ESG_SCORE, "te_limit": FRACTION, "max_weight": FRACTION},
        limits={"accounts": _NONEMPTY, "fund": _NONEMPTY},
    ),
    Household: Rules(
        bounds={"emergency_months": EMERGENCY_MONTHS},
        limits={"id": {"min_length": 1, "pattern": r"^[A-Za-z0-9_.-]+$"}, "members": _NONEMPTY, "accounts": _NONEMPTY},
    ),
}

_MODEL_OF: dict[type[BaseModel], type] = {}  # each generated schema → its dataclass (for ``build``)
_TO_BUILD: dict[type, tuple[str, ...]] = {}  # each dataclass → its fields whose YAML value ``build`` converts
_HINTS: dict[type, dict[str, Any]] = {}


def _hints(model: type) -> dict[str, Any]:
    """The dataclass's field types, evaluated once (the model writes them as text: ``from __future__``)."""
    if model not in _HINTS:
        _HINTS[model] = typing.get_type_hints(model)
    return _HINTS[model]


def _is_money(hint: Any) -> bool:
    return hint is Decimal or Decimal in typing.get_args(hint)


def _yaml_type(hint: Any) -> Any:
    """The type a YAML file writes for a model type: exact money, lists for tuples and sets, nested schemas."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Decimal:
        return Money
    if origin in (typing.Union, types.UnionType):
        return functools.reduce(operator.or_, [_yaml_type(a) for a in args])
    if origin in (tuple, frozenset, set, list):
        return types.GenericAlias(list, (_yaml_type(args[0]),))
    if origin in (Mapping, dict):
        return types.GenericAlias(dict, (args[0], _yaml_type(args[1])))
    if isinstance(hint, type) and is_dataclass(hint):
        return schema_of(hint)
    if hint in (str, int, float, bool, date, type(None), Any) or origin is Literal:
        return hint
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint  # validated by value
    raise TypeError(f"no YAML type for {hint!r}: add one to engine.config.schema._yaml_type")


def _yaml_default(value: Any) -> Any:
    return sorted(value) if isinstance(value, frozenset) else list(value) if isinstance(value, tuple) else value


@functools.cache
def schema_of(model: type) -> type[Strict]:
    """The pydantic schema of ``model``'s YAML form: its fields (less ``RULES[model].exclude``), with the rules."""
    rules = RULES.get(model, Rules())
    hints = _hints(model)
    defined: dict[str, Any] = {}
    for f in fields(model):
        if f.name in rules.exclude:
            continue
        hint = hints[f.name]
        kind = _yaml_type(hint)
        if f.name in rules.also:
            kind = rules.also[f.name] | kind
        constraints = dict(rules.limits.get(f.name, {}))
        if f.name in rules.bounds:
            constraints.update(ge=rules.bounds[f.name][0], le=rules.bounds[f.name][1])
        if _is_money(hint) and "gt" not in constraints and "ge" not in constraints:
            constraints["ge"] = 0
        if f.name in rules.defaults:
            info = Field(rules.defaults[f.name], **constraints)
        elif f.default is not MISSING:
            info = Field(_yaml_default(f.default), **constraints)
        elif f.default_factory is not MISSING:
            factory = f.default_factory
            made = schema_of(factory) if isinstance(factory, type) and is_dataclass(factory) else factory
            info = Field(default_factory=made, **constraints)
        else:
            info = Field(**constraints)
        defined[f.name] = (kind, info)
    schema = cast("type[Strict]", pydantic.create_model(
        f"{model.__name__}Schema", __base__=rules.base, __doc__=model.__doc__, __module__=__name__, **defined
    ))
    _MODEL_OF[schema] = model
    _TO_BUILD[model] = tuple(name for name in defined if _needs_building(hints[name]))
    return schema


def _needs_building(hint: Any) -> bool:
    """True when a validated YAML value is not yet what the field holds: a dataclass, a tuple or a set inside."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (tuple, frozenset, set) or (isinstance(hint, type) and is_dataclass(hint)):
        return True
    return origin in (typing.Union, types.UnionType, list, Mapping, dict) and any(_needs_building(a) for a in args)


def _from_yaml(hint: Any, value: Any) -> Any:
    """A validated YAML value as the model's field holds it: nested dataclasses built, lists as tuples or sets."""
    if isinstance(value, BaseModel):
        return build(_MODEL_OF[type(value)], value)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if isinstance(value, list):
        items = [_from_yaml(args[0] if args else Any, v) for v in value]
        return frozenset(items) if origin in (frozenset, set) else items if origin is list else tuple(items)
    if isinstance(value, dict) and origin in (Mapping, dict):
        return {k: _from_yaml(args[1], v) for k, v in value.items()}
    return value


def build(model: type[T], validated: BaseModel, **given: Any) -> T:
    """``model`` from a validated instance of ``schema_of(model)``; ``given`` fields (e.g. a mapping's key) win.

    Excluded fields keep the model's defaults; the dataclass's own checks run as always.
    """
    hints = _hints(model)
    values = {**vars(validated), **given}  # the schema's fields, as validated
    for name in _TO_BUILD[model]:
        if name not in given:
            values[name] = _from_yaml(hints[name], values[name])
    return model(**values)
