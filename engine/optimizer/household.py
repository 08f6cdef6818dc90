"""The household problem: one cvxpy problem over holdings by account, lots, cash; compiled once per shape.

    result = solve_household(inputs)            # HouseholdInputs → OptimizationResult
    print(result.explain())

Variables (weights of household value): buys b per (account, asset), lot sells s (one pool of slots for
every account's lots), asset weights w, post-trade cash c per account, class weights z, slacks σ per
constraint group. The pool is padded to a bucket (``lot_bucket``: multiples of 16, coarser past 256 lots)
with zero-value dummy lots so that households of similar size share one compiled problem (``shape_key``).

Wash-sale guard (Moehle, Kochenderfer, Boyd, Ang 2021): selling at a loss has negative tax cost, so a
convex problem may sell and buy the same asset (or a member of its guard group) on one day. We solve,
fix each group that traded in both directions to its net direction (buy-only or sell-only, through the
buy and lot-sell upper bounds), and re-solve; groups that traded one way keep that way. This repeats
until no group trades both ways (each group is fixed at most once; in practice one extra solve), so the
returned trades never buy and sell within one guard group across the household. With the default
``WashSaleGuard.LOSSES`` a "sell" means a sale of a lot at a loss — exactly what the wash-sale rule
(IRC §1091) looks at, so selling a bond fund at a gain in a taxable account and buying it in an IRA
(asset location) stays possible; ``WashSaleGuard.ALL_SELLS`` forbids any same-day buy and sell per group.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cvxpy as cp
import numpy as np

from engine.errors import Infeasible, OptimizationError, SolverFailed
from engine.model import AccountType, AssetClass
from engine.optimizer.inputs import HouseholdInputs, Prepared, WashSaleGuard, prepare
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
    explain_result,
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
    "HOUSEHOLD_CHAIN",
    "CacheStats",
    "HouseholdOptimizer",
    "ProblemCache",
    "ShapeKey",
    "lot_bucket",
    "shape_key",
    "solve_household",
]

TRADE_TOL = 1e-7
"""Trades below this weight of household value are solver noise and are dropped."""

BIG = 1e3
"""'No limit' for optional caps (weights are ≤ 1, so this never binds)."""

GROUPS: tuple[ConstraintGroup, ...] = tuple(ConstraintGroup)

HOUSEHOLD_CHAIN: tuple[SolverSpec, ...] = (
    SolverSpec(SolverName.CLARABEL, {"iterative_refinement_enable": False}),
    *DEFAULT_CHAIN,
)
"""Clarabel without iterative refinement, then ``DEFAULT_CHAIN`` (Clarabel as shipped first).

The household problem is linear in its trades, and refinement of its KKT solves took ~40 % of Clarabel's
time without changing the iterations or the status (``benchmarks/batch.py``). Termination is still judged on
the true residuals, so a solve that needs refinement ends not "Solved" and the next link runs.
"""


def lot_bucket(count: int) -> int:
    """Lot slots for a household holding ``count`` lots: a multiple of 16, or of about 1/8 of it past 256.

    Dummy slots cost solver time (a variable and two rows each) and every distinct bucket a compile, so
    the step keeps the padding under ~1/8 while the number of shapes grows only with log(count).
    """
    step = max(16, 1 << max(count.bit_length() - 4, 0))
    return max(16, step * math.ceil(count / step))


@dataclass(frozen=True, slots=True)
class ShapeKey:
    """What fixes a compiled problem's shape: assets, classes, accounts, lot slots, risk model."""

    n_assets: int
    n_classes: int
    n_accounts: int
    lot_slots: int
    n_factors: int  # 0 means a full covariance


def shape_key(inputs: HouseholdInputs | Prepared) -> ShapeKey:
    """The cache key of a household's problem (public: the batch room groups households by it)."""
    p = inputs if isinstance(inputs, Prepared) else prepare(inputs)
    x = p.inputs
    k = 0 if x.factor_model is None or x.cov is not None else int(np.asarray(x.factor_model.loadings).shape[1])
    return ShapeKey(x.n_assets, len(p.classes), x.n_accounts, lot_bucket(len(x.lots)), k)


def _put(par: cp.Parameter, value: object) -> None:
    """Write a parameter's value without cvxpy's per-assignment projection (its checks, done cheaply here).

    Same result as ``par.value = value`` for the attributes this module uses (shape, nonneg, PSD — the
    PSD one is only bypassed for matrices that are PSD by construction); raises ValueError like cvxpy.
    """
    if par.shape == ():
        v = float(value)  # type: ignore[arg-type]
        if not math.isfinite(v) or (par.attributes["nonneg"] and v < 0):
            raise ValueError(f"parameter {par.name()} must be finite{' and ≥ 0' if par.attributes['nonneg'] else ''}")
        par.save_value(v)
        return
    arr = np.asarray(value, dtype=float)
    if arr.shape != par.shape:
        raise ValueError(f"Invalid dimensions {arr.shape} for Parameter value.")
    if not np.isfinite(arr).all() or (par.attributes["nonneg"] and arr.size and arr.min() < 0):
        raise ValueError(f"parameter {par.name()} must be finite{' and ≥ 0' if par.attributes['nonneg'] else ''}")
    par.save_value(arr)


# ---------------------------------------------------------------------------------------------
# Terms: each builds its expression from parameters once and says whether it is a reward or penalty.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Vars:
    """Variables: buys b (account × asset), lot sells s (slots), cash c, class weights z, asset weights w."""

    b: cp.Variable
    s: cp.Variable
    c: cp.Variable
    z: cp.Variable
    w: cp.Variable


