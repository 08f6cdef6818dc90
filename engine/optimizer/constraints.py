"""The household problem's constraints as objects: soft groups the diagnosis can name, and the hard rows.

    band = ClassBands(v, key, slack)     # declares class_lo/class_hi, builds z ≥ lo − σ, z ≤ hi + σ
    band.set(prepared)                   # one household's bands into the parameters
    band.describe(prepared, 0.03)        # words for the diagnosis when it needed 3 points of slack

Each soft group (``SoftConstraint``) is one ``ConstraintGroup``: it gets one slack σ ≥ 0 that is held at 0
in a normal solve and freed (at ``slack_price`` per unit) when the infeasibility diagnosis asks which
groups conflict; its constraints' duals are reported as binding constraints. ``Balance`` (the
bookkeeping that ties asset weights, cash and class weights to the trades), ``TradeLimits`` (long-only,
lot sizes, the wash-sale guard's direction caps) and ``Slacks`` are hard. To add a group, see
docs/optimizer.md, "Adding a term or a constraint".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import cvxpy as cp
import numpy as np

from engine.model import AssetClass
from engine.optimizer.inputs import HouseholdInputs, Prepared, WashSaleGuard
from engine.optimizer.result import ConstraintGroup
from engine.optimizer.shape import ShapeKey, Variables, put, put_lots, value_of
from engine.optimizer.terms import gain_per_dollar

__all__ = [
    "BIG",
    "AssetBands",
    "Balance",
    "CarbonCap",
    "CashBuffer",
    "ClassBands",
    "EsgFloor",
    "LiquidityReserve",
    "Slacks",
    "SoftConstraint",
    "TaxBudget",
    "TradeLimits",
    "Turnover",
    "soft_constraints",
]

BIG = 1e3
"""'No limit' for optional caps (weights are ≤ 1, so this never binds)."""


def _parameters(obj: object) -> tuple[cp.Parameter, ...]:
    return tuple(v for v in vars(obj).values() if isinstance(v, cp.Parameter))


class SoftConstraint(ABC):
    """One constraint group with one slack: it declares its parameters and builds its constraints on ``v``.

    Subclasses set ``group`` (their ``ConstraintGroup``), ``fix`` (what the user can change when the
    group cannot be met) and, if a unit of their slack is not a unit of weight, ``slack_price``; they build
    ``constraints`` in ``__init__(v, key, slack)`` and implement ``set`` and ``describe``.
    """

    group: ClassVar[ConstraintGroup]
    fix: ClassVar[str]
    slack_price: ClassVar[float] = 1.0
    constraints: tuple[cp.Constraint, ...]

    def __init__(self, v: Variables, key: ShapeKey, slack: cp.Expression) -> None:
        self.v = v
        self.constraints = self.build(v, key, slack)

    @abstractmethod
    def build(self, v: Variables, key: ShapeKey, slack: cp.Expression) -> tuple[cp.Constraint, ...]:
        """Create the parameters and return the constraints, each relaxed by ``slack``."""

    @property
    def parameters(self) -> tuple[cp.Parameter, ...]:
        """The parameters this group declared (what ``set`` writes)."""
        return _parameters(self)

    @abstractmethod
    def set(self, p: Prepared) -> None:
        """Write one household's values into the group's parameters."""

    @abstractmethod
    def describe(self, p: Prepared, amount: float) -> str:
        """Words for the diagnosis: the group needed ``amount`` of slack at the current variable values."""

    def enabled(self, x: HouseholdInputs) -> bool:
        """False when the household switched the group off (it then holds trivially and never binds)."""
        return True

    def label(self, p: Prepared, side: int, j: int) -> tuple[str, str]:
        """A binding row's readable name and subject (asset, class or account; "" for the household)."""
        return self.group.value, ""


