"""Per-fund ESG attributes: score (0–10), carbon intensity (tCO2e/$M sales), controversy flag, involvement tags.

    esg = load_esg()                          # config/esg.yaml (illustrative sample values, not vendor data)
    esg = load_esg("my_esg.csv")              # ticker,esg_score,carbon_intensity,controversy,tags ("a;b")

A null score or carbon means "not covered" (governments, gold, T-bills): such funds are left out of the
denominators of weighted averages, and reports state the covered fraction.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.config.loader import default_file, read_yaml, validate
from engine.errors import ConfigError, ValidationError
from engine.model import Universe

__all__ = ["EsgAttributes", "EsgData", "Tag", "esg_from_dict", "load_esg", "with_esg"]


class Tag(StrEnum):
    """Business-involvement tags a household can exclude (``controversy`` matches the controversy flag)."""

    FOSSIL_FUELS = "fossil_fuels"
    THERMAL_COAL = "thermal_coal"
    WEAPONS = "weapons"
    CONTROVERSIAL_WEAPONS = "controversial_weapons"
    CIVILIAN_FIREARMS = "civilian_firearms"
    TOBACCO = "tobacco"
    ALCOHOL = "alcohol"
    GAMBLING = "gambling"
    ADULT = "adult"
    NUCLEAR_POWER = "nuclear_power"
    PRIVATE_PRISONS = "private_prisons"
    CONTROVERSY = "controversy"


def parse_tag(value: str, where: str, file: str | None = None) -> Tag:
    """The ``Tag`` named ``value`` (case and spaces forgiven) or ``ConfigError`` listing the valid ones."""
    try:
        return Tag(value.strip().lower().replace(" ", "_").replace("-", "_"))
    except ValueError as exc:
        raise ConfigError("unknown ESG tag", file=file, field=where, value=value,
                          fix=f"use one of: {', '.join(t.value for t in Tag)}") from exc


@dataclass(frozen=True, slots=True)
class EsgAttributes:
    """One fund: ``esg_score`` 0–10 (None: not covered), ``carbon_intensity`` tCO2e per $M sales (None: not covered)."""

    ticker: str
    esg_score: float | None = None
    carbon_intensity: float | None = None
    controversy: bool = False
    tags: frozenset[Tag] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "ticker", self.ticker.strip().upper())
        for name, hi in (("esg_score", 10.0), ("carbon_intensity", 1e5)):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not math.isfinite(float(v)) or not 0 <= float(v) <= hi):
                raise ValidationError(f"must lie in [0, {hi:g}] or be None (not covered)",
                                      field=f"EsgAttributes.{name}", value=v)
            if v is not None:
                object.__setattr__(self, name, float(v))
        object.__setattr__(self, "tags", frozenset(Tag(t) for t in self.tags))

    def has(self, tag: Tag) -> bool:
        """True if the fund carries ``tag`` (``Tag.CONTROVERSY`` reads the controversy flag)."""
        return self.controversy if tag is Tag.CONTROVERSY else tag in self.tags


@dataclass(frozen=True, slots=True)
class EsgData:
    """ESG attributes per ticker; ``label`` says what the values are (e.g. 'illustrative sample values')."""

    funds: Mapping[str, EsgAttributes]
    label: str = ""
    source: str = ""
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "funds", {k.upper(): v for k, v in self.funds.items()})

    def get(self, ticker: str) -> EsgAttributes | None:
        """The attributes of ``ticker``, or None when the data does not cover it at all."""
        return self.funds.get(ticker.upper())

    def __contains__(self, ticker: object) -> bool:
        return isinstance(ticker, str) and ticker.upper() in self.funds

    def __len__(self) -> int:
        return len(self.funds)

    @property
    def tickers(self) -> list[str]:
        """Tickers in file order."""
        return list(self.funds)


class _FundSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    esg_score: float | None = Field(None, ge=0, le=10)
    carbon_intensity: float | None = Field(None, ge=0, le=1e5)
    controversy: bool = False
    tags: list[str] = []


class _EsgSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    label: str = ""
    funds: dict[str, _FundSchema] = Field(min_length=1)


def _build(ticker: str, spec: _FundSchema, where: str, file: str | None) -> EsgAttributes:
    tags = frozenset(parse_tag(t, f"{where}.tags", file) for t in spec.tags)
    if Tag.CONTROVERSY in tags:
        raise ConfigError("'controversy' is a flag, not a tag", file=file, field=f"{where}.tags",
                          fix="set controversy: true instead")
    return EsgAttributes(ticker, spec.esg_score, spec.carbon_intensity, spec.controversy, tags)


def esg_from_dict(data: Any, *, file: str | None = None) -> EsgData:
    """Build ``EsgData`` from parsed YAML (see ``config/esg.yaml``); errors name the file and the field."""
    s = validate(data, _EsgSchema, file=file)
    funds = {t.upper(): _build(t, spec, f"funds.{t}", file) for t, spec in s.funds.items()}
    return EsgData(funds, label=s.label, source=file or "")


def _csv(path: Path) -> EsgData:
    funds: dict[str, EsgAttributes] = {}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ConfigError("file not found", file=str(path), fix="check the path") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", file=str(path), fix="save the file as UTF-8") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror or exc}", file=str(path), fix="check the path") \
            from exc
    reader = csv.DictReader(text.splitlines())
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise ConfigError(f"not a well-formed CSV ({exc})", file=str(path), fix="check the quotes and separators") \
            from exc
    need = {"ticker", "esg_score", "carbon_intensity", "controversy", "tags"}
    header = {h.strip().lower() for h in (reader.fieldnames or [])}
    if not need <= header:
        raise ConfigError(f"missing columns: {', '.join(sorted(need - header))}", file=str(path), field="header",
                          fix="use the header ticker,esg_score,carbon_intensity,controversy,tags")
    for n, raw in enumerate(rows, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        ticker = row["ticker"].upper()
        where = f"line {n} ({ticker or 'no ticker'})"
        if not ticker:
            raise ConfigError("empty ticker", file=str(path), field=where, fix="fill the ticker column")
        if ticker in funds:
            raise ConfigError("ticker listed twice", file=str(path), field=where, value=ticker,
                              fix="keep one row per fund")
        flag = row["controversy"].lower()
        if flag not in {"", "true", "false", "1", "0", "yes", "no"}:
            raise ConfigError("controversy must be true or false", file=str(path), field=f"{where}.controversy",
                              value=row["controversy"])
        data = {
            "esg_score": row["esg_score"] or None,
            "carbon_intensity": row["carbon_intensity"] or None,
            "controversy": flag in {"true", "1", "yes"},
            "tags": [t for t in row["tags"].split(";") if t.strip()],
        }
        spec = validate(data, _FundSchema, file=f"{path}: {where}")
        funds[ticker] = _build(ticker, spec, where, str(path))
    if not funds:
        raise ConfigError("no rows", file=str(path), fix="add one row per fund")
    return EsgData(funds, label="user data", source=str(path))


def load_esg(path: str | Path | None = None) -> EsgData:
    """ESG data from ``path`` (``.csv`` or YAML), default ``config/esg.yaml`` (illustrative sample values).

    Raises:
        ConfigError: missing file, bad YAML/CSV, unknown tag or out-of-range value (file, field, fix).
    """
    p = Path(path) if path else default_file("esg.yaml")
    if p.suffix.lower() == ".csv":
        return _csv(p)
    return esg_from_dict(read_yaml(p), file=str(p))


def with_esg(universe: Universe, esg: EsgData) -> Universe:
    """The universe with each Asset's esg_score, carbon_intensity, controversy and tags filled from ``esg``."""
    assets = {}
    for t, a in universe.assets.items():
        e = esg.get(t)
        if e is None:
            assets[t] = a
            continue
        assets[t] = replace(a, esg_score=e.esg_score, carbon_intensity=e.carbon_intensity,
                            controversy=e.controversy, tags=frozenset(a.tags) | {x.value for x in e.tags})
    return Universe(assets, universe.identical)