def _put_lots(par: cp.Parameter, p: Prepared, per_lot: np.ndarray) -> None:
    """Per-lot values (one per lot, input order) into a slot parameter in slot order, dummy slots 0."""
    arr = np.asarray(per_lot, dtype=float)
    order = p.slot_order
    vals = np.zeros(par.size)
    vals[: order.size] = arr[order]
    _put(par, vals)


class _Term:
    name: str
    kind: TermKind
    constraints: tuple[cp.Constraint, ...] = ()  # definitions of the term's own auxiliary variables

    def expression(self) -> cp.Expression:
        raise NotImplementedError

    def value(self) -> float:
        """The expression's value at the current variable values, in numpy (cvxpy's tree walk costs more)."""
        raise NotImplementedError

    def set(self, p: Prepared) -> None:
        raise NotImplementedError


class _ExpectedReturn(_Term):
    name, kind = "return", TermKind.REWARD

    def __init__(self, v: _Vars, n: int) -> None:
        self.v = v
        self.mu = cp.Parameter(n, name="mu")
        self.expr = self.mu @ v.w

    def expression(self) -> cp.Expression:
        return self.expr

    def value(self) -> float:
        return float(self.mu.value @ self.v.w.value)

    def set(self, p: Prepared) -> None:
        _put(self.mu, np.asarray(p.inputs.mu, dtype=float))


class _FullRisk(_Term):
    """(γ/2)·wᵀΣw with Σ a PSD parameter (γ folded into the parameter's value)."""

    name, kind = "risk", TermKind.PENALTY

    def __init__(self, v: _Vars, n: int) -> None:
        self.v = v
        self.sigma = cp.Parameter((n, n), PSD=True, name="half_gamma_sigma")
        self.expr = cp.quad_form(v.w, self.sigma)

    def expression(self) -> cp.Expression:
        return self.expr

    def value(self) -> float:
        w = self.v.w.value
        return float(w @ self.sigma.value @ w)

    def set(self, p: Prepared) -> None:
        assert p.cov is not None
        scaled = 0.5 * p.inputs.risk_aversion * p.cov
        if p.inputs.risk_aversion >= 0:  # p.cov is PSD (repaired_covariance), so is scaled: skip cvxpy's eigh
            _put(self.sigma, scaled)
        else:
            self.sigma.value = scaled


class _FactorRisk(_Term):
    """(γ/2)·(‖Gᵀw‖² + Σ dᵢwᵢ²) with G = B·chol(F), on the household's asset weights w.

    y = Gᵀw is a k-vector variable (k dense rows) and d·w² goes straight into the quadratic objective,
    so the KKT system stays sparse and no per-asset auxiliary variable is created.
    """

    name, kind = "risk", TermKind.PENALTY

    def __init__(self, v: _Vars, n: int, k: int) -> None:
        self.g = cp.Parameter((n, k), name="factor_exposure")
        self.d = cp.Parameter(n, nonneg=True, name="idio_var")
        self.y = cp.Variable(k, name="factor_risk")
        self.constraints = (self.y == self.g.T @ v.w,)
        self.v = v
        self.expr = cp.sum_squares(self.y) + cp.sum(cp.multiply(self.d, cp.square(v.w)))

    def expression(self) -> cp.Expression:
        return self.expr

    def value(self) -> float:
        y, w = self.y.value, self.v.w.value
        return float(y @ y + self.d.value @ (w * w))

    def set(self, p: Prepared) -> None:
        fm = p.inputs.factor_model
        assert fm is not None
        scale = 0.5 * p.inputs.risk_aversion
        f = np.asarray(fm.factor_cov, dtype=float)
        chol = np.linalg.cholesky(0.5 * (f + f.T) + 1e-12 * np.eye(f.shape[0]))
        _put(self.g, math.sqrt(scale) * np.asarray(fm.loadings, dtype=float) @ chol)
        _put(self.d, scale * np.maximum(np.asarray(fm.idio_var, dtype=float), 0.0))


class _Tracking(_Term):
    """λ·‖z − mix‖² over asset classes (cash counted in the cash class)."""

    name, kind = "tracking", TermKind.PENALTY

    def __init__(self, v: _Vars, k: int) -> None:
        self.v = v
        self.scale = cp.Parameter(k, nonneg=True, name="sqrt_tracking_weight")
        self.target = cp.Parameter(k, name="scaled_mix")
        self.expr = cp.sum_squares(cp.multiply(self.scale, v.z) - self.target)

    def expression(self) -> cp.Expression:
        return self.expr

    def value(self) -> float:
        gap = self.scale.value * self.v.z.value - self.target.value
        return float(gap @ gap)

    def set(self, p: Prepared) -> None:
        on = 1.0 if p.inputs.strategic_mix else 0.0
        root = math.sqrt(p.inputs.tracking_weight) * on
        _put(self.scale, np.full(len(p.classes), root))
        _put(self.target, root * p.mix)


class _TaxCost(_Term):
    """Σ rate·gain of the lots sold (negative for losses), USD as a fraction of household value."""

    name, kind = "tax", TermKind.PENALTY

    def __init__(self, v: _Vars, slots: int) -> None:
        self.v = v
        self.per_dollar = cp.Parameter(slots, name="tax_per_dollar")
        self.expr = self.per_dollar @ v.s

    def expression(self) -> cp.Expression:
        return self.expr

    def value(self) -> float:
        return float(self.per_dollar.value @ self.v.s.value)

    def set(self, p: Prepared) -> None:
        pass  # set with the lot layout in _HouseholdProblem.assign


