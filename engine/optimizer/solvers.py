"""Compile a cvxpy problem once, re-solve it by writing parameter values straight into Clarabel.

    compiled = CompiledProblem(problem)          # cvxpy canonicalization happens here, once
    record = compiled.solve(DEFAULT_CHAIN)       # assigns parameters -> solver data -> solve -> unpack

The fast path reuses cvxpy's parameter-to-data map (the DPP tensor) and keeps one Clarabel solver
whose data is updated in place (same sparsity pattern, so no new symbolic factorization). The solution
is read straight out of Clarabel's x and z through index maps found once, by inverting coded solutions
through cvxpy's chain (``_Reader``), instead of inverting the chain on every solve. If Clarabel fails,
the documented fallback chain runs through cvxpy itself: OSQP with tightened tolerances, then
SCS. A primal-infeasible certificate stops the chain (it is a property of the data, not the solver).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import cvxpy as cp
import numpy as np
import scipy.sparse as sp
from cvxpy.cvxcore.python import canonInterface
from cvxpy.reductions.solvers.conic_solvers.clarabel_conif import dims_to_solver_cones

from engine.errors import OptimizationError

__all__ = [
    "DEFAULT_CHAIN",
    "CompiledProblem",
    "SolveRecord",
    "SolveStatus",
    "SolverName",
    "SolverOption",
    "SolverSpec",
]


class SolverName(StrEnum):
    """Solvers of the fallback chain."""

    CLARABEL = "clarabel"
    OSQP = "osqp"
    SCS = "scs"


class SolveStatus(StrEnum):
    """Outcome of one solver attempt."""

    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    FAILED = "failed"


SolverOption = bool | int | float | str
"""A solver setting's value (Clarabel's, OSQP's and SCS's settings are flags, counts, tolerances, names)."""


@dataclass(frozen=True, slots=True)
class SolverSpec:
    """One link of the fallback chain: a solver and its options (passed to the solver as-is).

    ``accept_reduced`` (Clarabel only): take an "AlmostSolved" answer — one that meets Clarabel's reduced
    tolerances (feasibility 1e-4, gap 5e-5, relative) — instead of falling back to a first-order solver that takes
    seconds. For problems whose answer is rounded to trades far coarser than that (the direct-index sleeve).
    """

    name: SolverName
    options: Mapping[str, SolverOption] = field(default_factory=dict)
    accept_reduced: bool = False


DEFAULT_CHAIN: tuple[SolverSpec, ...] = (
    SolverSpec(SolverName.CLARABEL),
    SolverSpec(
        SolverName.OSQP,
        {"eps_abs": 1e-8, "eps_rel": 1e-8, "max_iter": 400_000, "polish": True},
    ),
    SolverSpec(SolverName.SCS, {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iters": 200_000}),
)
"""Clarabel (interior point, the fast path) → OSQP with tightened tolerances → SCS."""


@dataclass(frozen=True, slots=True)
class SolveRecord:
    """What a solve did: the solver that succeeded, its own reported time and our wall time (seconds)."""

    status: SolveStatus
    solver: SolverName | None
    solver_time: float
    wall_time: float
    iterations: int
    attempts: tuple[tuple[str, str], ...]


_CVXPY_NAMES = {SolverName.OSQP: cp.OSQP, SolverName.SCS: cp.SCS, SolverName.CLARABEL: cp.CLARABEL}
_CLARABEL_OK = {"Solved"}
_CLARABEL_REDUCED = {"AlmostSolved"}  # met the reduced tolerances only: taken when SolverSpec.accept_reduced
_CLARABEL_INFEASIBLE = {"PrimalInfeasible"}
_CLARABEL_UNBOUNDED = {"DualInfeasible"}


@dataclass(frozen=True, slots=True)
class _Gather:
    """One variable value or constraint dual as a signed gather: ``sign · vec[index]`` (index has its shape)."""

    target: Any  # cp.Variable (from x) or cp.Constraint (from z)
    index: np.ndarray
    sign: np.ndarray | None  # None: every entry +1
    scalar: type | None  # cvxpy hands size-1 duals out as this scalar type, not as an array

    def read(self, vec: np.ndarray) -> Any:
        value = vec[self.index] if self.sign is None else vec[self.index] * self.sign
        return self.scalar(value) if self.scalar is not None else value


class _Coded:
    """A stand-in for Clarabel's solution whose entries hold codes (for probing cvxpy's inversion)."""

    status = "Solved"
    solve_time = 0.0
    iterations = 0

    def __init__(self, x: np.ndarray, z: np.ndarray, obj_val: float) -> None:
        self.x, self.z, self.obj_val = x, z, obj_val


@dataclass(frozen=True, slots=True)
class _Reader:
    """Where every variable and dual of the problem sits in Clarabel's (x, z); ``value_sign`` maps the
    solver's objective plus offset to the problem's value (−1 for Maximize)."""

    primal: tuple[_Gather, ...]
    dual: tuple[_Gather, ...]
    value_sign: float

    @staticmethod
    def probe(problem: cp.Problem, chain: Any, inverse: list[Any], n: int, m: int) -> _Reader | None:
        """Invert two coded solutions (entry i holds i+1, then a permutation's code) through the chain.

        A variable or dual whose entries come back as ±code under both codings is a pure signed gather, so
        reading it from x or z is exactly what cvxpy's inversion does. None when anything is not (a
        transformed variable, a scaled or PSD dual): the caller then inverts through cvxpy every time.
        """
        rng = np.random.default_rng(0)
        px, pz = rng.permutation(n), rng.permutation(m)
        codes = ((np.arange(n), np.arange(m), 0.0), (px, pz, 1.0))
        try:
            sols = [chain.invert(_Coded(x + 1.0, z + 1.0, obj), inverse) for x, z, obj in codes]
        except Exception:  # any surprise inside cvxpy means: no shortcut
            return None
        slope = float(sols[1].opt_val - sols[0].opt_val)
        if not (abs(abs(slope) - 1.0) < 1e-9):
            return None
        value_sign = 1.0 if slope > 0 else -1.0

        def gather(target: Any, first: Any, second: Any, perm: np.ndarray, size: int) -> _Gather | None:
            if not isinstance(first, np.ndarray | float) or type(first) is not type(second):
                return None  # e.g. a sparse or split value: cvxpy's own unpacking knows how to store it
            a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
            if a.shape != b.shape or a.shape != target.shape:
                return None
            index = np.abs(a) - 1.0
            if a.size == 0 or np.any(index != np.round(index)) or index.min() < 0 or index.max() >= size:
                return None
            index = index.astype(np.intp)
            sign = np.sign(a)
            if not np.array_equal(b, sign * (perm[index] + 1.0)):
                return None
            scalar = None if isinstance(first, np.ndarray) else type(first)
            return _Gather(target, index, None if np.all(sign > 0) else sign, scalar)

        primal, dual = [], []
        for var in problem.variables():
            if var.id not in sols[0].primal_vars or var.id not in sols[1].primal_vars:
                return None
            g = gather(var, sols[0].primal_vars[var.id], sols[1].primal_vars[var.id], px, n)
            if g is None:
                return None
            primal.append(g)
        for con in problem.constraints:
            if con.id not in sols[0].dual_vars:  # cvxpy leaves such a dual alone; so do we
                continue
            if con.id not in sols[1].dual_vars:
                return None
            g = gather(con, sols[0].dual_vars[con.id], sols[1].dual_vars[con.id], pz, m)
            if g is None:
                return None
            dual.append(g)
        return _Reader(tuple(primal), tuple(dual), value_sign)

    def unpack(self, problem: cp.Problem, x: np.ndarray, z: np.ndarray, value: float) -> None:
        """Write the solution into the variables and duals; status OPTIMAL and ``problem.value``."""
        for g in self.primal:
            g.target.save_value(g.read(x))
        for g in self.dual:
            g.target.save_dual_value(g.read(z))
        # cvxpy's own unpack sets these (value from re-evaluating the objective; here the solver's own)
        problem._status = cp.OPTIMAL
        problem._value = self.value_sign * value  # type: ignore[assignment]  # cvxpy declares it None at first


class CompiledProblem:
    """A DPP cvxpy problem compiled once for Clarabel, re-solved by updating the solver's data in place.

    After a successful ``solve`` the cvxpy variables and constraint duals hold the solution, as after
    ``problem.solve()``; ``problem.status`` is set, and on the Clarabel path ``problem.value`` is the
    solver's objective (not re-evaluated from the expression) and ``problem.solver_stats`` is not updated.
    """

    def __init__(self, problem: cp.Problem, *, clarabel_options: Mapping[str, SolverOption] | None = None) -> None:
        if not _is_dpp(problem) and not _dpp_with_quad_obj(problem):
            raise OptimizationError(
                "internal: the optimizer built a problem that is not DPP; parameters would force "
                "a re-compile on every solve — report this as a bug"
            )
        self.problem = problem
        self._default_clarabel = dict(clarabel_options or {})
        self._clarabel_options = dict(self._default_clarabel)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data, chain, inverse = problem.get_problem_data(cp.CLARABEL)
        self.compile_time = time.perf_counter() - start
        self._chain = chain
        self._inverse = inverse
        if getattr(inverse[-1], "solver_options", None) is None:
            inverse[-1].solver_options = {}
        self._pp = data[cp.settings.PARAM_PROB]
        self._cones = dims_to_solver_cones(data["dims"])
        pp = self._pp
        if getattr(pp, "lb_tensor", None) is not None or getattr(pp, "ub_tensor", None) is not None:
            raise OptimizationError("internal: variable bounds reached the Clarabel fast path")
        pp.reduced_A.cache(keep_zeros=False)
        self._a_index = pp.reduced_A.problem_data_index
        indices, indptr, shape = self._a_index
        self._n_rows = shape[0]
        self._n_vars = pp.x.size
        self._a_cut = indptr[-2]  # entries before this belong to A, after it to the offset column b
        self._a_indices = indices[: self._a_cut]
        self._a_cols = np.repeat(np.arange(self._n_vars), np.diff(indptr[:-1]))
        self._a_mask: np.ndarray | None = None
        self._p_mask: np.ndarray | None = None
        self.rebuilds_skipped = 0
        self._b_rows = indices[self._a_cut :]
        self._has_p = pp.P is not None
        if self._has_p:
            pp.reduced_P.cache(keep_zeros=False)
            p_idx, p_ptr, p_shape = pp.reduced_P.problem_data_index
            cols = np.repeat(np.arange(p_shape[1]), np.diff(p_ptr))
            self._p_keep = p_idx <= cols
            self._p_cols = cols[self._p_keep]
            self._p_indices = p_idx[self._p_keep]
        self._params = tuple(problem.parameters())
        self._one = np.ones(1)
        self._param_gather: np.ndarray | None = None
        self._param_gather = self._probe_param_gather()
        self._solver: Any = None
        self._reader: _Reader | None = None
        self._probed = False
        self.solves = 0

    def forget_solver(self) -> None:
        """Build a new Clarabel solver on the next solve instead of updating the last one in place.

        An updated solver keeps the equilibration of the data it was built with, so its answer depends, in
        the last digits, on what it solved before; where the optimum is flat those digits move trades.
        """
        self._solver = None

    # -- data ----------------------------------------------------------------------------------

    def _param_vec(self) -> np.ndarray:
        """cvxpy's parameter vector: [1, user parameter entries...] gathered by the probed map, or cvxpy's way."""
        if self._param_gather is None:
            return self._param_vec_cvxpy()
        values = [self._one]
        for par in self._params:
            value = par.value
            if value is None:
                raise OptimizationError(f"internal: parameter {par.name()} has no value")
            values.append(np.ravel(value, order="F"))
        return np.asarray(np.concatenate(values)[self._param_gather])

    def _probe_param_gather(self) -> np.ndarray | None:
        """The map from [1, every user parameter entry (Fortran order)] to cvxpy's parameter vector.

        cvxpy rebuilds that vector by running each reduction's ``update_parameters`` (e.g. the upper
        triangle of a PSD parameter) and then collecting the reduced parameters. Found here by giving the
        user parameters coded values twice (entry k holds k + 2, then a permutation's code) and keeping the
        map only when both codings come back as a pure gather; the values in place are restored.
        """
        params = self._params
        stored_otherwise = ("diag", "sparsity", "complex", "imag", "hermitian")  # values kept in another form
        if any(any(par.attributes.get(a) for a in stored_otherwise) for par in params):
            return None
        saved = [par.value for par in params]
        total = sum(par.size for par in params)
        perm = np.random.default_rng(1).permutation(total)
        codes = (np.arange(total) + 2.0, perm + 2.0)
        try:
            vecs = []
            for code in codes:
                at = 0
                for par in params:
                    par.save_value(code[at : at + par.size].reshape(par.shape, order="F"))
                    at += par.size
                vecs.append(np.asarray(self._param_vec_cvxpy(), dtype=float))
        except Exception:  # any surprise inside cvxpy means: no shortcut
            return None
        finally:
            for par, value in zip(params, saved, strict=True):
                par.save_value(value)
        index = vecs[0] - 1.0
        if not index.size or np.any(index != np.round(index)) or index.min() < 0 or index.max() > total:
            return None
        gather = index.astype(np.intp)
        if not np.array_equal(vecs[1], np.concatenate([[1.0], codes[1]])[gather]):
            return None
        return gather

    def _param_vec_cvxpy(self) -> np.ndarray:
        for reduction in self._chain.reductions:
            reduction.update_parameters(self.problem)
        pp = self._pp
        for param in pp.parameters:
            if param.value is None:
                raise OptimizationError(f"internal: parameter {param.name()} has no value")
        return np.asarray(
            canonInterface.get_parameter_vector(
                pp.total_param_size,
                pp.param_id_to_col,
                pp.param_id_to_size,
                lambda pid: np.asarray(pp.id_to_param[pid].value),
            )
        )

    def _data(self) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, float]:
        pp = self._pp
        vec = self._param_vec()
        qd = pp.q @ vec
        q = np.asarray(qd[:-1], dtype=float).ravel()
        offset = float(qd[-1])
        vals = pp.reduced_A.reduced_mat @ vec
        a_vals = -np.asarray(vals[: self._a_cut], dtype=float)
        b = np.zeros(self._n_rows)
        b[self._b_rows] = vals[self._a_cut :]
        p_vals = None
        if self._has_p:
            p_all = pp.reduced_P.reduced_mat @ vec
            p_vals = np.asarray(p_all, dtype=float)[self._p_keep]
        return p_vals, q, a_vals, b, offset

    # -- solving -------------------------------------------------------------------------------

    def _clarabel(self) -> tuple[Any, float]:
        """Solve with Clarabel; explicit zeros are dropped (they would densify the KKT system), and the
        solver is updated in place while the nonzero pattern is unchanged, rebuilt when it changes."""
        import clarabel

        p_vals, q, a_vals, b, offset = self._data()
        a_mask = a_vals != 0
        p_mask = p_vals != 0 if p_vals is not None else None
        same = (
            self._solver is not None
            and self._a_mask is not None
            and np.array_equal(a_mask, self._a_mask)
            and (p_mask is None or (self._p_mask is not None and np.array_equal(p_mask, self._p_mask)))
        )
        if same:
            if p_vals is not None:
                self._solver.update(P=p_vals[p_mask], q=q, A=a_vals[a_mask], b=b)
            else:
                self._solver.update(q=q, A=a_vals[a_mask], b=b)
            self.rebuilds_skipped += 1
        else:
            settings = clarabel.DefaultSettings()
            settings.verbose = False
            settings.presolve_enable = False  # keeps the data updatable in place
            for key, value in self._clarabel_options.items():
                setattr(settings, key, value)
            a = _csc(a_vals, a_mask, self._a_indices, self._a_cols, (self._n_rows, self._n_vars))
            if p_vals is not None and p_mask is not None:
                p = _csc(p_vals, p_mask, self._p_indices, self._p_cols, (self._n_vars, self._n_vars))
            else:
                p = sp.csc_matrix((self._n_vars, self._n_vars))
            self._solver = clarabel.DefaultSolver(p, q, a, b, self._cones, settings)
            self._a_mask, self._p_mask = a_mask, p_mask
        return self._solver.solve(), offset

    def _solve_clarabel(self, spec: SolverSpec) -> tuple[SolveStatus, float, int]:
        options = {**self._default_clarabel, **spec.options}
        if options != self._clarabel_options:
            self._clarabel_options = options
            self._solver = None
        raw, offset = self._clarabel()
        status = str(raw.status)
        if status in _CLARABEL_INFEASIBLE:
            return SolveStatus.INFEASIBLE, raw.solve_time, raw.iterations
        if status in _CLARABEL_UNBOUNDED:
            return SolveStatus.UNBOUNDED, raw.solve_time, raw.iterations
        if status not in _CLARABEL_OK and not (spec.accept_reduced and status in _CLARABEL_REDUCED):
            return SolveStatus.FAILED, raw.solve_time, raw.iterations
        self._inverse[-1].inverse_data[cp.settings.OFFSET] = offset
        if not self._probed:
            self._reader = _Reader.probe(self.problem, self._chain, self._inverse, self._n_vars, self._n_rows)
            self._probed = True
        if self._reader is None:
            self.problem.unpack_results(raw, self._chain, self._inverse)
        else:
            self._reader.unpack(self.problem, np.asarray(raw.x), np.asarray(raw.z), raw.obj_val + offset)
        return SolveStatus.OPTIMAL, raw.solve_time, raw.iterations

    def _solve_cvxpy(self, spec: SolverSpec) -> tuple[SolveStatus, float, int]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.problem.solve(solver=_CVXPY_NAMES[spec.name], **dict(spec.options))
        stats = self.problem.solver_stats
        solve_time = float(stats.solve_time or 0.0)
        iters = int(stats.num_iters or 0)
        status = self.problem.status
        if status == cp.OPTIMAL:
            return SolveStatus.OPTIMAL, solve_time, iters
        if status == cp.INFEASIBLE:
            return SolveStatus.INFEASIBLE, solve_time, iters
        if status == cp.UNBOUNDED:
            return SolveStatus.UNBOUNDED, solve_time, iters
        return SolveStatus.FAILED, solve_time, iters

    def solve(self, chain: Sequence[SolverSpec] = DEFAULT_CHAIN) -> SolveRecord:
        """Solve with the current parameter values, trying each solver of ``chain`` in turn.

        Returns a record whose status is OPTIMAL, INFEASIBLE, UNBOUNDED or FAILED (every solver failed);
        solver errors are recorded in ``attempts``, never raised.
        """
        if not chain:
            raise OptimizationError("empty solver chain; pass at least one SolverSpec")
        start = time.perf_counter()
        attempts: list[tuple[str, str]] = []
        solver_time = 0.0
        self.solves += 1
        for spec in chain:
            try:
                if spec.name is SolverName.CLARABEL:
                    status, t, iters = self._solve_clarabel(spec)
                else:
                    status, t, iters = self._solve_cvxpy(spec)
            except (cp.error.SolverError, ValueError, ArithmeticError, RuntimeError) as exc:
                self._solver = None if spec.name is SolverName.CLARABEL else self._solver
                attempts.append((spec.name.value, f"error: {type(exc).__name__}: {exc}"))
                continue
            solver_time += t
            attempts.append((spec.name.value, status.value))
            if status is SolveStatus.OPTIMAL or status in (SolveStatus.INFEASIBLE, SolveStatus.UNBOUNDED):
                return SolveRecord(status, spec.name, solver_time, time.perf_counter() - start, iters, tuple(attempts))
        return SolveRecord(SolveStatus.FAILED, None, solver_time, time.perf_counter() - start, 0, tuple(attempts))


def _csc(vals: np.ndarray, mask: np.ndarray, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> Any:
    """A CSC matrix of the entries of a column-sorted pattern selected by ``mask``."""
    counts = np.bincount(cols[mask], minlength=shape[1])
    indptr = np.concatenate([[0], np.cumsum(counts)])
    return sp.csc_matrix((vals[mask], rows[mask], indptr), shape=shape)


def _dpp_with_quad_obj(problem: cp.Problem) -> bool:
    """quad_form(x, P) with a PSD parameter P is DPP only inside a quad-objective solving chain (cvxpy ≥ 1.8)."""
    try:
        from cvxpy.utilities.scopes import quad_form_dpp_scope
    except ImportError:  # pragma: no cover - older cvxpy
        return False
    with quad_form_dpp_scope():
        return _is_dpp(problem)


def _is_dpp(problem: cp.Problem) -> bool:
    """``problem.is_dcp(dpp=True)`` (cvxpy's compute-once decorator hides the keyword from type checkers)."""
    return bool(problem.is_dcp(dpp=True))  # type: ignore[call-arg]
