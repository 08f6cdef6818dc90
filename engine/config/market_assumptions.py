"""Capital-market assumptions per asset class (``config/capital_market_assumptions.yaml``), validated.

    cma = load_capital_market_assumptions()
    cma.expected_return[AssetClass.US_EQUITY], cma.volatility[AssetClass.US_EQUITY], cma.correlation

Every room may import this module (goals reads it for Monte Carlo, estimates for priors). Units: annual,
nominal fractions (0.07 = 7 %); ``expected_return`` is the arithmetic mean of simple annual returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from engine.config.loader import default_file, read_yaml, validate
from engine.errors import ConfigError
from engine.model import AssetClass

__all__ = ["CapitalMarketAssumptions", "load_capital_market_assumptions", "market_assumptions_from_dict"]

FILE_NAME = "capital_market_assumptions.yaml"


@dataclass(frozen=True, slots=True)
class CapitalMarketAssumptions:
    """Long-term class assumptions: annual arithmetic expected return, volatility, class correlations.

    ``correlation`` is a DataFrame indexed by ``AssetClass`` on both axes (unit diagonal, PSD).
    ``within_class_correlation`` is the assumed correlation of two funds of one class.
    """

    expected_return: Mapping[AssetClass, float]
    volatility: Mapping[AssetClass, float]
    correlation: pd.DataFrame
    risk_free_rate: float = 0.03
    inflation: float = 0.025
    within_class_correlation: float = 0.9
    horizon_years: int = 10
    name: str = ""
    source: str = ""
    file: str | None = field(default=None, compare=False)

    @property
    def classes(self) -> tuple[AssetClass, ...]:
        """The classes in the file's order."""
        return tuple(self.expected_return)

    @property
    def covariance(self) -> pd.DataFrame:
        """Annual covariance of the class indices (fractions²), vol_a · vol_b · corr_ab."""
        vol = pd.Series(self.volatility, dtype=float).reindex(self.correlation.index)
        return self.correlation.mul(vol, axis=0).mul(vol, axis=1)

    def require(self, cls: AssetClass) -> None:
        """Raise ``ConfigError`` naming the file when ``cls`` has no assumption."""
        if cls not in self.expected_return:
            raise ConfigError(
                f"no capital-market assumption for asset class {cls.value}",
                file=self.file,
                field=f"classes.{cls.value}",
                fix="add expected_return and volatility for it",
            )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _ClassSchema(_Strict):
    expected_return: float = Field(ge=-0.5, le=1.0)
    volatility: float = Field(ge=0.0, le=2.0)


class _AssumptionsSchema(_Strict):
    version: Literal[1] = 1
    name: str = ""
    source: str = ""
    horizon_years: int = Field(10, ge=1, le=100)
    inflation: float = Field(0.025, ge=-0.05, le=0.5)
    risk_free_rate: float = Field(0.03, ge=-0.05, le=0.5)
    within_class_correlation: float = Field(0.9, gt=0.0, le=1.0)
    classes: dict[AssetClass, _ClassSchema] = Field(min_length=1)
    correlations: dict[AssetClass, dict[AssetClass, float]] = {}


def market_assumptions_from_dict(data: object, *, file: str | None = None) -> CapitalMarketAssumptions:
    """Build assumptions from parsed YAML; every class pair needs one correlation in [-1, 1].

    Raises:
        ConfigError: a missing or out-of-range field, a missing or contradictory pair, or a
            correlation matrix that is not positive semi-definite (names the file and the field).
    """
    s = validate(data, _AssumptionsSchema, file=file)
    classes = list(s.classes)
    index = {c: i for i, c in enumerate(classes)}
    n = len(classes)
    corr = np.full((n, n), np.nan)
    np.fill_diagonal(corr, 1.0)
    for a, row in s.correlations.items():
        for b, rho in row.items():
            where = f"correlations.{a.value}.{b.value}"
            if a not in index or b not in index:
                missing = a if a not in index else b
                raise ConfigError(
                    f"correlation names class {missing.value} that has no assumptions",
                    file=file,
                    field=where,
                    fix=f"add {missing.value} under classes or remove the pair",
                )
            if not -1.0 <= rho <= 1.0:
                raise ConfigError("a correlation must lie in [-1, 1]", file=file, field=where, value=rho)
            i, j = index[a], index[b]
            if i == j:
                if rho != 1.0:
                    raise ConfigError("a class correlates 1 with itself", file=file, field=where, value=rho,
                                      fix="remove the diagonal entry")
                continue
            if np.isfinite(corr[i, j]) and corr[i, j] != rho:
                raise ConfigError(
                    f"the pair is given twice with different values ({corr[i, j]:g} and {rho:g})",
                    file=file,
                    field=where,
                    fix="give each pair once (upper triangle)",
                )
            corr[i, j] = corr[j, i] = rho
    if np.isnan(corr).any():
        i, j = (int(x[0]) for x in np.nonzero(np.isnan(corr)))
        raise ConfigError(
            f"no correlation between {classes[i].value} and {classes[j].value}",
            file=file,
            field=f"correlations.{classes[min(i, j)].value}.{classes[max(i, j)].value}",
            fix="give every pair of classes a correlation (upper triangle)",
        )
    low = float(np.linalg.eigvalsh(corr).min())
    if low < -1e-10:
        raise ConfigError(
            f"the class correlation matrix is not positive semi-definite (smallest eigenvalue {low:.4f})",
            file=file,
            field="correlations",
            fix="make the correlations mutually consistent (e.g. lower the largest cross-class ones)",
        )
    frame = pd.DataFrame(corr, index=pd.Index(classes), columns=pd.Index(classes))
    return CapitalMarketAssumptions(
        expected_return={c: float(v.expected_return) for c, v in s.classes.items()},
        volatility={c: float(v.volatility) for c, v in s.classes.items()},
        correlation=frame,
        risk_free_rate=s.risk_free_rate,
        inflation=s.inflation,
        within_class_correlation=s.within_class_correlation,
        horizon_years=s.horizon_years,
        name=s.name,
        source=s.source,
        file=file,
    )


def load_capital_market_assumptions(path: str | Path | None = None) -> CapitalMarketAssumptions:
    """Load assumptions from ``path`` (default: ``config/capital_market_assumptions.yaml``).

    Raises:
        ConfigError: the file is missing, is not YAML, or fails validation (file, field, fix).
    """
    p = Path(path) if path else default_file(FILE_NAME)
    return market_assumptions_from_dict(read_yaml(p), file=str(p))
