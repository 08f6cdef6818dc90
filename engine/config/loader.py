"""Load and validate YAML configuration into domain objects; every error names file, field and fix.

    universe = load_universe()                     # the shipped config/universe.yaml
    household = load_household("my_household.yaml")

The household and universe schemas are the model's dataclasses read by ``engine.config.schema`` (fields, types,
defaults; bounds from the model's constants); this module reads files, turns the first error into a
``ConfigError`` and checks what spans fields: references, dates, substitute groups.
"""

from __future__ import annotations

import os
from dataclasses import fields, is_dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import GenericAlias
from typing import Any, Literal, TypeVar, cast

import pydantic
import yaml
from pydantic import BaseModel, Field

from engine.config.direct import check_direct_index, sleeve_symbols, with_universe_resolved
from engine.config.schema import Strict, build, schema_of
from engine.config.strict_yaml import MAX_BYTES, YamlFloat, strict_load
from engine.errors import ConfigError
from engine.errors import ValidationError as DomainValidationError
from engine.model import AccountType, Asset, GoalKind, Household, LifeEventKind, Universe

Schema = TypeVar("Schema", bound=BaseModel)

_DEFAULTS = Path(__file__).resolve().parent / "defaults"


def config_dir() -> Path:
    """The configuration folder: ``ROBO_CONFIG_DIR`` if set, else the defaults shipped in the package.

    Raises:
        ConfigError: ``ROBO_CONFIG_DIR`` is set but empty or not an existing folder (a typo must not silently
            fall back to the shipped configuration).
    """
    override = os.environ.get("ROBO_CONFIG_DIR")
    if override is None:
        return _DEFAULTS
    path = Path(override).expanduser()
    if not override.strip() or not path.is_dir():
        raise ConfigError(
            "the configuration folder does not exist" if not path.exists() else "not a folder",
            field="ROBO_CONFIG_DIR",
            value=override,
            fix="point ROBO_CONFIG_DIR at an existing folder of YAML files, or unset it to use the shipped ones",
        )
    return path