class _TradingCost(_Term):
    """Half-spread plus commission on every dollar bought or sold (sells priced per lot)."""

    name, kind = "trading", TermKind.PENALTY

    def __init__(self, v: _Vars, n: int, slots: int) -> None:
        self.kappa = cp.Parameter(n, nonneg=True, name="cost_per_dollar")
        self.lot_kappa = cp.Parameter(slots, nonneg=True, name="lot_cost_per_dollar")
        self.v = v
        self.expr = self.kappa @ cp.sum(v.b, axis=0) + self.lot_kappa @ v.s

    def expression(self) -> cp.Expression:
        return self.expr

    def value(self) -> float:
        return float(self.kappa.value @ self.v.b.value.sum(axis=0)) + float(self.lot_kappa.value @ self.v.s.value)

    def set(self, p: Prepared) -> None:
        kappa = p.inputs.trading_weight * p.kappa
        _put(self.kappa, kappa)
        _put_lots(self.lot_kappa, p, kappa[np.asarray(p.inputs.lots.asset, dtype=int)])


class _Location(_Term):
    """Annual tax drag of holding each asset in each account (asset location): Σ drag ∘ h.

    With h = current + b − u it is a constant plus drag on buys minus drag on each lot sold.
    """

    name, kind = "location", TermKind.PENALTY

    def __init__(self, v: _Vars, a: int, n: int, slots: int) -> None:
        self.drag = cp.Parameter((a, n), name="tax_drag")
        self.held = cp.Parameter(name="drag_on_current")
        self.lot_drag = cp.Parameter(slots, name="lot_drag")
        self.v = v
        self.expr = self.held + cp.sum(cp.multiply(self.drag, v.b)) - self.lot_drag @ v.s

    def expression(self) -> cp.Expression:
        return self.expr

    def value(self) -> float:
        held = float(self.held.value)
        return held + float(np.sum(self.drag.value * self.v.b.value)) - float(self.lot_drag.value @ self.v.s.value)

    def set(self, p: Prepared) -> None:
        drag = p.inputs.location_weight * p.drag
        _put(self.drag, drag)
        _put(self.held, float(np.sum(drag * p.current)))
        lots = p.inputs.lots
        _put_lots(self.lot_drag, p, drag[np.asarray(lots.account, dtype=int), np.asarray(lots.asset, dtype=int)])


class _EsgTilt(_Term):
    """tilt · (score/10)ᵀw: a reward for higher-scoring holdings."""

    name, kind = "esg", TermKind.REWARD

    def __init__(self, v: _Vars, n: int) -> None:
        self.v = v
        self.score = cp.Parameter(n, name="esg_tilt_score")
        self.expr = self.score @ v.w

    def expression(self) -> cp.Expression:
        return self.expr

    def value(self) -> float:
        return float(self.score.value @ self.v.w.value)

    def set(self, p: Prepared) -> None:
        _put(self.score, p.inputs.esg_tilt * p.esg / 10.0)


