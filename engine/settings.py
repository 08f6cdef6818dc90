"""Settings from the environment (prefix ``ROBO_``); broker keys are secrets and never printed.

    from engine.settings import Settings
    settings = Settings()              # reads ROBO_DATABASE_URL, ROBO_DATA_DIR, APCA_API_KEY_ID, ...
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

import pydantic
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.errors import ConfigError

__all__ = ["Settings", "default_home"]


def default_home() -> Path:
    """Where adaptive-robo keeps its files by default: ``~/.adaptive-robo``."""
    return Path.home() / ".adaptive-robo"


class Settings(BaseSettings):
    """Typed settings; every field can be set as ``ROBO_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="ROBO_", extra="ignore", frozen=True)

    home: Path = Field(default_factory=default_home)
    database_url: str | None = None
    data_dir: Path | None = None
    config_dir: Path | None = None
    trading_disabled: bool = False
    kill_switch_file: Path | None = None
    max_order_fraction: float = Field(1.0, gt=0, le=1)  # the size rail: one order ≤ this fraction of account equity
    alpaca_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("ROBO_ALPACA_API_KEY", "APCA_API_KEY_ID")
    )
    alpaca_secret_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("ROBO_ALPACA_SECRET_KEY", "APCA_API_SECRET_KEY")
    )
    alpaca_paper: bool = True
    alpaca_base_url: str | None = Field(
        None, validation_alias=AliasChoices("ROBO_ALPACA_BASE_URL", "APCA_API_BASE_URL")
    )
    dask_scheduler: str | None = None
    log_json: bool = False

    def __init__(self, **values: Any) -> None:
        """Read and validate the settings; a bad value is a ``ConfigError`` naming the variable and the fix."""
        _check_env_names(type(self))
        try:
            super().__init__(**values)
        except pydantic.ValidationError as exc:
            err = exc.errors()[0]
            name = _field_of(type(self), str(err["loc"][0]) if err["loc"] else "?")
            env = _env_name(type(self), name)
            shown = None if _is_secret(name) else err.get("input")
            raise ConfigError(
                f"invalid setting: {err['msg']}",
                field=env,
                value=shown,
                fix=_SETTING_FIXES.get(name, "correct or unset the variable"),
            ) from None  # the pydantic chain would print the input, which may be a secret

    @field_validator("home", "data_dir", "config_dir", "kill_switch_file", mode="before")
    @classmethod
    def _non_empty_path(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("an empty path; unset the variable to use the default")
        return value

    @field_validator("home", "data_dir")
    @classmethod
    def _not_a_file(cls, value: Path | None) -> Path | None:
        if value is not None and value.expanduser().is_file():
            raise ValueError(f"{value} is a file, but a folder is needed")
        return value.expanduser() if value is not None else None

    @field_validator("alpaca_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from urllib.parse import urlsplit

        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("not an http(s) URL such as https://paper-api.alpaca.markets")
        return value.strip()

    @field_validator("config_dir")
    @classmethod
    def _existing_folder(cls, value: Path | None) -> Path | None:
        if value is not None and not value.expanduser().is_dir():
            raise ValueError(f"{value} is not an existing folder (a typo must not fall back to the shipped config)")
        return value.expanduser() if value is not None else None

    @property
    def resolved_database_url(self) -> str:
        """The database URL: ``ROBO_DATABASE_URL`` or a SQLite file under ``home``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'robo.db'}"

    @property
    def cache_dir(self) -> Path:
        """Folder for downloaded prices (``ROBO_DATA_DIR`` or ``home/data``)."""
        return self.data_dir or self.home / "data"


_SETTING_FIXES = {
    "trading_disabled": "write true or false (also 1/0, yes/no, on/off)",
    "alpaca_paper": "write true or false (also 1/0, yes/no, on/off)",
    "log_json": "write true or false (also 1/0, yes/no, on/off)",
    "alpaca_base_url": "write the API's address, e.g. https://paper-api.alpaca.markets, or unset it",
    "max_order_fraction": "write a fraction of account equity in (0, 1], e.g. 0.25",
    "config_dir": "point it at an existing folder of YAML files, or unset it to use the shipped ones",
    "home": "point it at a folder (it is created when a command first writes)",
    "data_dir": "point it at a folder (it is created when prices are first cached)",
}

#: ROBO_ variables that are not settings of this class but are read elsewhere (the test suite).
_OTHER_PREFIXES = ("ROBO_TEST_", "ROBO_REQUIRE_")


def _is_secret(name: str) -> bool:
    return "key" in name or "secret" in name or "password" in name


def _field_of(cls: type[BaseSettings], loc: str) -> str:
    """The field an error location names (pydantic reports an aliased field by the alias it read)."""
    if loc in cls.model_fields:
        return loc
    for name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices) and loc.upper() in (str(a).upper() for a in alias.choices):
            return name
    return loc.lower().removeprefix("robo_")


def _env_name(cls: type[BaseSettings], name: str) -> str:
    field = cls.model_fields.get(name)
    alias = getattr(field, "validation_alias", None) if field else None
    if isinstance(alias, AliasChoices) and alias.choices:
        names = [str(a) for a in alias.choices]
        return next((n for n in names if n in os.environ), names[0])  # the variable the user actually set
    return f"ROBO_{name.upper()}"


def _known_env_names(cls: type[BaseSettings]) -> set[str]:
    names = set()
    for name, field in cls.model_fields.items():
        names.add(f"ROBO_{name.upper()}")
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(a).upper() for a in alias.choices)
    return names


def _check_env_names(cls: type[BaseSettings]) -> None:
    """A ``ROBO_`` variable that is no setting but nearly spells one is a typo: refuse it rather than ignore it."""
    known = _known_env_names(cls)
    for var in os.environ:
        upper = var.upper()
        if not upper.startswith("ROBO_") or upper in known or upper.startswith(_OTHER_PREFIXES):
            continue
        close = difflib.get_close_matches(upper, sorted(known), n=1, cutoff=0.8)
        if close:
            raise ConfigError(
                f"unknown setting (did you mean {close[0]}?)",
                field=var,
                fix=f"rename it to {close[0]} or unset it; a misspelt setting would otherwise be ignored",
            )
