"""Solving the household problem: the solve loop with its wash-sale guard, and the result it builds.

    result = solve_household(inputs)            # HouseholdInputs → OptimizationResult
    print(result.explain())

The problem itself is the sum of its terms (``engine.optimizer.terms``) under its constraint groups
(``engine.optimizer.constraints``), compiled once per shape (``engine.optimizer.problem``); an infeasible
one is explained by ``engine.optimizer.diagnosis``.

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

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.errors import OptimizationError, SolverFailed
from engine.model import AccountType
from engine.optimizer.diagnosis import binding, diagnose
from engine.optimizer.inputs import HouseholdInputs, Prepared, WashSaleGuard, prepare
from engine.optimizer.problem import DEFAULT_CACHE, GROUPS, CacheStats, HouseholdProblem, ProblemCache
from engine.optimizer.result import (
    Holding,
    LotSale,
    OptimizationResult,
    TermValue,
    Timings,
    Trade,
    explain_result,
)
from engine.optimizer.shape import ShapeKey, lot_bucket, shape_key
from engine.optimizer.solvers import DEFAULT_CHAIN, SolveRecord, SolverName, SolverSpec, SolveStatus

__all__ = [
    "DEFAULT_CACHE",
    "GROUPS",
    "HOUSEHOLD_CHAIN",
    "CacheStats",
    "HouseholdOptimizer",
    "HouseholdProblem",
    "ProblemCache",
    "ShapeKey",
    "lot_bucket",
    "shape_key",
    "solve_household",
]

TRADE_TOL = 1e-7
"""Trades below this weight of household value are solver noise and are dropped."""

HOUSEHOLD_CHAIN: tuple[SolverSpec, ...] = (
    SolverSpec(SolverName.CLARABEL, {"iterative_refinement_enable": False}),
    *DEFAULT_CHAIN,
)
"""Clarabel without iterative refinement, then ``DEFAULT_CHAIN`` (Clarabel as shipped first).

The household problem is linear in its trades, and refinement of its KKT solves took ~40 % of Clarabel's
time without changing the iterations or the status (``benchmarks/batch.py``). Termination is still judged on
the true residuals, so a solve that needs refinement ends not "Solved" and the next link runs.
"""


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
                raise diagnose(prob, p, record, self.solver_chain)
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

    def _trades(self, prob: HouseholdProblem, p: Prepared) -> tuple[np.ndarray, np.ndarray]:
        buys = np.asarray(prob.v.b.value, dtype=float)
        buys = np.where(buys > TRADE_TOL, buys, 0.0)
        idx = p.slot_order
        s = np.asarray(prob.v.s.value, dtype=float)[: idx.size]
        return buys, np.clip(np.where(s > TRADE_TOL, s, 0.0), 0.0, p.lot_value[idx])


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
    prob: HouseholdProblem,
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
        binding=binding(prob, p),
        timings=timings,
        guard_directions={
            tk: directions[int(g)] for tk, g in zip(x.tickers, p.guard_group, strict=True) if int(g) in directions
        },
        notes=p.notes,
        explanation=(),
    )
    return explain_result(result, p)
