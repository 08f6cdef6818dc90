"""The direct-index sleeve: single stocks tracking a benchmark, harvested lot by lot, with company-level values.

    inputs = sleeve_inputs(ledger, "taxable", universe, model, prices, day, benchmark=b, fund="IVV", rules=rules)
    result = DirectIndexSleeve.for_inputs(inputs).solve(inputs)   # compiled once per shape, then values only
    result.weights, result.tracking_error, result.sells, result.exclusion_costs

One convex problem over the sleeve's value V (stocks + the index fund it moves out of + investable cash), in
weights (fractions of V) and annual units:

    minimise   κ·TE² + Σ_j τ_j g_j z_j + c·(Σ z + Σ p) − (μ + tilt)ᵀw
    subject to w = h − Σ_lots z + p,  Σ p − Σ z ≤ cash,  0 ≤ z ≤ lot weight,  0 ≤ p ≤ buy_ok,  0 ≤ w ≤ ub,
               TE² = ‖Bᵀa‖² + ‖√d∘a‖² ≤ TE_max²,  a = w_stocks + w_fund·b − b,  Σ_j τ_j g_j z_j ≤ tax budget

z are sells per lot slot (a stock's lots cheapest first in at most ``lot_slots`` slots; more lots share a slot at
the chord of their convex cost curve), p buys per asset, g_j the gain per dollar of lot j, τ_j its rate.
The index fund is modelled as holding the benchmark
(its look-through), so selling it into stocks changes tracking only by what the stocks miss. Exclusions set
``ub`` = 0 (they hold in every solve). Wash-sale rule across share classes: buys of a group that sold at a loss
in the last 30 days are blocked (``LotLedger.blocked_buys``); a loss lot of a group with a purchase in the last
30 days earns no tax credit (its loss would be deferred); and in a group with a harvestable loss lot no buy is
allowed in the same solve, so a harvest is never washed by its own replacement. No result holds both a sale and
a buy of one share-class group: ``solve`` nets them (``_net_same_day``), for every caller.

Compiled form (the same optimum, a smaller KKT system): the solver sees the trades, sell and p per asset, with
w = h − sell + p; each asset's slots, cheapest first, become a convex piecewise-linear tax curve under one epigraph
variable (an LP with one sell variable per slot relieves them in that order at any optimum); holdings that must go
(upper bound 0) are sold before the solve. ``solve_sleeves`` solves a batch with one compiled problem per shape.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import ClassVar

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from engine.data.stocks import StockUniverse
from engine.errors import ConfigError, Infeasible, OptimizationError
from engine.estimates.sector_model import SectorRiskModel
from engine.model import Lot
from engine.optimizer.solvers import DEFAULT_CHAIN, CompiledProblem, SolverName, SolverSpec, SolveStatus
from engine.tax.ledger import WASH_SALE_DAYS, LotLedger, long_term_from

__all__ = [
    "DirectIndexSleeve",
    "Exclusion",
    "ExclusionCost",
    "SleeveInputs",
    "SleeveResult",
    "SleeveRules",
    "SleeveSell",
    "sleeve_inputs",
    "solve_sleeves",
]

#: Tobacco; aerospace & defense; oil, gas & coal — GICS sub-industries (GICS structure, MSCI/S&P, 2023).
TOBACCO = ("Tobacco",)
DEFENSE = ("Aerospace & Defense",)
FOSSIL = ("Integrated Oil & Gas", "Oil & Gas Exploration & Production", "Oil & Gas Refining & Marketing",
          "Oil & Gas Storage & Transportation", "Oil & Gas Drilling", "Oil & Gas Equipment & Services",
          "Coal & Consumable Fuels")


#: Compiled sleeve problems kept per process (one per shape: assets, factors, lot slots, sector map).
CACHE_SHAPES = 8
#: Smallest trade reported (fraction of the sleeve): below it a value is the solver's tolerance, not a trade.
MIN_TRADE = 1e-5
#: Objective cost per unit of TE² above the limit (annual-return units): 1 %/yr of TE over a 1.5 % limit costs ≈ 4.
OVER_LIMIT_PENALTY = 1e4
#: Clarabel settings for the sleeve. Static KKT regularization 1e-7 (default 1e-8): on the S&P 500 set the default
#: ended 4 of 16 solves "AlmostSolved" (primal residual stalled near 1e-7, so the fallback chain ran SCS for
#: seconds); 1e-7 solved all 16. At most 3 iterative-refinement steps (default 10) keep its solve as fast as the
#: default's. The termination tolerances, and so the accuracy of an accepted answer, are Clarabel's defaults.
CLARABEL_OPTIONS = {"static_regularization_constant": 1e-7, "iterative_refinement_max_iter": 3}
#: The sleeve's solver chain: Clarabel, taking its "AlmostSolved" answers (reduced tolerances, 1e-4 relative) before
#: the fallbacks. Over the 21-year S&P 500 backtest a few solves in a hundred end "AlmostSolved" even with the
#: settings above; each fell back to SCS for ~1.7 s, which made the run several times slower. The answer is rounded
#: to trades of at least MIN_TRADE, and netting and the tax are recomputed from the trades afterwards.
SLEEVE_CHAIN: tuple[SolverSpec, ...] = (SolverSpec(SolverName.CLARABEL, accept_reduced=True), *DEFAULT_CHAIN[1:])
#: The second harvest pass is skipped when the reduced costs of the buys it re-opens are at most DUAL_TOL
#: (objective units, the solver's tolerance) and the first pass sold at most FROZEN_TOL of those assets.
DUAL_TOL = 1e-8
FROZEN_TOL = 1e-6  # a tenth of MIN_TRADE: the interior point leaves ~1e-7 where the answer is 0


@dataclass(frozen=True, slots=True)
class Exclusion:
    """One company-level exclusion: ``tickers`` (names), ``sectors`` or ``sub_industries`` (GICS), or an ESG score
    below ``esg_below`` (only where the universe has a score: a stock without one is not excluded by it)."""

    label: str
    tickers: tuple[str, ...] = ()
    sectors: tuple[str, ...] = ()
    sub_industries: tuple[str, ...] = ()
    esg_below: float | None = None

    def matches(self, universe: StockUniverse) -> list[str]:
        """Tickers of ``universe`` this exclusion removes (a name excludes all its share classes)."""
        names = {t.strip().upper() for t in self.tickers}
        issuers = {universe[t].issuer.casefold() for t in names if t in universe}
        secs = {s.casefold() for s in self.sectors}
        subs = {s.casefold() for s in self.sub_industries}
        return [s.ticker for s in universe.stocks
                if s.ticker in names or s.issuer.casefold() in issuers or s.sector.casefold() in secs
                or (s.sub_industry and s.sub_industry.casefold() in subs)
                or (self.esg_below is not None and s.esg_score is not None and s.esg_score < self.esg_below)]

    @classmethod
    def tobacco(cls) -> Exclusion:
        """GICS sub-industry Tobacco."""
        return cls("tobacco", sub_industries=TOBACCO)

    @classmethod
    def defense(cls) -> Exclusion:
        """GICS sub-industry Aerospace & Defense."""
        return cls("aerospace & defense", sub_industries=DEFENSE)

    @classmethod
    def fossil_fuels(cls) -> Exclusion:
        """Oil, gas & coal: the GICS oil & gas sub-industries and Coal & Consumable Fuels."""
        return cls("oil, gas & coal", sub_industries=FOSSIL)


@dataclass(frozen=True)
class SleeveRules:
    """The sleeve's mandate: annual tracking-error limit (fraction), tax budget (USD of net tax on the trades),
    exclusions, tilts (annual return added per ticker, fraction), max weight per stock (fraction of the sleeve),
    trading cost (fraction of traded value), risk aversion κ on TE², tax rates and the harvest threshold.
    """

    te_limit: float = 0.015
    tax_budget: float | None = None
    exclusions: tuple[Exclusion, ...] = ()
    tilts: Mapping[str, float] = field(default_factory=dict)
    max_weight: float = 0.10
    cost: float = 0.0005
    risk_aversion: float = 10.0
    short_rate: float = 0.37
    long_rate: float = 0.20
    min_loss: float = 0.05  # a lot is a harvest candidate when its loss is ≥ 5 % of its value
    # Penalty per unit of index-fund weight still held (annual-return units): 1.0 moves out of the fund as fast as
    # the tax budget allows (the fund holds what the exclusions forbid); 0 sells it only where tracking pays.
    fund_exit: float = 1.0
    lot_slots: int = 4  # pieces of each stock's tax curve; more lots than this share slots (see sleeve_inputs)
    second_pass: bool = True  # re-open buys in groups the first pass did not harvest (docs/direct-indexing.md)

    def __post_init__(self) -> None:
        for name in ("te_limit", "max_weight", "cost", "risk_aversion", "short_rate", "long_rate", "min_loss",
                     "fund_exit"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
                raise ConfigError("must be a finite number ≥ 0", field=f"SleeveRules.{name}", value=v)
        if not isinstance(self.lot_slots, int) or self.lot_slots < 1:
            raise ConfigError("must be an integer ≥ 1", field="SleeveRules.lot_slots", value=self.lot_slots)
        if self.te_limit <= 0 or self.max_weight <= 0:
            raise ConfigError("te_limit and max_weight must be > 0", field="SleeveRules", value=(self.te_limit,
                              self.max_weight), fix="e.g. te_limit=0.015 (1.5 %/yr), max_weight=0.1")


@dataclass(frozen=True)
class SleeveInputs:
    """Plain arrays for one solve: assets are the n stocks then (if ``fund``) the index fund; lots sit in
    ``slots`` per asset. Weights are fractions of the sleeve value ``value`` (USD)."""

    universe: StockUniverse
    fund: str | None
    value: float
    benchmark: np.ndarray  # n
    sector_index: np.ndarray  # n, each stock's factor (sector) column
    factor_sqrt: np.ndarray  # k×k, G with G Gᵀ = F
    specific_sd: np.ndarray  # n
    mu: np.ndarray  # n+f, annual
    tilt: np.ndarray  # n+f
    ub: np.ndarray  # n+f
    buy_ok: np.ndarray  # n+f, 1 or 0
    held: np.ndarray  # n+f
    lot_weight: np.ndarray  # (n+f)×slots
    lot_tax: np.ndarray  # (n+f)×slots, tax per unit weight sold (negative: a harvest credit)
    lot_ids: list[list[tuple[tuple[str, float, float], ...]]]  # per asset and slot: (lot id, weight, tax/weight)
    cash: float
    rules: SleeveRules
    excluded: dict[str, list[str]]  # exclusion label → tickers
    notes: list[str]
    harvest_block: np.ndarray | None = None  # m bools: buy blocked only because the group holds a harvestable loss
    group_id: np.ndarray | None = None  # m ints: share-class group of each asset
    slot_loss: np.ndarray | None = None  # m×slots bools: the slot holds a loss lot (None: read from lot_ids)

    def loss_slots(self) -> np.ndarray:
        """m×slots bools: the slot holds a lot sold at a loss (negative tax per weight)."""
        if self.slot_loss is not None:
            return self.slot_loss
        out = np.zeros(self.lot_weight.shape, dtype=bool)
        for i, slots in enumerate(self.lot_ids):
            for s_, lots in enumerate(slots):
                out[i, s_] = any(tax < 0 for _, _, tax in lots)
        return out

    @property
    def shape(self) -> tuple[int, int, int]:
        """(assets, factors, slots): the compiled problem's key."""
        return (len(self.ub), self.factor_sqrt.shape[0], self.lot_weight.shape[1])

    @property
    def loadings(self) -> np.ndarray:
        """B = X G (n×k): B Bᵀ = X F Xᵀ."""
        x = np.zeros((len(self.sector_index), self.factor_sqrt.shape[0]))
        x[np.arange(len(self.sector_index)), self.sector_index] = 1.0
        loadings: np.ndarray = x @ self.factor_sqrt
        return loadings


