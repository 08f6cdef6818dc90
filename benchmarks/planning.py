"""Planning speed: Monte Carlo 100k paths × 480 months and the goals-based DP, against naive numpy baselines;
then what a nightly batch pays per household for its mandate (2,000 paths, one seed for every household).

    .venv/bin/python benchmarks/planning.py [--repeat 5]

Wall time is the median of ``--repeat`` runs; peak memory is traced by ``tracemalloc`` (numpy buffers
are traced) in a separate run so tracing does not slow the timed runs. The naive baseline holds the
full paths × months float64 matrices, as a first vectorized version would. The batch rows are CPU
time (``process_time``) per household over 50 synthetic households.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import numpy as np

from engine.goals import build_mandate, load_capital_market, load_event_rules, load_glide_paths, optimal_goal_policy
from engine.goals.montecarlo import Sleeve, composites, simulate
from engine.model import GoalKind

PATHS, MONTHS = 100_000, 480
BATCH_PATHS, BATCH_HOUSEHOLDS = 2_000, 50  # engine.batch.BATCH_MANDATE_PATHS; households per batch row


def _sleeve() -> Sleeve:
    glide = load_glide_paths()
    to_goal = (MONTHS - np.arange(MONTHS)) / 12
    return Sleeve(
        start=100_000.0,
        contributions=np.full(MONTHS, 1_000.0),
        equity=glide.equity_share(GoalKind.RETIREMENT, to_goal),
        target=1_500_000.0,
    )


def naive_monte_carlo(sleeve: Sleeve, comp) -> float:
    """Full-matrix baseline: all normals, all growth factors and the whole wealth history in float64."""
    from engine.goals.montecarlo import _monthly_terms

    drift, a, b = _monthly_terms([sleeve], comp, MONTHS)
    vol = np.sqrt(a**2 + b**2)[0]
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((PATHS, MONTHS))
    G = np.exp(drift[0] + vol * Z)
    W = np.empty((PATHS, MONTHS + 1))
    W[:, 0] = sleeve.start
    for t in range(MONTHS):
        W[:, t + 1] = W[:, t] * G[:, t] + sleeve.contributions[t]
    np.percentile(W[:, ::12], [5, 25, 50, 75, 95], axis=0)
    return float(np.mean(W[:, -1] >= sleeve.target))


def naive_dp(ports, w0, goal, years, nodes=301) -> float:
    """Baseline DP: Das et al.'s dense transition matrices of normalized normal densities."""
    y = np.linspace(np.log(w0) - 3, np.log(goal) + 2, nodes)
    V = (np.exp(y) >= goal).astype(float)
    for _ in range(years):
        best = np.zeros(nodes)
        for mu, s in ports:
            d = np.exp(-0.5 * ((y[None, :] - y[:, None] - (mu - s * s / 2)) / s) ** 2)
            d /= d.sum(axis=1, keepdims=True)
            best = np.maximum(best, d @ V)
        V = best
    return float(np.interp(np.log(w0), y, V))


def _measure(fn, repeat: int) -> tuple[float, float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return statistics.median(times), peak, out


def batch_rows(repeat: int) -> None:
    """Per-household CPU ms of a batch's mandates (``build_mandate``, book values) and of their Monte Carlo / DP."""
    from datetime import date

    import engine.goals.mandate as mandate_mod
    import engine.goals.planning as planning_mod
    from engine.batch import synthetic

    as_of = date(2026, 7, 31)
    households = synthetic(BATCH_HOUSEHOLDS, seed=7, as_of=as_of)
    kw = dict(capital_market=load_capital_market(), glide=load_glide_paths(), rules=load_event_rules())
    spent = {"mc": 0.0, "dp": 0.0}

    def timed(fn, key):
        def run(*a, **k):
            t = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                spent[key] += time.process_time() - t

        return run

    sim, dp = planning_mod.simulate, mandate_mod.optimal_goal_policy
    planning_mod.simulate, mandate_mod.optimal_goal_policy = timed(sim, "mc"), timed(dp, "dp")
    try:
        runs = []
        for _ in range(repeat):
            spent.update(mc=0.0, dp=0.0)
            t = time.process_time()
            for h in households:
                build_mandate(h, as_of, paths=BATCH_PATHS, seed=0, **kw)
            runs.append((time.process_time() - t, spent["mc"], spent["dp"]))
    finally:
        planning_mod.simulate, mandate_mod.optimal_goal_policy = sim, dp
    total, mc, dp_t = (statistics.median(x) / BATCH_HOUSEHOLDS * 1e3 for x in zip(*runs, strict=True))
    print(f"{'batch mandate, per household (CPU ms)':<50} {total:9.2f}")
    print(f"{'  of which Monte Carlo 2k paths':<50} {mc:9.2f}")
    print(f"{'  of which DP (151 nodes, 11 portfolios)':<50} {dp_t:9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    comp = composites(load_capital_market(), load_glide_paths())
    sleeve = _sleeve()
    mu = np.linspace(0.0526, 0.0886, 15)
    x = (mu - mu[0]) / (mu[-1] - mu[0])
    ports = list(zip(mu, np.sqrt(0.0374**2 + x**2 * (0.1954**2 - 0.0374**2)), strict=True))

    rows = [
        (
            "Monte Carlo 100k × 480 (running state, bands)",
            lambda: float(simulate([sleeve], comp, paths=PATHS, seed=1).probability[0]),
        ),
        ("  naive full-matrix numpy", lambda: naive_monte_carlo(sleeve, comp)),
        ("DP 10 yearly steps, 301 nodes, 15 portfolios", lambda: optimal_goal_policy(ports, 100, 200, 10).probability),
        ("  naive dense transition matrices", lambda: naive_dp(ports, 100, 200, 10)),
    ]
    results = []
    print(f"{'case':<50} {'median s':>9} {'peak MB':>9} {'result':>8}")
    for name, fn in rows:
        t, mem, out = _measure(fn, args.repeat if "naive" not in name else max(1, args.repeat // 2))
        results.append((t, mem))
        print(f"{name:<50} {t:9.3f} {mem:9.1f} {out:8.4f}")
    (mc_t, mc_m), (nv_t, nv_m), (dp_t, _), (nd_t, _) = results
    print(
        f"Monte Carlo: {nv_t / mc_t:.1f}× faster, {nv_m / mc_m:.0f}× less memory than naive "
        f"(aim ≤ 0.6 s, ≤ 60 MB); DP: {nd_t / dp_t:.1f}× faster than naive (aim ≤ 0.2 s)"
    )
    batch_rows(args.repeat)


if __name__ == "__main__":
    main()