def default_file(name: str) -> Path:
    """Path of a config file by its name relative to the config folder (falls back to the shipped one)."""
    path = config_dir() / name
    if not path.exists() and (_DEFAULTS / name).exists():
        return _DEFAULTS / name
    if not path.exists():
        raise ConfigError(
            "configuration file not found",
            file=str(path),
            fix=f"create it or unset ROBO_CONFIG_DIR to use the shipped {name}",
        )
    return path


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file; syntax errors become ``ConfigError`` with the line and column.

    Duplicate keys, unbounded aliases, unreadable files and non-UTF-8 text are ``ConfigError`` too
    (``engine.config.strict_yaml``); floats keep their text so money is read exactly.
    """
    p = Path(path)
    try:
        if p.is_dir():
            raise ConfigError("is a folder, not a YAML file", file=str(p), fix="name the YAML file itself")
        if p.stat().st_size > MAX_BYTES:
            raise ConfigError(f"the file is larger than {MAX_BYTES:,} bytes", file=str(p),
                              fix="check that this is the intended file")
        text = p.read_bytes().decode("utf-8-sig")
    except FileNotFoundError as exc:
        raise ConfigError("file not found", file=str(p), fix="check the path") from exc
    except PermissionError as exc:
        raise ConfigError("file not readable (permission denied)", file=str(p), fix="check its permissions") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not UTF-8 text (byte {exc.start})", file=str(p), fix="save the file as UTF-8"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror or exc}", file=str(p), fix="check the path") from exc
    return strict_load(text, file=str(p))


def validate(data: object, schema: type[Schema], *, file: str | None = None) -> Schema:
    """Validate plain data against a pydantic schema; the first error becomes a ``ConfigError``."""
    if data is None:
        raise ConfigError("the file is empty", file=file, fix="write the settings (see the shipped example)")
    if not isinstance(data, dict):
        raise ConfigError(
            f"expected a mapping of keys to values at the top level, got a {type(data).__name__}",
            file=file, field="<root>", fix="start the file with `key: value` lines",
        )
    try:
        return schema.model_validate(data)
    except RecursionError as exc:
        raise ConfigError("the data nests too deeply", file=file, fix="flatten the structure") from exc
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        fix = _fix_hint(err)
        raise ConfigError(
            f"invalid value: {_said(err)}{more}",
            file=file,
            field=loc,
            value=_shown(err.get("input")),
            fix=fix,
        ) from exc


def _shown(value: Any) -> Any:
    """A bad input as a message shows it: a YAML float as written, containers and long text shortened."""
    if isinstance(value, YamlFloat):
        return value.text
    if isinstance(value, dict | list | tuple | set):
        return None
    if isinstance(value, str) and len(value) > 80:
        return value[:77] + "..."
    return value


def load_yaml(path: str | Path, schema: type[Schema]) -> Schema:
    """Read a YAML file and validate it against ``schema``; errors name the file and the field."""
    return validate(read_yaml(path), schema, file=str(path))


def _said(err: Any) -> str:
    """pydantic's message; a value where a mapping belongs is said so (not by the schema's class name)."""
    return "expected a mapping of `key: value` fields" if err.get("type") == "model_type" else str(err["msg"])


def _fix_hint(err: Any) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "remove this field or check its spelling"
    if kind == "model_type":
        return "write its fields as `key: value` lines, as in the shipped file"
    if kind == "missing":
        return "add this field"
    if kind == "enum":
        return "choose one of the values listed"
    if kind.startswith(("greater_than", "less_than")):
        return "use a value within the allowed range"
    if "date" in kind:
        return "write dates as YYYY-MM-DD"
    if kind == "value_error" and "decimals" in str(err.get("msg", "")):
        return "write at most 18 decimals (the store keeps NUMERIC(38, 18))"
    if kind == "value_error" and "finite" in str(err.get("msg", "")):
        return "write a plain number"
    return "see the comments in the shipped file for valid values"


# ---------------------------------------------------------------------------------------------
# Universe
# ---------------------------------------------------------------------------------------------

AssetSchema = schema_of(Asset)
UniverseSchema = pydantic.create_model(
    "UniverseSchema", __base__=Strict, __module__=__name__,
    version=(Literal[1], 1),
    identical=(list[list[str]], []),
    assets=(cast(Any, GenericAlias(dict, (str, AssetSchema))), Field(min_length=1)),  # dict[str, AssetSchema]
)


def universe_from_dict(data: object, *, file: str | None = None) -> Universe:
    """Build a ``Universe`` from parsed YAML (see ``config/universe.yaml``)."""
    schema = vars(validate(data, UniverseSchema, file=file))
    specs: dict[str, BaseModel] = schema["assets"]
    groups: dict[str, list[str]] = {}
    for t, spec in specs.items():
        group = vars(spec)["substitute_group"]
        if group is not None:
            groups.setdefault(group, []).append(t)
    for group, members in groups.items():
        if len(members) == 1:
            raise ConfigError(
                f"substitute group {group!r} has a single fund, so it gives {members[0]} no substitute (a typo?)",
                file=file, field=f"assets.{members[0]}.substitute_group", value=group,
                fix=f"use a group another fund shares ({', '.join(sorted(groups))}) or remove the field",
            )
    seen: dict[str, str] = {}
    for t in specs:
        if t.upper() in seen:
            raise ConfigError(
                f"ticker {t} is listed twice (also as {seen[t.upper()]})", file=file, field=f"assets.{t}",
                fix="keep one entry per ticker",
            )
        seen[t.upper()] = t
    assets = {t.upper(): build(Asset, spec, ticker=t) for t, spec in specs.items()}
    try:
        return Universe(assets, tuple(frozenset(x.upper() for x in g) for g in schema["identical"]))
    except DomainValidationError as exc:
        raise ConfigError(exc.reason, file=file, field="identical", value=exc.value) from exc


def load_universe(path: str | Path | None = None) -> Universe:
    """Load the universe (default: ``config/universe.yaml``)."""
    p = Path(path) if path else default_file("universe.yaml")
    return universe_from_dict(read_yaml(p), file=str(p))


# ---------------------------------------------------------------------------------------------
# Household
# ---------------------------------------------------------------------------------------------

HouseholdSchema = schema_of(Household)


def _earnings_files_resolved(household: Household, file: str | None) -> Household:
    """A relative ``social_security.earnings_file`` is resolved against the household file's folder."""
    if not file:
        return household
    members = []
    for m in household.members:
        ss = m.social_security
        if ss is not None and ss.earnings_file and not Path(ss.earnings_file).expanduser().is_absolute():
            where = Path(file).resolve().parent / Path(ss.earnings_file).expanduser()
            m = replace(m, social_security=replace(ss, earnings_file=str(where)))
        members.append(m)
    return household if tuple(members) == household.members else replace(household, members=tuple(members))


