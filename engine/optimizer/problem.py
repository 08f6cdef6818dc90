"""The household problem assembled from its terms and constraints, compiled once per shape, and its cache.

    problem, compile_seconds = DEFAULT_CACHE.get(shape_key(prepared))
    problem.assign(prepared)                     # every term and constraint writes its parameters
    record = problem.compiled.solve(HOUSEHOLD_CHAIN)

minimize Σ penalties − Σ rewards (``engine.optimizer.terms``) subject to the hard rows (``Balance``,
``TradeLimits``, the slacks' bounds) and the soft groups (``engine.optimizer.constraints``), whose slacks
are 0 unless the infeasibility diagnosis frees them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from engine.errors import OptimizationError
from engine.optimizer.constraints import Balance, Slacks, SoftConstraint, TradeLimits, soft_constraints
from engine.optimizer.inputs import Prepared
from engine.optimizer.result import ConstraintGroup, TermKind
from engine.optimizer.shape import ShapeKey, Variables
from engine.optimizer.solvers import CompiledProblem
from engine.optimizer.terms import Term, household_terms

__all__ = ["DEFAULT_CACHE", "GROUPS", "CacheStats", "HouseholdProblem", "ProblemCache", "SoftFactory", "TermFactory"]

GROUPS: tuple[ConstraintGroup, ...] = tuple(ConstraintGroup)

TermFactory = Callable[[Variables, ShapeKey], Sequence[Term]]
"""Makes the objective's terms on a problem's variables (``household_terms`` by default)."""
SoftFactory = Callable[[Variables, ShapeKey, Slacks], Sequence[SoftConstraint]]
"""Makes the soft constraint groups, each relaxed by its slack (``soft_constraints`` by default)."""


class HouseholdProblem:
    """The compiled problem for one ShapeKey: its terms, constraints and the CompiledProblem they make.

    Shape, for the solver's sake (its time grows with the number of variables plus rows): the variables
    are buys b per (account, asset), sells s per lot slot, household asset weights w, cash c per account
    and class weights z. Holdings (current + b − lot sells per cell) are never a variable: h ≥ 0 needs no
    row (a lot's sell is capped at its value), the buy guard is one row per asset (Σ_accounts b ≤ cap; cap
    is 0 or ∞ for every account alike), and the risk, class, band, ESG and carbon terms read w once
    instead of summing a·n cells in each row.
    """

    def __init__(
        self,
        key: ShapeKey,
        *,
        terms: TermFactory = household_terms,
        soft: SoftFactory = soft_constraints,
    ) -> None:
        """Build and compile; ``terms`` and ``soft`` make the objective's terms and the soft groups on the variables."""
        self.key = key
        self.v = v = Variables.of(key)
        self.slacks = Slacks(GROUPS)
        self.balance = Balance(v, key)
        self.limits = TradeLimits(v, key)
        self.terms: tuple[Term, ...] = tuple(terms(v, key))
        self.soft: tuple[SoftConstraint, ...] = tuple(soft(v, key, self.slacks))
        price = {group.group: group.slack_price for group in self.soft}
        self._slack_prices = [price.get(grp, 1.0) for grp in GROUPS]
        objective: cp.Expression | int = 0
        for term in self.terms:  # local facts, one central check (CONTRIBUTING.md habit 3)
            expr = term.expression()
            ok = expr.is_convex() if term.kind is TermKind.PENALTY else expr.is_concave()
            if not ok:
                raise OptimizationError(f"internal: term {term.name} is not {term.kind.value}-shaped")
            objective = objective + (expr if term.kind is TermKind.PENALTY else -expr)
        objective = objective + self.slacks.cost
        hard = [
            *self.balance.constraints,
            *[con for term in self.terms for con in term.constraints],
            *self.limits.buy_rows,
            *self.slacks.constraints,
            *self.limits.sell_rows,
        ]  # this order of rows is the one the solver's tests and the benchmarks were recorded with
        rows = [con for group in self.soft for con in group.constraints]
        self.problem = cp.Problem(cp.Minimize(objective), hard + rows)
        self.compiled = CompiledProblem(self.problem)  # refuses a problem that is not DPP

    # -- data ----------------------------------------------------------------------------------

    def assign(self, p: Prepared) -> None:
        """Write one household's data into every parameter (no compilation); normal mode, no direction caps."""
        self.compiled.forget_solver()  # a household's answer must not depend on the one solved before it
        self.balance.set(p)
        for group in self.soft:
            group.set(p)
        for term in self.terms:
            term.set(p)
        self.set_mode(diagnose=False)
        n = p.inputs.n_assets
        self.set_directions(p, buy_ok=np.ones(n, bool), sell_ok=np.ones(n, bool))

    def set_directions(self, p: Prepared, *, buy_ok: np.ndarray, sell_ok: np.ndarray) -> None:
        """Upper bounds on buys and lot sells from exclusions, wash-sale blocks and the direction guard."""
        self.limits.set_directions(p, buy_ok=buy_ok, sell_ok=sell_ok)

    def set_mode(self, *, diagnose: bool, hard: Sequence[ConstraintGroup] = ()) -> None:
        """Normal mode: slacks fixed at 0. Diagnosis: slacks free (except ``hard``) and their priced sum minimized."""
        self.slacks.set_mode(self._slack_prices, diagnose=diagnose, hard=hard)

    def silence_objective(self) -> None:
        """Zero every term (diagnosis looks only at the slacks); ``assign`` restores them."""
        for term in self.terms:
            term.silence()


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Hits, misses, total compile seconds and the shapes held."""

    hits: int
    misses: int
    compile_time: float
    shapes: tuple[ShapeKey, ...]


class ProblemCache:
    """Compiled household problems keyed by ShapeKey (per process; thread-safe, one problem per shape)."""

    def __init__(self, max_shapes: int = 64) -> None:
        self._problems: dict[ShapeKey, HouseholdProblem] = {}
        self._lock = threading.Lock()
        self._hits = self._misses = 0
        self._compile = 0.0
        self.max_shapes = max_shapes

    def get(self, key: ShapeKey) -> tuple[HouseholdProblem, float]:
        """The problem for ``key`` and the seconds spent compiling it now (0 on a hit)."""
        with self._lock:
            found = self._problems.get(key)
            if found is not None:
                self._hits += 1
                self._problems[key] = self._problems.pop(key)  # most recently used last
                return found, 0.0
        start = time.perf_counter()
        built = HouseholdProblem(key)
        spent = time.perf_counter() - start
        with self._lock:
            self._misses += 1
            self._compile += spent
            self._problems[key] = built
            while len(self._problems) > self.max_shapes:
                self._problems.pop(next(iter(self._problems)))
        return built, spent

    def stats(self) -> CacheStats:
        """Counters since creation (or the last ``clear``)."""
        with self._lock:
            return CacheStats(self._hits, self._misses, self._compile, tuple(self._problems))

    def clear(self) -> None:
        """Drop every compiled problem and reset the counters."""
        with self._lock:
            self._problems.clear()
            self._hits = self._misses = 0
            self._compile = 0.0


DEFAULT_CACHE = ProblemCache()
