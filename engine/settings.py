"""Settings from the environment (prefix ``ROBO_``); broker keys are secrets and never printed.

    from engine.settings import Settings
    settings = Settings()              # reads ROBO_DATABASE_URL, ROBO_DATA_DIR, APCA_API_KEY_ID, ...
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

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
