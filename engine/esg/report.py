"""What a portfolio's values look like (score, carbon, excluded exposure) and what the values cost.

    report = values_report({"VTI": 0.6, "BND": 0.4}, load_esg(), household.values)
    print("\\n".join(report.lines()))

Weights are fractions of the portfolio (cash may be included under any ticker the data does not cover).
Scores 0–10; carbon intensity tCO2e per $M of sales; averages are over covered weight only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from engine.errors import ValidationError
from engine.esg.data import EsgData, parse_tag
from engine.model import Values

__all__ = ["ValuesCost", "ValuesReport", "values_cost", "values_report"]


@dataclass(frozen=True, slots=True)
class ValuesReport:
    """Values of one portfolio; exposures are fractions of total weight, averages over covered weight.

    ``esg_score`` (0–10) and ``carbon_intensity`` (tCO2e/$M) are None when nothing is covered;
    ``score_coverage`` / ``carbon_coverage`` are the covered fractions. ``excluded_exposure`` maps
    'tag:x' / 'ticker:X' to the weight held against that exclusion; ``excluded_total`` counts each fund once.
    """

    total_weight: float
    esg_score: float | None
    score_coverage: float
    carbon_intensity: float | None
    carbon_coverage: float
    controversy_exposure: float
    tag_exposure: Mapping[str, float]
    excluded_exposure: Mapping[str, float] = field(default_factory=dict)
    excluded_total: float = 0.0
    meets_min_score: bool | None = None
    meets_max_carbon: bool | None = None
    uncovered: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """The report in words, one line per fact."""
        out = [
            f"ESG score {self.esg_score:.2f}/10 on {self.score_coverage:.0%} covered" if self.esg_score is not None
            else "ESG score: no covered holding",
            f"carbon intensity {self.carbon_intensity:.0f} tCO2e/$M sales on {self.carbon_coverage:.0%} covered"
            if self.carbon_intensity is not None else "carbon intensity: no covered holding",
            f"in funds with a severe controversy: {self.controversy_exposure:.1%}",
        ]
        for label, w in sorted(self.excluded_exposure.items()):
            out.append(f"held against exclusion {label}: {w:.1%}")
        if self.meets_min_score is not None:
            out.append("meets the ESG floor" if self.meets_min_score else "below the ESG floor")
        if self.meets_max_carbon is not None:
            out.append("within the carbon cap" if self.meets_max_carbon else "above the carbon cap")
        return out


def values_report(
    weights: Mapping[str, float],
    esg: EsgData,
    values: Values | None = None,
    *,
    reference_carbon: float | None = None,
) -> ValuesReport:
    """Weighted ESG score, carbon intensity, tag and excluded exposure of ``weights`` (fractions).

    Funds without a score (or carbon) are left out of that average's denominator and listed as uncovered.
    A relative carbon cap is checked only with ``reference_carbon`` (the unconstrained portfolio's).

    Raises:
        ValidationError: a negative or non-finite weight, or weights summing to 0.
    """
    w = {t.upper(): float(x) for t, x in weights.items()}
    bad = [t for t, x in w.items() if not np.isfinite(x) or x < -1e-12]
    if bad:
        raise ValidationError("weights must be finite and ≥ 0 (fractions)", field="weights", value=bad)
    total = sum(w.values())
    if total <= 0:
        raise ValidationError("weights sum to 0", field="weights", fix="pass the portfolio's weights")
    s_num = s_den = c_num = c_den = controversy = 0.0
    tags: dict[str, float] = {}
    uncovered: list[str] = []
    for t, x in w.items():
        a = esg.get(t)
        if a is None or a.esg_score is None:
            uncovered.append(t)
        if a is None:
            continue
        if a.esg_score is not None:
            s_num, s_den = s_num + x * a.esg_score, s_den + x
        if a.carbon_intensity is not None:
            c_num, c_den = c_num + x * a.carbon_intensity, c_den + x
        controversy += x if a.controversy else 0.0
        for tag in a.tags:
            tags[tag.value] = tags.get(tag.value, 0.0) + x / total
    score = s_num / s_den if s_den > 0 else None
    carbon = c_num / c_den if c_den > 0 else None
    excluded: dict[str, float] = {}
    excluded_funds: set[str] = set()
    meets_score = meets_carbon = None
    if values is not None:
        ex_tags = [parse_tag(x, "values.exclude_tags") for x in values.exclude_tags]
        for t, x in w.items():
            a = esg.get(t)
            hits = [f"ticker:{t}"] if t in values.exclude_tickers else []
            hits += [f"tag:{g.value}" for g in ex_tags if a is not None and a.has(g)]
            for h in hits:
                excluded[h] = excluded.get(h, 0.0) + x / total
            if hits and x > 0:
                excluded_funds.add(t)
        if values.min_esg_score is not None and score is not None:
            meets_score = score >= values.min_esg_score - 1e-9
        if values.max_carbon is not None and carbon is not None:
            cap = values.max_carbon * reference_carbon if values.carbon_relative and reference_carbon else (
                None if values.carbon_relative else values.max_carbon)
            meets_carbon = None if cap is None else carbon <= cap + 1e-9
    return ValuesReport(
        total_weight=total,
        esg_score=score,
        score_coverage=s_den / total,
        carbon_intensity=carbon,
        carbon_coverage=c_den / total,
        controversy_exposure=controversy / total,
        tag_exposure=dict(sorted(tags.items())),
        excluded_exposure=dict(sorted(excluded.items())),
        excluded_total=sum(w[t] for t in excluded_funds) / total,
        meets_min_score=meets_score,
        meets_max_carbon=meets_carbon,
        uncovered=tuple(sorted(uncovered)),
    )


@dataclass(frozen=True, slots=True)
class ValuesCost:
    """What the values cost: the same problem solved with and without them (annual fractions).

    ``return_given_up`` = μ·w_without − μ·w_with (> 0 means the values cost return);
    ``risk_change`` = vol_with − vol_without; ``score_gain`` and ``carbon_reduction`` are what they bought.
    """

    return_with: float
    return_without: float
    volatility_with: float
    volatility_without: float
    score_with: float | None
    score_without: float | None
    carbon_with: float | None
    carbon_without: float | None
    binding: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def return_given_up(self) -> float:
        """Expected annual return given up by holding to the values (fraction)."""
        return self.return_without - self.return_with

    @property
    def risk_change(self) -> float:
        """Change in annual volatility from the values (fraction; > 0 = riskier)."""
        return self.volatility_with - self.volatility_without

    @property
    def score_gain(self) -> float | None:
        """ESG score points gained (0–10 scale)."""
        return None if self.score_with is None or self.score_without is None else self.score_with - self.score_without

    @property
    def carbon_reduction(self) -> float | None:
        """Fractional cut in carbon intensity (0.3 = 30 % lower)."""
        if self.carbon_with is None or not self.carbon_without:
            return None
        return 1.0 - self.carbon_with / self.carbon_without


def values_cost(
    tickers: Sequence[str],
    mu: np.ndarray,
    cov: np.ndarray,
    with_values: Mapping[str, float],
    without_values: Mapping[str, float],
    esg: EsgData,
    *,
    binding: Sequence[str] = (),
) -> ValuesCost:
    """Cost of values from two solved portfolios (weights, fractions) and annual ``mu``/``cov`` over ``tickers``.

    The optimizer solves the household's problem twice (with and without values) and hands both here.
    """
    index = {t.upper(): i for i, t in enumerate(tickers)}
    mu = np.asarray(mu, dtype=float)
    cov = np.asarray(cov, dtype=float)

    def vec(weights: Mapping[str, float], name: str) -> np.ndarray:
        out = np.zeros(len(index))
        for t, x in weights.items():
            if t.upper() not in index:
                raise ValidationError(f"{t} has no expected return", field=name, value=t,
                                      fix="pass weights over the same tickers as mu and cov")
            out[index[t.upper()]] = x
        return out

    a, b = vec(with_values, "with_values"), vec(without_values, "without_values")
    ra, rb = values_report(with_values, esg), values_report(without_values, esg)
    return ValuesCost(
        return_with=float(mu @ a),
        return_without=float(mu @ b),
        volatility_with=float(np.sqrt(max(a @ cov @ a, 0.0))),
        volatility_without=float(np.sqrt(max(b @ cov @ b, 0.0))),
        score_with=ra.esg_score,
        score_without=rb.esg_score,
        carbon_with=ra.carbon_intensity,
        carbon_without=rb.carbon_intensity,
        binding=tuple(binding),
    )


