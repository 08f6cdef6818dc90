"""Vectorized Monte Carlo of goal sleeves: monthly steps, contributions, withdrawals, glide path, inflation.

    sleeve = Sleeve(start=50_000, contributions=np.full(120, 500.0), equity=np.full(120, 0.6), target=150_000)
    result = simulate([sleeve], market, paths=100_000, seed=7)      # result.probability[0]

Money is real (today's) USD; the state is one running wealth vector per sleeve (float32), never a
paths × months matrix: growth factors are made for a block of months at a time (``BLOCK`` numbers),
then applied month by month. Returns: the equity and bond composites (class split of ``GlidePaths``) are
jointly lognormal each month; cash earns its assumed return; everything is deflated by inflation.
Paths are split into fixed chunks with their own seeds (``SeedSequence.spawn``), run on threads
(numpy releases the GIL), so results depend on ``seed`` and ``paths`` only, not on the thread count.
Antithetic pairs (z, −z) halve the random draws and reduce variance. A chunk's draws depend only on
its seed, so small chunks' draws are kept (bounded, ``DRAWS_CACHE``) and reused: a batch that plans
every household with one seed draws them once, with the same numbers as drawing them each time.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from engine.errors import PlanningError
from engine.goals.config import CapitalMarket, GlidePaths
from engine.model import AssetClass

__all__ = ["Composites", "Shock", "SimulationResult", "Sleeve", "composites", "simulate"]

CHUNK = 50_000
BAND_PATHS = 10_000  # paths per chunk whose yearly wealth feeds the percentile bands
PERCENTILES = (5.0, 25.0, 50.0, 75.0, 95.0)
BLOCK = 1 << 17  # months × paths drawn and grown at once (float32, 512 KB: stays in cache)
DRAWS_CACHE = 1 << 23  # normals (float32, 32 MB) kept across simulations; larger chunks draw their own

_draws: OrderedDict[tuple, tuple[np.random.Generator, np.ndarray]] = OrderedDict()
_draws_lock = threading.Lock()


def _cached_draws(seq: np.random.SeedSequence, factors: int, half: int, months: int) -> np.ndarray | None:
    """The first ``months`` × ``factors`` × ``half`` normals of ``seq``'s stream (read-only), or None if too big.

    Exactly what ``default_rng(seq)`` draws month by month; kept per stream (least recently used
    dropped first) and extended from the saved generator when a longer horizon asks.
    """
    if months * factors * half > DRAWS_CACHE // 2:
        return None
    key = (seq.entropy, seq.spawn_key, seq.pool_size, factors, half)
    with _draws_lock:
        rng, z = _draws.pop(key, (None, None))
        if rng is None or z is None:
            rng, z = np.random.default_rng(seq), np.empty((0, factors, half), np.float32)
        if len(z) < months:
            more = rng.standard_normal((months - len(z), factors, half), dtype=np.float32)
            z = np.concatenate([z, more])
            z.flags.writeable = False
        _draws[key] = (rng, z)
        total = sum(v[1].size for v in _draws.values())
        while total > DRAWS_CACHE and len(_draws) > 1:
            total -= _draws.popitem(last=False)[1][1].size
    return z[:months]


@dataclass(frozen=True, slots=True)
class Sleeve:
    """One goal's funding to simulate, monthly.

    ``start`` USD now; ``contributions``/``withdrawals`` USD per month (real, length = months);
    ``equity``/``cash`` fractions per month (the glide path; the rest is bonds); success means every
    withdrawal is paid and the final wealth is ≥ ``target`` USD; partly met means ≥ ``flexibility``
    of both.
    """

    start: float
    contributions: np.ndarray
    equity: np.ndarray
    withdrawals: np.ndarray | None = None
    cash: np.ndarray | None = None
    target: float = 0.0
    flexibility: float = 1.0
    name: str = ""

    def __post_init__(self) -> None:
        months = len(self.contributions)
        if months < 1:
            raise PlanningError(f"sleeve {self.name!r} has no months to simulate; the goal date must be after as_of")
        w = np.zeros(months) if self.withdrawals is None else np.asarray(self.withdrawals, float)
        c = np.zeros(months) if self.cash is None else np.asarray(self.cash, float)
        object.__setattr__(self, "withdrawals", w)
        object.__setattr__(self, "cash", c)
        object.__setattr__(self, "contributions", np.asarray(self.contributions, float))
        object.__setattr__(self, "equity", np.asarray(self.equity, float))
        arrays = (self.contributions, self.equity, w, c)
        if any(a.shape != (months,) for a in arrays):
            raise PlanningError(
                f"sleeve {self.name!r}: contributions, withdrawals, equity and cash need one value per month"
            )
        if not all(np.isfinite(a).all() for a in arrays) or not math.isfinite(self.start):
            raise PlanningError(f"sleeve {self.name!r}: inputs must be finite numbers")
        if self.start < 0 or (self.contributions < 0).any() or (w < 0).any() or self.target < 0:
            raise PlanningError(f"sleeve {self.name!r}: amounts must be ≥ 0 (withdrawals are positive outflows)")
        if ((self.equity < 0) | (self.equity > 1) | (c < 0) | (self.equity + c > 1 + 1e-9)).any():
            raise PlanningError(
                f"sleeve {self.name!r}: equity and cash shares must be fractions with equity + cash ≤ 1"
            )

    @property
    def months(self) -> int:
        return len(self.contributions)


@dataclass(frozen=True, slots=True)
class Shock:
    """A one-off market crash: equity loses ``equity_drop`` (fraction) in ``month`` (0 = the first month)."""

    month: int = 0
    equity_drop: float = 0.35


@dataclass(frozen=True, slots=True)
class Composites:
    """Equity and bond composite moments (annual, nominal), their correlation, cash return, inflation."""

    mu_equity: float
    vol_equity: float
    mu_bonds: float
    vol_bonds: float
    rho: float
    mu_cash: float
    inflation: float


def composites(market: CapitalMarket, glide: GlidePaths) -> Composites:
    """The equity / bond / cash composites of ``glide``'s class split under ``market``'s assumptions."""
    eq, bd, ca = (dict(glide.split[k]) for k in ("equity", "bonds", "cash"))
    me, se = market.moments(eq)
    mb, sb = market.moments(bd)
    mc, _ = market.moments(ca)
    rho = market.covariance(eq, bd) / (se * sb) if se > 0 and sb > 0 else 0.0
    return Composites(me, se, mb, sb, rho, mc, market.inflation)


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """Per-sleeve outcome of a simulation (money in real USD).

    ``probability`` fully met, ``partial_probability`` at least ``flexibility`` met, ``shortfall``
    the mean USD missing over all paths (0 on success), ``bands[g, year, p]`` wealth percentiles
    (``percentiles``) at each whole year (from up to 10,000 paths per 50,000-path chunk),
    ``household_bands`` the same for the sum of sleeves.
    """

    names: tuple[str, ...]
    probability: np.ndarray
    partial_probability: np.ndarray
    shortfall: np.ndarray
    median_final: np.ndarray
    bands: np.ndarray | None
    household_bands: np.ndarray | None
    percentiles: tuple[float, ...] = PERCENTILES
    paths: int = 0
    seed: int = 0
    extras: Mapping[str, float] = field(default_factory=dict)

    def standard_error(self, g: int = 0) -> float:
        """Binomial standard error of ``probability[g]`` (antithetic pairs make it conservative)."""
        p = float(self.probability[g])
        return math.sqrt(max(p * (1 - p), 1e-12) / max(self.paths, 1))


def _monthly_terms(sleeves: Sequence[Sleeve], comp: Composites, months: int) -> tuple[np.ndarray, ...]:
    """Per sleeve and month: log drift, loading on factor 1 and factor 2 (monthly, real)."""
    G = len(sleeves)
    eq = np.zeros((G, months))
    ca = np.zeros((G, months))
    for g, s in enumerate(sleeves):
        eq[g, : s.months] = s.equity
        ca[g, : s.months] = s.cash
        eq[g, s.months :] = s.equity[-1]
        ca[g, s.months :] = s.cash[-1]
    bd = np.clip(1.0 - eq - ca, 0.0, 1.0)
    arith = eq * comp.mu_equity + bd * comp.mu_bonds + ca * comp.mu_cash
    real = (1 + arith) / (1 + comp.inflation) - 1
    a = eq * comp.vol_equity + bd * comp.vol_bonds * comp.rho
    b = bd * comp.vol_bonds * math.sqrt(max(1 - comp.rho**2, 0.0))
    var_m = (a**2 + b**2) / 12.0
    drift = np.log1p(real) / 12.0 - var_m / 2.0
    # Scale so that the monthly lognormal has the annual arithmetic mean ``real``.
    return drift, a / math.sqrt(12.0), b / math.sqrt(12.0)


def simulate(
    sleeves: Sequence[Sleeve],
    market: CapitalMarket | Composites,
    *,
    glide: GlidePaths | None = None,
    paths: int = 20_000,
    seed: int = 0,
    shock: Shock | None = None,
    bands: bool = True,
    workers: int | None = None,
) -> SimulationResult:
    """Simulate the sleeves jointly (same market paths) month by month; see the module docstring.

    Raises:
        PlanningError: no sleeves, fewer than 2 paths, or a malformed sleeve.
    """
    if not sleeves:
        raise PlanningError("nothing to simulate: pass at least one sleeve")
    if paths < 2:
        raise PlanningError("paths must be ≥ 2", paths=paths)
    if isinstance(market, Composites):
        comp = market
    else:
        if glide is None:
            from engine.goals.config import load_glide_paths

            glide = load_glide_paths()
        comp = composites(market, glide)
    months = max(s.months for s in sleeves)
    drift, la, lb = _monthly_terms(sleeves, comp, months)
    G = len(sleeves)
    contrib = np.zeros((G, months), np.float32)
    withdraw = np.zeros((G, months), np.float32)
    for g, s in enumerate(sleeves):
        contrib[g, : s.months] = s.contributions
        withdraw[g, : s.months] = s.withdrawals
    ends = np.array([s.months for s in sleeves])
    years = months // 12
    snap_months = {12 * y: y for y in range(1, years + 1)}
    snap_months[months] = years + (1 if months % 12 else 0)
    n_snaps = max(snap_months.values()) + 1

    sizes = [CHUNK] * (paths // CHUNK) + ([paths % CHUNK] if paths % CHUNK else [])
    seqs = np.random.SeedSequence(seed).spawn(len(sizes))
    starts = np.array([s.start for s in sleeves], np.float32)
    one_factor = G == 1
    shock_mult = None
    if shock is not None:
        if not 0 <= shock.month < months or not 0 <= shock.equity_drop < 1:
            raise PlanningError("a shock needs 0 ≤ month < horizon and 0 ≤ equity_drop < 1", shock=shock)
        eqm = np.array([s.equity[min(shock.month, s.months - 1)] for s in sleeves])
        shock_mult = (1.0 - shock.equity_drop * eqm).astype(np.float32)

    # Per-month constants as float32 (one factor: the sleeve's total monthly volatility).
    d32 = drift.astype(np.float32)
    if one_factor:
        s32 = np.sqrt(la**2 + lb**2).astype(np.float32)
    else:
        a32, b32 = la.astype(np.float32), lb.astype(np.float32)

    def growth(z: np.ndarray, g: int, t0: int, n: int, out: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Monthly growth factors of sleeve ``g`` for months t0 … t0+n−1 (n × size, float32, into ``out``).

        The same float32 operations, in the same order, as one month at a time (antithetic half:
        (−z)·s + d = d − z·s exactly), so a block gives the bits of the month-by-month loop.
        """
        h = z.shape[2]
        size = out.shape[1]
        r, q = out[:n], q[:n]
        if one_factor:
            np.multiply(z[:n, 0], s32[g, t0 : t0 + n, None], out=q)
        else:
            np.multiply(z[:n, 0], a32[g, t0 : t0 + n, None], out=q)
            np.multiply(z[:n, 1], b32[g, t0 : t0 + n, None], out=r[:, :h])
            q += r[:, :h]
        d = d32[g, t0 : t0 + n, None]
        np.subtract(d, q[:, : size - h], out=r[:, h:])
        np.add(q, d, out=r[:, :h])
        return np.exp(r, out=r)

    # Per sleeve: contributions and withdrawals as Python floats (the float32 values, exactly), last month.
    flows = [(contrib[g].tolist(), withdraw[g].tolist(), int(ends[g])) for g in range(G)]

    def run(size: int, seq: np.random.SeedSequence) -> tuple[np.ndarray, ...]:
        W = np.repeat(starts[:, None], size, axis=1)
        unmet = np.zeros((G, size), np.float32)
        nb = min(size, BAND_PATHS)
        snaps = np.empty((G, n_snaps, nb), np.float32) if bands else None
        if snaps is not None:
            snaps[:, 0] = W[:, :nb]
        h = (size + 1) // 2
        tmp = np.empty(size, np.float32)
        block = max(1, min(months, BLOCK // size))
        grow, q = np.empty((block, size), np.float32), np.empty((block, h), np.float32)
        factors = 1 if one_factor else 2
        kept = _cached_draws(seq, factors, h, months)
        rng = np.random.default_rng(seq) if kept is None else None
        for t0 in range(0, months, block):
            n = min(block, months - t0)
            # Month m's draws are z1[:h] then z2[:h], as when drawn one month at a time.
            if rng is None:
                z = kept[t0 : t0 + n]
            else:
                z = rng.standard_normal((n, factors, h), dtype=np.float32)
            # Sleeves do not interact: each runs through the block on its own (the same operations per month).
            for g, (cg, wdg, end) in enumerate(flows):
                wg, ug = W[g], unmet[g]
                stop = min(t0 + n, end)
                if stop > t0:
                    gr = growth(z, g, t0, stop - t0, grow, q)
                for t in range(t0, stop):
                    if shock_mult is not None and t == shock.month:
                        wg *= shock_mult[g]
                    wg *= gr[t - t0]
                    if cg[t]:
                        wg += cg[t]
                    if wdg[t]:
                        np.minimum(wg, wdg[t], out=tmp)
                        wg -= tmp
                        ug += wdg[t]
                        ug -= tmp
                    if snaps is not None and (t + 1) in snap_months:
                        snaps[g, snap_months[t + 1]] = wg[:nb]
                if snaps is not None:  # after its last month a sleeve's wealth stays as it is
                    for t in range(max(t0, stop), t0 + n):
                        if (t + 1) in snap_months:
                            snaps[g, snap_months[t + 1]] = wg[:nb]
        return W, unmet, snaps

    n_workers = 1 if len(sizes) == 1 else workers or min(len(sizes), os.cpu_count() or 1)
    if n_workers > 1:
        with ThreadPoolExecutor(n_workers) as pool:
            parts = list(pool.map(run, sizes, seqs))
    else:
        parts = [run(size, seq) for size, seq in zip(sizes, seqs, strict=True)]
    W = np.concatenate([p[0] for p in parts], axis=1)
    unmet = np.concatenate([p[1] for p in parts], axis=1)
    targets = np.array([s.target for s in sleeves])[:, None]
    flex = np.array([s.flexibility for s in sleeves])[:, None]
    total_w = np.array([float(s.withdrawals.sum()) for s in sleeves])[:, None]
    tol = 1e-4 * np.maximum(total_w, 1.0)
    ok = (unmet <= tol) & (W >= targets * (1 - 1e-6))
    partial = (unmet <= (1 - flex) * total_w + tol) & (W >= flex * targets * (1 - 1e-6))
    shortfall = np.maximum(targets - W, 0.0) + unmet
    band_arr = hh_bands = None
    if bands:
        snaps = np.concatenate([p[2] for p in parts], axis=2)
        band_arr = np.percentile(snaps, PERCENTILES, axis=2).transpose(1, 2, 0)
        hh_bands = np.percentile(snaps.sum(axis=0), PERCENTILES, axis=1).T
    return SimulationResult(
        names=tuple(s.name for s in sleeves),
        probability=ok.mean(axis=1),
        partial_probability=partial.mean(axis=1),
        shortfall=shortfall.mean(axis=1),
        median_final=np.median(W, axis=1),
        bands=band_arr,
        household_bands=hh_bands,
        paths=paths,
        seed=seed,
    )


def equity_mix(glide: GlidePaths, equity: float, cash: float = 0.0) -> Mapping[AssetClass, float]:
    """Shortcut for ``glide.class_mix``."""
    return glide.class_mix(equity, cash)