def household_from_dict(
    data: object, *, file: str | None = None, universe: Universe | None = None, as_of: date | None = None
) -> Household:
    """Build a ``Household`` from parsed YAML; with ``universe``, lots must name known tickers.

    Every reference is checked (members in events and accounts, accounts in lots and goals, ESG tags, tickers),
    and dates are checked against today: no birth in the future, no lot or loss sale after ``as_of`` (default
    today). With ``as_of`` (the planning day, e.g. the import day or a backtest's start) a goal must fall due
    after it. So a household that loads can be planned — or the error says why not.
    """
    validated = validate(data, HouseholdSchema, file=file)
    try:
        household = with_universe_resolved(_earnings_files_resolved(build(Household, validated), file), file)
    except DomainValidationError as exc:
        raise ConfigError(exc.reason, file=file, field=exc.field, value=exc.value, fix=exc.fix) from exc
    if universe is not None:
        stocks = sleeve_symbols(household)  # a direct-index sleeve's stocks (checked in check_direct_index)
        for lot in household.lots:
            if lot.symbol not in universe and lot.symbol not in stocks:
                raise ConfigError(
                    f"lot {lot.id} holds a ticker outside the universe",
                    file=file,
                    field=f"lots[{lot.id}].symbol",
                    value=lot.symbol,
                    fix="add the fund to config/universe.yaml or correct the ticker",
                )
    _check_references(household, file=file, universe=universe)
    check_direct_index(household, file=file, universe=universe)
    _check_dates(household, file=file, as_of=as_of)
    for sale in household.loss_sales:
        if household.account(sale.account).type is not AccountType.TAXABLE:
            raise ConfigError(
                f"loss sale {sale.id} is in {sale.account}, a {household.account(sale.account).type.value} account: "
                "a sale inside a tax-deferred account realizes no tax loss, so there is nothing to protect",
                file=file,
                field=f"loss_sales[{sale.id}].account",
                value=sale.account,
                fix="list only sales at a loss in taxable accounts",
            )
    return household


#: Births, lots and goals before this day are impossible dates (a typo such as 1088 for 1988).
EARLIEST_DATE = date(1900, 1, 1)


def _check_references(household: Household, *, file: str | None, universe: Universe | None) -> None:
    """References the model's own checks leave open: event members, ESG tags, tickers of loss sales and screens."""
    members = {m.id for m in household.members}
    for i, ev in enumerate(household.events):
        if ev.member is not None and ev.member not in members and ev.kind is not LifeEventKind.MARRIAGE:
            raise ConfigError(
                f"event {ev.id or i} ({ev.kind.value}) names an unknown member",
                file=file, field=f"events.{i}.member", value=ev.member,
                fix=f"use one of: {', '.join(sorted(members))}",
            )
    from engine.esg.data import parse_tag  # engine.esg imports this module: import late

    for tag in household.values.exclude_tags:
        parse_tag(tag, "values.exclude_tags", file)
    if universe is None:
        return
    for ticker in household.values.exclude_tickers:
        if ticker.upper() not in universe:
            raise ConfigError(
                "an excluded ticker is not in the universe (a typo excludes nothing)",
                file=file, field="values.exclude_tickers", value=ticker,
                fix="correct the ticker or remove it; the universe is config/universe.yaml",
            )
    for sale in household.loss_sales:
        if sale.symbol not in universe and sale.symbol not in sleeve_symbols(household):
            raise ConfigError(
                f"loss sale {sale.id} names a ticker outside the universe",
                file=file, field=f"loss_sales[{sale.id}].symbol", value=sale.symbol,
                fix="add the fund to config/universe.yaml or correct the ticker",
            )