class _HouseholdProblem:
    """The compiled problem for one ShapeKey; ``assign`` writes a household's data into its parameters.

    Shape, for the solver's sake (its time grows with the number of variables plus rows): the variables
    are buys b per (account, asset), sells s per lot slot, household asset weights w, cash c per account
    and class weights z. Holdings (current + b − lot sells per cell) are never a variable: h ≥ 0 needs no
    row (a lot's sell is capped at its value), the buy guard is one row per asset (Σ_accounts b ≤ cap; cap
    is 0 or ∞ for every account alike), and the risk, class, band, ESG and carbon terms read w once
    instead of summing a·n cells in each row. The lots of all accounts share one pool of slots; which
    account and asset a slot belongs to is data (two 0/1 parameter matrices whose zeros Clarabel never
    sees), so a household's shape depends on its number of lots, not on how they spread over accounts.
    """

    def __init__(self, key: ShapeKey) -> None:
        n, k, a, slots = key.n_assets, key.n_classes, key.n_accounts, key.lot_slots
        self.key = key
        P = cp.Parameter
        b = cp.Variable((a, n), name="buys")
        s = cp.Variable(slots, name="lot_sells")
        w = cp.Variable(n, name="asset_weights")
        c = cp.Variable(a, name="cash")
        z = cp.Variable(k, name="class_weights")
        sigma = cp.Variable(len(GROUPS), name="slack")
        self.mapping = P((n, slots), name="lot_asset")
        self.lot_net = P((a, slots), name="lot_net_proceeds_by_account")  # 1 − cost at [lot's account, slot]
        v = _Vars(b, s, c, z, w)
        self.v, self.sigma = v, sigma
        self.current_total = P(n, name="current_by_asset")
        self.sell_ub = P(slots, nonneg=True, name="sell_ub")
        self.gain = P(slots, name="gain_per_dollar")
        self.lot_liquid = P(slots, name="lot_liquid")
        self.buy_ub = P(n, nonneg=True, name="buy_ub")
        self.cash0 = P(a, name="cash0")
        self.buffer = P(a, name="cash_buffer")
        self.kappa = P(n, nonneg=True, name="kappa")
        self.membership = P((k, n), name="class_membership")
        self.cash_class = P(k, name="cash_class")
        self.class_lo, self.class_hi = P(k, name="class_lo"), P(k, name="class_hi")
        self.asset_lo, self.asset_hi = P(n, name="asset_lo"), P(n, name="asset_hi")
        self.esg_excess = P(n, name="esg_excess")
        self.carbon_excess = P(n, name="carbon_excess")
        self.liquid_accounts = P(a, name="liquid_accounts")
        self.liquid_cells = P((a, n), name="liquid_cells")
        self.reserve_gap = P(name="reserve_less_liquid_holdings")
        self.tax_budget = P(name="tax_budget")
        self.turnover = P(name="turnover")
        self.slack_cap = P(len(GROUPS), nonneg=True, name="slack_cap")
        self.slack_price = P(len(GROUPS), nonneg=True, name="slack_price")

        risk: _Term = _FullRisk(v, n) if key.n_factors == 0 else _FactorRisk(v, n, key.n_factors)
        self.tax = _TaxCost(v, slots)
        self.terms: tuple[_Term, ...] = (
            _ExpectedReturn(v, n),
            risk,
            _Tracking(v, k),
            self.tax,
            _TradingCost(v, n, slots),
            _Location(v, a, n, slots),
            _EsgTilt(v, n),
        )
        objective = 0
        for term in self.terms:  # local facts, one central check (CONTRIBUTING.md habit 3)
            expr = term.expression()
            ok = expr.is_convex() if term.kind is TermKind.PENALTY else expr.is_concave()
            if not ok:
                raise OptimizationError(f"internal: term {term.name} is not {term.kind.value}-shaped")
            objective = objective + (expr if term.kind is TermKind.PENALTY else -expr)
        objective = objective + self.slack_price @ sigma
        g = {grp: sigma[i] for i, grp in enumerate(GROUPS)}
        lots_sold = cp.sum(s)  # dummy slots are held at 0
        self.groups: dict[ConstraintGroup, list[cp.Constraint]] = {
            ConstraintGroup.CLASS_BANDS: [
                z >= self.class_lo - g[ConstraintGroup.CLASS_BANDS],
                z <= self.class_hi + g[ConstraintGroup.CLASS_BANDS],
            ],
            ConstraintGroup.ASSET_BANDS: [
                w >= self.asset_lo - g[ConstraintGroup.ASSET_BANDS],
                w <= self.asset_hi + g[ConstraintGroup.ASSET_BANDS],
            ],
            ConstraintGroup.CASH_BUFFER: [c >= self.buffer - g[ConstraintGroup.CASH_BUFFER]],
            ConstraintGroup.LIQUIDITY: [  # liquid cash + liquid holdings ≥ reserve, held part moved right
                self.liquid_accounts @ c
                + cp.sum(cp.multiply(self.liquid_cells, b))
                - self.lot_liquid @ s
                >= self.reserve_gap - g[ConstraintGroup.LIQUIDITY]
            ],
            ConstraintGroup.ESG_FLOOR: [self.esg_excess @ w >= -g[ConstraintGroup.ESG_FLOOR]],
            ConstraintGroup.CARBON_CAP: [self.carbon_excess @ w <= g[ConstraintGroup.CARBON_CAP]],
            ConstraintGroup.TAX_BUDGET: [
                self.gain @ s <= self.tax_budget + g[ConstraintGroup.TAX_BUDGET]
            ],
            ConstraintGroup.TURNOVER: [cp.sum(b) + lots_sold <= self.turnover + g[ConstraintGroup.TURNOVER]],
        }
        hard = [
            w == self.current_total + cp.sum(b, axis=0) - self.mapping @ s,
            c == self.cash0 - cp.sum(b, axis=1) - b @ self.kappa + self.lot_net @ s,
            z == self.membership @ w + self.cash_class * cp.sum(c),
            *[con for term in self.terms for con in term.constraints],
            b >= 0,
            cp.sum(b, axis=0) <= self.buy_ub,
            sigma >= 0,
            sigma <= self.slack_cap,
        ]
        hard += [s >= 0, s <= self.sell_ub]
        soft = [con for cons in self.groups.values() for con in cons]
        self.problem = cp.Problem(cp.Minimize(objective), hard + soft)
        self.compiled = CompiledProblem(self.problem)

    # -- data ----------------------------------------------------------------------------------

    def assign(self, p: Prepared) -> None:
        """Write one household's data into the parameters (no compilation)."""
        x = p.inputs
        n = x.n_assets
        lot_ast = np.asarray(x.lots.asset, dtype=int)
        lot_acc = np.asarray(x.lots.account, dtype=int)
        order = p.slot_order
        self.compiled.forget_solver()  # a household's answer must not depend on the one solved before it
        with np.errstate(divide="ignore", invalid="ignore"):
            gain_pd = np.where(p.lot_value > 0, p.lot_gain / p.lot_value, 0.0)
        liquid_cells = np.outer(p.liquid_accounts, p.liquid_assets).astype(float)
        slot = np.arange(order.size)
        mapping = np.zeros((n, self.key.lot_slots))
        mapping[lot_ast[order], slot] = 1.0
        _put(self.mapping, mapping)
        net = np.zeros((x.n_accounts, self.key.lot_slots))
        net[lot_acc[order], slot] = 1.0 - p.kappa[lot_ast[order]]
        _put(self.lot_net, net)
        tax_pd = x.tax_weight * p.lot_rate * gain_pd
        if not x.reward_losses:  # "no harvesting": a loss sale is allowed when rebalancing needs it, never sought
            tax_pd = np.maximum(tax_pd, 0.0)
        for par, per_lot in (
            (self.gain, gain_pd),
            (self.tax.per_dollar, tax_pd),
            (self.lot_liquid, liquid_cells[lot_acc, lot_ast]),
        ):
            _put_lots(par, p, per_lot)
        _put(self.current_total, p.current.sum(axis=0))
        _put(self.cash0, p.cash0)
        _put(self.buffer, p.buffer)
        _put(self.kappa, p.kappa)
        k = len(p.classes)
        member = np.zeros((k, n))
        member[p.class_index, np.arange(n)] = 1.0
        _put(self.membership, member)
        cash_class = np.zeros(k)
        cash_class[p.classes.index(AssetClass.CASH)] = 1.0
        _put(self.cash_class, cash_class)
        _put(self.class_lo, p.class_lo)
        _put(self.class_hi, p.class_hi)
        _put(self.asset_lo, p.asset_lo)
        _put(self.asset_hi, p.asset_hi)
        _put(self.esg_excess, p.esg - x.esg_floor if x.esg_floor is not None else np.zeros(n))
        _put(self.carbon_excess, p.carbon - x.carbon_cap if x.carbon_cap is not None else np.zeros(n))
        _put(self.liquid_accounts, p.liquid_accounts.astype(float))
        _put(self.liquid_cells, liquid_cells)
        _put(self.reserve_gap, x.liquidity_reserve / p.total_value - float(np.sum(liquid_cells * p.current)))
        _put(self.tax_budget, BIG if x.tax_budget is None else x.tax_budget / p.total_value)
        _put(self.turnover, BIG if x.turnover_limit is None else x.turnover_limit)
        for term in self.terms:
            term.set(p)
        self.set_mode(diagnose=False)
        self.set_directions(p, buy_ok=np.ones(n, bool), sell_ok=np.ones(n, bool))

    def set_directions(self, p: Prepared, *, buy_ok: np.ndarray, sell_ok: np.ndarray) -> None:
        """Upper bounds on buys and lot sells from exclusions, wash-sale blocks and the direction guard."""
        x = p.inputs
        buy_asset = buy_ok & ~p.excluded & ~p.buy_blocked
        _put(self.buy_ub, np.where(buy_asset, BIG, 0.0))
        lot_ast = np.asarray(x.lots.asset, dtype=int)
        loss = p.lot_gain < 0
        guarded = loss if p.inputs.guard is WashSaleGuard.LOSSES else np.ones(loss.size, bool)
        allowed = (sell_ok[lot_ast] | ~guarded) & ~(p.sell_loss_blocked[lot_ast] & loss)
        _put_lots(self.sell_ub, p, np.where(allowed, p.lot_value, 0.0))

    def set_mode(self, *, diagnose: bool, hard: Sequence[ConstraintGroup] = ()) -> None:
        """Normal mode: slacks fixed at 0. Diagnosis: slacks free (except ``hard``) and their sum minimized."""
        caps = np.array([0.0 if (not diagnose or grp in hard) else BIG for grp in GROUPS])
        _put(self.slack_cap, caps)
        _put(self.slack_price, np.array([_SLACK_PRICE[grp] for grp in GROUPS]) if diagnose else np.zeros(len(GROUPS)))

    def silence_objective(self, p: Prepared) -> None:
        """Zero every term's weight (diagnosis looks only at the slacks)."""
        quiet = _replace_weights(p)
        for term in self.terms:
            term.set(quiet)
        _put(self.tax.per_dollar, np.zeros(self.key.lot_slots))


