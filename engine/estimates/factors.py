"""Factor risk models Σ ≈ L F Lᵀ + diag(d) (asset-class factors or PCA) and a synthetic factor universe.

    parts = factor_decomposition(cov, classes, FactorKind.CLASSES)
    big = synthetic_universe_estimates(500, k=5, seed=0)   # for the optimizer's benchmark

All matrices are annual (fractions²); loadings are betas to the factors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from engine.errors import ValidationError
from engine.estimates.types import Estimates, FactorKind
from engine.model import AssetClass

__all__ = ["FactorParts", "factor_decomposition", "synthetic_universe_estimates"]


@dataclass(frozen=True, slots=True)
class FactorParts:
    """``loadings`` L (n×k), ``factor_cov`` F (k×k), ``idio_var`` d (n), factor ``names``; annual."""

    loadings: np.ndarray
    factor_cov: np.ndarray
    idio_var: np.ndarray
    names: tuple[str, ...]


def factor_decomposition(
    cov: np.ndarray,
    asset_classes: Sequence[AssetClass],
    kind: FactorKind = FactorKind.CLASSES,
    n_factors: int = 5,
) -> FactorParts:
    """Split an annual covariance into factors and idiosyncratic variance, L F Lᵀ + diag(d) ⪰ 0.

    CLASSES: one factor per class present, the class's equal-weight portfolio h; F = H Σ Hᵀ and
    L = Σ Hᵀ F⁺ are the population regression of each fund on the class factors (OLS when Σ is the
    sample covariance); d is the residual variance (a Schur complement, so ≥ 0).
    PCA: the ``n_factors`` leading eigenvectors of Σ with their eigenvalues; d = diag(Σ − L F Lᵀ) ≥ 0.
    """
    cov = np.asarray(cov, dtype=float)
    n = cov.shape[0]
    if cov.shape != (n, n) or len(asset_classes) != n:
        raise ValidationError(f"needs an n×n covariance and n classes (got {cov.shape}, {len(asset_classes)})",
                              field="cov")
    kind = FactorKind(kind)
    if kind is FactorKind.CLASSES:
        present = list(dict.fromkeys(AssetClass(c) for c in asset_classes))
        h = np.zeros((len(present), n))
        for j, c in enumerate(asset_classes):
            h[present.index(AssetClass(c)), j] = 1.0
        h /= h.sum(axis=1, keepdims=True)
        f = h @ cov @ h.T
        f = (f + f.T) / 2
        loadings = cov @ h.T @ np.linalg.pinv(f, hermitian=True)
        names = tuple(c.value for c in present)
    else:
        if not 1 <= n_factors:
            raise ValidationError("needs at least one factor", field="n_factors", value=n_factors)
        k = min(int(n_factors), n)
        vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
        order = np.argsort(vals)[::-1][:k]
        loadings = vecs[:, order]
        f = np.diag(np.clip(vals[order], 0.0, None))
        names = tuple(f"pc{i + 1}" for i in range(k))
    idio = np.clip(np.diag(cov) - np.einsum("ik,kl,il->i", loadings, f, loadings), 0.0, None)
    return FactorParts(loadings, f, idio, names)


def synthetic_universe_estimates(
    n: int, k: int = 5, seed: int = 0, *, as_of: date = date(2026, 1, 2)
) -> Estimates:
    """Estimates of ``n`` synthetic funds with a ``k``-factor structure (deterministic for a seed).

    Factor 1 is a market factor (annual vol 16 %, betas ≈ N(1, 0.3)); the others are style factors
    (vols 8 % down to 3 %, loadings ≈ N(0, 0.4)); idiosyncratic vols are U(5 %, 30 %) a year.
    ``mu`` = 3 % + Lλ + N(0, 1 %) with premia λ = (5 %, 1 %, …), annual fractions. ``cov`` = L F Lᵀ + diag(d).
    """
    if n < 1 or k < 1:
        raise ValidationError("needs n ≥ 1 funds and k ≥ 1 factors", field="n", value=(n, k))
    rng = np.random.default_rng(seed)
    vols = np.concatenate([[0.16], np.linspace(0.08, 0.03, k - 1)]) if k > 1 else np.array([0.16])
    f = np.diag(vols**2)
    loadings = rng.normal(0.0, 0.4, size=(n, k))
    loadings[:, 0] = rng.normal(1.0, 0.3, size=n)
    idio = rng.uniform(0.05, 0.30, size=n) ** 2
    premia = np.concatenate([[0.05], np.full(k - 1, 0.01)])
    mu = 0.03 + loadings @ premia + rng.normal(0.0, 0.01, size=n)
    cov = loadings @ f @ loadings.T + np.diag(idio)
    return Estimates(
        as_of=as_of,
        tickers=tuple(f"SYN{i:04d}" for i in range(n)),
        mu=mu,
        cov=(cov + cov.T) / 2,
        loadings=loadings,
        factor_cov=f,
        idio_var=idio,
        factor_names=("market", *(f"style{i}" for i in range(1, k))),
        notes=(f"synthetic {n}-fund universe with {k} factors (seed {seed}); not market data",),
        models={"returns": "synthetic", "risk": "factor"},
    )
