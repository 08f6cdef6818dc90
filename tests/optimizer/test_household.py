"""The household problem: an independent plain-cvxpy check, asset location, guard, diagnosis, fallback."""

from __future__ import annotations

from dataclasses import replace

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import Infeasible, SolverFailed, ValidationError
from engine.model import AccountType, AssetClass
from engine.optimizer import (
    ConstraintGroup,
    FactorModel,
    HouseholdOptimizer,
    ProblemCache,
    SolverName,
    SolverSpec,
    WashSaleGuard,
    format_explanation,
    shape_key,
    solve_household,
)
from tests.optimizer._households import CLASSES, COV, MU, PRICES, household, lots

W_TOL = 1e-5  # weight tolerance for interior-point answers


def _cells(result, accounts, tickers):
    out = np.zeros((len(accounts), len(tickers)))
    for h in result.holdings:
        out[accounts.index(h.account), tickers.index(h.ticker)] = h.weight_after
    return out


def test_matches_the_same_problem_written_plainly():
    """CONTRIBUTING.md habit 11: the same objective and constraints in plain cvxpy (constants, no parameters)."""
    x = household()
    res = solve_household(x, cache=ProblemCache())
    # -- the plain version -------------------------------------------------------------------
    a, n = 2, 6
    lot_acc = np.asarray(x.lots.account)
    lot_ast = np.asarray(x.lots.asset)
    value = np.asarray(x.lots.shares) * PRICES[lot_ast]
    total = x.cash.sum() + value.sum()
    gain = value - np.asarray(x.lots.basis)
    taxable = lot_acc == 0
    rate = np.where(taxable, 0.20, 0.0)
    kappa = np.full(n, 0.0005 / 2)
    cur = np.zeros((a, n))
    np.add.at(cur, (lot_acc, lot_ast), value / total)
    s = cp.Variable(len(value))
    b = cp.Variable((a, n))
    sells = [
        cp.sum(cp.hstack([s[j] for j in range(len(value)) if lot_acc[j] == i and lot_ast[j] == k] or [0]))
        for i in range(a)
        for k in range(n)
    ]
    u = cp.reshape(cp.hstack(sells), (a, n), order="C")
    h = cur + b - u
    c = x.cash / total + cp.sum(u, axis=1) - cp.sum(b, axis=1) - (b + u) @ kappa
    w = cp.sum(h, axis=0)
    classes = sorted(set(CLASSES) | {AssetClass.CASH})
    member = np.array([[1.0 if CLASSES[j] == cl else 0.0 for j in range(n)] for cl in classes])
    cash_row = np.array([1.0 if cl == AssetClass.CASH else 0.0 for cl in classes])
    z = member @ w + cash_row * cp.sum(c)
    mix = np.array([x.strategic_mix.get(cl, 0.0) for cl in classes])
    lo = np.array([x.class_bands.get(cl, (0, 1))[0] for cl in classes])
    hi = np.array([x.class_bands.get(cl, (0, 1))[1] for cl in classes])
    objective = (
        -MU @ w
        + 0.5 * x.risk_aversion * cp.quad_form(w, COV)
        + x.tracking_weight * cp.sum_squares(z - mix)
        + (rate * gain / value) @ s
        + kappa @ (cp.sum(b, axis=0) + cp.sum(u, axis=0))
        + cp.sum(cp.multiply(x.tax_drag, h))
    )
    cons = [s >= 0, s <= value / total, b >= 0, h >= 0, c >= 0, z >= lo, z <= hi, w <= 1]
    # The wash-sale guard's directions are the non-convex step; given them, the problem is convex.
    for ticker, direction in res.guard_directions.items():
        k = x.tickers.index(ticker)
        if direction == "buy":
            cons += [s[j] == 0 for j in range(len(value)) if lot_ast[j] == k]
        else:
            cons.append(b[:, k] == 0)
    plain = cp.Problem(cp.Minimize(objective), cons)
    plain.solve(solver=cp.CLARABEL)
    assert plain.status == cp.OPTIMAL
    ours = sum(t.value if t.kind == "penalty" else -t.value for t in res.terms)
    assert ours == pytest.approx(plain.value, abs=1e-7)
    np.testing.assert_allclose(_cells(res, list(x.accounts), list(x.tickers)), h.value, atol=W_TOL)


