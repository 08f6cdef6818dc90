"""Longevity: the SSA period life table, survival curves and sampled ages at death.

    table = load_life_table()
    table.survival(67, "female")[:5]                 # P(alive after k years), k = 0, 1, …
    years = table.sample_years_left(40, "male", u)   # whole years lived from now, for uniform draws u

Source: SSA Office of the Chief Actuary, period life table (config/planning/life_table.yaml names the edition).
A person dies within the year of age x with probability q(x); a member with no ``sex`` uses the average of
the two columns. A period table has no mortality improvement (see the YAML's note).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from engine.config.loader import default_file, load_yaml
from engine.errors import ConfigError, PlanningError

__all__ = ["LifeTable", "load_life_table"]


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: Literal[1] = 1
    source: str
    first_age: int = 0
    q: dict[Literal["male", "female"], list[list[float]]]


@dataclass(frozen=True, slots=True)
class LifeTable:
    """One-year death probabilities q(age) (fractions) by sex, from ``first_age``; the last age dies surely."""

    source: str
    first_age: int
    male: np.ndarray
    female: np.ndarray

    def q(self, sex: str | None) -> np.ndarray:
        """q(x) for ages first_age … (None: the average of male and female)."""
        if sex == "male":
            return self.male
        if sex == "female":
            return self.female
        return 0.5 * (self.male + self.female)

    def survival(self, age: int, sex: str | None) -> np.ndarray:
        """S[k] = P(alive k whole years from now | alive at ``age``), k = 0 … the table's end (S ends at 0)."""
        q = self.q(sex)
        i = int(age) - self.first_age
        if i < 0:
            raise PlanningError(f"age {age} is below the life table's first age {self.first_age}")
        if i >= len(q):
            return np.array([1.0, 0.0])
        p = 1.0 - q[i:].copy()
        p[-1] = 0.0
        return np.concatenate([[1.0], np.cumprod(p)])

    def life_expectancy(self, age: int, sex: str | None) -> float:
        """Curtate expectation + ½ (years), the table's e(x) to about 0.05 years."""
        return float(self.survival(age, sex)[1:].sum()) + 0.5

    def sample_years_left(self, age: int, sex: str | None, u: np.ndarray) -> np.ndarray:
        """Whole years each draw lives on (int16; 0 = dies within the coming year) for uniform draws ``u``."""
        s = self.survival(age, sex)
        # alive after k years iff u < S[k]; years lived = number of k ≥ 1 with S[k] > u
        return (np.searchsorted(-s[1:], -u, side="left")).astype(np.int16)


def load_life_table(path: str | Path | None = None) -> LifeTable:
    """The life table (default: ``config/planning/life_table.yaml``); cached per file.

    Raises:
        ConfigError: probabilities outside [0, 1] or the two sexes of different lengths.
    """
    p = Path(path) if path else default_file("planning/life_table.yaml")
    return _load(str(p.resolve()))


@functools.lru_cache(maxsize=4)
def _load(path: str) -> LifeTable:
    s = load_yaml(path, _Schema)
    cols = {}
    for sex in ("male", "female"):
        if sex not in s.q:
            raise ConfigError(f"the life table needs a {sex} column", file=path, field=f"q.{sex}", fix="add it")
        v = np.array([x for row in s.q[sex] for x in row], float)
        if v.size == 0 or ((v < 0) | (v > 1)).any():
            raise ConfigError("death probabilities must lie in [0, 1]", file=path, field=f"q.{sex}",
                              fix="copy q(x) from the SSA table")
        cols[sex] = v
    if len(cols["male"]) != len(cols["female"]):
        raise ConfigError("male and female columns differ in length", file=path, field="q", fix="one row per age")
    return LifeTable(s.source, s.first_age, cols["male"], cols["female"])
