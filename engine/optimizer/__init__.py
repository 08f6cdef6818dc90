"""The optimizer room: the one home of cvxpy (household problem, Markowitz front door, cache, diagnosis).

from engine.optimizer import Frontier, solve_household
w = Frontier(mu, cov).max_sharpe(0.02)
"""

from engine.optimizer.frontier import Frontier, Performance
from engine.optimizer.household import (
    DEFAULT_CACHE,
    HOUSEHOLD_CHAIN,
    CacheStats,
    HouseholdOptimizer,
    ProblemCache,
    ShapeKey,
    lot_bucket,
    shape_key,
    solve_household,
)
from engine.optimizer.inputs import FactorModel, HouseholdInputs, LotInputs, WashSaleGuard
from engine.optimizer.result import (
    BindingConstraint,
    ConstraintGroup,
    Holding,
    LotSale,
    OptimizationResult,
    TermKind,
    TermValue,
    Timings,
    Trade,
    format_explanation,
)
from engine.optimizer.solvers import (
    DEFAULT_CHAIN,
    CompiledProblem,
    SolveRecord,
    SolverName,
    SolverSpec,
    SolveStatus,
)

__all__ = [
    "DEFAULT_CACHE",
    "DEFAULT_CHAIN",
    "HOUSEHOLD_CHAIN",
    "BindingConstraint",
    "CacheStats",
    "CompiledProblem",
    "ConstraintGroup",
    "FactorModel",
    "Frontier",
    "Holding",
    "HouseholdInputs",
    "HouseholdOptimizer",
    "LotInputs",
    "LotSale",
    "OptimizationResult",
    "Performance",
    "ProblemCache",
    "ShapeKey",
    "SolveRecord",
    "SolveStatus",
    "SolverName",
    "SolverSpec",
    "TermKind",
    "TermValue",
    "Timings",
    "Trade",
    "WashSaleGuard",
    "format_explanation",
    "lot_bucket",
    "shape_key",
    "solve_household",
]
