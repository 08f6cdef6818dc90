"""The per-household work function and the worker-side state that outlives a chunk.

    outcome = plan_one(household, day)          # a HouseholdOutcome: proposal, or the recorded failure
    outcomes = run_chunk(chunk, day)             # what every executor runs on a worker

Each worker process (or Dask worker thread) keeps one ``ProblemCache`` for its whole life, so a
problem shape is compiled once per worker, not once per household. A household's ``EngineError``
(infeasible, data gap, planning, broker) becomes a ``FAILED`` outcome; any other exception an
``ERROR`` outcome with its type and message — the batch always goes on.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np

from engine.batch.day import Day
from engine.batch.types import ChunkReport, HouseholdOutcome, OutcomeStatus
from engine.errors import DataError, EngineError
from engine.model import (
    AccountType,
    AssetClass,
    Household,
    Order,
    OrderSide,
    Proposal,
    RunKind,
)

__all__ = ["plan_one", "proposal_id", "run_chunk", "worker_cache"]

_local = threading.local()


def worker_cache() -> Any:
    """This worker thread's ``ProblemCache`` (created on first use, kept for the life of the worker)."""
    cache = getattr(_local, "cache", None)
    if cache is None:
        from engine.optimizer import ProblemCache

        cache = _local.cache = ProblemCache()
    return cache


def proposal_id(household: Household | str, day: Day) -> str:
    """The deterministic proposal id of a batch: ``batch-YYYYMMDD-<household id>``."""
    hid = household if isinstance(household, str) else household.id
    return f"batch-{day.as_of:%Y%m%d}-{hid}"


def plan_one(household: Household, day: Day) -> HouseholdOutcome:
    """Plan one household on ``day``; never raises for a household's own problem (see module docstring)."""
    start = time.perf_counter()
    try:
        proposal = _plan(household, day)
    except EngineError as exc:
        return HouseholdOutcome(
            household.id, OutcomeStatus.FAILED, None, type(exc).__name__, str(exc), time.perf_counter() - start
        )
    except Exception as exc:
        return HouseholdOutcome(
            household.id, OutcomeStatus.ERROR, None, type(exc).__name__, str(exc), time.perf_counter() - start
        )
    return HouseholdOutcome(household.id, OutcomeStatus.PLANNED, proposal, None, None, time.perf_counter() - start)


def run_chunk(households: Sequence[Household], day: Day) -> ChunkReport:
    """Plan every household of a chunk with this worker's cache; returns outcomes and worker memory."""
    start = time.perf_counter()
    outcomes = tuple(plan_one(h, day) for h in households)
    stats = worker_cache().stats()
    rss = _rss_bytes()
    return ChunkReport(
        outcomes=outcomes,
        worker=f"{os.getpid()}-{threading.get_ident()}",
        seconds=time.perf_counter() - start,
        rss_bytes=rss,
        peak_rss_bytes=max(_peak_rss_bytes(), rss),
        compiled=stats.misses,
        compile_seconds=stats.compile_time,
    )


def _plan(household: Household, day: Day) -> Proposal:
    if day.engine is not None:
        return day.engine.plan(household, day.as_of, estimates=day.estimates, proposal_id=proposal_id(household, day))
    return _plan_with_optimizer(household, day)


# ---------------------------------------------------------------------------------------------
# Until the Engine facade lands: the optimizer's public API, fed from the household and the day.
# ---------------------------------------------------------------------------------------------

_EQUITY_SPLIT = {
    AssetClass.US_EQUITY: 0.6,
    AssetClass.INTL_EQUITY: 0.25,
    AssetClass.EM_EQUITY: 0.08,
    AssetClass.REAL_ESTATE: 0.07,
}
_BOND_SPLIT = {AssetClass.US_BONDS: 0.7, AssetClass.TIPS: 0.15, AssetClass.INTL_BONDS: 0.15}


@dataclass(frozen=True, slots=True)
class _Mix:
    """A strategic class mix (sums to 1) from the risk willingness: equity 15 %…87 %, 2 % cash."""

    weights: dict[AssetClass, float]

    @staticmethod
    def for_household(household: Household) -> _Mix:
        equity = 0.15 + 0.08 * (household.risk.willingness - 1)
        cash = 0.02
        mix = {c: equity * s for c, s in _EQUITY_SPLIT.items()}
        mix.update({c: (1 - equity - cash) * s for c, s in _BOND_SPLIT.items()})
        mix[AssetClass.CASH] = cash
        return _Mix(mix)


