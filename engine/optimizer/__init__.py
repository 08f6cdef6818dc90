"""The optimizer room: the one home of cvxpy (household problem, Markowitz front door, cache, diagnosis).

from engine.optimizer import Frontier, solve_household
w = Frontier(mu, cov).max_sharpe(0.02)
"""

from engine.optimizer.frontier import Frontier, Performance
from engine.optimizer.solvers import (
    DEFAULT_CHAIN,
    CompiledProblem,
    SolveRecord,
    SolverName,
    SolverSpec,
    SolveStatus,
)

__all__ = [
    "DEFAULT_CHAIN",
    "CompiledProblem",
    "Frontier",
    "Performance",
    "SolveRecord",
    "SolveStatus",
    "SolverName",
    "SolverSpec",
]