class ClassBands(SoftConstraint):
    """lo ≤ z ≤ hi per asset class (cash in the cash class)."""

    group, fix = ConstraintGroup.CLASS_BANDS, "widen the class band"

    def build(self, v: Variables, key: ShapeKey, slack: cp.Expression) -> tuple[cp.Constraint, ...]:
        self.lo = cp.Parameter(key.n_classes, name="class_lo")
        self.hi = cp.Parameter(key.n_classes, name="class_hi")
        return (v.z >= self.lo - slack, v.z <= self.hi + slack)

    def set(self, p: Prepared) -> None:
        put(self.lo, p.class_lo)
        put(self.hi, p.class_hi)

    def describe(self, p: Prepared, amount: float) -> str:
        if self.v.z.value is None:
            return self.group.value
        z = value_of(self.v.z)
        worst = int(np.argmax(np.maximum(p.class_lo - z, z - p.class_hi)))
        side = "below" if z[worst] < p.class_lo[worst] else "above"
        name = p.classes[worst].value
        return (
            f"the {name} band {p.class_lo[worst]:.0%}–{p.class_hi[worst]:.0%} "
            f"(needs {amount * 100:.2g} points of {name} weight {side} the band)"
        )

    def label(self, p: Prepared, side: int, j: int) -> tuple[str, str]:
        cls = p.classes[j]
        bound = p.class_lo[j] if side == 0 else p.class_hi[j]
        return f"{cls.value} {'floor' if side == 0 else 'ceiling'} {bound:.0%}", cls.value


class AssetBands(SoftConstraint):
    """lo ≤ w ≤ hi per asset: position limits, asset bounds, exclusions (hi = 0)."""

    group, fix = ConstraintGroup.ASSET_BANDS, "raise the position limit or allow the excluded fund"

    def build(self, v: Variables, key: ShapeKey, slack: cp.Expression) -> tuple[cp.Constraint, ...]:
        self.lo = cp.Parameter(key.n_assets, name="asset_lo")
        self.hi = cp.Parameter(key.n_assets, name="asset_hi")
        return (v.w >= self.lo - slack, v.w <= self.hi + slack)

    def set(self, p: Prepared) -> None:
        put(self.lo, p.asset_lo)
        put(self.hi, p.asset_hi)

    def describe(self, p: Prepared, amount: float) -> str:
        if self.v.w.value is None:
            return self.group.value
        w = value_of(self.v.w)
        worst = int(np.argmax(np.maximum(p.asset_lo - w, w - p.asset_hi)))
        return (
            f"the position limit on {p.inputs.tickers[worst]} ({p.asset_lo[worst]:.0%}–{p.asset_hi[worst]:.0%}; "
            f"needs {amount * 100:.1f} points)"
        )

    def label(self, p: Prepared, side: int, j: int) -> tuple[str, str]:
        bound = p.asset_lo[j] if side == 0 else p.asset_hi[j]
        what = "excluded" if p.excluded[j] else f"{'minimum' if side == 0 else 'maximum'} {bound:.0%}"
        ticker = p.inputs.tickers[j]
        return f"{ticker} {what}", ticker


class CashBuffer(SoftConstraint):
    """c ≥ buffer per account: cash kept after trades."""

    group, fix = ConstraintGroup.CASH_BUFFER, "lower the cash buffer or add a deposit"

    def build(self, v: Variables, key: ShapeKey, slack: cp.Expression) -> tuple[cp.Constraint, ...]:
        self.buffer = cp.Parameter(key.n_accounts, name="cash_buffer")
        return (v.c >= self.buffer - slack,)

    def set(self, p: Prepared) -> None:
        put(self.buffer, p.buffer)

    def describe(self, p: Prepared, amount: float) -> str:
        return f"the cash buffers (short ${amount * p.total_value:,.0f})"

    def label(self, p: Prepared, side: int, j: int) -> tuple[str, str]:
        account = p.inputs.accounts[j]
        return f"cash buffer in {account}", account


