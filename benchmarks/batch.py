"""Batch speed: households/s for a naive loop (fresh problem per household), the in-process executor, the
process pool and a Dask LocalCluster with 1 and 2 workers, on the same synthetic households; ratios printed.

    .venv/bin/python benchmarks/batch.py [--n 2000] [--repeat 3] [--naive-n 100]

Every configuration plans the same households through ``Engine.plan`` with the day's estimates computed
once (setup, not timed). The configurations run round robin, ``--repeat`` rounds: a slow spell of a
shared machine then lands on one sample of each. Rates are medians over the rounds; ratios (× naive,
2 workers / 1) are medians of each round's own ratio. Memory is each worker's resident set after its
first and last chunk and its peak (flat memory: last ≈ first, whatever the batch size).
"Cold" rows build every mandate (goal Monte Carlo with ``BATCH_MANDATE_PATHS`` paths and the DP); the
"kept mandates" row is the steady nightly state, reusing the mandates of an earlier batch. The "SQLite store"
rows are the nightly job end to end: kept mandates, and every proposal saved to a SQLite store that already
holds the households (a copy of one seeded file per run) while the workers plan; their households/s covers
planning and saving, and the saving share of the caller's time is printed. Every row also
reports CPU ms per household (CPU time of the planning threads, summed over workers), which the machine's
load inflates far less than wall time: households/s per core ≈ 1000 / that number. The naive loop (a
problem compiled per household) runs on the first ``--naive-n`` households.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.batch import BatchOptions, BatchResult, Day, Executor, plan_one, run_batch, synthetic
from engine.data import MarketData
from engine.model import Household
from engine.optimizer import DEFAULT_CACHE
from engine.store import Store

AS_OF = date(2026, 7, 31)


CPU: dict[str, list[float]] = {}


def naive(households: list[Household], day: Day) -> float:
    """Households/s of a plain loop that compiles a fresh problem for every household."""
    start, cpu = time.perf_counter(), time.process_time()
    for h in households:
        DEFAULT_CACHE.clear()
        plan_one(h, day)
    CPU.setdefault("naive loop (fresh problem each)", []).append((time.process_time() - cpu) / len(households))
    return len(households) / (time.perf_counter() - start)


def timed(label: str, run: Callable[[], BatchResult], n: int) -> BatchResult:
    """Run a batch and record its planning CPU seconds per household (all workers' planning threads)."""
    out = run()
    CPU.setdefault(label, []).append(out.cpu_seconds / n)
    return out


def fresh_day(market: MarketData) -> Day:
    """A new engine and day: no mandate or problem is cached from an earlier run."""
    DEFAULT_CACHE.clear()
    return Day.build(market, AS_OF)


def seeded_store(households: list[Household], folder: Path) -> Path:
    """A migrated SQLite file holding the households (built once; each store run plans on a copy of it)."""
    path = folder / "seed.db"
    with Store(f"sqlite:///{path}") as store:
        store.upgrade()
        for h in households:
            store.households.add(h, actor="bench")
    return path


SAVE: dict[str, list[float]] = {}


def with_store(label: str, seed: Path, run: Callable[[Store], BatchResult]) -> BatchResult:
    """Run a batch against a fresh copy of the seeded store; records the caller's seconds spent saving."""
    path = seed.with_name(f"run-{time.monotonic_ns()}.db")
    shutil.copy(seed, path)
    try:
        with Store(f"sqlite:///{path}") as store:
            out = run(store)
    finally:
        path.unlink(missing_ok=True)
    SAVE.setdefault(label, []).append(out.save_seconds / max(out.seconds, 1e-9))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="households (default 2000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per configuration (median)")
    parser.add_argument("--naive-n", type=int, default=100, help="households for the naive loop (default 100)")
    parser.add_argument(
        "--only", nargs="*", default=[], help="only the configurations whose label contains one of these (and naive)"
    )
    args = parser.parse_args()
    market = MarketData.embedded()
    households = synthetic(args.n, seed=7, as_of=AS_OF)
    lots = statistics.mean(len(h.lots) for h in households)
    accounts = statistics.mean(len(h.accounts) for h in households)
    day = fresh_day(market)
    print(f"{args.n} households, {len(day.tickers)} funds, {accounts:.1f} accounts and {lots:.0f} lots on average")

    n = len(households)
    last_night = BatchOptions(executor=Executor.INLINE, day=fresh_day(market))
    kept = run_batch(households, AS_OF, last_night).mandates  # last night's

    configs: list[tuple[str, Callable[[], BatchResult | float]]] = [
        ("naive loop (fresh problem each)", lambda: naive(households[: args.naive_n], fresh_day(market))),
        (
            "in-process executor",
            lambda: timed(
                "in-process executor",
                lambda: run_batch(households, AS_OF, BatchOptions(executor=Executor.INLINE, day=fresh_day(market))),
                n,
            ),
        ),
        (
            "in-process, kept mandates",
            lambda: timed(
                "in-process, kept mandates",
                lambda: run_batch(
                    households,
                    AS_OF,
                    BatchOptions(
                        executor=Executor.INLINE, day=fresh_day(market), mandates=kept, mandate_max_age_days=7
                    ),
                ),
                n,
            ),
        ),
    ]
    folder = Path(tempfile.mkdtemp(prefix="robo-bench-"))
    seed: list[Path] = []  # seeded on first use (adding the households takes a while)

    def store_row(label: str, executor: Executor, workers: int) -> Callable[[], BatchResult]:
        def run() -> BatchResult:
            if not seed:
                seed.append(seeded_store(households, folder))
            return timed(
                label,
                lambda: with_store(
                    label,
                    seed[0],
                    lambda store: run_batch(
                        households,
                        AS_OF,
                        BatchOptions(
                            executor=executor,
                            workers=workers,
                            day=fresh_day(market),
                            mandates=kept,
                            mandate_max_age_days=7,
                            store=store,
                        ),
                    ),
                ),
                n,
            )

        return run

    configs += [
        (
            "in-process, kept mandates, SQLite store",
            store_row("in-process, kept mandates, SQLite store", Executor.INLINE, 1),
        ),
        (
            "process pool, 2 worker(s), kept mandates, SQLite store",
            store_row("process pool, 2 worker(s), kept mandates, SQLite store", Executor.PROCESSES, 2),
        ),
    ]
    for kind, executor in (("process pool", Executor.PROCESSES), ("Dask LocalCluster", Executor.DASK)):
        for keep in (False, True):
            for w in (1, 2):
                label = f"{kind}, {w} worker(s)" + (", kept mandates" if keep else "")
                extra = {"mandates": kept, "mandate_max_age_days": 7} if keep else {}
                configs.append(
                    (
                        label,
                        lambda w=w, label=label, executor=executor, extra=extra: timed(
                            label,
                            lambda: run_batch(
                                households,
                                AS_OF,
                                BatchOptions(executor=executor, workers=w, day=fresh_day(market), **extra),
                            ),
                            n,
                        ),
                    )
                )
    if args.only:
        configs = [c for c in configs if c[0].startswith("naive") or any(o in c[0] for o in args.only)]
    # Round robin: every configuration runs once per round, so a slow spell of this shared machine lands on
    # one sample of each configuration instead of on every sample of one (medians over rounds).
    rates: dict[str, list[float]] = {label: [] for label, _ in configs}
    memory: dict[str, str] = {}
    for r in range(args.repeat):
        for label, run in configs:
            out = run()
            if isinstance(out, BatchResult):
                rates[label].append(out.households_per_second)
                memory[label] = (
                    "; ".join(  # the result itself is dropped: a caller holding every batch's
                        f"{m.first_rss / 2**20:.0f}→{m.last_rss / 2**20:.0f} MB (peak {m.peak_rss / 2**20:.0f})"
                        for m in out.memory.values()  # proposals would fork bloated workers and slow its own GC
                    )
                    + f"; {len(out.failed)} failed"
                )
                del out
            else:
                rates[label].append(out)
            print(f"  round {r + 1}: {label:44s} {rates[label][-1]:8.2f} households/s", flush=True)

    naive_label = "naive loop (fresh problem each)"
    rows = []
    for label, _ in configs:
        mem = memory.get(label, "")
        cpu = f"{statistics.median(CPU[label]) * 1e3:.1f}" if label in CPU else ""
        if label.startswith("naive"):
            cpu = (cpu or "") + f" (first {min(args.naive_n, n)})"
        vs_naive = statistics.median(a / b for a, b in zip(rates[label], rates[naive_label], strict=True))
        rows.append((label, statistics.median(rates[label]), vs_naive, mem, cpu))

    print()
    print(
        f"| configuration | households/s (median of {args.repeat}) | × naive (same round) | CPU ms/household "
        "| worker RSS first→last (peak) |"
    )
    print("| --- | ---: | ---: | ---: | --- |")
    for label, rate, vs_naive, mem, cpu in rows:
        print(f"| {label} | {rate:.2f} | {vs_naive:.2f} | {cpu} | {mem} |")
    for label, shares in SAVE.items():
        print(f"{label}: saving took {statistics.median(shares):.0%} of the batch's wall time (median)")
    shutil.rmtree(folder, ignore_errors=True)
    for kind in ("process pool", "Dask LocalCluster"):
        for suffix in ("", ", kept mandates"):
            one, two = rates.get(f"{kind}, 1 worker(s){suffix}"), rates.get(f"{kind}, 2 worker(s){suffix}")
            if one and two:
                per_round = [b / a for a, b in zip(one, two, strict=True)]
                print(
                    f"{kind}{suffix}: 2 workers / 1 worker = {statistics.median(per_round):.2f}× "
                    f"(median of the rounds' ratios; each round {', '.join(f'{x:.2f}' for x in per_round)})"
                )


if __name__ == "__main__":
    main()
