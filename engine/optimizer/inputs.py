"""The household problem's own plain typed inputs (numpy arrays), independent of the other rooms.

    inputs = HouseholdInputs(household_id="smith", as_of=date(2026, 3, 31), tickers=("VTI", "BND"), ...)
    result = solve_household(inputs)

Money is USD; weights, rates, costs and drags are fractions (0.05 = 5 %). ``mu``/``cov`` are annual.
``build_inputs`` (engine.optimizer.adapter) fills this from a Household, Estimates, Mandate and ledger.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

import numpy as np

from engine.errors import ValidationError
from engine.model import AccountType, AssetClass
from engine.optimizer.validate import as_matrix, as_vector, repaired_covariance

__all__ = ["FactorModel", "HouseholdInputs", "LotInputs", "Prepared", "WashSaleGuard", "prepare"]


class WashSaleGuard(StrEnum):
    """Which sells the guard keeps apart from same-day buys in the same group."""

    LOSSES = "losses"  # sells of lots at a loss (what IRC §1091 looks at)
    ALL_SELLS = "all_sells"  # every sell


@dataclass(frozen=True, slots=True)
class LotInputs:
    """Tax lots as parallel arrays: account and asset indices, shares, total basis USD, long-term flag."""

    ids: tuple[str, ...]
    account: np.ndarray
    asset: np.ndarray
    shares: np.ndarray
    basis: np.ndarray
    long_term: np.ndarray

    @staticmethod
    def empty() -> LotInputs:
        """No lots at all (a household holding only cash)."""
        z = np.zeros(0)
        return LotInputs((), z.astype(int), z.astype(int), z, z, z.astype(bool))

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, slots=True)
class FactorModel:
    """Σ = B F Bᵀ + diag(d): ``loadings`` B (n×k), ``factor_cov`` F (k×k), ``idio_var`` d (n), annual."""

    loadings: np.ndarray
    factor_cov: np.ndarray
    idio_var: np.ndarray


@dataclass(frozen=True, slots=True)
class HouseholdInputs:
    """Everything the household problem needs, as plain arrays (see the module docstring for units).

    Per-asset arrays have one entry per ticker; per-account arrays one per account; ``tax_drag`` is
    (accounts × assets), the annual fraction of value lost to taxes on income when held there.
    ``cash_flows`` are deposits (+) and withdrawals (−) settling today; ``tax_budget`` caps the net
    realized gain in USD; ``turnover_limit`` caps buys + sells as a fraction of household value.
    ``guard_group`` gives each asset a wash-sale group id: no group is both bought and sold today.
    ``reward_losses`` False (the "no harvesting" comparison) makes a loss sale worth nothing to the tax
    term: allowed when rebalancing needs it, never sought for its tax saving.
    """

    household_id: str
    as_of: date
    tickers: tuple[str, ...]
    prices: np.ndarray
    asset_class: tuple[AssetClass, ...]
    accounts: tuple[str, ...]
    account_types: tuple[AccountType, ...]
    cash: np.ndarray
    lots: LotInputs
    mu: np.ndarray
    cov: np.ndarray | None = None
    factor_model: FactorModel | None = None
    strategic_mix: Mapping[AssetClass, float] = field(default_factory=dict)
    class_bands: Mapping[AssetClass, tuple[float, float]] = field(default_factory=dict)
    risk_aversion: float = 4.0
    tracking_weight: float = 5.0
    tax_weight: float = 1.0
    trading_weight: float = 1.0
    location_weight: float = 1.0
    esg_tilt: float = 0.0
    st_rate: float = 0.37
    lt_rate: float = 0.20
    tax_drag: np.ndarray | None = None
    cash_flows: np.ndarray | None = None
    cash_buffer: np.ndarray | None = None
    esg_score: np.ndarray | None = None
    carbon: np.ndarray | None = None
    esg_floor: float | None = None
    carbon_cap: float | None = None
    excluded: np.ndarray | None = None
    buy_blocked: np.ndarray | None = None
    sell_loss_blocked: np.ndarray | None = None
    reward_losses: bool = True
    guard_group: np.ndarray | None = None
    guard: WashSaleGuard = WashSaleGuard.LOSSES
    spread: np.ndarray | None = None
    commission: np.ndarray | None = None
    turnover_limit: float | None = None
    tax_budget: float | None = None
    max_position: float = 1.0
    asset_bounds: np.ndarray | None = None
    position_over: np.ndarray | None = None  # per asset: a weight above max_position it may keep (only shrink)
    liquidity_reserve: float = 0.0
    liquid_accounts: np.ndarray | None = None
    liquid_assets: np.ndarray | None = None
    notes: tuple[str, ...] = ()

    @property
    def n_assets(self) -> int:
        return len(self.tickers)

    @property
    def n_accounts(self) -> int:
        return len(self.accounts)


@dataclass(frozen=True, slots=True)
class Prepared:
    """Validated inputs in weight units (fractions of household value ``total_value`` USD)."""

    inputs: HouseholdInputs
    total_value: float
    classes: tuple[AssetClass, ...]
    class_index: np.ndarray
    lot_value: np.ndarray
    lot_gain: np.ndarray
    lot_rate: np.ndarray
    current: np.ndarray
    cash0: np.ndarray
    buffer: np.ndarray
    cov: np.ndarray | None
    mix: np.ndarray
    class_lo: np.ndarray
    class_hi: np.ndarray
    asset_lo: np.ndarray
    asset_hi: np.ndarray
    drag: np.ndarray
    kappa: np.ndarray
    esg: np.ndarray
    carbon: np.ndarray
    excluded: np.ndarray
    buy_blocked: np.ndarray
    sell_loss_blocked: np.ndarray
    guard_group: np.ndarray
    liquid_accounts: np.ndarray
    liquid_assets: np.ndarray
    notes: tuple[str, ...]
    slot_order: np.ndarray  # the optimizer's lot slots: lot indices, accounts end to end, input order within


def _flags(value: np.ndarray | None, n: int, name: str, default: bool = False) -> np.ndarray:
    if value is None:
        return np.full(n, default)
    arr = np.asarray(value).reshape(-1)
    if arr.shape != (n,):
        raise ValidationError(f"has shape {arr.shape}, expected ({n},)", field=f"HouseholdInputs.{name}")
    return arr.astype(bool)


def _optional(value: np.ndarray | None, n: int, name: str, default: float) -> np.ndarray:
    return np.full(n, default) if value is None else as_vector(value, n, f"HouseholdInputs.{name}")


def prepare(inputs: HouseholdInputs) -> Prepared:
    """Validate every input and convert money to weights of household value.

    Raises:
        ValidationError: a shape, NaN, sign or bound problem, naming the field and how to fix it.
    """
    n, a = inputs.n_assets, inputs.n_accounts
    f = "HouseholdInputs."
    where = f"household {inputs.household_id}"
    if n < 1 or a < 1:
        raise ValidationError(f"{where}: needs at least one asset and one account", field=f + "tickers")
    if len(set(inputs.tickers)) != n:
        raise ValidationError(f"{where}: duplicate tickers", field=f + "tickers")
    if len(inputs.asset_class) != n or len(inputs.account_types) != a:
        raise ValidationError(f"{where}: one class per asset and one type per account", field=f + "asset_class")
    notes = list(inputs.notes)
    prices = as_vector(inputs.prices, n, f + "prices")
    if np.any(prices <= 0):
        i = int(np.flatnonzero(prices <= 0)[0])
        raise ValidationError(
            f"{where}: price of {inputs.tickers[i]} is not positive", field=f + "prices", value=prices[i]
        )
    cash = as_vector(inputs.cash, a, f + "cash")
    if np.any(cash < 0):
        i = int(np.flatnonzero(cash < 0)[0])
        raise ValidationError(
            f"{where}: account {inputs.accounts[i]} has negative cash",
            field=f + "cash",
            value=cash[i],
            fix="record the margin debt as a withdrawal in cash_flows instead",
        )
    flows = _optional(inputs.cash_flows, a, "cash_flows", 0.0)
    buffer_usd = _optional(inputs.cash_buffer, a, "cash_buffer", 0.0)
    if np.any(buffer_usd < 0):
        raise ValidationError(f"{where}: cash buffers must be ≥ 0", field=f + "cash_buffer")

    lots = inputs.lots
    nl = len(lots)
    acc_idx = np.asarray(lots.account, dtype=int).reshape(-1)
    ast_idx = np.asarray(lots.asset, dtype=int).reshape(-1)
    shares = as_vector(lots.shares, nl, "LotInputs.shares")
    basis = as_vector(lots.basis, nl, "LotInputs.basis")
    long_term = _flags(lots.long_term, nl, "lots.long_term")
    if acc_idx.shape != (nl,) or ast_idx.shape != (nl,):
        raise ValidationError(f"{where}: one account and asset index per lot", field="LotInputs.account")
    if nl and (acc_idx.min() < 0 or acc_idx.max() >= a or ast_idx.min() < 0 or ast_idx.max() >= n):
        raise ValidationError(f"{where}: a lot points outside the accounts or tickers", field="LotInputs.asset")
    if np.any(shares < 0) or np.any(basis < 0):
        raise ValidationError(f"{where}: lot shares and basis must be ≥ 0", field="LotInputs.shares")

    value_usd = shares * prices[ast_idx] if nl else np.zeros(0)
    total = float(cash.sum() + flows.sum() + value_usd.sum())
    if not total > 0:
        raise ValidationError(
            f"{where}: household value after cash flows is {total:,.2f} USD; nothing to invest",
            field=f + "cash_flows",
            fix="check the withdrawals against cash and holdings",
        )
    taxable = np.array([t is AccountType.TAXABLE for t in inputs.account_types])
    rate = np.where(long_term, inputs.lt_rate, inputs.st_rate) * (taxable[acc_idx] if nl else 1.0)
    gain = (value_usd - basis) * (taxable[acc_idx] if nl else 1.0)
    current = np.zeros((a, n))
    np.add.at(current, (acc_idx, ast_idx), value_usd / total)

    if inputs.cov is None and inputs.factor_model is None:
        raise ValidationError(f"{where}: needs cov or factor_model", field=f + "cov", fix="pass one risk model")
    mu = as_vector(inputs.mu, n, f + "mu")
    del mu
    cov = None
    if inputs.cov is not None:
        cov, note = repaired_covariance(inputs.cov, n, f + "cov")
        if note:
            notes.append(note)
    else:
        fm = inputs.factor_model
        assert fm is not None
        b = np.asarray(fm.loadings, dtype=float)
        if b.ndim != 2 or b.shape[0] != n:
            raise ValidationError(f"{where}: loadings must be (n_assets, k)", field="FactorModel.loadings")
        k = b.shape[1]
        _, note = repaired_covariance(fm.factor_cov, k, "FactorModel.factor_cov")
        if note:
            notes.append(note)
        if np.any(as_vector(fm.idio_var, n, "FactorModel.idio_var") < 0):
            raise ValidationError(f"{where}: idiosyncratic variances must be ≥ 0", field="FactorModel.idio_var")

    classes = tuple(sorted(set(inputs.asset_class) | set(inputs.strategic_mix) | {AssetClass.CASH}))
    class_index = np.array([classes.index(c) for c in inputs.asset_class])
    mix = np.array([float(inputs.strategic_mix.get(c, 0.0)) for c in classes])
    if inputs.strategic_mix and (np.any(mix < 0) or abs(mix.sum() - 1) > 1e-6):
        raise ValidationError(
            f"{where}: the strategic mix must be ≥ 0 and sum to 1 (sums to {mix.sum():.4f})",
            field=f + "strategic_mix",
        )
    lo = np.array([float(inputs.class_bands.get(c, (0.0, 1.0))[0]) for c in classes])
    hi = np.array([float(inputs.class_bands.get(c, (0.0, 1.0))[1]) for c in classes])
    if np.any(lo > hi) or np.any(lo < 0) or np.any(hi > 1):
        raise ValidationError(f"{where}: class bands need 0 ≤ lo ≤ hi ≤ 1", field=f + "class_bands")
    if lo.sum() > 1 + 1e-9 or hi.sum() < 1 - 1e-9:
        raise ValidationError(
            f"{where}: class bands cannot sum to one (lows sum to {lo.sum():.1%}, highs to {hi.sum():.1%})",
            field=f + "class_bands",
            fix="widen the bands",
        )
    if inputs.asset_bounds is None:
        alo, ahi = np.zeros(n), np.ones(n)
    else:
        ab = as_matrix(inputs.asset_bounds, (n, 2), f + "asset_bounds")
        alo, ahi = ab[:, 0].copy(), ab[:, 1].copy()
    if not 0 < inputs.max_position <= 1:
        raise ValidationError(f"{where}: must lie in (0, 1]", field=f + "max_position", value=inputs.max_position)
    ahi = np.minimum(ahi, inputs.max_position)
    if inputs.position_over is not None:  # held above the limit and not sellable today: the limit waits there
        ahi = np.maximum(ahi, np.minimum(as_vector(inputs.position_over, n, f + "position_over"), 1.0))
    excluded = _flags(inputs.excluded, n, "excluded")
    ahi[excluded] = 0.0
    alo[excluded] = 0.0
    if np.any(alo > ahi + 1e-12) or alo.sum() > 1 + 1e-9:
        raise ValidationError(
            f"{where}: asset bounds cannot be met (lows sum to {alo.sum():.1%})", field=f + "asset_bounds"
        )
    if ahi.sum() + 1.0 < 1 - 1e-9:  # cash can hold the rest, so only the lows can conflict
        raise ValidationError(f"{where}: asset bounds cannot sum to one", field=f + "asset_bounds")

    drag = np.zeros((a, n)) if inputs.tax_drag is None else as_matrix(inputs.tax_drag, (a, n), f + "tax_drag")
    spread = _optional(inputs.spread, n, "spread", 0.0005)
    commission = _optional(inputs.commission, n, "commission", 0.0)
    if np.any(spread < 0) or np.any(commission < 0):
        raise ValidationError(f"{where}: trading costs must be ≥ 0", field=f + "spread")
    esg = _optional(inputs.esg_score, n, "esg_score", 0.0)
    carbon = _optional(inputs.carbon, n, "carbon", 0.0)
    if inputs.esg_floor is not None and inputs.esg_score is None:
        raise ValidationError(f"{where}: an ESG floor needs esg_score", field=f + "esg_score")
    if inputs.carbon_cap is not None and inputs.carbon is None:
        raise ValidationError(f"{where}: a carbon cap needs carbon", field=f + "carbon")
    for name in ("risk_aversion", "tracking_weight", "tax_weight", "trading_weight", "location_weight", "esg_tilt"):
        v = getattr(inputs, name)
        if not (np.isfinite(v) and v >= 0):
            raise ValidationError(f"{where}: must be a finite number ≥ 0", field=f + name, value=v)
    for name in ("st_rate", "lt_rate"):
        v = getattr(inputs, name)
        if not 0 <= v < 1:
            raise ValidationError(f"{where}: tax rate must lie in [0, 1)", field=f + name, value=v)
    if inputs.liquidity_reserve < 0:
        raise ValidationError(f"{where}: must be ≥ 0", field=f + "liquidity_reserve")
    groups = np.arange(n) if inputs.guard_group is None else np.asarray(inputs.guard_group, dtype=int).reshape(-1)
    if groups.shape != (n,):
        raise ValidationError(f"{where}: one guard group per asset", field=f + "guard_group")
    liquid_assets = _flags(inputs.liquid_assets, n, "liquid_assets")
    if inputs.liquid_assets is None:
        liquid_assets = np.array([c is AssetClass.CASH for c in inputs.asset_class])
    liquid_accounts = _flags(inputs.liquid_accounts, a, "liquid_accounts")
    if inputs.liquid_accounts is None:
        liquid_accounts = taxable.copy()
    return Prepared(
        inputs=inputs,
        total_value=total,
        classes=classes,
        class_index=class_index,
        lot_value=value_usd / total,
        lot_gain=gain / total,
        lot_rate=np.asarray(rate, dtype=float).reshape(-1),
        current=current,
        cash0=(cash + flows) / total,
        buffer=buffer_usd / total,
        cov=cov,
        mix=mix,
        class_lo=lo,
        class_hi=hi,
        asset_lo=alo,
        asset_hi=ahi,
        drag=drag,
        kappa=spread / 2 + commission,
        esg=esg,
        carbon=carbon,
        excluded=excluded,
        buy_blocked=_flags(inputs.buy_blocked, n, "buy_blocked"),
        sell_loss_blocked=_flags(inputs.sell_loss_blocked, n, "sell_loss_blocked"),
        guard_group=groups,
        liquid_accounts=liquid_accounts,
        liquid_assets=liquid_assets,
        notes=tuple(notes),
        slot_order=np.argsort(acc_idx, kind="stable").astype(int),
    )


def lots_from_rows(
    rows: Sequence[tuple[str, int, int, float, float, bool]],
) -> LotInputs:
    """LotInputs from (id, account index, asset index, shares, basis USD, long_term) rows."""
    if not rows:
        return LotInputs.empty()
    ids, acc, ast, sh, bs, lt = zip(*rows, strict=True)
    return LotInputs(
        tuple(ids),
        np.array(acc, dtype=int),
        np.array(ast, dtype=int),
        np.array(sh, float),
        np.array(bs, float),
        np.array(lt, dtype=bool),
    )
