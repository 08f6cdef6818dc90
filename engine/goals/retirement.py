"""The retirement Monte Carlo: Social Security, pensions, taxes by account type, RMDs, stochastic inflation,
mortality and (optionally) guardrails, for one household's retirement goal.

    spec = retirement_spec(household, goal, as_of, wealth_by_type, glide, comp)
    result = simulate_retirement(spec, paths=20_000, seed=7)        # result.probability

Money is real (today's) USD. Months carry the returns; cash flows are settled once a year at the start of
each plan year (spending, benefits, RMDs, taxes, withdrawals), contributions monthly until retirement.
Each year draws the portfolio's monthly log-returns (as the plain Monte Carlo does), then its inflation
(AR(1), ``engine.goals.inflation``) whose innovation is correlated with that year's portfolio shock (the bond
sleeve's negative correlation makes it lose real value when inflation surprises). In a year with no monthly
flows the twelve monthly log-returns are drawn as their exact sum (one normal instead of twelve: the same
distribution). Deaths are drawn once per path from the SSA period
life table (or every member lives to the goal's ``plan_to_age``); after the first death spending falls to
``survivor_spending`` of the couple's, the survivor keeps the larger of the two benefits, files single, and
inherits the traditional accounts (spousal rollover). Success: every year's after-tax spending is paid
while anyone is alive. Paths run in chunks (``CHUNK``) with their own seeds, so memory stays bounded and
the result depends on ``seed`` and ``paths`` only.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np

from engine.errors import PlanningError
from engine.goals.inflation import InflationModel
from engine.goals.longevity import LifeTable
from engine.goals.montecarlo import PERCENTILES, Composites
from engine.goals.withdrawals import RmdTables, YearTax

__all__ = ["CHUNK", "Person", "RetirementResult", "RetirementSpec", "simulate_retirement"]

CHUNK = 25_000
BAND_PATHS = 5_000


@dataclass(frozen=True, slots=True)
class Person:
    """One member as the simulation sees them (amounts real USD/year, arrays one value per plan year).

    ``own``/``spousal`` benefits while both live; ``survivor_base`` what the spouse would get if this
    person died after claiming (``survivor_before_claim`` before); ``claim_year`` the plan year benefits
    start; ``survivor_year`` the plan year this person reaches the survivor FRA; ``pension_real`` and
    ``pension_nominal`` (fixed dollars) and the fraction a survivor keeps.
    """

    name: str
    age: int
    sex: str | None
    own: np.ndarray
    spousal: np.ndarray
    survivor_base: float
    survivor_before_claim: float
    claim_year: int
    survivor_year: int
    rmd_age: int
    pension_real: np.ndarray
    pension_nominal: np.ndarray
    pension_survivor: float = 0.0
    plan_to_age: int | None = None


@dataclass(frozen=True, slots=True)
class RetirementSpec:
    """Everything the retirement simulation needs (see the module docstring); USD real, fractions."""

    years: int
    accumulation_months: int
    retire_year: int
    equity: np.ndarray  # per month
    cash: np.ndarray  # per month
    taxable: float
    basis: float
    traditional: tuple[float, ...]  # per person
    roth: float
    contributions: np.ndarray  # per month, USD (real)
    shares: tuple[float, ...]  # contribution split: taxable, traditional per person…, roth
    spending: float  # USD/year after tax, both alive
    survivor_spending: float  # fraction of spending after the first death
    people: tuple[Person, ...]
    joint_tax: YearTax
    single_tax: YearTax
    rmd: RmdTables
    life: LifeTable | None
    inflation: InflationModel
    composites: Composites
    part_time: tuple[float, int] | None = None  # USD/year ordinary income, years from retirement
    roth_conversion: tuple[float, int] | None = None  # USD/year converted, years from retirement
    order: str = "taxable_first"
    fill_rate: float = 0.12
    guardrails: bool = False
    flexibility: float = 1.0
    shock: tuple[int, float] | None = None  # (month, equity drop)
    name: str = "retirement"

    @property
    def months(self) -> int:
        return 12 * self.years


@dataclass(frozen=True, slots=True)
class RetirementResult:
    """Probability that spending is met for life, partly met (≥ flexibility of the total), mean shortfall
    (USD), median wealth left at the end, yearly wealth percentiles (``bands[year, p]``, a household's
    bequest once it has ended, up to the year 99 % of households have ended) and extras."""

    probability: float
    partial_probability: float
    shortfall: float
    median_final: float
    bands: np.ndarray | None
    paths: int
    seed: int
    extras: dict[str, float] = field(default_factory=dict)


def _monthly(spec: RetirementSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per month: nominal log drift, total volatility (annual), correlation of the portfolio with inflation."""
    c, inf = spec.composites, spec.inflation
    eq, ca = spec.equity, spec.cash
    bd = np.clip(1.0 - eq - ca, 0.0, 1.0)
    arith = eq * c.mu_equity + bd * c.mu_bonds + ca * c.mu_cash
    a = eq * c.vol_equity + bd * c.vol_bonds * c.rho
    b = bd * c.vol_bonds * math.sqrt(max(1 - c.rho**2, 0.0))
    s = np.sqrt(a**2 + b**2)
    cov = eq * c.vol_equity * inf.correlation_equity + bd * c.vol_bonds * inf.correlation_bonds
    rho = np.where(s > 0, np.clip(cov / np.maximum(s, 1e-12), -0.99, 0.99), 0.0)
    drift = np.log1p(arith) / 12.0 - s**2 / 24.0
    return drift, s, rho


