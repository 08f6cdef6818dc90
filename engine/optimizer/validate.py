"""Input checks shared by the optimizers: shapes, NaN, covariance repair; every failure is a typed error.

cov, note = repaired_covariance(cov, where="household smith")   # note is None when nothing changed
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
from numpy.typing import ArrayLike

from engine.errors import ValidationError

__all__ = ["as_matrix", "as_vector", "repaired_covariance"]

PSD_REPAIR_FLOOR = 1e-10
"""Smallest eigenvalue a repaired covariance keeps (annual variance units)."""


def as_vector(value: ArrayLike, n: int, field: str, *, allow_nan: bool = False) -> np.ndarray:
    """A float array of shape (n,); raises ValidationError naming ``field`` on a wrong shape or NaN."""
    arr = np.asarray(value, dtype=float)
    arr = arr.reshape(-1) if arr.ndim else np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValidationError(
            f"has shape {arr.shape}, expected ({n},)", field=field, fix="pass one value per asset/account"
        )
    if not allow_nan and not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValidationError(f"holds NaN or inf at position {bad}", field=field, fix="fill or drop the missing values")
    return arr


def as_matrix(value: ArrayLike, shape: tuple[int, int], field: str) -> np.ndarray:
    """A finite float array of exactly ``shape``; raises ValidationError naming ``field`` otherwise."""
    arr = np.asarray(value, dtype=float)
    if arr.shape != shape:
        raise ValidationError(f"has shape {arr.shape}, expected {shape}", field=field)
    if not np.all(np.isfinite(arr)):
        r, c = np.argwhere(~np.isfinite(arr))[0]
        raise ValidationError(f"holds NaN or inf at [{r}, {c}]", field=field, fix="fill or drop the missing values")
    return arr


_REPAIRED: OrderedDict[tuple[int, str, bytes], tuple[np.ndarray, str | None]] = OrderedDict()
_REPAIRED_LOCK = threading.Lock()
_REPAIRED_MAX = 16


def repaired_covariance(cov: ArrayLike, n: int, field: str = "cov") -> tuple[np.ndarray, str | None]:
    """Symmetrized covariance with negative eigenvalues lifted to a small floor (annual variance).

    Returns the matrix and a note saying what was repaired (None if nothing was). The result of a
    matrix already seen (same bytes, same ``field``) is reused — a batch validates the day's covariance
    once, not once per household; the returned array is read-only.
    """
    mat = as_matrix(cov, (n, n), field)
    key = (n, field, np.ascontiguousarray(mat).tobytes())
    with _REPAIRED_LOCK:
        hit = _REPAIRED.get(key)
        if hit is not None:
            _REPAIRED.move_to_end(key)
            return hit
    out = _repair(mat, n, field)
    out[0].setflags(write=False)
    with _REPAIRED_LOCK:
        _REPAIRED[key] = out
        while len(_REPAIRED) > _REPAIRED_MAX:
            _REPAIRED.popitem(last=False)
    return out


def _repair(mat: np.ndarray, n: int, field: str) -> tuple[np.ndarray, str | None]:
    note = None
    sym = 0.5 * (mat + mat.T)
    if np.max(np.abs(sym - mat), initial=0.0) > 1e-8 * max(1.0, np.max(np.abs(mat), initial=0.0)):
        note = f"{field} was not symmetric; used (Σ + Σᵀ)/2"
    vals, vecs = np.linalg.eigh(sym)
    if vals[0] < -1e-12 * max(1.0, vals[-1]):
        fixed = (vecs * np.maximum(vals, PSD_REPAIR_FLOOR)) @ vecs.T
        fixed = 0.5 * (fixed + fixed.T)
        msg = (
            f"{field} was not positive semidefinite (smallest eigenvalue {vals[0]:.3g}); "
            f"negative eigenvalues were lifted to {PSD_REPAIR_FLOOR:g}"
        )
        return fixed, msg if note is None else f"{note}; {msg}"
    if vals[0] < 0:
        sym = sym + (PSD_REPAIR_FLOOR - vals[0]) * np.eye(n)
    return sym, note