@dataclass(frozen=True, slots=True)
class SleeveSell:
    """A lot the solve sells: weight (fraction of the sleeve), USD value and the net tax it triggers (USD)."""

    lot_id: str
    symbol: str
    weight: float
    value: float
    tax: float


@dataclass(frozen=True, slots=True)
class ExclusionCost:
    """What one exclusion costs: tracking error (annual fraction) and expected return (annual) vs dropping it."""

    label: str
    tickers: tuple[str, ...]
    benchmark_weight: float
    tracking_error: float
    expected_return: float


@dataclass(frozen=True)
class SleeveResult:
    """Target weights per asset (fractions of the sleeve), tracking error (annual), trades and explanation."""

    weights: dict[str, float]
    tracking_error: float
    expected_active_return: float
    net_tax: float  # USD
    sells: list[SleeveSell]
    buys: dict[str, float]  # ticker → weight bought
    names_held: int
    solve_seconds: float
    passes: int  # 2 when the second pass re-opened buys in groups the first pass did not harvest
    exclusion_costs: list[ExclusionCost]
    explanation: list[str]
    solves: int = 1  # solver runs for the plan: +1 when the second pass re-solved, +1 when netting needed a re-solve
    # USD the netting of a share-class group sold and bought in one solve added to the solve's net tax (a washed
    # loss's credit not taken, less the tax of a gain sale not made); net_tax already includes it.
    netted_tax: float = 0.0