def simulate_retirement(
    spec: RetirementSpec, *, paths: int = 20_000, seed: int = 0, bands: bool = True, workers: int | None = None
) -> RetirementResult:
    """Run the retirement Monte Carlo (see the module docstring).

    Raises:
        PlanningError: fewer than 2 paths or a spec without months.
    """
    if paths < 2:
        raise PlanningError("paths must be ≥ 2", paths=paths)
    if spec.years < 1:
        raise PlanningError("the retirement plan has no years to simulate")
    drift, vol, rho = _monthly(spec)
    Y, P = spec.years, len(spec.people)
    inf = spec.inflation
    innov = inf.volatility * math.sqrt(1 - inf.persistence**2)
    # Per month: the idiosyncratic loading and the per-month share of the inflation loading.
    mvol = (vol / math.sqrt(12.0)).astype(np.float32)  # monthly log-return s.d.
    d32 = drift.astype(np.float32)
    # The year's correlation of the portfolio with inflation (volatility-weighted over its months).
    rho_year = np.array([float(np.average(rho[12 * y : 12 * y + 12], weights=vol[12 * y : 12 * y + 12] + 1e-12))
                         for y in range(Y)])
    ages = np.array([[p.age + y for y in range(Y)] for p in spec.people])
    rmd_div = np.stack([spec.rmd.divisors(ages[i], p.rmd_age) for i, p in enumerate(spec.people)]).astype(np.float32)
    retire = spec.retire_year
    part = np.zeros(Y)
    if spec.part_time:
        part[retire : retire + spec.part_time[1]] = spec.part_time[0]
    conv = np.zeros(Y)
    if spec.roth_conversion:
        conv[retire : retire + spec.roth_conversion[1]] = spec.roth_conversion[0]
    shares = np.array(spec.shares, np.float32)
    contrib = spec.contributions.astype(np.float32)
    acc = spec.accumulation_months
    shock_year = shock_mult = None
    if spec.shock is not None:
        month, drop = spec.shock
        shock_year = month // 12
        shock_mult = 1.0 - drop * float(spec.equity[min(month, len(spec.equity) - 1)])
    top_fill = spec.joint_tax.bracket_top(spec.fill_rate) + spec.joint_tax.deduction
    top_fill_single = spec.single_tax.bracket_top(spec.fill_rate) + spec.single_tax.deduction

    sizes = [CHUNK] * (paths // CHUNK) + ([paths % CHUNK] if paths % CHUNK else [])
    seqs = np.random.SeedSequence(seed).spawn(len(sizes))

    def run(size: int, seq: np.random.SeedSequence) -> tuple[np.ndarray, ...]:
        rng = np.random.default_rng(seq)
        h = (size + 1) // 2
        f32 = np.float32
        T = np.full(size, spec.taxable, f32)
        B = np.full(size, spec.basis, f32)
        D = np.tile(np.array(spec.traditional, f32)[:, None], (1, size))
        R = np.full(size, spec.roth, f32)
        cpi = np.ones(size, f32)  # price level / today's
        pi = np.full(size, inf.mean, f32)
        level = np.full(size, spec.spending)  # guardrails spending level
        wr0 = np.zeros(size)
        need_total = np.zeros(size)
        unmet = np.zeros(size)
        final = np.zeros(size)
        # Deaths: years lived from now per person (plan_to_age: a fixed age).
        death = np.empty((P, size), np.int32)
        for i, p in enumerate(spec.people):
            if p.plan_to_age is not None or spec.life is None:
                death[i] = max((p.plan_to_age or 95) - p.age, 0)
            else:
                u = rng.random(size)
                death[i] = spec.life.sample_years_left(p.age, p.sex, u)
        last = death.max(axis=0)
        nb = min(size, BAND_PATHS)
        snaps = np.empty((Y + 1, nb), np.float32) if bands else None
        if snaps is not None:
            snaps[0] = T[:nb] + _rows(D[:, :nb]) + R[:nb]
        # What a survivor would receive from each member: their benefit if they died after claiming, else the PIA.
        surv_claimed = [
            np.where(death[i] >= p.claim_year, f32(p.survivor_base), f32(p.survivor_before_claim))
            for i, p in enumerate(spec.people)
        ]
        # Paths grouped by the plan year their last member dies (its wealth then is the bequest).
        order = np.argsort(last, kind="stable")
        cuts = np.searchsorted(last[order], np.arange(Y + 2))
        for y in range(Y):
            if y > retire and cuts[y] >= size:  # every household has ended: nothing left to simulate
                if snaps is not None:
                    snaps[y:] = snaps[y][None, :]
                break
            # --- cash flows at the start of the year -------------------------------------------------
            if y >= retire:
                if cuts[y + 1] < size:  # someone is alive somewhere (dead households spend nothing)
                    # Whole arrays, not the living subset: contiguous passes beat gathering scattered paths.
                    out = _settle(spec, y, retire, size, death > y, surv_claimed, cpi, T, B, D, R, level, wr0,
                                  rmd_div[:, y], part[y], conv[y], top_fill, top_fill_single)
                    T, B, D, R, level, wr0, short, spend = out
                    unmet += short
                    need_total += spend
                ends = order[cuts[y + 1] : cuts[y + 2]]
                if ends.size:
                    final[ends] = T[ends] + _rows(D[:, ends]) + R[ends]
            # --- returns through the year, then the year's inflation -------------------------------------
            m0, m1 = 12 * y, 12 * y + 12
            s_year = f32(math.sqrt(float((mvol[m0:m1] ** 2).sum())))  # s.d. of the year's log-return
            d_year = f32(d32[m0:m1].sum())
            if m0 < acc:  # contributions this year: month by month, as the plain Monte Carlo does
                z = rng.standard_normal((12, h), dtype=f32)
                r = np.empty((12, size), f32)
                np.multiply(z, mvol[m0:m1, None], out=r[:, :h])
                np.subtract(d32[m0:m1, None], r[:, : size - h], out=r[:, h:])
                r[:, :h] += d32[m0:m1, None]
                g = np.exp(r, out=r)
                # W ← W·g_m + c_m for m = 0…11, in closed form: growth after month m is P_m = g_{m+1}⋯g_11.
                c = np.where(np.arange(m0, m1) < acc, contrib[m0:m1], 0.0).astype(f32)
                after = np.cumprod(g[:0:-1], axis=0)  # rows P_10, P_9, …, P_0
                G = after[-1] * g[0]
                Wy = c[10::-1] @ after
                Wy += c[11]
                # the year's standardized shock, recovered from its growth (for the inflation correlation)
                u = (np.log(G) - d_year) / s_year if s_year > 0 else np.zeros(size, f32)
            else:  # no monthly flows: the twelve monthly log-returns drawn as their exact sum
                zh = rng.standard_normal(h, dtype=f32)
                u = np.concatenate([zh, -zh])[:size]
                G = np.exp(u * s_year + d_year)
                Wy = None
            # Inflation: its innovation is correlated ``rho`` with the portfolio's shock of the same year.
            xi = rng.standard_normal(h, dtype=f32)
            xi = np.concatenate([xi, -xi])[:size]
            r_y = float(rho_year[y])
            e = f32(r_y) * u + f32(math.sqrt(1.0 - r_y * r_y)) * xi
            pi = f32(inf.mean * (1 - inf.persistence)) + f32(inf.persistence) * pi + f32(innov) * e
            np.maximum(pi, f32(-0.5), out=pi)
            cpi *= f32(1.0) + pi
            if shock_year == y:
                G = G * f32(shock_mult)
            deflate = f32(1.0) / (f32(1.0) + pi)
            G = G * deflate
            T *= G
            D *= G[None, :]
            R *= G
            B = (B * deflate).astype(f32)  # the basis is nominal: in real terms it shrinks
            if Wy is not None:
                Wy *= deflate
                T += Wy * shares[0]
                B += Wy * shares[0]
                D += Wy[None, :] * shares[1 : 1 + P, None]
                R += Wy * shares[1 + P]
            if snaps is not None:
                snaps[y + 1] = T[:nb] + _rows(D[:, :nb]) + R[:nb]
        final = np.where(last >= Y, T + _rows(D) + R, final)
        if snaps is not None:  # after a household ends its wealth is its bequest: hold it there
            lastc = np.minimum(last[:nb], Y)
            frozen = snaps[lastc, np.arange(nb)]
            snaps = np.where(np.arange(Y + 1)[:, None] > lastc[None, :], frozen[None, :], snaps)
        met = np.where(need_total > 0, 1.0 - unmet / np.maximum(need_total, 1e-9), 1.0)
        return unmet, met, final, snaps, death

    n_workers = 1 if len(sizes) == 1 else workers or min(len(sizes), os.cpu_count() or 1)
    if n_workers > 1:
        with ThreadPoolExecutor(n_workers) as pool:
            parts = list(pool.map(run, sizes, seqs))
    else:
        parts = [run(s, q) for s, q in zip(sizes, seqs, strict=True)]
    unmet = np.concatenate([p[0] for p in parts])
    met = np.concatenate([p[1] for p in parts])
    final = np.concatenate([p[2] for p in parts])
    death = np.concatenate([p[4] for p in parts], axis=1)
    band = None
    if bands:
        snaps = np.concatenate([p[3] for p in parts], axis=1)
        band = np.percentile(snaps, PERCENTILES, axis=1).T
        horizon = int(np.percentile(death.max(axis=0), 99)) + 1  # bands while 1 % of households remain
        band = band[: max(horizon, spec.retire_year + 1) + 1]
    ok = unmet <= 1.0
    extras = {f"median_age_at_death_{p.name}": float(np.median(death[i]) + p.age) for i, p in enumerate(spec.people)}
    extras["median_years_in_retirement"] = float(np.median(np.maximum(death.max(axis=0) - spec.retire_year, 0)))
    return RetirementResult(
        probability=float(ok.mean()),
        partial_probability=float((met >= spec.flexibility - 1e-9).mean()),
        shortfall=float(unmet.mean()),
        median_final=float(np.median(final)),
        bands=band,
        paths=paths,
        seed=seed,
        extras=extras,
    )


def _rows(D: np.ndarray) -> np.ndarray:
    """Sum of the per-member rows (explicit adds: a reduction over two rows is slower)."""
    out = D[0].copy()
    for row in D[1:]:
        out += row
    return out


def _settle(
    spec: RetirementSpec, y: int, retire: int, n: int, alive: np.ndarray, survivor: list[np.ndarray],
    cpi: np.ndarray, T: np.ndarray, B: np.ndarray, D: np.ndarray, R: np.ndarray, level: np.ndarray,
    wr0: np.ndarray, rmd_div: np.ndarray, work_y: float, conv_y: float, top_fill: float, top_fill_single: float,
) -> tuple[np.ndarray, ...]:
    """One year's flows for ``n`` paths: benefits, pensions, RMDs, spending (guardrails; none once everyone
    has died), the tax gross-up and the withdrawals in order. ``survivor[j]`` is what member j's survivor
    would receive from j (per path). Returns the new balances, level, wr0, shortfall and spending."""
    P = len(spec.people)
    f32 = np.float32
    both = alive[0] & alive[1] if P == 2 else alive[0]
    everyone = bool(both.all())
    # Benefits and pensions (scalars while everyone is alive: the common case costs nothing per path).
    ss: np.ndarray | float = 0.0
    pension: np.ndarray | float = 0.0
    for i, p in enumerate(spec.people):
        has_pension = p.pension_real[y] or p.pension_nominal[y]
        pens_i = p.pension_real[y] + p.pension_nominal[y] / cpi if has_pension else 0.0
        if everyone:
            ss = ss + p.own[y] + (p.spousal[y] if P == 2 else 0.0)
            pension = pension + pens_i
            continue
        if P == 2:
            j = 1 - i
            mine = alive[i] * f32(p.own[y])
            if p.spousal[y]:
                mine += both * f32(p.spousal[y])
            if y >= p.survivor_year:  # the survivor keeps the larger of the two benefits
                mine += (alive[i] & ~alive[j]) * np.maximum(survivor[j] - f32(p.own[y]), f32(0.0))
            if has_pension:
                pension = pension + np.where(alive[i], pens_i, np.where(alive[j], p.pension_survivor * pens_i, 0.0))
        else:
            mine = np.where(alive[i], p.own[y], 0.0)
            if has_pension:
                pension = pension + np.where(alive[i], pens_i, 0.0)
        ss = ss + mine
    ss = np.broadcast_to(np.asarray(ss, f32), (n,))
    if P == 2 and not everyone:  # spousal rollover: the survivor inherits the traditional balance
        for i, j in ((0, 1), (1, 0)):
            moved = D[i] * (~alive[i] & alive[j])
            D[j] += moved
            D[i] -= moved
    d_total = D[0] + D[1] if P == 2 else D.sum(axis=0)  # explicit adds: a reduce over 2 rows is slower
    if rmd_div.any():
        rmd = D[0] * (f32(rmd_div[0]) * alive[0])
        for i in range(1, P):
            rmd = rmd + D[i] * (f32(rmd_div[i]) * alive[i])
    else:
        rmd = 0.0
    anyone = alive[0] | alive[1] if P == 2 else alive[0]
    # spending share: 1 while both live, survivor_spending for a survivor, 0 once everyone has died
    share = f32(spec.survivor_spending)
    factor = 1.0 if everyone else anyone * share + both * (f32(1.0) - share)
    if spec.guardrails and y > retire:  # Guyton–Klinger: ±10 % when the withdrawal rate leaves ±20 % of its start
        wr = level * factor / np.maximum(T + d_total + R, 1.0)
        level = np.where(wr > 1.2 * wr0, np.maximum(level * 0.9, spec.flexibility * spec.spending), level)
        level = np.where(wr < 0.8 * wr0, np.minimum(level * 1.1, 1.5 * spec.spending), level)
    spend = (level * factor).astype(f32)
    if y == retire:
        wealth = T + d_total + R
        wr0 = np.where(wealth > 0, spend / np.maximum(wealth, 1.0), 0.0)
    conv = np.minimum(f32(conv_y), np.maximum(d_total - rmd, 0.0)) if conv_y else 0.0
    ordinary = pension + work_y + rmd + conv
    ordinary = np.broadcast_to(np.asarray(ordinary, f32), (n,))
    cash_in = ss + (pension + work_y + rmd)
    single = ~both if P == 2 else np.ones(n, bool)
    scale = 1.0 / cpi
    d_left = np.maximum(d_total - rmd - conv, 0.0) if (conv_y or rmd_div.any()) else d_total
    t_have, r_have = T, R
    gshare = np.clip(1.0 - B / np.maximum(T, f32(1e-3)), 0.0, 1.0)
    fill = spec.order == "fill_bracket"
    head = np.maximum(np.where(single, f32(top_fill_single), f32(top_fill)) - ordinary, 0.0) if fill else None
    s_idx = np.flatnonzero(single)
    j_idx = np.flatnonzero(~single)

    def alloc(need: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        d1 = np.minimum(np.minimum(d_left, head), need) if fill else 0.0
        wT = np.minimum(t_have, need - d1)
        wD = np.minimum(d_left, need - wT)
        return wT, wD, np.minimum(r_have, need - wT - wD)

    ss64 = np.broadcast_to(np.asarray(ss, f32), (n,))
    if not s_idx.size:
        prep_j = spec.joint_tax.prepare(ss64, scale)
    elif not j_idx.size:
        prep_s = spec.single_tax.prepare(ss64, scale)
    else:
        prep_s = spec.single_tax.prepare(ss64[s_idx], scale[s_idx])
        prep_j = spec.joint_tax.prepare(ss64[j_idx], scale[j_idx])

    def taxes(wT: np.ndarray, wD: np.ndarray) -> np.ndarray:
        o, g = ordinary + wD, wT * gshare
        if not s_idx.size:
            return spec.joint_tax.total_prepared(o, g, prep_j)
        if not j_idx.size:
            return spec.single_tax.total_prepared(o, g, prep_s)
        out = np.empty(n, f32)
        out[s_idx] = spec.single_tax.total_prepared(o[s_idx], g[s_idx], prep_s)
        out[j_idx] = spec.joint_tax.total_prepared(o[j_idx], g[j_idx], prep_j)
        return out

    # Gross-up: need = spending + tax(need) − income. Two tax evaluations give the local marginal rate m;
    # the secant step solves the linear equation (tax is piecewise linear in the withdrawal, so within a
    # bracket this is exact; across a bracket edge it is off by a fraction of the rate difference).
    n0 = np.maximum(spend - cash_in, 0.0)
    w = alloc(n0)
    t0 = taxes(w[0], w[1])
    n1 = np.maximum(spend + t0 - cash_in, 0.0)
    w = alloc(n1)
    t1 = taxes(w[0], w[1])
    dn = n1 - n0
    m = np.where(dn > 1e-6, np.clip((t1 - t0) / np.maximum(dn, 1e-6), 0.0, 0.9), 0.0)
    need = np.maximum((spend - cash_in + t1 - m * n1) / (1.0 - m), 0.0)
    tax = t1 + m * (need - n1)
    wT, wD, wR = alloc(need)
    got = wT + wD + wR
    short = np.maximum(need - got, 0.0)
    surplus = np.maximum(cash_in - spend - tax, 0.0)  # income beyond spending and tax is reinvested
    B = (B - wT * (1.0 - gshare) + surplus).astype(f32)
    T = (T - wT + surplus).astype(f32)
    take = rmd + wD + conv
    frac = np.where(d_total > 0, take / np.maximum(d_total, f32(1e-3)), 0.0)
    D = np.maximum(D * (1.0 - frac)[None, :], 0.0).astype(f32)
    R = np.maximum(R - wR + conv, 0.0).astype(f32)
    return T, B, D, R, level, wr0, short, spend


def with_changes(spec: RetirementSpec, **changes: object) -> RetirementSpec:
    """A copy of ``spec`` with some fields replaced (what-ifs)."""
    return replace(spec, **changes)


def plan_years(people_ages: list[int], plan_to_age: int | None, as_of: date, cap: int = 120) -> int:
    """Plan years to simulate: until the youngest reaches ``plan_to_age`` (or the life table's end, ``cap``)."""
    youngest = min(people_ages)
    return max(1, (plan_to_age or cap) - youngest)
