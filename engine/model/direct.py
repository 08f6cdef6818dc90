"""A household's direct-index sleeve: which taxable accounts hold an index as single stocks, and on what terms.

    DirectIndex(accounts=("brokerage",), fund="IVV", universe="embedded", te_limit=0.02,
                exclude=("fossil_fuels",), exclude_tickers=("XOM",), tax_budget=Decimal("5000"))

The household solve keeps planning the benchmark ``fund``; the fund's dollar target in a sleeve account becomes
the sleeve's target there, and the sleeve holds the index as stocks (``engine.planner.direct``). Field names are
the keys of the household YAML's ``direct_index:`` section (``engine/config/direct.py`` reads it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from engine.errors import ValidationError

__all__ = ["BENCHMARKS", "EXCLUSION_PRESETS", "STOCK_ESG_SCORE", "DirectIndex"]

#: Named company-level exclusions (GICS sub-industries; ``engine.optimizer.sleeve.Exclusion``'s presets).
EXCLUSION_PRESETS: Final = ("tobacco", "defense", "fossil_fuels")
#: How the benchmark weights the universe when no explicit weights are given.
BENCHMARKS: Final = ("cap", "equal")
#: A stock's ESG score, as the stock universe file writes it (0–100; the funds' ``esg.yaml`` scores are 0–10).
STOCK_ESG_SCORE: Final = (0.0, 100.0)


@dataclass(frozen=True, slots=True)
class DirectIndex:
    """A direct-index sleeve: ``accounts`` (taxable) hold ``universe``'s stocks tracking a benchmark within
    ``te_limit`` (annual tracking error, fraction), moving out of the index ``fund`` with at most ``tax_budget``
    USD of net tax per plan; exclusions by preset, ticker, GICS sector or sub-industry, ESG floor; tilts
    (annual return added per ticker, fraction).

    ``universe``: ``embedded`` (the shipped 20-stock demo set), a folder holding the S&P 500 research set, or
    a universe CSV (``ticker,name,gics_sector,…``). ``benchmark``: ``cap`` or ``equal``; ``benchmark_weights``
    (ticker → weight) override it, e.g. an index ETF's holdings.
    """

    accounts: tuple[str, ...]
    fund: str
    universe: str = "embedded"
    benchmark: str = "cap"
    benchmark_weights: Mapping[str, float] = field(default_factory=dict)
    te_limit: float = 0.015
    tax_budget: Decimal | None = None
    exclude: tuple[str, ...] = ()
    exclude_tickers: tuple[str, ...] = ()
    exclude_sectors: tuple[str, ...] = ()
    exclude_sub_industries: tuple[str, ...] = ()
    esg_floor: float | None = None
    tilts: Mapping[str, float] = field(default_factory=dict)
    max_weight: float = 0.10

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "accounts", tuple(self.accounts))
        if not self.accounts:
            raise ValidationError("a direct-index sleeve needs at least one account", field="direct_index.accounts",
                                  value=self.accounts, fix="name the taxable account(s) that hold the stocks")
        set_(self, "fund", str(self.fund).strip().upper())
        if not self.fund:
            raise ValidationError("the index fund the sleeve replaces is required", field="direct_index.fund",
                                  value=self.fund, fix="e.g. fund: IVV")
        for name in ("exclude", "exclude_tickers", "exclude_sectors", "exclude_sub_industries"):
            set_(self, name, tuple(str(v).strip() for v in getattr(self, name)))
        set_(self, "exclude_tickers", tuple(t.upper() for t in self.exclude_tickers))
        for preset in self.exclude:
            if preset not in EXCLUSION_PRESETS:
                raise ValidationError("unknown exclusion preset", field="direct_index.exclude", value=preset,
                                      fix=f"use one of: {', '.join(EXCLUSION_PRESETS)}")
        if self.benchmark not in BENCHMARKS:
            raise ValidationError("unknown benchmark", field="direct_index.benchmark", value=self.benchmark,
                                  fix=f"use one of: {', '.join(BENCHMARKS)} (or give benchmark_weights)")
        if not (isinstance(self.te_limit, int | float) and math.isfinite(self.te_limit) and 0 < self.te_limit <= 1):
            raise ValidationError("the tracking-error limit is an annual fraction in (0, 1]",
                                  field="direct_index.te_limit", value=self.te_limit, fix="e.g. te_limit: 0.015")
        if not (isinstance(self.max_weight, int | float) and 0 < self.max_weight <= 1):
            raise ValidationError("the largest weight per stock is a fraction in (0, 1]",
                                  field="direct_index.max_weight", value=self.max_weight, fix="e.g. max_weight: 0.1")
        if self.tax_budget is not None:
            set_(self, "tax_budget", Decimal(str(self.tax_budget)))
            if not (self.tax_budget.is_finite() and self.tax_budget >= 0):
                raise ValidationError("the tax budget is USD ≥ 0", field="direct_index.tax_budget",
                                      value=self.tax_budget, fix="e.g. tax_budget: 5000, or leave it out")
        if self.esg_floor is not None and not (STOCK_ESG_SCORE[0] <= self.esg_floor <= STOCK_ESG_SCORE[1]):
            raise ValidationError("the ESG floor is a score in [0, 100]", field="direct_index.esg_floor",
                                  value=self.esg_floor, fix="e.g. esg_floor: 40")
        weights = {str(k).strip().upper(): float(v) for k, v in dict(self.benchmark_weights).items()}
        if weights and (any(not (math.isfinite(v) and v >= 0) for v in weights.values())
                        or sum(weights.values()) <= 0):
            raise ValidationError("benchmark weights must be ≥ 0 with a positive sum",
                                  field="direct_index.benchmark_weights", value=weights,
                                  fix="give each ticker its index weight (they are normalised to sum to 1)")
        set_(self, "benchmark_weights", weights)
        tilts = {str(k).strip().upper(): float(v) for k, v in dict(self.tilts).items()}
        for t, v in tilts.items():
            if not (math.isfinite(v) and -0.10 <= v <= 0.10):
                raise ValidationError("a tilt is an annual return in [-0.10, 0.10]",
                                      field=f"direct_index.tilts.{t}", value=v, fix="e.g. tilts: {MSFT: 0.01}")
        set_(self, "tilts", tilts)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (YAML/JSON-ready; the USD budget as text): ``DirectIndex.from_dict`` reads it back exactly."""
        return {
            "accounts": list(self.accounts), "fund": self.fund, "universe": self.universe,
            "benchmark": self.benchmark, "benchmark_weights": dict(self.benchmark_weights),
            "te_limit": self.te_limit, "tax_budget": None if self.tax_budget is None else str(self.tax_budget),
            "exclude": list(self.exclude), "exclude_tickers": list(self.exclude_tickers),
            "exclude_sectors": list(self.exclude_sectors), "exclude_sub_industries": list(self.exclude_sub_industries),
            "esg_floor": self.esg_floor, "tilts": dict(self.tilts), "max_weight": self.max_weight,
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> DirectIndex:
        """The sleeve from ``to_dict``'s plain data (the store's JSON)."""
        d = dict(doc)
        for name in ("accounts", "exclude", "exclude_tickers", "exclude_sectors", "exclude_sub_industries"):
            d[name] = tuple(d.get(name) or ())
        if d.get("tax_budget") is not None:
            d["tax_budget"] = Decimal(str(d["tax_budget"]))
        return cls(**d)