_SLACK_PRICE = {
    ConstraintGroup.CLASS_BANDS: 1.0,
    ConstraintGroup.ASSET_BANDS: 1.0,
    ConstraintGroup.CASH_BUFFER: 1.0,
    ConstraintGroup.LIQUIDITY: 1.0,
    ConstraintGroup.ESG_FLOOR: 0.1,  # score points × weight; a point is worth 0.1 of weight
    ConstraintGroup.CARBON_CAP: 1e-3,  # tCO2e/$M × weight
    ConstraintGroup.TAX_BUDGET: 1.0,
    ConstraintGroup.TURNOVER: 1.0,
}


def _replace_weights(p: Prepared) -> Prepared:
    from dataclasses import replace

    quiet = replace(
        p.inputs,
        mu=np.zeros(p.inputs.n_assets),
        risk_aversion=0.0,
        tracking_weight=0.0,
        tax_weight=0.0,
        trading_weight=0.0,
        location_weight=0.0,
        esg_tilt=0.0,
    )
    return replace(p, inputs=quiet, drag=np.zeros_like(p.drag), kappa=np.zeros_like(p.kappa))


# ---------------------------------------------------------------------------------------------
# Cache
# ---------------------------------------------------------------------------------------------


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
        self._problems: dict[ShapeKey, _HouseholdProblem] = {}
        self._lock = threading.Lock()
        self._hits = self._misses = 0
        self._compile = 0.0
        self.max_shapes = max_shapes

    def get(self, key: ShapeKey) -> tuple[_HouseholdProblem, float]:
        """The problem for ``key`` and the seconds spent compiling it now (0 on a hit)."""
        with self._lock:
            found = self._problems.get(key)
            if found is not None:
                self._hits += 1
                self._problems[key] = self._problems.pop(key)  # most recently used last
                return found, 0.0
        start = time.perf_counter()
        built = _HouseholdProblem(key)
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


# ---------------------------------------------------------------------------------------------
# Optimizer
# ---------------------------------------------------------------------------------------------