class LiquidityReserve(SoftConstraint):
    """Cash in liquid accounts plus liquid holdings there ≥ the reserve (the held part moved right)."""

    group, fix = ConstraintGroup.LIQUIDITY, "lower the liquidity reserve or fund it with a deposit"

    def build(self, v: Variables, key: ShapeKey, slack: cp.Expression) -> tuple[cp.Constraint, ...]:
        self.lot_liquid = cp.Parameter(key.lot_slots, name="lot_liquid")
        self.accounts = cp.Parameter(key.n_accounts, name="liquid_accounts")
        self.cells = cp.Parameter((key.n_accounts, key.n_assets), name="liquid_cells")
        self.gap = cp.Parameter(name="reserve_less_liquid_holdings")
        held = self.accounts @ v.c + cp.sum(cp.multiply(self.cells, v.b)) - self.lot_liquid @ v.s
        return (held >= self.gap - slack,)

    def set(self, p: Prepared) -> None:
        x = p.inputs
        cells = np.outer(p.liquid_accounts, p.liquid_assets).astype(float)
        lot_acc, lot_ast = np.asarray(x.lots.account, dtype=int), np.asarray(x.lots.asset, dtype=int)
        put_lots(self.lot_liquid, p, cells[lot_acc, lot_ast])
        put(self.accounts, p.liquid_accounts.astype(float))
        put(self.cells, cells)
        put(self.gap, x.liquidity_reserve / p.total_value - float(np.sum(cells * p.current)))

    def describe(self, p: Prepared, amount: float) -> str:
        x = p.inputs
        return f"the liquidity reserve ${x.liquidity_reserve:,.0f} (short ${amount * p.total_value:,.0f})"

    def enabled(self, x: HouseholdInputs) -> bool:
        return x.liquidity_reserve > 0

    def label(self, p: Prepared, side: int, j: int) -> tuple[str, str]:
        return f"liquidity reserve ${p.inputs.liquidity_reserve:,.0f}", ""


def _invested(v: Variables) -> float | None:
    """The invested weight at the diagnosis solution; None when next to nothing is invested (an average over it
    would be noise divided by noise)."""
    if v.w.value is None:
        return 1.0
    invested = float(value_of(v.w).sum())
    return invested if invested > 1e-4 else None


class EsgFloor(SoftConstraint):
    """(score − floor)ᵀw ≥ 0: the invested weights' average ESG score at least the floor."""

    group, fix = ConstraintGroup.ESG_FLOOR, "lower the ESG floor"
    slack_price = 0.1  # score points × weight; a point is worth 0.1 of weight

    def build(self, v: Variables, key: ShapeKey, slack: cp.Expression) -> tuple[cp.Constraint, ...]:
        self.excess = cp.Parameter(key.n_assets, name="esg_excess")
        return (self.excess @ v.w >= -slack,)

    def set(self, p: Prepared) -> None:
        floor = p.inputs.esg_floor
        put(self.excess, p.esg - floor if floor is not None else np.zeros(p.inputs.n_assets))

    def describe(self, p: Prepared, amount: float) -> str:
        floor, invested = p.inputs.esg_floor, _invested(self.v)
        if invested is None:  # nothing held: say how far the best asset is from the floor
            return f"the ESG floor {floor:g} (the best asset scores {float(np.max(p.esg)):.2f})"
        return f"the ESG floor {floor:g} (short by {amount / invested:.2f} score points)"

    def enabled(self, x: HouseholdInputs) -> bool:
        return x.esg_floor is not None

    def label(self, p: Prepared, side: int, j: int) -> tuple[str, str]:
        return f"ESG floor {p.inputs.esg_floor:g}", ""


class CarbonCap(SoftConstraint):
    """(carbon − cap)ᵀw ≤ 0: the invested weights' average carbon intensity at most the cap."""

    group, fix = ConstraintGroup.CARBON_CAP, "raise the carbon cap"
    slack_price = 1e-3  # tCO2e/$M × weight

    def build(self, v: Variables, key: ShapeKey, slack: cp.Expression) -> tuple[cp.Constraint, ...]:
        self.excess = cp.Parameter(key.n_assets, name="carbon_excess")
        return (self.excess @ v.w <= slack,)

    def set(self, p: Prepared) -> None:
        cap = p.inputs.carbon_cap
        put(self.excess, p.carbon - cap if cap is not None else np.zeros(p.inputs.n_assets))

    def describe(self, p: Prepared, amount: float) -> str:
        cap, invested = p.inputs.carbon_cap, _invested(self.v)
        if invested is None:  # nothing held: say how far the cleanest asset is from the cap
            return f"the carbon cap {cap:g} (the cleanest asset emits {float(np.min(p.carbon)):.1f} tCO2e/$M)"
        return f"the carbon cap {cap:g} (over by {amount / invested:.1f} tCO2e/$M)"

    def enabled(self, x: HouseholdInputs) -> bool:
        return x.carbon_cap is not None

    def label(self, p: Prepared, side: int, j: int) -> tuple[str, str]:
        return f"carbon cap {p.inputs.carbon_cap:g}", ""


