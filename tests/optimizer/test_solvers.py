"""CompiledProblem: reading the solution straight from Clarabel gives what cvxpy's own inversion gives."""

from __future__ import annotations

from typing import Any

import cvxpy as cp
import numpy as np
import pytest

from engine.optimizer import CompiledProblem, Frontier, ProblemCache, SolveStatus, solve_household
from engine.optimizer.household import shape_key
from engine.optimizer.solvers import SolverName, SolverSpec
from tests.optimizer._households import COV, MU, household


def _snapshot(problem: cp.Problem) -> tuple[list[object], list[object]]:
    values = [np.array(v.value, copy=True) for v in problem.variables()]
    duals = [None if c.dual_value is None else np.array(c.dual_value, copy=True) for c in problem.constraints]
    return values, duals


def _through_cvxpy(compiled: CompiledProblem) -> tuple[list[object], list[object]]:
    """Solve again with the index maps switched off, so cvxpy's chain inversion unpacks the solution."""
    reader = compiled._reader
    compiled._reader = None
    try:
        assert compiled.solve().status is SolveStatus.OPTIMAL
        return _snapshot(compiled.problem)
    finally:
        compiled._reader = reader


def _assert_same(fast: tuple[list[object], list[object]], slow: tuple[list[object], list[object]]) -> None:
    for a, b in zip(fast[0], slow[0], strict=True):
        assert a.shape == b.shape and np.array_equal(a, b)
    for a, b in zip(fast[1], slow[1], strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert np.shape(a) == np.shape(b) and np.array_equal(a, b)


def test_household_solution_read_directly_matches_cvxpy_unpacking():
    cache = ProblemCache()
    x = household()
    solve_household(x, cache=cache)
    prob, _ = cache.get(shape_key(x))
    compiled = prob.compiled
    assert compiled._reader is not None  # every household variable and dual is a plain slice
    compiled.solve()  # DEFAULT_CHAIN's settings differ from HOUSEHOLD_CHAIN's first link: a new solver
    assert compiled.solve().status is SolveStatus.OPTIMAL  # updated in place, as _through_cvxpy's is
    fast = _snapshot(compiled.problem)
    value = compiled.problem.value
    _assert_same(fast, _through_cvxpy(compiled))
    assert compiled.problem.status == cp.OPTIMAL
    assert value == pytest.approx(compiled.problem.objective.value, abs=1e-7)


@pytest.mark.parametrize("name", ["max_sharpe", "min_volatility", "efficient_return", "efficient_risk"])
def test_frontier_solution_read_directly_matches_cvxpy_unpacking(name):
    f = Frontier(MU, COV)
    {
        "max_sharpe": lambda: f.max_sharpe(0.02),
        "min_volatility": f.min_volatility,
        "efficient_return": lambda: f.efficient_return(0.05),
        "efficient_risk": lambda: f.efficient_risk(0.1),
    }[name]()
    compiled = f._problems[name].compiled
    assert compiled.solve().status is SolveStatus.OPTIMAL
    _assert_same(_snapshot(compiled.problem), _through_cvxpy(compiled))


def test_maximize_value_and_a_matrix_variable():
    x = cp.Variable((2, 3), name="x")
    c = cp.Parameter(6, name="c")
    problem = cp.Problem(cp.Maximize(c @ cp.vec(x, order="F") - cp.sum_squares(x)), [cp.sum(x) <= 1, x >= -1])
    c.value = np.arange(6.0)
    compiled = CompiledProblem(problem)
    compiled.solve()  # builds the solver; later solves update it in place, as _through_cvxpy's does
    assert compiled.solve().status is SolveStatus.OPTIMAL
    assert compiled._reader is not None and compiled._reader.value_sign == -1.0
    fast = _snapshot(problem)
    assert problem.value == pytest.approx(problem.objective.value, abs=1e-7)
    _assert_same(fast, _through_cvxpy(compiled))


def test_parameter_vector_gathered_directly_matches_cvxpy():
    cache = ProblemCache()
    x = household()
    solve_household(x, cache=cache)
    compiled = cache.get(shape_key(x))[0].compiled
    assert compiled._param_gather is not None  # the PSD covariance's upper triangle is a gather too
    assert np.array_equal(compiled._param_vec(), compiled._param_vec_cvxpy())
    f = Frontier(MU, COV)
    f.max_sharpe(0.02), f.efficient_risk(0.1)
    for problem in f._problems.values():
        assert np.array_equal(problem.compiled._param_vec(), problem.compiled._param_vec_cvxpy())


def test_probing_leaves_parameter_values_alone():
    x = cp.Variable(2)
    a, b = cp.Parameter(2, nonneg=True, name="a"), cp.Parameter(name="b")
    a.value = np.array([1.0, 2.0])
    problem = cp.Problem(cp.Minimize(cp.sum_squares(x - a) + b * cp.sum(x)), [x >= 0])
    compiled = CompiledProblem(problem)
    assert np.array_equal(a.value, [1.0, 2.0]) and b.value is None
    with pytest.raises(Exception, match="has no value"):
        compiled.solve()
    b.value = 0.5
    assert compiled.solve().status is SolveStatus.OPTIMAL
    np.testing.assert_allclose(x.value, [0.75, 1.75], atol=1e-7)  # x = a − b/2


def test_a_parameter_stored_in_another_form_keeps_cvxpy_s_way():
    x = cp.Variable(3)
    d = cp.Parameter((3, 3), diag=True, name="d")
    d.value = np.diag([1.0, 2.0, 3.0])
    problem = cp.Problem(cp.Minimize(cp.sum_squares(d @ x - 1)), [x >= 0])
    compiled = CompiledProblem(problem)
    assert compiled._param_gather is None
    assert compiled.solve().status is SolveStatus.OPTIMAL
    np.testing.assert_allclose(x.value, [1.0, 0.5, 1 / 3], atol=1e-6)


def test_a_variable_stored_in_another_form_keeps_cvxpy_s_unpacking():
    x = cp.Variable((3, 3), diag=True, name="x")
    c = cp.Parameter(3, name="c")
    c.value = np.arange(3.0)
    problem = cp.Problem(cp.Minimize(cp.sum_squares(cp.diag(x) - c)), [cp.diag(x) >= 0.5])
    compiled = CompiledProblem(problem)
    assert compiled.solve().status is SolveStatus.OPTIMAL
    assert compiled._reader is None
    np.testing.assert_allclose(np.diag(x.value.toarray()), [0.5, 1.0, 2.0], atol=1e-6)


def test_clarabel_almost_solved_is_taken_only_when_the_spec_accepts_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """An "AlmostSolved" answer (Clarabel's reduced tolerances) falls back by default; a spec with
    ``accept_reduced`` (the direct-index sleeve's) takes it instead of a seconds-long SCS fallback."""
    x = cp.Variable(2)
    a = cp.Parameter(2, name="a")
    a.value = np.array([1.0, 2.0])
    problem = cp.Problem(cp.Minimize(cp.sum_squares(x - a)), [cp.sum(x) <= 2])
    compiled = CompiledProblem(problem)
    real = CompiledProblem._clarabel

    class Almost:
        def __init__(self, raw: Any) -> None:
            self._raw = raw

        def __getattr__(self, name: str) -> Any:
            return "AlmostSolved" if name == "status" else getattr(self._raw, name)

    def almost(self: CompiledProblem) -> tuple[Any, float]:
        raw, offset = real(self)
        return Almost(raw), offset

    monkeypatch.setattr(CompiledProblem, "_clarabel", almost)
    strict = compiled.solve((SolverSpec(SolverName.CLARABEL),))
    assert strict.status is SolveStatus.FAILED and strict.attempts == (("clarabel", "failed"),)
    taken = compiled.solve((SolverSpec(SolverName.CLARABEL, accept_reduced=True),))
    assert taken.status is SolveStatus.OPTIMAL and taken.solver is SolverName.CLARABEL
    assert np.allclose(x.value, [0.5, 1.5], atol=1e-6)