class HouseholdOptimizer:
    """Solves household problems, reusing compiled problems from ``cache`` (the process-wide one by default)."""

    def __init__(
        self, *, solver_chain: Sequence[SolverSpec] = HOUSEHOLD_CHAIN, cache: ProblemCache | None = None
    ) -> None:
        self.solver_chain = tuple(solver_chain)
        self.cache = DEFAULT_CACHE if cache is None else cache

    def solve(self, inputs: HouseholdInputs) -> OptimizationResult:
        """Target holdings, lot-level trades and an explanation for one household on ``inputs.as_of``.

        Raises:
            ValidationError: inputs are malformed.
            Infeasible: constraints conflict; the message and ``conflicts`` say which and by how much.
            SolverFailed: every solver of the chain failed; ``attempts`` lists them.
        """
        start = time.perf_counter()
        p = prepare(inputs)
        key = shape_key(p)
        prob, compile_time = self.cache.get(key)
        prob.assign(p)
        n = inputs.n_assets
        guard = _Guard.of(p)
        solver_time, passes, records = 0.0, 0, []
        fixed: dict[int, str] = {}
        while True:
            record = prob.compiled.solve(self.solver_chain)
            records.append(record)
            solver_time += record.solver_time
            passes += 1
            if record.status is SolveStatus.INFEASIBLE:
                raise self._diagnose(prob, p, record)
            if record.status is not SolveStatus.OPTIMAL:
                raise SolverFailed(
                    f"every solver failed for household {inputs.household_id} on {inputs.as_of}: "
                    + "; ".join(f"{s} → {st}" for s, st in record.attempts)
                    + ". Nothing will trade; check the inputs or retry with a different chain",
                    attempts=record.attempts,
                    household=inputs.household_id,
                    as_of=inputs.as_of,
                )
            buys, lot_sells = self._trades(prob, p)
            bought, sold = guard.sums(buys, lot_sells)
            conflicts = (bought > 0) & (sold > 0)
            if not conflicts.any() or passes > n + 1:
                break
            for k, grp_id in enumerate(guard.ids):
                if conflicts[k]:
                    fixed[grp_id] = "buy" if bought[k] >= sold[k] else "sell"
                elif bought[k] > TRADE_TOL:
                    fixed.setdefault(grp_id, "buy")
                elif sold[k] > TRADE_TOL:
                    fixed.setdefault(grp_id, "sell")
            direction = np.array([fixed.get(g, "") for g in guard.ids])[guard.of_asset]
            prob.set_directions(p, buy_ok=direction != "sell", sell_ok=direction != "buy")
        if conflicts.any():  # pragma: no cover - defensive, the loop prevents it
            raise OptimizationError("internal: the wash-sale guard did not converge; nothing will trade")
        timings = Timings(
            compile_time=compile_time,
            solver_time=solver_time,
            wall_time=time.perf_counter() - start,
            passes=passes,
        )
        return _build_result(prob, p, buys, lot_sells, records[-1], timings, fixed)

    # -- helpers -------------------------------------------------------------------------------

    def _trades(self, prob: _HouseholdProblem, p: Prepared) -> tuple[np.ndarray, np.ndarray]:
        buys = np.asarray(prob.v.b.value, dtype=float)
        buys = np.where(buys > TRADE_TOL, buys, 0.0)
        idx = p.slot_order
        s = np.asarray(prob.v.s.value, dtype=float)[: idx.size]
        return buys, np.clip(np.where(s > TRADE_TOL, s, 0.0), 0.0, p.lot_value[idx])

    def _diagnose(self, prob: _HouseholdProblem, p: Prepared, record: SolveRecord) -> Infeasible:
        """Re-solve with slacks on the soft groups; name the groups that need slack and how much."""
        x = p.inputs
        prob.silence_objective(p)
        needs = self._slack_solve(prob, [])
        first = [grp for grp, amt in needs.items() if amt > 1e-6]
        partners: dict[ConstraintGroup, float] = {}
        if first:
            partner_needs = self._slack_solve(prob, first)
            partners = {grp: amt for grp, amt in partner_needs.items() if amt > 1e-6 and grp not in first}
        prob.set_mode(diagnose=False)
        for term in prob.terms:
            term.set(p)
        prob.assign(p)
        conflicts = {grp.value: amt for grp, amt in needs.items() if amt > 1e-6}
        conflicts.update({grp.value: amt for grp, amt in partners.items()})
        names = [_describe(grp, p, prob, needs.get(grp, 0.0)) for grp in first]
        names += [_describe(grp, p, prob, amt) for grp, amt in partners.items()]
        if not names:
            names = ["the hard constraints (long-only holdings, lot sizes, cash balances)"]
        joined = " and ".join(names[:3])
        verb = "conflict" if len(names) > 1 else "cannot be met"
        fixes = "; ".join(dict.fromkeys(_FIX[grp] for grp in [*first, *partners]))
        return Infeasible(
            f"Infeasible for household {x.household_id} on {x.as_of}: {joined} {verb}"
            + (f"; {fixes}" if fixes else ""),
            conflicts=conflicts,
            household=x.household_id,
            as_of=x.as_of,
            attempts=record.attempts,
        )

    def _slack_solve(self, prob: _HouseholdProblem, hard: Sequence[ConstraintGroup]) -> dict[ConstraintGroup, float]:
        prob.set_mode(diagnose=True, hard=hard)
        rec = prob.compiled.solve(self.solver_chain)
        if rec.status is not SolveStatus.OPTIMAL:
            return {}
        sig = np.asarray(prob.sigma.value, dtype=float)
        return {grp: float(max(sig[i], 0.0)) for i, grp in enumerate(GROUPS)}


def solve_household(
    inputs: HouseholdInputs,
    *,
    solver_chain: Sequence[SolverSpec] = HOUSEHOLD_CHAIN,
    cache: ProblemCache | None = None,
) -> OptimizationResult:
    """Solve one household (see ``HouseholdOptimizer.solve``); compiled problems come from the process cache."""
    return HouseholdOptimizer(solver_chain=solver_chain, cache=cache).solve(inputs)


