"""Each objective term and constraint group on its own, in a two-asset problem whose answer is worked by hand.

A problem here is ``HouseholdProblem`` with only the term under test (plus the hard bookkeeping rows and
the soft groups, which hold trivially unless a test sets them); the answer is checked in numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import cvxpy as cp
import numpy as np
import pytest

from engine.errors import Infeasible, OptimizationError
from engine.model import AccountType, AssetClass
from engine.optimizer import (
    HOUSEHOLD_CHAIN,
    ConstraintGroup,
    EsgTilt,
    ExpectedReturn,
    FactorModel,
    FactorRisk,
    FullRisk,
    HouseholdInputs,
    HouseholdProblem,
    Location,
    LotInputs,
    ProblemCache,
    ShapeKey,
    SolveStatus,
    TaxCost,
    Term,
    TermKind,
    Tracking,
    TradingCost,
    Variables,
    solve_household,
)
from engine.optimizer.diagnosis import binding
from engine.optimizer.inputs import Prepared, prepare
from engine.optimizer.shape import put, shape_key, value_of
from tests.optimizer._households import AS_OF

TOL = 1e-6  # interior-point answers, weights of household value

EQ, BONDS, CASH = AssetClass.US_EQUITY, AssetClass.US_BONDS, AssetClass.CASH


def tiny(**changes: object) -> HouseholdInputs:
    """$10,000 cash in one taxable account; A (equity, μ 8 %, σ 20 %) and B (bonds, μ 3 %, σ 10 %); no costs."""
    base = HouseholdInputs(
        household_id="tiny",
        as_of=AS_OF,
        tickers=("A", "B"),
        prices=np.array([100.0, 50.0]),
        asset_class=(EQ, BONDS),
        accounts=("taxable",),
        account_types=(AccountType.TAXABLE,),
        cash=np.array([10_000.0]),
        lots=LotInputs.empty(),
        mu=np.array([0.08, 0.03]),
        cov=np.diag([0.04, 0.01]),
        spread=np.zeros(2),
    )
    return replace(base, **changes)


INVEST_ALL = {CASH: (0.0, 0.0)}  # a cash band of 0: every dollar is invested

Terms = Callable[[Variables, ShapeKey], Sequence[Term]]


def solve(x: HouseholdInputs, terms: Terms) -> tuple[HouseholdProblem, Prepared]:
    p = prepare(x)
    prob = HouseholdProblem(shape_key(p), terms=terms)
    prob.assign(p)
    assert prob.compiled.solve(HOUSEHOLD_CHAIN).status is SolveStatus.OPTIMAL
    return prob, p


def only(cls: type[Term]) -> Terms:
    return lambda v, key: (cls(v, key),)


def weights(prob: HouseholdProblem) -> np.ndarray:
    return value_of(prob.v.w)


# -- terms ------------------------------------------------------------------------------------


def test_expected_return_fills_the_best_asset_up_to_its_limit():
    prob, _ = solve(tiny(max_position=0.6), only(ExpectedReturn))
    assert weights(prob) == pytest.approx([0.6, 0.4], abs=TOL)
    assert prob.terms[0].value() == pytest.approx(0.08 * 0.6 + 0.03 * 0.4, abs=TOL)


def test_full_risk_alone_is_the_minimum_variance_portfolio():
    prob, _ = solve(tiny(class_bands=INVEST_ALL), only(FullRisk))
    # uncorrelated: w ∝ 1/σ² = (25, 100) → (0.2, 0.8); (γ/2)·wᵀΣw = 2·(0.04·0.04 + 0.01·0.64)
    assert weights(prob) == pytest.approx([0.2, 0.8], abs=TOL)
    assert prob.terms[0].value() == pytest.approx(2 * (0.04 * 0.2**2 + 0.01 * 0.8**2), abs=TOL)


def test_factor_risk_equals_the_dense_minimum_variance_portfolio():
    b, f, d = np.array([[1.0], [0.5]]), np.array([[0.04]]), np.array([0.03, 0.03])
    x = tiny(class_bands=INVEST_ALL, cov=None, factor_model=FactorModel(b, f, d))
    prob, _ = solve(x, only(FactorRisk))
    sigma = b @ f @ b.T + np.diag(d)
    expected = np.linalg.solve(sigma, np.ones(2))
    expected /= expected.sum()  # Σ = [[0.07, 0.02], [0.02, 0.04]]: w = (2/7, 5/7), long-only already
    assert expected == pytest.approx([2 / 7, 5 / 7])
    assert weights(prob) == pytest.approx(expected, abs=TOL)
    assert prob.terms[0].value() == pytest.approx(2 * expected @ sigma @ expected, abs=TOL)


def test_tracking_meets_the_mix_as_closely_as_the_position_limit_allows():
    mix = {EQ: 0.7, BONDS: 0.3}
    prob, p = solve(tiny(strategic_mix=mix, max_position=0.5), only(Tracking))
    # A is held at 0.5; 5·[(0.5 − 0.7)² + (z_B − 0.3)² + z_cash²] with z_B + z_cash = 0.5 → z_B 0.4, cash 0.1
    z = value_of(prob.v.z)
    assert z[p.classes.index(BONDS)] == pytest.approx(0.4, abs=TOL)
    assert z[p.classes.index(CASH)] == pytest.approx(0.1, abs=TOL)
    assert prob.terms[0].value() == pytest.approx(5 * (0.2**2 + 0.1**2 + 0.1**2), abs=TOL)


LOTS = LotInputs(  # A bought at $150 (a $500 short-term loss), B at $25 (a $500 long-term gain)
    ("loss", "gain"),
    np.array([0, 0]),
    np.array([0, 1]),
    np.array([10.0, 20.0]),
    np.array([1500.0, 500.0]),
    np.array([False, True]),
)


@pytest.mark.parametrize("reward_losses", [True, False])
def test_tax_cost_harvests_the_loss_and_keeps_the_gain(reward_losses):
    prob, p = solve(tiny(cash=np.array([8_000.0]), lots=LOTS, reward_losses=reward_losses), only(TaxCost))
    total = p.total_value  # 8,000 + 1,000 + 1,000
    sold = value_of(prob.v.s)[:2] * total
    per_dollar = value_of(prob.terms[0].parameters[0])[:2]  # tax rate × gain per dollar sold, per lot
    assert sold[1] == pytest.approx(0.0, abs=1e-3)  # the gain lot is never sold
    if reward_losses:
        assert per_dollar == pytest.approx([0.37 * -0.5, 0.20 * 0.5])
        assert sold[0] == pytest.approx(1000.0, abs=1e-3)  # the whole loss lot
        assert prob.terms[0].value() == pytest.approx(0.37 * -500.0 / total, abs=TOL)
    else:  # a loss is worth nothing: selling it neither costs nor earns
        assert per_dollar == pytest.approx([0.0, 0.20 * 0.5])
        assert prob.terms[0].value() == pytest.approx(0.0, abs=TOL)


def test_trading_cost_buys_the_cheaper_asset_and_pays_its_half_spread():
    prob, _ = solve(tiny(class_bands=INVEST_ALL, spread=np.array([0.002, 0.01])), only(TradingCost))
    # c = 1 − b_A·(1 + 0.001) = 0 → b_A = 1/1.001; cost 0.001·b_A
    assert weights(prob) == pytest.approx([1 / 1.001, 0.0], abs=TOL)
    assert prob.terms[0].value() == pytest.approx(0.001 / 1.001, abs=TOL)


def test_location_puts_the_high_drag_asset_in_the_sheltered_account():
    x = tiny(
        accounts=("taxable", "ira"),
        account_types=(AccountType.TAXABLE, AccountType.TRADITIONAL),
        cash=np.array([5_000.0, 5_000.0]),
        class_bands=INVEST_ALL,
        tax_drag=np.array([[0.002, 0.01], [0.0, 0.0]]),
    )
    prob, _ = solve(x, only(Location))
    buys = value_of(prob.v.b)
    assert buys[0] == pytest.approx([0.5, 0.0], abs=TOL)  # the taxable half buys A (drag 0.2 %, not 1 %)
    assert prob.terms[0].value() == pytest.approx(0.002 * 0.5, abs=TOL)


def test_esg_tilt_rewards_the_higher_score():
    prob, _ = solve(tiny(class_bands=INVEST_ALL, esg_score=np.array([8.0, 4.0]), esg_tilt=0.1), only(EsgTilt))
    assert weights(prob) == pytest.approx([1.0, 0.0], abs=TOL)
    assert prob.terms[0].value() == pytest.approx(0.1 * 8.0 / 10.0, abs=TOL)


def test_silence_zeroes_every_parameter_of_a_term():
    v = Variables.of(ShapeKey(2, 3, 1, 16, 0))
    term = TradingCost(v, ShapeKey(2, 3, 1, 16, 0))
    term.set(prepare(tiny(spread=np.array([0.002, 0.01]))))
    term.silence()
    assert [par.name() for par in term.parameters] == ["cost_per_dollar", "lot_cost_per_dollar"]
    assert all(not np.any(value_of(par)) for par in term.parameters)


# -- constraint groups (the objective: expected return only, so A is wanted without limit) -------------


@pytest.mark.parametrize(
    ("changes", "expected_w", "group"),
    [
        ({"class_bands": {EQ: (0.0, 0.5)}}, [0.5, 0.5], ConstraintGroup.CLASS_BANDS),
        ({"asset_bounds": np.array([[0.0, 1.0], [0.25, 1.0]])}, [0.75, 0.25], ConstraintGroup.ASSET_BANDS),
        ({"cash_buffer": np.array([2_000.0])}, [0.8, 0.0], ConstraintGroup.CASH_BUFFER),
        ({"liquidity_reserve": 3_000.0}, [0.7, 0.0], ConstraintGroup.LIQUIDITY),
        ({"esg_score": np.array([4.0, 8.0]), "esg_floor": 6.0}, [0.5, 0.5], ConstraintGroup.ESG_FLOOR),
        ({"carbon": np.array([100.0, 0.0]), "carbon_cap": 50.0}, [0.5, 0.5], ConstraintGroup.CARBON_CAP),
        ({"turnover_limit": 0.3}, [0.3, 0.0], ConstraintGroup.TURNOVER),
    ],
)
def test_each_group_holds_the_return_seeker_back_and_binds(changes, expected_w, group):
    prob, p = solve(tiny(**changes), only(ExpectedReturn))
    assert weights(prob) == pytest.approx(expected_w, abs=TOL)
    bound = [bc for bc in binding(prob, p) if bc.group is group]
    assert bound and all(bc.dual > 1e-4 for bc in bound), binding(prob, p)


def test_tax_budget_sells_only_as_much_gain_as_the_budget_allows():
    gain_lot = LotInputs(("g",), np.array([0]), np.array([1]), np.array([20.0]), np.array([500.0]), np.array([True]))
    x = tiny(cash=np.array([9_000.0]), lots=gain_lot, mu=np.array([0.08, 0.0]), tax_budget=200.0)
    prob, p = solve(x, only(ExpectedReturn))
    # B's $1,000 lot holds a $500 gain: $0.50 of gain per dollar sold, so $200 of gain is $400 sold
    assert value_of(prob.v.s)[0] * p.total_value == pytest.approx(400.0, abs=1e-3)
    (bc,) = [bc for bc in binding(prob, p) if bc.group is ConstraintGroup.TAX_BUDGET]
    assert bc.name == "tax budget $200"


def test_a_switched_off_group_is_never_reported_binding():
    prob, p = solve(tiny(), only(ExpectedReturn))
    assert weights(prob) == pytest.approx([1.0, 0.0], abs=TOL)  # all in A: A's 100 % limit and cash ≥ 0 bind
    off = {ConstraintGroup.LIQUIDITY, ConstraintGroup.ESG_FLOOR, ConstraintGroup.CARBON_CAP}
    # switched off, their rows read 0 ≥ 0 (or cash ≥ 0) and can carry a dual; they must not be reported
    assert any(abs(float(g.constraints[0].dual_value)) > 1e-4 for g in prob.soft if g.group in off)
    groups = {bc.group for bc in binding(prob, p)}
    assert ConstraintGroup.CASH_BUFFER in groups and not groups & off


def test_diagnosis_names_the_two_groups_that_conflict():
    """A withdrawal that needs more selling than the turnover limit allows: turnover against cash ≥ 0."""
    lot = LotInputs(  # $4,500 of A and of B
        ("a", "b"),
        np.array([0, 0]),
        np.array([0, 1]),
        np.array([45.0, 90.0]),
        np.array([4_500.0, 4_500.0]),
        np.array([True, True]),
    )
    x = tiny(cash=np.array([1_000.0]), lots=lot, cash_flows=np.array([-3_000.0]), turnover_limit=0.1)
    with pytest.raises(Infeasible) as info:
        solve_household(x, cache=ProblemCache())
    # $2,000 of the $7,000 household must be sold (28.6 points) and 10 points may trade: 18.6 points short
    assert set(info.value.conflicts) == {"turnover", "class_bands", "cash_buffer"}
    assert info.value.conflicts["turnover"] == pytest.approx(2 / 7 - 0.1, abs=1e-6)
    assert "the turnover limit 10% (needs 18.6 points more)" in str(info.value)
    assert "raise the turnover limit" in str(info.value) and "lower the cash buffer" in str(info.value)


# -- adding a term (docs/optimizer.md) ---------------------------------------------------------


class CashYield(Term):
    """r·Σc: cash earns a rate too (a reward)."""

    name, kind = "cash_yield", TermKind.REWARD

    def __init__(self, v: Variables, key: ShapeKey) -> None:
        self.v = v
        self.rate = cp.Parameter(nonneg=True, name="cash_rate")
        self.expr = self.rate * cp.sum(v.c)

    def set(self, p: Prepared) -> None:
        put(self.rate, 0.1)

    def value(self) -> float:
        return float(value_of(self.rate) * value_of(self.v.c).sum())


def test_a_new_term_is_one_class():
    prob, _ = solve(tiny(), lambda v, key: (ExpectedReturn(v, key), CashYield(v, key)))
    assert weights(prob) == pytest.approx([0.0, 0.0], abs=TOL)  # 10 % on cash beats 8 % on A
    assert [t.value() for t in prob.terms] == pytest.approx([0.0, 0.1], abs=TOL)


def test_a_term_of_the_wrong_shape_is_refused():
    class ConvexReward(CashYield):
        name = "wrong"

        def __init__(self, v: Variables, key: ShapeKey) -> None:
            super().__init__(v, key)
            self.expr = cp.sum_squares(v.w)

    with pytest.raises(OptimizationError, match="term wrong is not reward-shaped"):
        HouseholdProblem(shape_key(tiny()), terms=lambda v, key: (ConvexReward(v, key),))