def _net_same_day(
    x: SleeveInputs, w: np.ndarray, p: np.ndarray, lot_sales: list[tuple[int, str, float, float]]
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, str, float, float]], set[int]]:
    """The solve's trades with no share-class group both sold and bought: each such group's sales and buys are
    both reduced by the smaller of the two (IRC §1091: a purchase the same day washes a loss sold, and a round
    trip of a gain lot only realizes tax). Why not in the problem: "sell or buy, not both" is not convex.

    Within one ticker first (its weight is unchanged), then across the group's share classes (the sold class keeps
    more, never above what it holds; the bought classes get less, pro rata). Sales are cut from the most taxed lot
    down, so what remains relieves the lots the solve chose in its cheapest-first order. A sale forced by an
    exclusion (upper bound 0) is never cut: the group's buys go instead. Cash only rises (Σ buys − Σ sales falls).

    Returns (weights, buys, lot sales (asset, lot id, weight, tax per weight), the groups netted).
    """
    m = len(w)
    gid = x.group_id if x.group_id is not None else np.arange(m)
    take = [t for _, _, t, _ in lot_sales]
    sold = np.zeros(m)
    for i, _, t, _ in lot_sales:
        sold[i] += t
    bought = np.where(p > MIN_TRADE, p, 0.0)
    both = set(gid[sold > 0].tolist()) & set(gid[bought > 0].tolist())
    if not both:
        return w, p, lot_sales, set()
    forced = x.ub <= 0
    dropped = np.zeros(m)  # sales cut, per asset
    cut = np.zeros(m)  # buys cut, per asset
    ranked = sorted(range(len(lot_sales)), key=lambda k: -lot_sales[k][3])  # most taxed first

    def drop(assets: set[int], amount: float) -> None:
        for k in ranked:
            i = lot_sales[k][0]
            if amount <= 0:
                return
            if i in assets and not forced[i]:
                d = min(amount, take[k])
                take[k] -= d
                dropped[i] += d
                amount -= d

    for g in sorted(both):
        members = np.flatnonzero(gid == g).tolist()
        for i in members:  # the same ticker: its weight stays
            q = min(sold[i], bought[i]) if not forced[i] else 0.0
            if q > 0:
                drop({i}, q)
                cut[i] += q
        rest_buy = bought[members] - cut[members]
        rest_sold = sold[members] - dropped[members]
        want = float(rest_buy.sum())
        if want <= 0 or rest_sold.sum() <= 0:
            continue
        q = min(float(rest_sold.sum()), want)
        drop(set(members), q)
        # What a forced sale leaves sold cannot be cut, so then the group's buys go in full.
        left = float((sold[members] - dropped[members]).sum())
        q_buy = want if left > MIN_TRADE else q
        cut[members] += rest_buy * (q_buy / want)
    p = p - cut
    w = np.clip(w + dropped - cut, 0.0, None)
    kept = [(i, lot_id, take[k], tax) for k, (i, lot_id, _, tax) in enumerate(lot_sales) if take[k] > MIN_TRADE]
    return w, p, kept, both


def _slots(count: int) -> int:
    return 1 << max(0, math.ceil(math.log2(max(count, 1))))