# ---------------------------------------------------------------------------------------------
# Guard and result
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Guard:
    """A household's wash-sale groups: distinct ids, each asset's position among them, the watched lots."""

    ids: list[int]  # distinct guard group ids, ascending
    of_asset: np.ndarray  # per asset, its group's position in ids
    lot_asset: np.ndarray  # per lot in slot order (accounts end to end), its asset
    watched: np.ndarray  # per lot in slot order: its sells count (loss sells, or every sell with ALL_SELLS)

    @staticmethod
    def of(p: Prepared) -> _Guard:
        order = p.slot_order
        ids, of_asset = np.unique(p.guard_group, return_inverse=True)
        lot_asset = np.asarray(p.inputs.lots.asset, dtype=int)[order]
        watched = p.lot_gain[order] < 0 if p.inputs.guard is WashSaleGuard.LOSSES else np.ones(order.size, bool)
        return _Guard([int(g) for g in ids], of_asset.reshape(-1), lot_asset, watched)

    def sums(self, buys: np.ndarray, sold_lots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weight bought and weight sold (watched sells only) per group, summed in asset then lot order."""
        n = buys.shape[1]
        sold_by_asset = np.bincount(self.lot_asset, weights=np.where(self.watched, sold_lots, 0.0), minlength=n)
        k = len(self.ids)
        return (
            np.bincount(self.of_asset, weights=buys.sum(axis=0), minlength=k),
            np.bincount(self.of_asset, weights=sold_by_asset, minlength=k),
        )


_FIX = {
    ConstraintGroup.CLASS_BANDS: "widen the class band",
    ConstraintGroup.ASSET_BANDS: "raise the position limit or allow the excluded fund",
    ConstraintGroup.CASH_BUFFER: "lower the cash buffer or add a deposit",
    ConstraintGroup.LIQUIDITY: "lower the liquidity reserve or fund it with a deposit",
    ConstraintGroup.ESG_FLOOR: "lower the ESG floor",
    ConstraintGroup.CARBON_CAP: "raise the carbon cap",
    ConstraintGroup.TAX_BUDGET: "raise the tax budget",
    ConstraintGroup.TURNOVER: "raise the turnover limit",
}


def _describe(grp: ConstraintGroup, p: Prepared, prob: _HouseholdProblem, amount: float) -> str:
    """Words for a group that needed ``amount`` of slack, naming the offending element where possible."""
    x = p.inputs
    v = prob.v
    if grp is ConstraintGroup.CLASS_BANDS and v.z.value is not None:
        z = np.asarray(v.z.value)
        worst = int(np.argmax(np.maximum(p.class_lo - z, z - p.class_hi)))
        below = z[worst] < p.class_lo[worst]
        side = "below" if below else "above"
        return (
            f"the {p.classes[worst].value} band {p.class_lo[worst]:.0%}–{p.class_hi[worst]:.0%} "
            f"(needs {amount * 100:.2g} points of {p.classes[worst].value} weight {side} the band)"
        )
    if grp is ConstraintGroup.ASSET_BANDS and v.w.value is not None:
        w = np.asarray(v.w.value)
        worst = int(np.argmax(np.maximum(p.asset_lo - w, w - p.asset_hi)))
        return (
            f"the position limit on {x.tickers[worst]} ({p.asset_lo[worst]:.0%}–{p.asset_hi[worst]:.0%}; "
            f"needs {amount * 100:.1f} points)"
        )
    if grp is ConstraintGroup.ESG_FLOOR:
        invested = max(float(np.asarray(v.w.value).sum()), 1e-9) if v.w.value is not None else 1.0
        return f"the ESG floor {x.esg_floor:g} (short by {amount / invested:.2f} score points)"
    if grp is ConstraintGroup.CARBON_CAP:
        invested = max(float(np.asarray(v.w.value).sum()), 1e-9) if v.w.value is not None else 1.0
        return f"the carbon cap {x.carbon_cap:g} (over by {amount / invested:.1f} tCO2e/$M)"
    if grp is ConstraintGroup.TAX_BUDGET:
        return f"the tax budget ${x.tax_budget:,.0f} (needs ${amount * p.total_value:,.0f} more realized gain)"
    if grp is ConstraintGroup.TURNOVER:
        return f"the turnover limit {x.turnover_limit:.0%} (needs {amount * 100:.1f} points more)"
    if grp is ConstraintGroup.LIQUIDITY:
        return f"the liquidity reserve ${x.liquidity_reserve:,.0f} (short ${amount * p.total_value:,.0f})"
    if grp is ConstraintGroup.CASH_BUFFER:
        return f"the cash buffers (short ${amount * p.total_value:,.0f})"
    return grp.value


def _binding(prob: _HouseholdProblem, p: Prepared) -> tuple[BindingConstraint, ...]:
    """Constraints of the soft groups with a non-zero dual (shadow price per unit of relaxation)."""
    x = p.inputs
    out: list[BindingConstraint] = []
    tol = 1e-7
    enabled = _enabled(x)
    for grp, cons in prob.groups.items():
        if not enabled.get(grp, True):
            continue
        for side, con in enumerate(cons):
            dual = con.dual_value
            if dual is None:
                continue
            d = np.abs(np.atleast_1d(np.asarray(dual, dtype=float)))
            hits = np.flatnonzero(d > tol)
            for j, shadow in zip(hits.tolist(), d[hits].tolist(), strict=True):
                if grp is ConstraintGroup.CLASS_BANDS:
                    cls = p.classes[j]
                    bound = p.class_lo[j] if side == 0 else p.class_hi[j]
                    name = f"{cls.value} {'floor' if side == 0 else 'ceiling'} {bound:.0%}"
                    subject = cls.value
                elif grp is ConstraintGroup.ASSET_BANDS:
                    bound = p.asset_lo[j] if side == 0 else p.asset_hi[j]
                    what = "excluded" if p.excluded[j] else f"{'minimum' if side == 0 else 'maximum'} {bound:.0%}"
                    name, subject = f"{x.tickers[j]} {what}", x.tickers[j]
                elif grp is ConstraintGroup.CASH_BUFFER:
                    name, subject = f"cash buffer in {x.accounts[j]}", x.accounts[j]
                else:
                    name, subject = _GROUP_NAME[grp](x), ""
                out.append(BindingConstraint(grp, name, subject, shadow))
    return tuple(out)


def _enabled(x: HouseholdInputs) -> dict[ConstraintGroup, bool]:
    """Optional groups that are switched off hold trivially and must not be reported as binding."""
    return {
        ConstraintGroup.LIQUIDITY: x.liquidity_reserve > 0,
        ConstraintGroup.ESG_FLOOR: x.esg_floor is not None,
        ConstraintGroup.CARBON_CAP: x.carbon_cap is not None,
        ConstraintGroup.TAX_BUDGET: x.tax_budget is not None,
        ConstraintGroup.TURNOVER: x.turnover_limit is not None,
    }


_GROUP_NAME = {
    ConstraintGroup.LIQUIDITY: lambda x: f"liquidity reserve ${x.liquidity_reserve:,.0f}",
    ConstraintGroup.ESG_FLOOR: lambda x: f"ESG floor {x.esg_floor:g}",
    ConstraintGroup.CARBON_CAP: lambda x: f"carbon cap {x.carbon_cap:g}",
    ConstraintGroup.TAX_BUDGET: lambda x: f"tax budget ${x.tax_budget:,.0f}",
    ConstraintGroup.TURNOVER: lambda x: f"turnover limit {x.turnover_limit:.0%}",
}


def _lot_sales(p: Prepared, lot_sells: np.ndarray) -> tuple[np.ndarray, dict[tuple[int, int], list[LotSale]]]:
    """Sells per (account, asset) and the LotSale of every lot sold, grouped by cell (lots in slot order)."""
    x = p.inputs
    total = p.total_value
    sells = np.zeros_like(p.current)
    sales_by_cell: dict[tuple[int, int], list[LotSale]] = {}
    if not len(x.lots):
        return sells, sales_by_cell
    order = p.slot_order
    amount = lot_sells
    sold = amount > 0
    li, sv = order[sold], amount[sold]
    acc = np.asarray(x.lots.account, dtype=int)[li]
    ast = np.asarray(x.lots.asset, dtype=int)[li]
    np.add.at(sells, (acc, ast), sv)  # in lot order, as a running sum per cell
    value = p.lot_value[li]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(value > 0, sv / value, 0.0)
    gain_usd = frac * (value - np.asarray(x.lots.basis, dtype=float)[li] / total) * total
    taxable = np.array([t is AccountType.TAXABLE for t in x.account_types])[acc]
    gain = np.where(taxable, gain_usd, 0.0)
    tax = np.where(taxable, p.lot_rate[li] * gain_usd, 0.0)
    shares = np.asarray(x.lots.shares, dtype=float)[li] * frac
    long_term = np.asarray(x.lots.long_term, dtype=bool)[li]
    ids, accounts, tickers = x.lots.ids, x.accounts, x.tickers
    sales = map(
        LotSale,
        [ids[lot] for lot in li.tolist()],
        [accounts[i] for i in acc.tolist()],
        [tickers[j] for j in ast.tolist()],
        shares.tolist(),
        (sv * total).tolist(),
        gain.tolist(),
        tax.tolist(),
        long_term.tolist(),
    )
    for i, j, sale in zip(acc.tolist(), ast.tolist(), sales, strict=True):
        sales_by_cell.setdefault((i, j), []).append(sale)
    return sells, sales_by_cell


def _build_result(
    prob: _HouseholdProblem,
    p: Prepared,
    buys: np.ndarray,
    lot_sells: np.ndarray,
    record: SolveRecord,
    timings: Timings,
    directions: dict[int, str],
) -> OptimizationResult:
    x = p.inputs
    total = p.total_value
    prices = np.asarray(x.prices, dtype=float)
    sells, sales_by_cell = _lot_sales(p, lot_sells)
    after = np.maximum(p.current + buys - sells, 0.0)
    n = x.n_assets
    accounts, tickers = x.accounts, x.tickers
    shown = (p.current > 0) | (after > TRADE_TOL) | (buys > 0)
    cells = np.flatnonzero(shown).tolist()
    holdings = list(
        map(
            Holding,
            [accounts[c // n] for c in cells],
            [tickers[c % n] for c in cells],
            p.current.ravel()[cells].tolist(),
            after.ravel()[cells].tolist(),
            (p.current * total).ravel()[cells].tolist(),
            (after * total).ravel()[cells].tolist(),
        )
    )
    trades: list[Trade] = []
    traded = np.flatnonzero((buys > 0) | (sells > 0))
    buy_usd = (buys * total).ravel()[traded].tolist()
    buy_shares = (buys * total / prices).ravel()[traded].tolist()
    sell_usd = (sells * total).ravel()[traded].tolist()
    for c, bought, bought_shares, sold in zip(traded.tolist(), buy_usd, buy_shares, sell_usd, strict=True):
        i, j = divmod(c, n)
        if bought > 0:
            trades.append(Trade(accounts[i], tickers[j], "buy", bought_shares, bought, ()))
        if sold > 0:
            lots = tuple(sales_by_cell.get((i, j), ()))
            trades.append(Trade(accounts[i], tickers[j], "sell", sum(s.shares for s in lots), sold, lots))
    cash_after = p.cash0 + sells.sum(axis=1) - buys.sum(axis=1) - (buys + sells) @ p.kappa
    terms = tuple(TermValue(t.name, t.kind, t.value()) for t in prob.terms)
    targets = {(h.account, h.ticker): h.weight_after for h in holdings if h.weight_after > 0}
    result = OptimizationResult(
        household_id=x.household_id,
        as_of=x.as_of,
        status=record.status,
        solver=record.solver,
        attempts=record.attempts,
        total_value=total,
        targets=targets,
        holdings=tuple(holdings),
        trades=tuple(trades),
        cash_after={a: float(c * total) for a, c in zip(x.accounts, cash_after, strict=True)},
        terms=terms,
        binding=_binding(prob, p),
        timings=timings,
        guard_directions={
            tk: directions[int(g)] for tk, g in zip(x.tickers, p.guard_group, strict=True) if int(g) in directions
        },
        notes=p.notes,
        explanation=(),
    )
    return explain_result(result, p)


__all__ += ["DEFAULT_CACHE", "GROUPS"]
del Any