def _inputs(household: Household, day: Day) -> Any:
    from engine.optimizer import HouseholdInputs, LotInputs

    tickers = day.tickers
    index = {t: i for i, t in enumerate(tickers)}
    accounts = tuple(a.id for a in household.accounts)
    acc_index = {a: i for i, a in enumerate(accounts)}
    n_lots = len(household.lots)
    acc, ast = np.zeros(n_lots, dtype=int), np.zeros(n_lots, dtype=int)
    shares, basis, long_term = np.zeros(n_lots), np.zeros(n_lots), np.zeros(n_lots, dtype=bool)
    for j, lot in enumerate(household.lots):
        i = index.get(lot.symbol)
        if i is None:
            raise DataError(
                f"household {household.id} holds {lot.symbol} (lot {lot.id}), which has no price on "
                f"{day.as_of}; update the data (robo data update) or add the fund to the universe",
                ticker=lot.symbol,
                day=day.as_of,
                household=household.id,
            )
        acc[j], ast[j] = acc_index[lot.account], i
        shares[j], basis[j] = float(lot.shares), float(lot.basis)
        long_term[j] = (day.as_of - lot.acquired).days > 365
    est = day.estimates.subset(tickers) if tuple(day.estimates.tickers) != tickers else day.estimates
    assets = [day.universe[t] for t in tickers]
    types = tuple(a.type for a in household.accounts)
    drag = np.zeros((len(accounts), len(tickers)))
    for i, t in enumerate(types):
        if t is AccountType.TAXABLE:
            drag[i] = [
                a.dividend_yield
                * (1 - a.tax_exempt_share)
                * (0.15 * a.qualified_share + 0.32 * (1 - a.qualified_share))
                for a in assets
            ]
    values = household.values
    excluded = np.array(
        [
            t in values.exclude_tickers or bool(a.tags & values.exclude_tags)
            for t, a in zip(tickers, assets, strict=True)
        ]
    )
    groups: dict[str, int] = {}
    guard = np.array(
        [groups.setdefault(a.substitute_group or t, len(groups)) for t, a in zip(tickers, assets, strict=True)]
    )
    mix = _Mix.for_household(household).weights
    income = float(household.tax.ordinary_income)
    st_rate = min(0.37, 0.12 + income / 1_000_000) + household.tax.state_rate
    return HouseholdInputs(
        household_id=household.id,
        as_of=day.as_of,
        tickers=tickers,
        prices=np.array([day.prices[t] for t in tickers]),
        asset_class=tuple(a.asset_class for a in assets),
        accounts=accounts,
        account_types=types,
        cash=np.array([float(a.cash) for a in household.accounts]),
        lots=LotInputs(tuple(lot.id for lot in household.lots), acc, ast, shares, basis, long_term)
        if n_lots
        else LotInputs.empty(),
        mu=est.mu,
        cov=est.cov,
        strategic_mix=mix,
        class_bands={c: (max(0.0, w - 0.05), min(1.0, w + 0.05)) for c, w in mix.items()},
        risk_aversion=2.0 + 0.5 * (10 - household.risk.willingness),
        st_rate=min(st_rate, 0.5),
        lt_rate=min(0.15 + household.tax.state_rate, 0.5),
        tax_drag=drag,
        excluded=excluded,
        guard_group=guard,
        max_position=0.4,
        esg_tilt=values.tilt,
    )


def _plan_with_optimizer(household: Household, day: Day) -> Proposal:
    from engine.optimizer import solve_household

    result = solve_household(_inputs(household, day), cache=worker_cache())
    pid = proposal_id(household, day)
    orders: list[Order] = []
    for trade in sorted(result.trades, key=lambda t: (t.side != "sell", t.account, t.ticker)):
        if trade.value < 1.0:
            continue
        cid = f"{pid}-{len(orders):03d}"
        if trade.side == "sell":
            qty = Decimal(str(round(trade.shares, 9)))
            if qty > 0:
                orders.append(
                    Order(
                        cid,
                        trade.account,
                        trade.ticker,
                        OrderSide.SELL,
                        qty=qty,
                        lots=tuple(s.lot_id for s in trade.lots),
                    )
                )
        else:
            orders.append(
                Order(cid, trade.account, trade.ticker, OrderSide.BUY, notional=Decimal(str(round(trade.value, 2))))
            )
    return Proposal(
        id=pid,
        household=household.id,
        as_of=day.as_of,
        created=datetime.now(UTC),
        trigger="batch",
        run_kind=RunKind.FULL_REBALANCE,
        targets=dict(result.targets),
        orders=tuple(orders),
        explanation=tuple(result.explanation),
        details={
            "solver": str(result.solver),
            "solve_seconds": result.timings.wall_time,
            "solver_seconds": result.timings.solver_time,
            "passes": result.timings.passes,
        },
    )


def _rss_bytes() -> int:
    """Resident set size of this process now (bytes; 0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):  # pragma: no cover - not Linux
        return 0


def _peak_rss_bytes() -> int:
    """Peak resident set size of this process (bytes)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) * (1 if os.uname().sysname == "Darwin" else 1024)