def _check_dates(household: Household, *, file: str | None, as_of: date | None) -> None:
    """Births in the past, lots and loss sales on or before the planning day, goals due after it."""
    today = date.today()
    day = as_of or today
    for i, m in enumerate(household.members):
        if m.birth_date > today or m.birth_date < EARLIEST_DATE:
            raise ConfigError(
                f"member {m.id} is born {'in the future' if m.birth_date > today else 'before 1900'}",
                file=file, field=f"members.{i}.birth_date", value=m.birth_date.isoformat(),
                fix="write the birth date as YYYY-MM-DD (check the year)",
            )
    for lot in household.lots:
        if lot.acquired > day or lot.acquired < EARLIEST_DATE:
            when = f"after the planning day {day}" if lot.acquired > day else "before 1900"
            raise ConfigError(
                f"lot {lot.id} is acquired {when}",
                file=file, field=f"lots[{lot.id}].acquired", value=lot.acquired.isoformat(),
                fix="give the day the shares were bought (YYYY-MM-DD, not in the future)",
            )
    for sale in household.loss_sales:
        if sale.sold > day:
            raise ConfigError(
                f"loss sale {sale.id} is sold after the planning day {day}",
                file=file, field=f"loss_sales[{sale.id}].sold", value=sale.sold.isoformat(),
                fix="list only sales that already happened",
            )
    for i, g in enumerate(household.goals):
        end = g.target_date
        if g.kind is GoalKind.RETIREMENT:  # a retirement goal lasts through its income years
            years = g.years or 30
            end = date(min(g.target_date.year + years, 9999), g.target_date.month, min(g.target_date.day, 28))
        if g.target_date < EARLIEST_DATE or (as_of is not None and end <= as_of):
            raise ConfigError(
                f"goal {g.id} falls due on {g.target_date}, not after the planning day {day}"
                + (f" (its {g.years or 30} income years end {end})" if end != g.target_date else ""),
                file=file, field=f"goals.{i}.target_date", value=g.target_date.isoformat(),
                fix="move target_date into the future, or remove a goal that is done",
            )
    for i, ev in enumerate(household.events):
        if ev.on < EARLIEST_DATE:
            raise ConfigError(
                "event before 1900", file=file, field=f"events.{i}.on", value=ev.on.isoformat(),
                fix="write the date as YYYY-MM-DD (check the year)",
            )


def check_planning_day(household: Household, as_of: date, *, file: str | None = None) -> None:
    """``ConfigError`` when ``as_of`` precedes the household's own facts: a member's birth, a lot's purchase or a
    loss sale (planning 1950 for a household that bought its funds in 2019 cannot give a meaningful answer)."""
    for m in household.members:
        if m.birth_date > as_of:
            raise ConfigError(
                f"the planning day {as_of} is before member {m.id} was born ({m.birth_date})",
                file=file, field="as_of", value=as_of.isoformat(), fix=f"plan on or after {m.birth_date}",
            )
    latest = max((lot.acquired for lot in household.lots), default=None)
    if latest is not None and latest > as_of:
        lot = next(lot for lot in household.lots if lot.acquired == latest)
        raise ConfigError(
            f"the planning day {as_of} is before lot {lot.id} was bought ({latest})",
            file=file, field="as_of", value=as_of.isoformat(), fix=f"plan on or after {latest}",
        )
    for sale in household.loss_sales:
        if sale.sold > as_of:
            raise ConfigError(
                f"the planning day {as_of} is before loss sale {sale.id} ({sale.sold})",
                file=file, field="as_of", value=as_of.isoformat(), fix=f"plan on or after {sale.sold}",
            )


def load_household(
    path: str | Path | None = None, *, universe: Universe | None = None, as_of: date | None = None
) -> Household:
    """Load a household YAML (default: the shipped ``config/households/sample.yaml``); see ``household_from_dict``."""
    p = Path(path) if path else default_file("households/sample.yaml")
    return household_from_dict(read_yaml(p), file=str(p), universe=universe, as_of=as_of)


def _plain(value: Any) -> Any:
    """A value as a YAML file writes it: dataclasses as mappings of their fields, exact text for money, ISO dates."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "value") and isinstance(value.value, str):
        return value.value
    return value


def household_to_dict(household: Household) -> dict[str, Any]:
    """The household as plain YAML-ready data (every field, a new section too); ``household_from_dict`` reads it
    back identically."""
    out: dict[str, Any] = _plain(household)
    return out


def dump_household(household: Household) -> str:
    """The household as YAML text."""
    return yaml.safe_dump(household_to_dict(household), sort_keys=False, allow_unicode=True)
