"""A household's values applied to a universe: allowed funds, exclusions with reasons, optimizer vectors.

    screen = apply_values(universe, load_esg(), household.values)
    screen.allowed, screen.excluded["VTI"], screen.score_vector(), screen.carbon_vector(cap=120.0)

Scores are 0–10; carbon intensity is tCO2e per $M of sales; NaN marks a fund the data does not cover.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from engine.errors import ValidationError
from engine.esg.data import EsgData, parse_tag
from engine.model import Universe, Values

__all__ = ["Exclusion", "ExclusionReason", "Screen", "apply_values"]


class ExclusionReason(StrEnum):
    """Why a fund is screened out."""

    TICKER = "ticker"  # the household excluded the ticker itself
    TAG = "tag"  # the fund carries an excluded business-involvement tag (or the controversy flag)


@dataclass(frozen=True, slots=True)
class Exclusion:
    """One reason one fund is excluded: ``detail`` is the tag or the ticker."""

    ticker: str
    reason: ExclusionReason
    detail: str

    @property
    def label(self) -> str:
        """E.g. 'tag:tobacco' or 'ticker:VTI'."""
        return f"{self.reason.value}:{self.detail}"


@dataclass(frozen=True, slots=True)
class Screen:
    """Values applied to ``tickers`` (universe order): what may be held, and per-fund ESG vectors.

    ``score``/``carbon`` hold NaN where the fund is not covered; ``score_covered``/``carbon_covered`` say
    where they are. ``min_score`` (0–10), ``max_carbon`` (tCO2e/$M, or with ``carbon_relative`` a fraction
    of the unconstrained portfolio's carbon) and ``tilt`` (0–1) come from the household's ``Values``.
    """

    tickers: tuple[str, ...]
    allowed: tuple[str, ...]
    excluded: Mapping[str, tuple[Exclusion, ...]]
    score: np.ndarray
    carbon: np.ndarray
    min_score: float | None = None
    max_carbon: float | None = None
    carbon_relative: bool = False
    tilt: float = 0.0
    notes: tuple[str, ...] = field(default=())

    @property
    def excluded_mask(self) -> np.ndarray:
        """True where the fund may not be bought (per ticker, universe order)."""
        return np.array([t in self.excluded for t in self.tickers], dtype=bool)

    @property
    def score_covered(self) -> np.ndarray:
        """True where the fund has an ESG score."""
        return np.isfinite(self.score)

    @property
    def carbon_covered(self) -> np.ndarray:
        """True where the fund has a carbon intensity."""
        return np.isfinite(self.carbon)

    def score_vector(self, fill: float | None = None) -> np.ndarray:
        """Scores with uncovered funds set to ``fill``: default the ESG floor, else the covered mean.

        Filling with the floor makes an uncovered fund neutral in ``Σ w·(score − floor) ≥ 0``, which is the
        same as leaving it out of the weighted average's denominator.
        """
        covered = self.score_covered
        if fill is None:
            fill = self.min_score if self.min_score is not None else (
                float(self.score[covered].mean()) if covered.any() else 5.0)
        return np.where(covered, self.score, fill)

    def carbon_vector(self, cap: float | None = None) -> np.ndarray:
        """Carbon intensities with uncovered funds set to ``cap`` (neutral in ``Σ w·(carbon − cap) ≤ 0``), else 0."""
        return np.where(self.carbon_covered, self.carbon, 0.0 if cap is None else cap)

    def carbon_cap(self, reference_carbon: float | None = None) -> float | None:
        """The absolute cap in tCO2e/$M: ``max_carbon``, or × ``reference_carbon`` (unconstrained) if relative.

        Raises:
            ValidationError: the cap is relative and no reference carbon was given.
        """
        if self.max_carbon is None:
            return None
        if not self.carbon_relative:
            return self.max_carbon
        if reference_carbon is None:
            raise ValidationError("a relative carbon cap needs the unconstrained portfolio's carbon intensity",
                                  field="reference_carbon",
                                  fix="solve without values first and pass its weighted carbon intensity")
        return self.max_carbon * reference_carbon


def apply_values(universe: Universe, esg: EsgData, values: Values) -> Screen:
    """Apply a household's exclusions and ESG preferences to ``universe``.

    A fund is excluded for each excluded ticker or tag it carries (``controversy`` excludes flagged funds);
    a fund missing from ``esg`` carries no known tag and is not covered (noted).

    Raises:
        ConfigError: an excluded tag is not a known ``Tag`` (a typo would silently exclude nothing).
    """
    tags = sorted({parse_tag(t, "values.exclude_tags") for t in values.exclude_tags}, key=str)
    tickers = tuple(universe.tickers)
    notes: list[str] = []
    excluded: dict[str, tuple[Exclusion, ...]] = {}
    for t in sorted(values.exclude_tickers - set(tickers)):
        notes.append(f"excluded ticker {t} is not in the universe; nothing to do")
    score = np.full(len(tickers), np.nan)
    carbon = np.full(len(tickers), np.nan)
    for i, t in enumerate(tickers):
        reasons: list[Exclusion] = []
        if t in values.exclude_tickers:
            reasons.append(Exclusion(t, ExclusionReason.TICKER, t))
        attrs = esg.get(t)
        if attrs is None:
            notes.append(f"{t}: no ESG data; not covered, and tag exclusions cannot see it")
        else:
            reasons += [Exclusion(t, ExclusionReason.TAG, tag.value) for tag in tags if attrs.has(tag)]
            if attrs.esg_score is not None:
                score[i] = attrs.esg_score
            if attrs.carbon_intensity is not None:
                carbon[i] = attrs.carbon_intensity
        if reasons:
            excluded[t] = tuple(reasons)
    allowed = tuple(t for t in tickers if t not in excluded)
    if not allowed:
        notes.append("every fund is excluded; only cash can be held")
    if values.min_esg_score is not None:
        ok = [t for i, t in enumerate(tickers) if t in allowed and score[i] >= values.min_esg_score]
        if not ok:
            notes.append(f"no allowed fund scores at least {values.min_esg_score:g}; the floor can only be met "
                         "with uncovered funds (cash, treasuries, gold)")
    return Screen(
        tickers=tickers,
        allowed=allowed,
        excluded=excluded,
        score=score,
        carbon=carbon,
        min_score=values.min_esg_score,
        max_carbon=values.max_carbon,
        carbon_relative=values.carbon_relative,
        tilt=values.tilt,
        notes=tuple(notes),
    )

