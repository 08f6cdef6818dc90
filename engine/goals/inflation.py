"""Stochastic inflation for planning: yearly CPI inflation as an AR(1) correlated with asset returns.

    model = load_inflation()            # config/planning/inflation.yaml (sources there)
    model.mean, model.volatility, model.persistence

π(y) = mean + φ·(π(y−1) − mean) + σ·√(1−φ²)·e(y), so σ is the standard deviation of one year's inflation;
e(y) is correlated ``correlation_equity`` with the equity composite's and ``correlation_bonds`` with the bond
composite's shocks of the same year.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.config.loader import default_file, load_yaml

__all__ = ["InflationModel", "load_inflation"]


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: Literal[1] = 1
    source: str
    mean: float = Field(ge=-0.05, le=0.20)
    volatility: float = Field(ge=0, le=0.2)
    persistence: float = Field(ge=0, lt=1)
    correlation_equity: float = Field(ge=-1, le=1)
    correlation_bonds: float = Field(ge=-1, le=1)


@dataclass(frozen=True, slots=True)
class InflationModel:
    """Annual inflation parameters (fractions); ``volatility`` 0 gives deterministic inflation at ``mean``."""

    mean: float = 0.025
    volatility: float = 0.013
    persistence: float = 0.55
    correlation_equity: float = -0.10
    correlation_bonds: float = -0.25
    source: str = "built-in defaults"

    def with_mean(self, mean: float) -> InflationModel:
        """The same model around another long-run mean (the capital-market assumptions' inflation)."""
        return replace(self, mean=float(mean))


def load_inflation(path: str | Path | None = None) -> InflationModel:
    """Inflation parameters (default: ``config/planning/inflation.yaml``); cached per file."""
    p = Path(path) if path else default_file("planning/inflation.yaml")
    return _load(str(p.resolve()))


@functools.lru_cache(maxsize=4)
def _load(path: str) -> InflationModel:
    s = load_yaml(path, _Schema)
    return InflationModel(s.mean, s.volatility, s.persistence, s.correlation_equity, s.correlation_bonds, s.source)