def sleeve_inputs(
    ledger: LotLedger,
    accounts: str | Sequence[str],
    universe: StockUniverse,
    model: SectorRiskModel,
    prices: Mapping[str, float],
    on: date,
    *,
    benchmark: np.ndarray,
    rules: SleeveRules,
    fund: str | None = None,
    cash: float = 0.0,
    mu: np.ndarray | None = None,
) -> SleeveInputs:
    """Arrays for one solve from the ledger's open lots in ``accounts`` (taxable, usually), priced at ``prices``
    (USD/share on ``on``), with ``cash`` USD to invest. The risk model must cover the universe in its order.

    Raises:
        ConfigError: a held stock outside the universe, a missing price, a benchmark of the wrong length, or a
            sleeve worth nothing.
    """
    accts = [accounts] if isinstance(accounts, str) else list(accounts)
    n = len(universe)
    tickers = universe.tickers
    if tuple(model.tickers) != tuple(tickers):
        model = model.subset(tickers)
    b = np.asarray(benchmark, dtype=float)
    if b.shape != (n,) or abs(b.sum() - 1) > 1e-6 or (b < 0).any():
        raise ConfigError("benchmark must be n weights ≥ 0 summing to 1 in universe order", field="benchmark",
                          value=b.shape)
    assets = tickers + ([fund.upper()] if fund else [])
    pos = {t: i for i, t in enumerate(assets)}
    m = len(assets)
    every = ledger.open_lots()  # every account: purchases anywhere can wash a loss (IRC §1091)
    by_account: dict[str, list[Lot]] = {a: [] for a in accts}
    for lot in every:
        if lot.account in by_account:
            by_account[lot.account].append(lot)
    lots: list[Lot] = [lot for a in accts for lot in by_account[a]]
    held_symbols = {lot.symbol for lot in lots}
    strangers = sorted(held_symbols - set(pos))
    if strangers:
        raise ConfigError("the sleeve's accounts hold stocks outside the universe", field="lots", value=strangers[:5],
                          fix="add them to the universe (to keep or sell them) or move them out of the sleeve")
    price = np.full(m, np.nan)
    for t in held_symbols | set(assets):
        p = prices.get(t)
        if p is None or not (p > 0 and math.isfinite(p)):
            if t in held_symbols:
                raise ConfigError("no price for a held stock", field=f"prices.{t}", value=p, fix="price every holding")
            continue
        price[pos[t]] = float(p)
    # One row per lot, as arrays (the per-lot work below is numpy group-bys, not Python loops).
    lo = on - timedelta(days=WASH_SALE_DAYS)
    symbol = [lot.symbol for lot in lots]
    acquired = [lot.acquired for lot in lots]
    purchased = [lot.purchased or lot.acquired for lot in lots]  # Lot sets purchased = acquired when not given
    lot_id = [lot.id for lot in lots]
    asset = np.array([pos[t] for t in symbol], dtype=np.intp)
    shares = np.array([lot.shares for lot in lots], dtype=float)
    basis = np.array([lot.basis for lot in lots], dtype=float)
    values = shares * price[asset]
    value = sum(values.tolist()) + float(cash)  # in lot order, as a plain sum: the same value to the last bit
    if value <= 0:
        raise ConfigError("the sleeve holds nothing and has no cash", field="cash", value=cash)
    counts = np.bincount(asset, minlength=m)
    slots = min(_slots(int(counts.max()) if len(lots) else 1), rules.lot_slots)
    # Share-class groups (ledger.identical_to), numbered; every symbol any account holds gets one.
    group_key: dict[frozenset[str], int] = {}
    symbol_group = {t: group_key.setdefault(ledger.identical_to(t), len(group_key))
                    for t in [*assets, *sorted({lot.symbol for lot in every} - set(pos))]}
    # Wash sales (IRC §1091) over share-class groups: purchases in the last 30 days, per group, in any account.
    recent_count = np.zeros(len(group_key), dtype=int)
    for lot in every:
        if lot.replaceable and lo <= (lot.purchased or lot.acquired) <= on:
            recent_count[symbol_group[lot.symbol]] += 1
    lot_group = np.array([symbol_group[t] for t in symbol], dtype=np.intp)
    recent_day = {d: lo <= d <= on for d in set(purchased)}
    own_recent = np.array([lot.replaceable and recent_day[d] for lot, d in zip(lots, purchased, strict=True)],
                          dtype=bool)
    short_day = {d: on < long_term_from(d) for d in set(acquired)}
    short = np.array([short_day[d] for d in acquired], dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(values > 0, (values - basis) / values, 0.0)
    tax = np.where(short, rules.short_rate, rules.long_rate) * gain
    # A loss lot of a group with another recent purchase earns no credit: its loss would be washed into it.
    washed_lot = (gain < 0) & (recent_count[lot_group] - own_recent > 0)
    tax[washed_lot] = 0.0
    washed = int(washed_lot.sum())
    harvest_groups = set(lot_group[(gain < 0) & ~washed_lot & (-gain >= rules.min_loss)].tolist())
    weight = values / value
    notes: list[str] = []
    # Cheapest lots first (a sale of this stock relieves them in this order); beyond `slots` lots, neighbours
    # in that order share a slot at their weighted mean tax: the chord of a convex cost curve, so the modelled
    # tax is never below what relieving the lots in order realizes (the tax budget holds). The split is
    # np.array_split's: the first L mod S slots of an asset with L lots get one lot more.
    order = np.lexsort((np.array(lot_id, dtype=str), tax, asset)) if lots else np.zeros(0, dtype=np.intp)
    a_s, w_s, t_s = asset[order], weight[order], tax[order]
    first = np.concatenate([[0], np.cumsum(counts)])[:-1]
    rank = np.arange(len(order)) - first[a_s]
    size = counts[a_s]
    parts = np.minimum(slots, size)
    q, rem = size // np.maximum(parts, 1), size % np.maximum(parts, 1)
    big = rem * (q + 1)  # lots in the first `rem` (bigger) slots
    slot = np.where(rank < big, rank // (q + 1), rem + (rank - big) // np.maximum(q, 1))
    cell = a_s * slots + slot
    lot_w = np.bincount(cell, weights=w_s, minlength=m * slots).reshape(m, slots)
    slot_loss = np.bincount(cell, weights=t_s < 0, minlength=m * slots).reshape(m, slots) > 0
    taxed = np.bincount(cell, weights=t_s * w_s, minlength=m * slots).reshape(m, slots)
    with np.errstate(divide="ignore", invalid="ignore"):
        lot_tax = np.where(lot_w > 0, taxed / lot_w, 0.0)
    ids: list[list[tuple[tuple[str, float, float], ...]]] = [[] for _ in assets]
    rows = list(zip([lot_id[j] for j in order.tolist()], w_s.tolist(), t_s.tolist(), strict=True))
    if lots:
        bounds = (np.flatnonzero(np.diff(cell)) + 1).tolist()
        starts = [0, *bounds]
        for a, lo_, hi in zip(a_s[starts].tolist(), starts, [*bounds, len(cell)], strict=True):
            ids[a].append(tuple(rows[lo_:hi]))
    blocked = set(ledger.blocked_buys(assets, on))
    buy_ok = np.ones(m)
    group_id = np.array([symbol_group[t] for t in assets], dtype=int)
    harvest_block = np.isin(group_id, list(harvest_groups))
    stop = np.array([t in blocked for t in assets], dtype=bool)
    harvest_block &= ~stop
    buy_ok[stop | harvest_block] = 0.0
    if blocked:
        notes.append(f"no buy of {', '.join(sorted(blocked))}: a loss sold in the last 30 days (IRC §1091)")
    if washed:
        notes.append(f"{washed} loss lots sit within 30 days of a purchase of the same group: no harvest credit")
    if fund:
        buy_ok[pos[fund.upper()]] = 0.0  # the sleeve moves out of the fund, never into it
    ub = np.full(m, float(rules.max_weight))
    if fund:
        ub[-1] = 1.0
    excluded: dict[str, list[str]] = {}
    for ex in rules.exclusions:
        hit = ex.matches(universe)
        excluded[ex.label] = hit
        for t in hit:
            ub[pos[t]] = 0.0
    tilt = np.zeros(m)
    for t, x in rules.tilts.items():
        if t.upper() not in pos:
            raise ConfigError("tilt for a ticker outside the universe", field=f"tilts.{t}", value=x)
        tilt[pos[t.upper()]] = float(x)
    if fund:
        tilt[-1] = -float(rules.fund_exit)
    mu_full = np.zeros(m)
    if mu is not None:
        mu_full[:n] = np.asarray(mu, dtype=float)
        if fund:
            mu_full[-1] = float(mu_full[:n] @ b)
    held = lot_w.sum(axis=1)
    return SleeveInputs(universe, fund.upper() if fund else None, value, b, model.sector_index, model.factor_sqrt(),
                        np.sqrt(model.specific_var), mu_full, tilt, ub, buy_ok, held, lot_w, lot_tax, ids,
                        float(cash) / value, rules, excluded, notes, harvest_block, group_id, slot_loss)


class DirectIndexSleeve:
    """The sleeve problem for one shape (assets, factors, lot slots), compiled once; ``solve`` assigns values.

    Use ``DirectIndexSleeve.for_inputs(inputs)`` to share one compiled problem per shape in this process.
    """

    _cache: ClassVar[dict[tuple[int, int, int, tuple[int, ...]], DirectIndexSleeve]] = {}

    def __init__(self, n_assets: int, n_factors: int, slots: int, sectors: tuple[int, ...]) -> None:
        m, k, s, n = n_assets, n_factors, slots, len(sectors)
        self.sectors = sectors
        self.shape = (m, k, s)
        self.n = n
        # The trade d = p − sell per asset is what the solver sees; the holdings h enter only through parameters
        # (the active weights before trading, the room below the upper bound), so no weight variable and no
        # equality per asset: a smaller KKT system than w = h − Σz + p (docs/direct-indexing.md, "Speed").
        self.gsqrt = cp.Parameter((k, k), name="factor_cov_sqrt")
        # X (stock → sector) is a constant of the compiled shape: Xᵀd is k sector sums, then Gᵀ(Xᵀd).
        xt = sp.csr_matrix((np.ones(n), (np.asarray(sectors, dtype=int), np.arange(n))), shape=(k, n))
        self.spec = cp.Parameter(n, nonneg=True, name="specific_sd")
        self.bench_f = cp.Parameter(k, name="benchmark_factor_exposure")  # Gᵀ Xᵀ b
        self.bench_s = cp.Parameter(n, nonneg=True, name="benchmark_specific")  # √d∘b
        self.act_f = cp.Parameter(k, name="factor_active_held")  # Gᵀ Xᵀ a₀, a₀ = h_stocks + h_fund·b − b
        self.act_s = cp.Parameter(n, name="specific_active_held")  # √d∘a₀
        self.ret = cp.Parameter(m, name="return_plus_tilt")
        # The objective's constant: the forced sales' tax and cost less (μ + tilt)ᵀh (see _assign).
        self.constant = cp.Parameter(name="objective_constant")
        self.room = cp.Parameter(m, name="room_below_upper")  # ub − h
        self.buy_ok = cp.Parameter(m, nonneg=True, name="buy_ok")
        self.sellable = cp.Parameter(m, nonneg=True, name="sellable")  # Σ of the open slots' weights
        # The tax of selling `sell` of an asset: its slots relieved cheapest first, a convex piecewise-linear
        # curve, max over slots j of slope_j·sell + intercept_j (one epigraph variable per asset, not one per slot).
        self.slope = cp.Parameter((m, s), name="slot_tax_slope")
        self.icpt = cp.Parameter((m, s), name="slot_tax_intercept")
        self.cash = cp.Parameter(name="cash")  # < 0: the sleeve must raise that much (its target is below its value)
        self.te2 = cp.Parameter(nonneg=True, name="te_limit_squared")
        self.budget = cp.Parameter(name="tax_budget")
        self.kappa = cp.Parameter(nonneg=True, name="risk_aversion")
        self.cost = cp.Parameter(nonneg=True, name="cost")
        self.sell = cp.Variable(m, name="sell")
        self.p = cp.Variable(m, name="buy")
        self.tax_by_asset = cp.Variable(m, name="tax")
        d = self.p - self.sell
        self.y = cp.Variable(k, name="sector_trade")
        factor_active = self.act_f + self.gsqrt.T @ self.y
        specific_active = self.act_s + cp.multiply(self.spec, d[:n])
        if m > n:  # selling the index fund sells its look-through, the benchmark
            factor_active = factor_active + d[n] * self.bench_f
            specific_active = specific_active + d[n] * self.bench_s
        self.te2_expr = cp.sum_squares(factor_active) + cp.sum_squares(specific_active)
        self.tax = cp.sum(self.tax_by_asset)
        # TE² through an epigraph variable, so κ multiplies a variable, not a parametrised expression (DPP).
        self.risk = cp.Variable(name="te_squared")
        self.excess = cp.Variable(name="te_squared_over_limit")
        objective = (self.kappa * self.risk + OVER_LIMIT_PENALTY * self.excess + self.tax
                     + self.cost * (cp.sum(self.sell) + cp.sum(self.p)) - self.ret @ d + self.constant)
        # w = h − sell + p ≥ 0 needs no row: sell ≤ sellable ≤ h and p ≥ 0.
        self.buy_floor, self.buy_cap = self.p >= 0, self.p <= self.buy_ok
        self.constraints = [
            self.y == xt @ d[:n],
            cp.sum(self.p) - cp.sum(self.sell) <= self.cash,  # what is not bought stays cash (zero risk, active −w)
            self.sell >= 0, self.sell <= self.sellable,
            *(self.tax_by_asset >= cp.multiply(self.slope[:, j], self.sell) + self.icpt[:, j] for j in range(s)),
            self.buy_floor, self.buy_cap,
            d <= self.room,
            # As a 1-vector: cvxpy hands this dual out with shape (1,), which the fast path then reads directly.
            cp.reshape(self.te2_expr, (1,), order="F") <= cp.reshape(self.risk, (1,), order="F"),
            # The limit is soft by a steep penalty: wash-sale blocks or the tax budget may keep today's holdings
            # above it, and a daily plan must still come out (solve() explains it, or raises when the exclusions
            # alone cannot meet the limit).
            self.risk <= self.te2 + self.excess,
            self.excess >= 0,
            self.tax <= self.budget,
        ]
        self.problem = cp.Problem(cp.Minimize(objective), self.constraints)
        start = time.perf_counter()
        self.compiled = CompiledProblem(self.problem, clarabel_options=CLARABEL_OPTIONS)
        self.compile_seconds = time.perf_counter() - start
        self._order: np.ndarray | None = None  # the last assignment's slots, cheapest first, per asset
        self._width: np.ndarray | None = None
        self._held: np.ndarray | None = None  # the holdings the solver trades from (forced sales made)
        self._forced: np.ndarray | None = None  # assets sold in full before the solve (upper bound 0)
        self._lot_weight: np.ndarray | None = None
        self._before: np.ndarray | None = None

    @classmethod
    def for_inputs(cls, inputs: SleeveInputs) -> DirectIndexSleeve:
        """The compiled problem for ``inputs``'s shape (built on first use, then reused)."""
        key = (*inputs.shape, tuple(int(i) for i in inputs.sector_index))
        sleeve = cls._cache.pop(key, None) or cls(*inputs.shape, key[3])
        cls._cache[key] = sleeve  # most recent last; the oldest shapes are dropped beyond CACHE_SHAPES
        while len(cls._cache) > CACHE_SHAPES:
            cls._cache.pop(next(iter(cls._cache)))
        return sleeve

    def _assign(self, x: SleeveInputs, ub: np.ndarray | None = None) -> None:
        r = x.rules
        n, k = self.n, self.shape[1]
        b, g = x.benchmark, x.factor_sqrt
        upper = x.ub if ub is None else ub
        # A holding whose upper bound is 0 (an exclusion) must be sold in full: that sale is made here, not by the
        # solver, whose sell variable would otherwise be pinned between two rows (s ≥ h and s ≤ h) with no
        # interior — an interior-point method can stall there. Its tax, cost and proceeds enter as constants.
        forced = (upper <= 0) & (x.held > 0)
        lot_weight = np.where(forced[:, None], 0.0, x.lot_weight)
        held = np.where(forced, 0.0, x.held)
        forced_tax = float(x.lot_tax[forced].ravel() @ x.lot_weight[forced].ravel())
        forced_sale = float(x.held[forced].sum())
        a0 = held[:n] + (held[n] if len(held) > n else 0.0) * b - b  # active weights before any trade

        def factor(v: np.ndarray) -> np.ndarray:  # Gᵀ Xᵀ v
            return np.asarray(g.T @ np.bincount(x.sector_index, weights=v, minlength=k), dtype=float)

        self.gsqrt.value = g
        self.spec.value = x.specific_sd
        self.bench_f.value = factor(b)
        self.bench_s.value = x.specific_sd * b
        self.act_f.value = factor(a0)
        self.act_s.value = x.specific_sd * a0
        ret = x.mu + x.tilt
        self.ret.value = ret
        self.constant.value = forced_tax + r.cost * forced_sale - float(ret @ held)
        self._held, self._forced, self._lot_weight = held, forced, x.lot_weight
        self.room.value = upper - held
        self.buy_ok.value = x.buy_ok
        self._tax_curve(lot_weight, x.lot_tax)
        self.cash.value = x.cash + forced_sale
        self.te2.value = r.te_limit**2
        # No budget: the most any sale can realize, plus 1 (never binding, and no 1e6 row to spoil the scaling).
        most = float(np.clip(x.lot_tax, 0.0, None).ravel() @ x.lot_weight.ravel()) + 1.0
        self.budget.value = (most if r.tax_budget is None else r.tax_budget / x.value) - forced_tax
        self.kappa.value = r.risk_aversion
        self.cost.value = r.cost

    def _tax_curve(self, weight: np.ndarray, tax: np.ndarray) -> None:
        """Each asset's tax of selling as a convex piecewise-linear curve: its slots cheapest first.

        The LP with one sell variable per slot (0 ≤ z ≤ slot weight) relieves the cheaper slots first at any
        optimum, so its tax is this curve, max_j slope_j·sell + intercept_j. A slot of zero weight gets its left
        neighbour's slope (the right one's when it has none): a supporting line, so it does not bend the curve.
        """
        order = np.argsort(tax, axis=1, kind="stable")
        width = np.take_along_axis(weight, order, 1)
        tau = np.take_along_axis(tax, order, 1)
        s = width.shape[1]
        j = np.arange(s)
        has = width > 0
        left = np.maximum.accumulate(np.where(has, j, -1), axis=1)
        right = np.minimum.accumulate(np.where(has, j, s)[:, ::-1], axis=1)[:, ::-1]
        src = np.where(left >= 0, left, np.where(right < s, right, -1))
        slope = np.where(src >= 0, np.take_along_axis(tau, np.clip(src, 0, None), 1), 0.0)
        before = np.cumsum(width, axis=1) - width  # weight of the cheaper slots
        taxed = np.cumsum(width * tau, axis=1) - width * tau  # their tax
        # A zero-weight slot's line would repeat a neighbour's row (an active duplicate: a degenerate KKT system
        # the interior point can stall on), so it is lowered by 1 and never binds; an asset with no open slot
        # keeps its first row, t ≥ 0.
        idle = ~has
        idle[:, 0] &= has.any(axis=1)
        self.slope.value = slope
        self.icpt.value = taxed - slope * before - idle
        self.sellable.value = before[:, -1] + width[:, -1]
        self._order, self._width, self._before = order, width, before

    def _solution(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(weights w ≥ 0, sells per slot z, buys p) of the last solve, z in the inputs' slot order."""
        assert self._held is not None and self._order is not None and self._width is not None
        assert self._forced is not None and self._lot_weight is not None
        assert self._before is not None
        sell = np.clip(np.asarray(self.sell.value, dtype=float).ravel(), 0.0, None)
        p = np.asarray(self.p.value, dtype=float).ravel()
        w = np.clip(self._held - sell + p, 0.0, None)
        z = np.empty_like(self._width)
        np.put_along_axis(z, self._order, np.clip(sell[:, None] - self._before, 0.0, self._width), 1)
        z[self._forced] = self._lot_weight[self._forced]  # sold in full before the solve
        return w, z, p

    def _run(self, x: SleeveInputs, what: str) -> float:
        start = time.perf_counter()
        record = self.compiled.solve(SLEEVE_CHAIN)
        if record.status is SolveStatus.INFEASIBLE:
            raise Infeasible(
                f"the direct-index sleeve is infeasible ({what}): the exclusions, tax budget "
                f"{x.rules.tax_budget} USD and tracking limit {x.rules.te_limit:.2%}/yr conflict; raise the tax "
                "budget or the tracking limit, or drop an exclusion",
                conflicts={"te_limit": x.rules.te_limit, "tax_budget": x.rules.tax_budget or 0.0},
            )
        if record.status is not SolveStatus.OPTIMAL:
            raise OptimizationError(f"the sleeve solve failed ({what}): {record.attempts}")
        return time.perf_counter() - start

    def solve(self, x: SleeveInputs, *, explain_exclusions: bool = True) -> SleeveResult:
        """Solve for ``x`` (parameters only); with ``explain_exclusions`` also price each exclusion by re-solving
        a pure tracking problem with and without it (κ only, no taxes: the cost of the values themselves).

        Raises:
            Infeasible: the constraints conflict (the message says which to relax).
            OptimizationError: every solver failed.
        """
        if x.shape != self.shape:
            raise OptimizationError(f"internal: inputs of shape {x.shape} given to a sleeve compiled for {self.shape}")
        self._assign(x)
        try:
            seconds = self._run(x, "the plan")
        except Infeasible as exc:
            raise self._diagnose(x) from exc
        x, released = self._release_unharvested(x) if x.rules.second_pass else (x, 0)
        solves = 1
        if released and not self._first_pass_stands(x):
            self._assign(x)
            seconds += self._run(x, "the plan, second pass")
            solves = 2
        assets = x.universe.tickers + ([x.fund] if x.fund else [])
        w, p, lot_sales, netted, modelled_tax = self._netted_trades(x)
        budget = x.rules.tax_budget
        if netted and budget is not None and sum(t * tax for _, _, t, tax in lot_sales) * x.value > budget + 0.5:
            # The solve met the tax budget only with the credit of losses the netting took back: solve again with
            # the loss lots of those groups kept, so the budget holds for the trades made.
            x = self._keep_netted_losses(x, netted)
            self._assign(x)
            seconds += self._run(x, "the plan, the netted groups' loss lots kept")
            solves += 1
            w, p, lot_sales, again, modelled_tax = self._netted_trades(x)
            netted |= again
        sells = [SleeveSell(lot_id, assets[i], take, take * x.value, take * tax * x.value)
                 for i, lot_id, take, tax in lot_sales]
        netted_tax = float(sum(s.tax for s in sells)) - modelled_tax
        te = self._te(x, w)
        over: list[str] = []
        if te > x.rules.te_limit * (1 + 1e-4) + 1e-6:
            least, _ = self._least_te(x)
            if least > x.rules.te_limit:
                raise Infeasible(
                    f"the direct-index sleeve is infeasible: the exclusions alone need a tracking error of at least "
                    f"{least:.2%}/yr, above the limit {x.rules.te_limit:.2%}/yr; raise the limit or drop an exclusion",
                    conflicts={"te_limit": least - x.rules.te_limit},
                )
            blocked = int((x.buy_ok[: self.n] == 0).sum())
            over.append(f"tracking error {te:.2%}/yr is above the limit {x.rules.te_limit:.2%}/yr today: "
                        f"{blocked} stocks may not be bought (wash-sale rule) and "
                        + ("no buy may replace what is sold" if x.rules.tax_budget is None
                           else f"the tax budget ${x.rules.tax_budget:,.0f} bounds the sales")
                        + "; it comes back within the limit as the 30-day windows lapse")
        if netted:
            over.append(f"{len(netted)} share-class group(s) both sold and bought by the solve were netted (a purchase "
                        "the same day would wash a loss sold, IRC §1091): the smaller side is not traded, "
                        f"net tax {netted_tax:+,.0f} USD against the solve's")
            if x.rules.tax_budget is not None and sum(s.tax for s in sells) > x.rules.tax_budget + 0.5:
                over.append(f"net tax ${sum(s.tax for s in sells):,.0f} is above the tax budget "
                            f"${x.rules.tax_budget:,.0f}: the solve counted the credit of losses a same-day "
                            "purchase would have washed")
        costs = self.exclusion_costs(x) if explain_exclusions and x.excluded else []
        active = self._active(x, w)
        expl = list(x.notes) + over
        expl.append(f"tracking error {te:.2%}/yr (limit {x.rules.te_limit:.2%}), {int((w[:self.n] > 1e-5).sum())} "
                    f"stocks held, {len(sells)} lots sold, net tax ${sum(s.tax for s in sells):,.0f}")
        for c in costs:
            expl.append(f"excluding {c.label} ({len(c.tickers)} stocks, {c.benchmark_weight:.1%} of the benchmark) "
                        f"costs {c.tracking_error:.3%}/yr of tracking error and {c.expected_return:+.3%}/yr of "
                        "expected return")
        return SleeveResult(
            weights={a: float(v) for a, v in zip(assets, w, strict=True) if v > 1e-7},
            tracking_error=te,
            expected_active_return=float(x.mu[:self.n] @ active),
            net_tax=float(sum(s.tax for s in sells)),
            sells=sells,
            buys={a: float(v) for a, v in zip(assets, p, strict=True) if v > MIN_TRADE},
            names_held=int((w[:self.n] > 1e-5).sum()),
            solve_seconds=seconds,
            passes=2 if released else 1,
            solves=solves,
            netted_tax=netted_tax,
            exclusion_costs=costs,
            explanation=expl,
        )

    def _netted_trades(
        self, x: SleeveInputs
    ) -> tuple[np.ndarray, np.ndarray, list[tuple[int, str, float, float]], set[int], float]:
        """The last solve's trades, lot by lot, netted (``_net_same_day``): (weights, buys, lot sales (asset, lot id,
        weight, tax per weight), the groups netted, the solve's own net tax in USD before netting)."""
        w, z, p = self._solution()
        lot_sales: list[tuple[int, str, float, float]] = []
        for i, s in zip(*np.nonzero(z > MIN_TRADE), strict=True):  # a smaller sale sells no lot above MIN_TRADE
            left = float(z[i, s])
            for lot_id, weight, tax in x.lot_ids[i][s]:  # relieve the slot's lots cheapest first
                take = min(left, weight)
                if take > MIN_TRADE:
                    lot_sales.append((int(i), lot_id, take, tax))
                left -= take
                if left <= 1e-9:
                    break
        modelled_tax = sum(take * tax for _, _, take, tax in lot_sales) * x.value
        w, p, lot_sales, netted = _net_same_day(x, w, p, lot_sales)
        return w, p, lot_sales, netted, modelled_tax

    @staticmethod
    def _keep_netted_losses(x: SleeveInputs, netted: set[int]) -> SleeveInputs:
        """``x`` with the loss lots of the ``netted`` share-class groups unsellable today (their slots' sell bound
        0; the holdings are unchanged): a sale of one beside the group's buy would be washed."""
        gid = x.group_id if x.group_id is not None else np.arange(len(x.ub))
        frozen = np.isin(gid, sorted(netted))[:, None] & x.loss_slots()
        return replace(x, lot_weight=np.where(frozen, 0.0, x.lot_weight),
                       notes=[*x.notes, f"{len(netted)} share-class group(s) bought today keep their loss lots "
                                        "(the tax budget holds without their washed credit)"])

    def _release_unharvested(self, x: SleeveInputs) -> tuple[SleeveInputs, int]:
        """Second pass of the harvest rule: groups whose buys were blocked for a harvest the first pass did not
        make may be bought again; their loss lots then earn no credit (a sale beside a buy would be washed).

        Returns the new inputs and how many groups were released (0: the first pass stands).
        """
        if x.harvest_block is None or x.group_id is None or not x.harvest_block.any():
            return x, 0
        z = self._solution()[1]
        loss = x.loss_slots()
        # A group is harvested when a sold slot holds a loss lot (so pass 1's solution stays feasible in pass 2).
        harvested = set(x.group_id[((z > MIN_TRADE) & loss).any(axis=1)].tolist())
        release = x.harvest_block & ~np.isin(x.group_id, list(harvested)) & (x.ub > 0)
        if not release.any():
            return x, 0
        buy_ok = x.buy_ok.copy()
        buy_ok[release] = 1.0
        # In a released group a loss lot may not be sold today (beside a buy it would be washed): every slot holding
        # one is frozen; slots of gain lots only stay sellable.
        lot_weight = x.lot_weight.copy()
        lot_weight[release[:, None] & loss] = 0.0  # the sell bound only; the holding (held) is unchanged
        groups = len(set(x.group_id[release].tolist()))
        notes = [*x.notes, f"{len(harvested)} share-class group(s) harvested today, no buys in them; "
                           f"{groups} group(s) with a loss not worth harvesting today stay buyable"]
        return replace(x, buy_ok=buy_ok, lot_weight=lot_weight, harvest_block=x.harvest_block & ~release,
                       notes=notes), groups

    def _first_pass_stands(self, released: SleeveInputs) -> bool:
        """True when the first pass's solution is also optimal for the second (``released``), so no re-solve.

        The second pass re-opens the buys of the released assets (p ≤ 0 becomes p ≤ 1) and stops the sale of their
        loss slots (their tax curve only rises). When the first pass sold (next to) nothing of those assets, its
        solution is feasible and no worse in the second, and it stays optimal if buying them would not lower the
        objective: each one's reduced cost, the multiplier of p ≤ 0 less that of p ≥ 0 (both rows are tight, so
        only their difference is defined), is at most the solver's tolerance.
        """
        cap, floor = self.buy_cap.dual_value, self.buy_floor.dual_value
        if cap is None or floor is None:
            return False
        opened = released.buy_ok > self.buy_ok.value
        sell = np.asarray(self.sell.value, dtype=float).ravel()
        reduced = np.asarray(cap, dtype=float) - np.asarray(floor, dtype=float)
        return bool(np.all(reduced[opened] <= DUAL_TOL) and np.all(sell[opened] <= FROZEN_TOL))

    def _diagnose(self, x: SleeveInputs) -> Infeasible:
        """Which constraint makes the sleeve infeasible: the least tracking error the exclusions allow from cash."""
        least, _ = self._least_te(x)
        limit, budget = x.rules.te_limit, float(x.rules.tax_budget or 0.0)
        if least > limit:
            return Infeasible(
                f"the direct-index sleeve is infeasible: the exclusions alone need a tracking error of at least "
                f"{least:.2%}/yr, above the limit {limit:.2%}/yr; raise the limit or drop an exclusion",
                conflicts={"te_limit": least - limit},
            )
        return Infeasible(
            f"the direct-index sleeve is infeasible: reaching the tracking limit {limit:.2%}/yr and selling the "
            f"excluded holdings realizes more net tax than the tax budget ${budget:,.0f}; raise the tax budget or "
            "the tracking limit, or drop an exclusion",
            conflicts={"tax_budget": budget},
        )

    def _active(self, x: SleeveInputs, w: np.ndarray) -> np.ndarray:
        fund_w = w[self.n] if x.fund else 0.0
        active: np.ndarray = w[:self.n] + fund_w * x.benchmark - x.benchmark
        return active

    def _te(self, x: SleeveInputs, w: np.ndarray) -> float:
        a = self._active(x, w)
        return float(np.sqrt(np.sum((x.loadings.T @ a) ** 2) + np.sum((x.specific_sd * a) ** 2)))

    def exclusion_costs(self, x: SleeveInputs) -> list[ExclusionCost]:
        """Each exclusion's cost: the tracking-only optimum with every exclusion vs with all but that one.

        Both are solved on this compiled problem from cash (no lots, no taxes), so the numbers are the price
        of the values alone, not of the tax situation. Tracking error is the increase (annual fraction);
        expected return the change in μᵀ(active weights) (annual).
        """
        bare = self._bare(x)
        pos = {t: i for i, t in enumerate(x.universe.tickers)}
        te_all, ret_all = self._least_te(x, bare)
        out = []
        for label, tickers in x.excluded.items():
            ub = bare.ub.copy()
            for t in tickers:
                ub[pos[t]] = x.rules.max_weight
            # Other exclusions still hold: only this one is lifted.
            for other, ts in x.excluded.items():
                if other != label:
                    for t in ts:
                        ub[pos[t]] = 0.0
            self.room.value = ub - bare.held
            self._run(x, f"without {label}")
            w = self._solution()[0]
            out.append(ExclusionCost(label, tuple(tickers), float(x.benchmark[[pos[t] for t in tickers]].sum()),
                                     max(te_all - self._te(x, w), 0.0),
                                     ret_all - float(x.mu[:self.n] @ self._active(x, w))))
        return out

    def _least_te(self, x: SleeveInputs, bare: SleeveInputs | None = None) -> tuple[float, float]:
        """(tracking error, expected active return) of the tracking-only optimum from cash with every exclusion."""
        bare = bare or self._bare(x)
        self._assign(bare)
        self.ret.value = np.zeros(len(x.ub))  # tracking only: the values' cost, not a return bet
        self.constant.value = 0.0
        self._run(bare, "least tracking error")
        w = self._solution()[0]
        return self._te(x, w), float(x.mu[:self.n] @ self._active(x, w))

    def _bare(self, x: SleeveInputs) -> SleeveInputs:
        m = len(x.ub)
        return SleeveInputs(
            x.universe, x.fund, x.value, x.benchmark, x.sector_index, x.factor_sqrt, x.specific_sd, x.mu,
            np.zeros(m), x.ub,
            np.ones(m) if not x.fund else np.r_[np.ones(m - 1), 0.0], np.zeros(m), np.zeros_like(x.lot_weight),
            np.zeros_like(x.lot_tax), x.lot_ids, 1.0,
            SleeveRules(te_limit=10.0, exclusions=x.rules.exclusions, max_weight=x.rules.max_weight, cost=0.0,
                        risk_aversion=1.0),
            x.excluded, [],
        )



def solve_sleeves(
    inputs: Iterable[SleeveInputs], *, explain_exclusions: bool = False
) -> list[SleeveResult | OptimizationError]:
    """Solve many households' sleeves in this process: one compiled problem per shape, shared by every household
    of that shape (the compile is paid once, then each household only assigns values and solves).

    Households are taken shape by shape, so the batch compiles each shape at most once whatever its order and
    however many shapes it has; results come back in input order. A household whose solve fails gets its error
    (``Infeasible`` or ``OptimizationError``, with the message of ``DirectIndexSleeve.solve``) in its place and
    the batch goes on.
    """
    items = list(inputs)
    out: list[SleeveResult | OptimizationError | None] = [None] * len(items)
    by_shape: dict[tuple[object, ...], list[int]] = {}
    for i, x in enumerate(items):
        by_shape.setdefault((*x.shape, x.sector_index.tobytes()), []).append(i)
    for members in by_shape.values():
        sleeve = DirectIndexSleeve.for_inputs(items[members[0]])
        for i in members:
            try:
                out[i] = sleeve.solve(items[i], explain_exclusions=explain_exclusions)
            except OptimizationError as exc:
                out[i] = exc
    return [r for r in out if r is not None]