def test_bond_fund_lands_in_the_traditional_account():
    x = household(
        lots=lots([("b1", 0, 3, 500, 36_000.0, True), ("r1", 1, 0, 150, 40_000.0, True)]),
        cash=np.array([0.0, 0.0]),
        tickers=("VTI", "IVV", "VEA", "BND", "AGG", "BIL"),
        lt_rate=0.0,  # no tax on moving: location alone decides
        st_rate=0.0,
        strategic_mix={AssetClass.US_EQUITY: 0.5, AssetClass.US_BONDS: 0.5},
        class_bands={AssetClass.US_EQUITY: (0.49, 0.51), AssetClass.US_BONDS: (0.49, 0.51), AssetClass.CASH: (0, 0.02)},
    )
    res = solve_household(x, cache=ProblemCache())
    cells = _cells(res, list(x.accounts), list(x.tickers))
    bonds = cells[:, 3] + cells[:, 4]
    assert bonds[1] == pytest.approx(bonds.sum(), abs=1e-4) and bonds.sum() > 0.48  # all bonds in the IRA
    assert bonds[0] < 1e-4
    assert "ira" in res.explain()
    # ... unless a constraint forbids it: bond funds may not be bought today (wash-sale block).
    wide = {AssetClass.US_EQUITY: (0.4, 0.6), AssetClass.US_BONDS: (0.4, 0.6), AssetClass.CASH: (0, 0.02)}
    no_bond_buys = replace(x, buy_blocked=np.array([0, 0, 0, 1, 1, 0], bool), class_bands=wide)
    blocked = solve_household(no_bond_buys, cache=ProblemCache())
    cells = _cells(blocked, list(x.accounts), list(x.tickers))
    assert cells[0, 3] > 0.4 and cells[1, 3] + cells[1, 4] < 1e-6


def test_wash_sale_guard_never_buys_and_sells_in_one_group():
    # A VTI lot at a big short-term loss in taxable: harvesting and re-buying VTI/IVV in the IRA is
    # what a convex problem would do; the guard forbids it.
    x = household(
        lots=lots([("b1", 0, 0, 200, 90_000.0, False), ("r1", 1, 3, 300, 21_000.0, True)]),
        cash=np.array([1_000.0, 30_000.0]),
    )
    res = solve_household(x, cache=ProblemCache())
    bought = {t.ticker for t in res.trades if t.side == "buy"}
    sold = {t.ticker for t in res.trades if t.side == "sell" and any(s.gain < 0 for s in t.lots)}
    groups = dict(zip(x.tickers, x.guard_group, strict=True))
    assert not ({groups[t] for t in bought} & {groups[t] for t in sold})
    assert res.guard_directions  # the guard had to decide


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    floor=st.sampled_from([None, 5.0, 5.5]),
    cap=st.sampled_from([None, 90.0, 70.0]),
    maxpos=st.sampled_from([1.0, 0.4, 0.3]),
    guard=st.sampled_from(list(WashSaleGuard)),
)
def test_properties(seed, floor, cap, maxpos, guard):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(int(rng.integers(1, 12))):
        asset = int(rng.integers(0, 6))
        sh = float(rng.uniform(5, 200))
        rows.append(
            (
                f"l{i}",
                int(rng.integers(0, 2)),
                asset,
                sh,
                sh * PRICES[asset] * rng.uniform(0.6, 1.5),
                bool(rng.random() < 0.6),
            )
        )
    x = household(
        lots=lots(rows),
        cash=rng.uniform(0, 20_000, 2),
        esg_floor=floor,
        carbon_cap=cap,
        max_position=maxpos,
        cash_buffer=np.array([500.0, 0.0]),
        class_bands={},
        guard=guard,
    )
    try:
        res = solve_household(x)
    except Infeasible as exc:
        assert exc.conflicts and "Infeasible for household smith" in str(exc)
        return
    cells = _cells(res, list(x.accounts), list(x.tickers))
    w = cells.sum(axis=0)
    assert cells.min() >= -1e-9
    assert w.max() <= maxpos + W_TOL
    invested = w.sum()
    if floor is not None and invested > 1e-6:
        assert (x.esg_score @ w) / invested >= floor - 1e-4
    if cap is not None and invested > 1e-6:
        assert (x.carbon @ w) / invested <= cap + 1e-3
    assert res.cash_after["brokerage"] >= 500 - 0.01
    assert w.sum() + sum(res.cash_after.values()) / res.total_value == pytest.approx(1, abs=1e-3)
    bought = {x.guard_group[x.tickers.index(t.ticker)] for t in res.trades if t.side == "buy"}
    sold = {
        x.guard_group[x.tickers.index(t.ticker)]
        for t in res.trades
        if t.side == "sell" and (guard is WashSaleGuard.ALL_SELLS or any(s.gain < 0 for s in t.lots))
    }
    assert not bought & sold
    for t in res.trades:
        if t.side == "sell":
            assert t.lots and sum(s.proceeds for s in t.lots) == pytest.approx(t.value, rel=1e-9)