class TaxBudget(SoftConstraint):
    """Σ gain of the lots sold ≤ the budget (USD of net realized gain, as a weight)."""

    group, fix = ConstraintGroup.TAX_BUDGET, "raise the tax budget"

    def build(self, v: Variables, key: ShapeKey, slack: cp.Expression) -> tuple[cp.Constraint, ...]:
        self.gain = cp.Parameter(key.lot_slots, name="gain_per_dollar")
        self.budget = cp.Parameter(name="tax_budget")
        return (self.gain @ v.s <= self.budget + slack,)

    def set(self, p: Prepared) -> None:
        budget = p.inputs.tax_budget
        put_lots(self.gain, p, gain_per_dollar(p))
        put(self.budget, BIG if budget is None else budget / p.total_value)

    def describe(self, p: Prepared, amount: float) -> str:
        x = p.inputs
        return f"the tax budget ${x.tax_budget:,.0f} (needs ${amount * p.total_value:,.0f} more realized gain)"

    def enabled(self, x: HouseholdInputs) -> bool:
        return x.tax_budget is not None

    def label(self, p: Prepared, side: int, j: int) -> tuple[str, str]:
        return f"tax budget ${p.inputs.tax_budget:,.0f}", ""


class Turnover(SoftConstraint):
    """Σ buys + Σ sells ≤ the turnover limit (a fraction of household value)."""

    group, fix = ConstraintGroup.TURNOVER, "raise the turnover limit"

    def build(self, v: Variables, key: ShapeKey, slack: cp.Expression) -> tuple[cp.Constraint, ...]:
        self.limit = cp.Parameter(name="turnover")
        return (cp.sum(v.b) + cp.sum(v.s) <= self.limit + slack,)  # dummy lot slots are held at 0

    def set(self, p: Prepared) -> None:
        limit = p.inputs.turnover_limit
        put(self.limit, BIG if limit is None else limit)

    def describe(self, p: Prepared, amount: float) -> str:
        return f"the turnover limit {p.inputs.turnover_limit:.0%} (needs {amount * 100:.1f} points more)"

    def enabled(self, x: HouseholdInputs) -> bool:
        return x.turnover_limit is not None

    def label(self, p: Prepared, side: int, j: int) -> tuple[str, str]:
        return f"turnover limit {p.inputs.turnover_limit:.0%}", ""


SOFT: tuple[type[SoftConstraint], ...] = (
    ClassBands,
    AssetBands,
    CashBuffer,
    LiquidityReserve,
    EsgFloor,
    CarbonCap,
    TaxBudget,
    Turnover,
)


def soft_constraints(v: Variables, key: ShapeKey, slacks: Slacks) -> tuple[SoftConstraint, ...]:
    """One object per ConstraintGroup (in the enum's order), each relaxed by its own entry of ``slacks``."""
    return tuple(cls(v, key, slacks.of(cls.group)) for cls in SOFT)


class Slacks:
    """One slack σ ≥ 0 per ConstraintGroup: capped at 0 in a normal solve, priced and free in a diagnosis."""

    def __init__(self, groups: Sequence[ConstraintGroup] = tuple(ConstraintGroup)) -> None:
        self.groups = tuple(groups)
        self.sigma = cp.Variable(len(self.groups), name="slack")
        self.cap = cp.Parameter(len(self.groups), nonneg=True, name="slack_cap")
        self.price = cp.Parameter(len(self.groups), nonneg=True, name="slack_price")
        self.constraints = (self.sigma >= 0, self.sigma <= self.cap)
        self.cost = self.price @ self.sigma

    def of(self, group: ConstraintGroup) -> cp.Expression:
        """The slack of ``group``."""
        return self.sigma[self.groups.index(group)]

    def set_mode(self, prices: Sequence[float], *, diagnose: bool, hard: Sequence[ConstraintGroup] = ()) -> None:
        """Normal mode: slacks fixed at 0. Diagnosis: slacks free (except ``hard``) at ``prices`` per unit."""
        put(self.cap, np.array([0.0 if (not diagnose or grp in hard) else BIG for grp in self.groups]))
        put(self.price, np.array(prices, dtype=float) if diagnose else np.zeros(len(self.groups)))

    def needs(self) -> dict[ConstraintGroup, float]:
        """Each group's slack at the solution (≥ 0)."""
        sig = np.asarray(value_of(self.sigma), dtype=float)
        return {grp: float(max(sig[i], 0.0)) for i, grp in enumerate(self.groups)}


