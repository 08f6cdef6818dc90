"""What fixes a household problem's shape, its variables, and the fast way to write parameter values.

    key = shape_key(inputs)            # ShapeKey(n_assets, n_classes, n_accounts, lot_slots, n_factors)
    v = Variables.of(key)              # buys b, lot sells s, cash c, class weights z, asset weights w

The terms (``engine.optimizer.terms``) and constraints (``engine.optimizer.constraints``) are built on one
``Variables`` and write their parameters with ``put``/``put_lots``; households of one ShapeKey share one
compiled problem (``engine.optimizer.problem``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from engine.errors import OptimizationError
from engine.optimizer.inputs import HouseholdInputs, Prepared, prepare

__all__ = ["ShapeKey", "Variables", "lot_bucket", "put", "put_lots", "shape_key", "value_of"]


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


@dataclass(frozen=True, slots=True)
class Variables:
    """The problem's variables, as weights of household value.

    ``b`` buys per (account, asset); ``s`` sells per lot slot (all accounts' lots in one padded pool);
    ``c`` post-trade cash per account; ``z`` class weights; ``w`` household asset weights. Holdings are
    not a variable: ``engine.optimizer.constraints.Balance`` ties w, c and z to the trades.
    """

    b: cp.Variable
    s: cp.Variable
    c: cp.Variable
    z: cp.Variable
    w: cp.Variable

    @staticmethod
    def of(key: ShapeKey) -> Variables:
        """Fresh variables for ``key`` (created in the order b, s, w, c, z, as the compiled layout expects)."""
        b = cp.Variable((key.n_accounts, key.n_assets), name="buys")
        s = cp.Variable(key.lot_slots, name="lot_sells")
        w = cp.Variable(key.n_assets, name="asset_weights")
        c = cp.Variable(key.n_accounts, name="cash")
        z = cp.Variable(key.n_classes, name="class_weights")
        return Variables(b, s, c, z, w)


def value_of(leaf: cp.Variable | cp.Parameter) -> np.ndarray:
    """A variable's or parameter's current value as an array (raises if it has none: solve or assign first)."""
    value = leaf.value
    if value is None:
        raise OptimizationError(f"internal: {leaf.name()} has no value; solve or assign the problem first")
    return np.asarray(value)


def put(par: cp.Parameter, value: float | np.ndarray) -> None:
    """Write a parameter's value without cvxpy's per-assignment projection (its checks, done cheaply here).

    Same result as ``par.value = value`` for the attributes these modules use (shape, nonneg, PSD — the
    PSD one is only bypassed for matrices that are PSD by construction); raises ValueError like cvxpy.
    """
    nonneg = bool(par.attributes["nonneg"])
    if par.shape == ():
        v = float(value)
        if not math.isfinite(v) or (nonneg and v < 0):
            raise ValueError(f"parameter {par.name()} must be finite{' and ≥ 0' if nonneg else ''}")
        par.save_value(v)
        return
    arr = np.asarray(value, dtype=float)
    if arr.shape != par.shape:
        raise ValueError(f"Invalid dimensions {arr.shape} for Parameter value.")
    if not np.isfinite(arr).all() or (nonneg and arr.size and arr.min() < 0):
        raise ValueError(f"parameter {par.name()} must be finite{' and ≥ 0' if nonneg else ''}")
    par.save_value(arr)


def put_lots(par: cp.Parameter, p: Prepared, per_lot: np.ndarray) -> None:
    """Per-lot values (one per lot, input order) into a slot parameter in slot order, dummy slots 0."""
    arr = np.asarray(per_lot, dtype=float)
    order = p.slot_order
    vals = np.zeros(par.size)
    vals[: order.size] = arr[order]
    put(par, vals)