def test_infeasible_diagnosis_names_the_conflict():
    x = household(
        esg_floor=6.5,
        class_bands={AssetClass.US_BONDS: (0.30, 0.40)},  # bonds score 4: a floor of 6 cannot hold 30 %
        esg_score=np.array([6.5, 6.5, 7.0, 4.0, 4.0, 4.0]),
    )
    with pytest.raises(Infeasible) as err:
        solve_household(x, cache=ProblemCache())
    msg = str(err.value)
    assert msg.startswith("Infeasible for household smith on 2026-03-31:")
    assert "ESG floor 6.5" in msg and "us_bonds band 30%–40%" in msg and "conflict" in msg
    assert "lower the ESG floor" in msg or "widen the class band" in msg
    assert set(err.value.conflicts) >= {"esg_floor", "class_bands"}
    assert all(v > 0 for v in err.value.conflicts.values())


def test_solver_fallback_chain():
    x = household()
    chain = (
        SolverSpec(SolverName.CLARABEL, {"max_iter": 1}),
        SolverSpec(SolverName.OSQP, {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iter": 400_000}),
    )
    res = solve_household(x, solver_chain=chain, cache=ProblemCache())
    assert res.solver is SolverName.OSQP and res.attempts[0] == ("clarabel", "failed")
    ref = solve_household(x, cache=ProblemCache())
    assert res.term("return") == pytest.approx(ref.term("return"), abs=1e-4)
    dead = (SolverSpec(SolverName.CLARABEL, {"max_iter": 1}), SolverSpec(SolverName.SCS, {"max_iters": 2}))
    with pytest.raises(SolverFailed) as err:
        solve_household(x, solver_chain=dead, cache=ProblemCache())
    assert [name for name, _ in err.value.attempts] == ["clarabel", "scs"]
    assert "smith" in str(err.value) and "Nothing will trade" in str(err.value)


def test_cache_reuses_one_compiled_problem_per_shape():
    cache = ProblemCache()
    opt = HouseholdOptimizer(cache=cache)
    first = opt.solve(household())
    second = opt.solve(household(cash=np.array([9_000.0, 100.0]), mu=MU * 1.1))
    stats = cache.stats()
    assert (stats.hits, stats.misses) == (1, 1) and stats.compile_time > 0
    assert first.timings.compile_time > 0 and second.timings.compile_time == 0
    assert shape_key(household()).lot_slots == 16 and shape_key(household()).n_accounts == 2
    fresh = solve_household(household(cash=np.array([9_000.0, 100.0]), mu=MU * 1.1), cache=ProblemCache())
    np.testing.assert_allclose(
        [h.weight_after for h in second.holdings], [h.weight_after for h in fresh.holdings], atol=W_TOL
    )


def test_tax_budget_binds_and_is_explained():
    x = household(
        lots=lots([("b1", 0, 0, 300, 30_000.0, True), ("b2", 0, 2, 100, 4_000.0, True)]),
        cash=np.array([0.0, 0.0]),
        tax_budget=5_000.0,
        class_bands={},
    )
    res = solve_household(x, cache=ProblemCache())
    assert res.realized_gain <= 5_000 + 1
    assert any(b.group is ConstraintGroup.TAX_BUDGET for b in res.binding)
    text = format_explanation(res)
    assert "tax budget binds" in text and "VTI in brokerage: hold" in text and "long-term lot" in text


def test_validation_errors():
    with pytest.raises(ValidationError, match="NaN"):
        solve_household(household(mu=np.r_[np.nan, MU[1:]]))
    with pytest.raises(ValidationError, match="negative cash"):
        solve_household(household(cash=np.array([-1.0, 0.0])))
    with pytest.raises(ValidationError, match="cannot sum to one"):
        solve_household(household(class_bands={AssetClass.US_EQUITY: (0.7, 1.0), AssetClass.US_BONDS: (0.5, 1.0)}))
    with pytest.raises(ValidationError, match="shape"):
        solve_household(household(cov=COV[:3, :3]))
    bad = COV.copy()
    bad[0, 3] = bad[3, 0] = 0.2  # breaks positive semidefiniteness
    res = solve_household(household(cov=bad), cache=ProblemCache())
    assert any("positive semidefinite" in n for n in res.notes)


def test_withdrawal_is_funded_and_account_types_respected():
    x = household(cash_flows=np.array([-20_000.0, 0.0]))
    res = solve_household(x, cache=ProblemCache())
    assert res.cash_after["brokerage"] >= -0.01
    assert any(t.side == "sell" and t.account == "brokerage" for t in res.trades)
    assert x.account_types[1] is AccountType.TRADITIONAL
    for t in res.trades:
        if t.account == "ira":
            assert all(s.tax == 0 for s in t.lots)


def test_factor_model_matches_the_dense_covariance():
    """The factor form (y = Gᵀw, d·w² on household weights) gives the answer of the same dense Σ."""
    rng = np.random.default_rng(3)
    loadings = rng.normal(0, 0.12, (6, 2)) + np.array([0.1, 0.0])
    factor_cov = np.array([[0.04, 0.01], [0.01, 0.02]])
    idio = np.array([0.002, 0.002, 0.004, 0.0005, 0.0005, 0.00001])
    fm = FactorModel(loadings, factor_cov, idio)
    dense = loadings @ factor_cov @ loadings.T + np.diag(idio)
    by_factor = solve_household(household(cov=None, factor_model=fm), cache=ProblemCache())
    by_cov = solve_household(household(cov=dense), cache=ProblemCache())
    assert shape_key(household(cov=None, factor_model=fm)).n_factors == 2
    for name in ("return", "risk", "tracking", "tax", "trading", "location"):
        assert by_factor.term(name) == pytest.approx(by_cov.term(name), abs=1e-7)
    np.testing.assert_allclose(
        _cells(by_factor, list(TICKERS_ACCOUNTS[0]), list(TICKERS_ACCOUNTS[1])),
        _cells(by_cov, list(TICKERS_ACCOUNTS[0]), list(TICKERS_ACCOUNTS[1])),
        atol=W_TOL,
    )
    assert by_factor.guard_directions == by_cov.guard_directions


TICKERS_ACCOUNTS = (("brokerage", "ira"), ("VTI", "IVV", "VEA", "BND", "AGG", "BIL"))


@pytest.mark.parametrize("factor", [False, True])
def test_term_values_are_their_expressions_at_the_optimum(factor):
    """Terms are computed in numpy for speed; they must equal cvxpy's value of each term's expression."""
    changes: dict[str, object] = {"esg_tilt": 0.01}
    if factor:
        rng = np.random.default_rng(4)
        fm = FactorModel(rng.normal(0, 0.12, (6, 2)), np.array([[0.04, 0.01], [0.01, 0.02]]), np.full(6, 0.001))
        changes.update(cov=None, factor_model=fm)
    x = household(**changes)
    cache = ProblemCache()
    res = solve_household(x, cache=cache)
    prob, _ = cache.get(shape_key(x))
    assert [t.name for t in res.terms] == [t.name for t in prob.terms]
    for term, shown in zip(prob.terms, res.terms, strict=True):
        assert shown.value == pytest.approx(float(term.expression().value), rel=1e-12, abs=1e-15)
        assert shown.value != 0.0 or term.name == "tax"
    signs = {t.name: (1.0 if t.kind.value == "penalty" else -1.0) for t in prob.terms}
    assert sum(signs[t.name] * t.value for t in res.terms) == pytest.approx(prob.problem.value, abs=1e-7)


@pytest.mark.parametrize("floor", [9.9, 7.5])
def test_an_esg_floor_no_asset_reaches_is_explained_by_the_best_score(floor: float) -> None:
    """When the diagnosis invests next to nothing, the shortfall is the best asset's distance from the floor, not
    noise divided by noise ("short by 1770000002.27 score points" before)."""
    x = household(esg_floor=floor, class_bands={AssetClass.US_BONDS: (0.30, 0.40)},
                  esg_score=np.array([6.5, 6.5, 7.0, 4.0, 4.0, 4.0]))
    with pytest.raises(Infeasible) as err:
        solve_household(x, cache=ProblemCache())
    assert f"the ESG floor {floor:g} (the best asset scores 7.00)" in str(err.value)
    assert "score points" not in str(err.value)