class Balance:
    """The bookkeeping rows (hard): asset weights, cash and class weights as functions of the trades.

    w = current + Σ_accounts b − (lots sold of each asset); c = cash₀ − buys − cost of buys + net proceeds
    of lots sold; z = class membership · w + cash in the cash class. Which account and asset a lot slot
    belongs to is data (0/1 parameter matrices), so the shape depends on the number of lots only.
    """

    def __init__(self, v: Variables, key: ShapeKey) -> None:
        n, k, a, slots = key.n_assets, key.n_classes, key.n_accounts, key.lot_slots
        self.key = key
        self.mapping = cp.Parameter((n, slots), name="lot_asset")
        self.lot_net = cp.Parameter((a, slots), name="lot_net_proceeds_by_account")  # 1 − cost at [account, slot]
        self.current_total = cp.Parameter(n, name="current_by_asset")
        self.cash0 = cp.Parameter(a, name="cash0")
        self.kappa = cp.Parameter(n, nonneg=True, name="kappa")
        self.membership = cp.Parameter((k, n), name="class_membership")
        self.cash_class = cp.Parameter(k, name="cash_class")
        self.constraints = (
            v.w == self.current_total + cp.sum(v.b, axis=0) - self.mapping @ v.s,
            v.c == self.cash0 - cp.sum(v.b, axis=1) - v.b @ self.kappa + self.lot_net @ v.s,
            v.z == self.membership @ v.w + self.cash_class * cp.sum(v.c),
        )

    @property
    def parameters(self) -> tuple[cp.Parameter, ...]:
        """The parameters ``set`` writes."""
        return _parameters(self)

    def set(self, p: Prepared) -> None:
        """One household's holdings, lots, cash, costs and classes into the parameters."""
        x = p.inputs
        n, slots = x.n_assets, self.key.lot_slots
        lot_ast, lot_acc = np.asarray(x.lots.asset, dtype=int), np.asarray(x.lots.account, dtype=int)
        order = p.slot_order
        slot = np.arange(order.size)
        mapping = np.zeros((n, slots))
        mapping[lot_ast[order], slot] = 1.0
        put(self.mapping, mapping)
        net = np.zeros((x.n_accounts, slots))
        net[lot_acc[order], slot] = 1.0 - p.kappa[lot_ast[order]]
        put(self.lot_net, net)
        put(self.current_total, p.current.sum(axis=0))
        put(self.cash0, p.cash0)
        put(self.kappa, p.kappa)
        k = len(p.classes)
        member = np.zeros((k, n))
        member[p.class_index, np.arange(n)] = 1.0
        put(self.membership, member)
        cash_class = np.zeros(k)
        cash_class[p.classes.index(AssetClass.CASH)] = 1.0
        put(self.cash_class, cash_class)


class TradeLimits:
    """Long-only trades (hard): buys ≥ 0 and per-asset caps, lot sells between 0 and the lot's value.

    The caps carry exclusions, wash-sale blocks and the guard's direction (buy-only or sell-only groups).
    """

    def __init__(self, v: Variables, key: ShapeKey) -> None:
        self.sell_ub = cp.Parameter(key.lot_slots, nonneg=True, name="sell_ub")
        self.buy_ub = cp.Parameter(key.n_assets, nonneg=True, name="buy_ub")
        self.buy_rows = (v.b >= 0, cp.sum(v.b, axis=0) <= self.buy_ub)
        self.sell_rows = (v.s >= 0, v.s <= self.sell_ub)

    @property
    def parameters(self) -> tuple[cp.Parameter, ...]:
        """The parameters ``set_directions`` writes."""
        return _parameters(self)

    def set_directions(self, p: Prepared, *, buy_ok: np.ndarray, sell_ok: np.ndarray) -> None:
        """Upper bounds on buys and lot sells from exclusions, wash-sale blocks and the direction guard."""
        buy_asset = buy_ok & ~p.excluded & ~p.buy_blocked
        put(self.buy_ub, np.where(buy_asset, BIG, 0.0))
        lot_ast = np.asarray(p.inputs.lots.asset, dtype=int)
        loss = p.lot_gain < 0
        guarded = loss if p.inputs.guard is WashSaleGuard.LOSSES else np.ones(loss.size, bool)
        allowed = (sell_ok[lot_ast] | ~guarded) & ~(p.sell_loss_blocked[lot_ast] & loss)
        put_lots(self.sell_ub, p, np.where(allowed, p.lot_value, 0.0))
