"""Fill ``HouseholdInputs`` from the other rooms: household, estimates, mandate, lot ledger, values screen.

    inputs = build_inputs(household, universe, estimates, mandate, ledger, prices, as_of, esg=load_esg())
    result = solve_household(inputs)

Only funds with a price on ``as_of`` (the estimates' tickers) enter the problem; a lot in a fund without a
price is left untouched and noted. Wash-sale blocks come from the ledger (household-wide, 30 days either
side); the same-day guard groups are the ``identical`` groups (a ticker alone otherwise), so "sell SUSA at
a loss, buy DSI" — two funds of one substitute group that are not substantially identical — fits in one
solve. With harvesting on, a fund whose taxable lots are at a loss is not bought in any account while
another fund of its substitute group can take the buy (``engine.tax.wash_avoiding_buys``): the engine
never washes a loss it may harvest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

import numpy as np

from engine.model import AccountType, AssetClass, Household, Lot, Universe

if TYPE_CHECKING:
    from engine.esg import EsgData
    from engine.estimates import Estimates
    from engine.optimizer.inputs import HouseholdInputs, LotInputs
    from engine.tax import LotLedger, TaxTables

__all__ = [
    "MandateTerms",
    "Price",
    "achievable_class_target",
    "build_inputs",
    "drift_target",
    "feasible_mix",
    "reserve_in_mix",
]

Price = Decimal | float
"""A price per share as the rooms hold it (Decimal from the data room, float in tests)."""


class MandateTerms(Protocol):
    """What the optimizer reads of an investment mandate (``engine.goals.Mandate`` has these fields).

    A protocol, not an import: the goals room reaches the market-data client, which the optimizer may not.
    """

    @property
    def strategic_mix(self) -> Mapping[AssetClass, float]: ...

    @property
    def class_bands(self) -> Mapping[AssetClass, tuple[float, float]]: ...

    @property
    def risk_aversion(self) -> float: ...

    @property
    def liquidity_reserve(self) -> Decimal: ...


def reserve_in_mix(
    mix: Mapping[AssetClass, float], bands: Mapping[AssetClass, tuple[float, float]], reserve: float
) -> tuple[dict[AssetClass, float], dict[AssetClass, tuple[float, float]], list[str]]:
    """Raise the cash target and band to hold the liquidity reserve (a fraction of household value).

    The other classes shrink pro rata, bands with them, so the mix still sums to one.
    """
    cash = mix.get(AssetClass.CASH, 0.0)
    lo, hi = bands.get(AssetClass.CASH, (0.0, 1.0))
    reserve = min(reserve, 1.0)
    if reserve <= hi + 1e-12 and reserve <= cash + 1e-12:
        return dict(mix), dict(bands), []
    target = max(cash, reserve)
    rest = 1.0 - cash
    scale = (1.0 - target) / rest if rest > 0 else 0.0
    new_mix = {c: (target if c is AssetClass.CASH else w * scale) for c, w in mix.items()}
    new_mix.setdefault(AssetClass.CASH, target)
    new_bands: dict[AssetClass, tuple[float, float]] = {
        c: (b[0] * scale, min(1.0, b[1] * scale + 1e-9)) for c, b in bands.items() if c is not AssetClass.CASH
    }
    new_bands[AssetClass.CASH] = (max(lo, reserve), max(hi, target + (hi - cash)))
    return new_mix, new_bands, [
        f"Liquidity reserve {reserve:.1%} of household value is above the strategic cash {cash:.1%}: cash target "
        f"raised to {target:.1%}, the other classes scaled down pro rata"
    ]


def feasible_mix(
    mix: Mapping[AssetClass, float],
    bands: Mapping[AssetClass, tuple[float, float]],
    available: set[AssetClass],
    held: Mapping[AssetClass, float] | None = None,
) -> tuple[dict[AssetClass, float], dict[AssetClass, tuple[float, float]], list[str]]:
    """Re-spread the weight of classes with no fund that may be bought over the others, pro rata, and say so.

    A class can lack a fund because none passes the household's values screens, or because none is
    trading yet on the day (backtests). ``held`` gives the weight (fraction of household value) still held
    in such a class through funds kept for tax reasons: its band becomes (0, held) so it can only shrink.
    Cash always counts as available (it is held as cash).
    """
    held = held or {}
    available = set(available) | {AssetClass.CASH}
    missing = {c: w for c, w in mix.items() if w > 0 and c not in available}
    if not missing:
        return dict(mix), dict(bands), []
    keep = {c: w for c, w in mix.items() if c not in missing}
    total = sum(keep.values())
    lost = sum(missing.values())
    if total <= 0:
        keep, total = {AssetClass.CASH: 1.0}, 1.0
    scale = (total + lost) / total
    new_mix = {c: w * scale for c, w in keep.items()}
    new_bands: dict[AssetClass, tuple[float, float]] = {}
    for c, (lo, hi) in bands.items():
        if c in missing:
            new_bands[c] = (0.0, min(1.0, held.get(c, 0.0) + 1e-9))
        else:
            w_old, w_new = mix.get(c, 0.0), new_mix.get(c, 0.0)
            new_bands[c] = (min(lo * scale, w_new), min(1.0, max(hi + (w_new - w_old), w_new)))
    names = ", ".join(f"{c.value} {w:.0%}" for c, w in missing.items())
    lines = [f"No eligible fund for {names} (screened out by values or not trading yet): its weight is "
             "spread pro rata over the other classes"]
    return new_mix, new_bands, lines


def _wash_blocked_floors(
    bands: Mapping[AssetClass, tuple[float, float]],
    universe: Universe,
    tickers: Sequence[str],
    buyable: np.ndarray,
    buy_blocked: np.ndarray,
    lots: LotInputs,
    px: np.ndarray,
    total_value: float,
    ledger: LotLedger,
    as_of: date,
    max_position: float = 1.0,
) -> tuple[dict[AssetClass, tuple[float, float]], list[str]]:
    """Lower the floor of a class whose every eligible fund is in a wash-sale window to what is held in it.

    Nothing of such a class may be bought until the window after a recent loss sale closes, so a floor
    above what the household holds could not be met (the plan would be infeasible for up to 30 days).
    The class keeps its target weight; only the floor waits. Screened-out classes are ``feasible_mix``'s.
    Likewise when the funds that may be bought cannot reach the floor within the position limit
    (``max_position`` each) next to what the blocked ones hold: the floor waits at what can be reached.
    """
    out = dict(bands)
    eligible: dict[AssetClass, list[int]] = {}
    for i, t in enumerate(tickers):
        if buyable[i]:
            eligible.setdefault(universe[t].asset_class, []).append(i)
    lines: list[str] = []
    for cls, idx in eligible.items():
        lo, hi = out.get(cls, (0.0, 1.0))
        if cls is AssetClass.CASH or lo <= 0:
            continue
        open_ = [i for i in idx if not buy_blocked[i]]
        if open_ and total_value > 0:  # some fund may be bought: can the floor be reached within the limit?
            shut = [i for i in idx if buy_blocked[i]]
            in_shut = np.isin(lots.asset, shut)
            shut_w = float((lots.shares[in_shut] * px[lots.asset[in_shut]]).sum() / total_value)
            reach = shut_w + max_position * len(open_)
            if reach >= lo:
                continue
            out[cls] = (max(reach - 1e-6, 0.0), max(hi, reach))
            lines.append(f"The {cls.value} floor {lo:.0%} cannot be reached today: the funds that may be bought are "
                         f"held at most {max_position:.0%} each and the others are in a wash-sale window; it waits at "
                         f"{reach:.1%}")
            continue
        in_cls = np.isin(lots.asset, idx)
        held = float((lots.shares[in_cls] * px[lots.asset[in_cls]]).sum() / total_value) if total_value > 0 else 0.0
        if held >= lo:
            continue
        out[cls] = (max(held - 1e-9, 0.0), max(hi, held))
        windows = [ledger.wash_sale_window(tickers[i], as_of) for i in idx]
        until = max((w.buy_blocked_until for w in windows if w.buy_blocked_until), default=None)
        lines.append(
            f"No {cls.value} fund may be bought" + (f" before {until + timedelta(days=1)}" if until else "")
            + f" (wash-sale window of a recent loss sale): its floor waits at what is held ({held:.1%}, band "
            f"{lo:.0%}–{hi:.0%})"
        )
    return out, lines


def _avoid_washing(
    ledger: LotLedger,
    prices: Mapping[str, Price],
    tickers: Sequence[str],
    universe: Universe,
    as_of: date,
    buy_blocked: np.ndarray,
    excluded: np.ndarray | None,
    lots: LotInputs,
    px: np.ndarray,
    total_value: float,
    max_position: float,
    mix: Mapping[AssetClass, float],
) -> tuple[np.ndarray, list[str]]:
    """Block buys of funds whose taxable lots are at a loss where a substitute can take them (Betterment's
    secondary tickers, ``engine.tax.wash_avoiding_buys``), as long as the funds left open in the class can
    still reach its target within the position limit — else the class would sit in cash."""
    from engine.tax import wash_avoiding_buys

    eligible = [t for i, t in enumerate(tickers) if not buy_blocked[i] and (excluded is None or not excluded[i])]
    held = np.zeros(len(tickers))
    if total_value > 0:
        np.add.at(held, lots.asset, lots.shares * px[lots.asset] / total_value)
    full = [t for i, t in enumerate(tickers) if held[i] >= max_position - 0.02]
    avoid = wash_avoiding_buys(ledger, prices, tickers, universe, as_of, buyable=eligible, full=full)
    if not avoid:
        return buy_blocked, []
    out = buy_blocked | np.array([t in avoid for t in tickers])
    open_ = ~out if excluded is None else ~(out | excluded)
    for cls in sorted({universe[t].asset_class for t in avoid}, key=str):
        idx = [i for i, t in enumerate(tickers) if universe[t].asset_class is cls]
        room = sum(max(max_position - held[i], 0.0) for i in idx if open_[i])
        if held[idx].sum() + room + 1e-9 < mix.get(cls, 0.0):  # not enough room: the primaries stay buyable
            for i in idx:
                if tickers[i] in avoid:
                    out[i] = buy_blocked[i]
                    avoid.pop(tickers[i])
    return out, list(avoid.values())


def _stuck_over_limit(
    tickers: Sequence[str],
    lots: LotInputs,
    px: np.ndarray,
    total_value: float,
    max_position: float,
    loss_blocked: np.ndarray,
    types: Sequence[AccountType],
) -> tuple[np.ndarray | None, list[str]]:
    """Funds held above the position limit that cannot be sold down to it today, with their weight.

    Taxable lots at a loss of a fund in a wash-sale window cannot be sold (the loss would be washed); when
    the rest of the fund is not enough to get under ``max_position`` the limit waits at what must stay
    (the plan would otherwise be infeasible until the window closes). Like ``_wash_blocked_floors``.
    """
    if total_value <= 0 or not loss_blocked.any():
        return None, []
    value = lots.shares * px[lots.asset]
    held = np.bincount(lots.asset, weights=value, minlength=len(tickers)) / total_value
    taxable = np.array([t is AccountType.TAXABLE for t in types], dtype=bool)[lots.account]
    stuck_lot = taxable & (value < lots.basis) & loss_blocked[lots.asset]
    stuck = np.bincount(lots.asset, weights=np.where(stuck_lot, value, 0.0), minlength=len(tickers)) / total_value
    over = np.zeros(len(tickers))
    lines: list[str] = []
    for i in np.flatnonzero((held > max_position) & (stuck > max_position)).tolist():
        over[i] = stuck[i] + 1e-9
        lines.append(f"{tickers[i]} is {held[i]:.1%} of household value, above the {max_position:.0%} position limit, "
                     f"and {stuck[i]:.1%} of it is lots at a loss in a wash-sale window: the limit waits there")
    return (over if lines else None), lines


def build_inputs(
    household: Household,
    universe: Universe,
    estimates: Estimates,
    mandate: MandateTerms,
    ledger: LotLedger,
    prices: Mapping[str, Decimal | float],
    as_of: date,
    *,
    esg: EsgData | None = None,
    harvest: bool = True,
    asset_location: bool = True,
    turnover_limit: float | None = None,
    tax_budget: float | None = None,
    max_position: float = 1.0,
    spread: float = 0.0005,
    cash_buffer: float = 0.0025,
    tracking_weight: float = 5.0,
    values_transition: bool = True,
    open_lots: Sequence[Lot] | None = None,
    tax_tables: TaxTables | None = None,
) -> HouseholdInputs:
    """The household problem's inputs on ``as_of`` (money USD, rates and weights fractions, mu/cov annual).

    ``harvest`` lets the tax term reward realizing losses (when False — the "no harvesting" comparison — a
    loss sale earns nothing from the tax term, but rebalancing may still sell a lot at a loss), and keeps
    new buys off funds with taxable lots at a loss while a substitute can take them; ``asset_location``
    switches the tax-drag term on; ``cash_buffer`` is the
    fraction of each account's value kept in cash. With ``values_transition`` a fund the household's values
    screen out is never bought, but taxable lots of it at a gain are not forced out (tax-aware transition).
    ``open_lots`` are the ledger's open lots when the caller has already read them; ``tax_tables`` the tax
    tables to use (default: the configured ones, read here).
    """
    from engine.optimizer.inputs import FactorModel, HouseholdInputs, LotInputs
    from engine.tax import asset_location_matrix, load_tax_tables, long_term_from, marginal_rates

    tickers = tuple(t for t in estimates.tickers if t in prices)
    if len(tickers) != len(estimates.tickers):
        estimates = estimates.subset(tickers)
    index = {t: i for i, t in enumerate(tickers)}
    accounts = tuple(a.id for a in household.accounts)
    acc_index = {a: i for i, a in enumerate(accounts)}
    types = tuple(a.type for a in household.accounts)
    px = np.array([float(prices[t]) for t in tickers])
    notes: list[str] = []

    ids, acc, ast, shares, basis, long_term = [], [], [], [], [], []
    account_value = {a.id: float(a.cash) for a in household.accounts}
    price_of = px.tolist()  # Python floats: indexing the array would make a numpy scalar per lot
    for lot in ledger.open_lots() if open_lots is None else open_lots:
        j = index.get(lot.symbol)
        if j is None:
            notes.append(f"lot {lot.id} ({lot.symbol}) has no price on {as_of}; held as it is")
            continue
        sh = float(lot.shares)
        ids.append(lot.id)
        acc.append(acc_index[lot.account])
        ast.append(j)
        shares.append(sh)
        basis.append(float(lot.basis))
        long_term.append(as_of >= long_term_from(lot.acquired))  # holding_term(...) is Term.LONG
        account_value[lot.account] += sh * price_of[j]
    lots = LotInputs(
        tuple(ids),
        np.array(acc, dtype=int),
        np.array(ast, dtype=int),
        np.array(shares, dtype=float),
        np.array(basis, dtype=float),
        np.array(long_term, dtype=bool),
    )

    if tax_tables is None:
        tax_tables = load_tax_tables()
    rates = marginal_rates(household.tax, tax_tables)
    drag = None
    if asset_location:  # the drag depends on the account's type only: one row per type
        m = asset_location_matrix(universe, {t.value: t for t in types}, household.tax, tickers, tax_tables)
        drag = np.array([[m[t.value][x] for x in tickers] for t in types])

    cov = factor = None
    loadings, factor_cov, idio_var = estimates.loadings, estimates.factor_cov, estimates.idio_var
    if loadings is not None and factor_cov is not None and idio_var is not None and len(tickers) > 60:
        factor = FactorModel(loadings, factor_cov, idio_var)
    else:
        cov = np.asarray(estimates.cov, dtype=float)

    no_buy = ledger.blocked_buys(tickers, as_of)
    no_loss_sale = ledger.blocked_loss_sales(tickers, as_of)
    excluded = esg_score = carbon = None
    soft_excluded = np.zeros(len(tickers), dtype=bool)
    floor = cap = None
    tilt = 0.0
    if esg is not None:
        from engine.esg import apply_values

        screen = apply_values(universe.subset(tickers), esg, household.values)
        excluded = screen.excluded_mask
        floor = screen.min_score
        tilt = screen.tilt
        if floor is not None or tilt > 0:
            esg_score = screen.score_vector()
        if screen.max_carbon is not None:
            reference = None
            if screen.carbon_relative:
                # The reference is the covered funds of the day, equally weighted — a stand-in for the unconstrained
                # portfolio's intensity that does not move with what is held. Measured against current holdings
                # the cap tightened by the factor on every run (0.7, 0.49, …) and was 0 for an all-cash household,
                # so the plan became infeasible for good (the esg scenario never traded).
                covered = screen.carbon_covered
                carbon_all = np.asarray(screen.carbon, dtype=float)
                reference = float(np.nanmean(carbon_all[covered])) if covered.any() else 0.0
                notes.append(f"relative carbon cap measured against the covered funds, equally weighted "
                             f"({reference:.0f} tCO2e/$M)")
            cap = screen.carbon_cap(reference)
            carbon = screen.carbon_vector(cap)
        # Tax-aware transition: a screened-out fund is never bought; it is sold outright where that costs no
        # tax (tax-deferred accounts, or lots at a loss), but taxable lots at a gain are not forced out —
        # the tax term and the ESG floor decide when selling them is worth it.
        taxable_gain = np.zeros(len(tickers), dtype=bool)
        taxable_lot = np.array([t is AccountType.TAXABLE for t in types], dtype=bool)[lots.account]
        taxable_gain[lots.asset[taxable_lot & (lots.shares * px[lots.asset] > lots.basis)]] = True
        for t, why in screen.excluded.items():
            if t not in index:
                continue
            reasons = ", ".join(e.label for e in why)
            if values_transition and (taxable_gain[index[t]] or t in no_loss_sale):
                excluded[index[t]] = False
                why_kept = ("a loss sale would be a wash sale" if t in no_loss_sale and not taxable_gain[index[t]]
                            else "held taxable lots at a gain are sold only when the tax cost is worth it")
                notes.append(f"{t} is screened out by values ({reasons}): no new purchases; {why_kept}")
            else:
                notes.append(f"{t} excluded by values: {reasons}")
        soft_excluded = screen.excluded_mask & ~excluded

    buy_blocked = np.array([t in no_buy for t in tickers]) | soft_excluded
    loss_blocked = np.array([t in no_loss_sale for t in tickers])
    group_of: dict[str, str] = {t: t for t in tickers}
    for grp in universe.identical:
        members = [t for t in tickers if t in grp]
        for t in members:
            group_of[t] = group_of[members[0]]
    labels = {g: i for i, g in enumerate(dict.fromkeys(group_of[t] for t in tickers))}
    guard_group = np.array([labels[group_of[t]] for t in tickers])

    buyable = np.ones(len(tickers), dtype=bool) if excluded is None else ~(excluded | soft_excluded)
    total_value = sum(account_value.values())
    held: dict[AssetClass, float] = {}
    if total_value > 0:
        for i in np.flatnonzero(soft_excluded[lots.asset]):  # in lot order: the sums add up as they always did
            cls = universe[tickers[lots.asset[i]]].asset_class
            held[cls] = held.get(cls, 0.0) + lots.shares[i] * px[lots.asset[i]] / total_value
    mix, bands, lines = feasible_mix(
        mandate.strategic_mix,
        mandate.class_bands,
        {universe[t].asset_class for i, t in enumerate(tickers) if buyable[i]},
        held,
    )
    notes += lines
    if harvest:
        buy_blocked, lines = _avoid_washing(ledger, prices, tickers, universe, as_of, buy_blocked, excluded, lots, px,
                                            total_value, max_position, mix)
        notes += lines
    bands, lines = _wash_blocked_floors(bands, universe, tickers, buyable, buy_blocked, lots, px, total_value, ledger,
                                        as_of, max_position)
    notes += lines
    over, lines = _stuck_over_limit(tickers, lots, px, total_value, max_position, loss_blocked, types)
    notes += lines
    reserve = float(mandate.liquidity_reserve)
    # What the taxable accounts can hold liquid after the cash buffer, trading costs and lots that cannot be
    # sold today (10 % margin).
    liquid_value = 0.90 * sum(account_value[a.id] for a in household.accounts if a.type is AccountType.TAXABLE)
    if reserve > liquid_value:
        notes.append(f"Liquidity reserve ${reserve:,.0f} is more than the taxable accounts can hold liquid "
                     f"(${liquid_value:,.0f}): that much is kept liquid, the rest is left to new savings")
        reserve = liquid_value
    if total_value > 0 and reserve > 0:
        mix, bands, lines = reserve_in_mix(mix, bands, reserve / total_value)
        notes += lines
    buffer = np.array([cash_buffer * max(account_value[a], 0.0) for a in accounts])
    return HouseholdInputs(
        household_id=household.id,
        as_of=as_of,
        tickers=tickers,
        prices=px,
        asset_class=tuple(universe[t].asset_class for t in tickers),
        accounts=accounts,
        account_types=types,
        cash=np.array([float(a.cash) for a in household.accounts]),
        lots=lots,
        mu=np.asarray(estimates.mu, dtype=float),
        cov=cov,
        factor_model=factor,
        strategic_mix=mix,
        class_bands=bands,
        risk_aversion=float(mandate.risk_aversion),
        tracking_weight=tracking_weight,
        location_weight=1.0 if asset_location else 0.0,
        esg_tilt=tilt,
        st_rate=float(rates.short_term),
        lt_rate=float(rates.long_term),
        tax_drag=drag,
        cash_buffer=buffer,
        esg_score=esg_score,
        carbon=carbon,
        esg_floor=floor,
        carbon_cap=cap,
        excluded=excluded,
        buy_blocked=buy_blocked,
        sell_loss_blocked=loss_blocked,
        position_over=over,
        reward_losses=harvest,
        guard_group=guard_group,
        spread=np.full(len(tickers), spread),
        turnover_limit=turnover_limit,
        tax_budget=tax_budget,
        max_position=max_position,
        liquidity_reserve=reserve,
        liquid_accounts=np.array([t is AccountType.TAXABLE for t in types]),
        notes=tuple(notes),
    )


def achievable_class_target(
    mix: Mapping[AssetClass, float],
    universe: Universe,
    prices: Mapping[str, Price],
    *,
    excluded: Sequence[str] = (),
    reserve: float = 0.0,
) -> dict[str, float]:
    """The class mix the optimizer can reach today, by class name (fractions summing to 1).

    The strategic ``mix`` with the weight of classes that have no fund with a price and not in ``excluded``
    (the household's values screen) spread pro rata over the others, as ``feasible_mix`` does for the
    solve, and the cash target raised to ``reserve`` (the liquidity reserve, a fraction of household value)
    as ``reserve_in_mix`` does. Drift measured against this target does not fire every day for a class no
    fund can fill.
    """
    out = set(excluded)
    available = {universe[t].asset_class for t in universe.tickers if t in prices and t not in out}
    bands = {c: (0.0, 1.0) for c in mix}
    new_mix, bands, _ = feasible_mix(mix, bands, available)
    if reserve > 0:
        new_mix, _, _ = reserve_in_mix(new_mix, bands, reserve)
    return {str(c): float(w) for c, w in new_mix.items()}


def drift_target(
    mandate: MandateTerms,
    universe: Universe,
    household: Household,
    prices: Mapping[str, Price],
    lots: Sequence[Lot],
    *,
    esg: EsgData | None = None,
) -> dict[str, float]:
    """The class target drift is measured against on the day of ``prices`` (fractions by class name).

    ``achievable_class_target`` of the mandate's strategic mix: classes no fund can fill today (values
    screen with ``esg`` data, funds not trading yet) re-spread, and the cash target raised to the
    mandate's liquidity reserve (USD) as a fraction of household value (lots at ``prices`` plus cash).
    """
    from engine.tax import buyable_tickers

    ok = buyable_tickers(household, universe, prices, esg)
    excluded = [t for t in universe.tickers if t in prices and t not in ok]
    total = float(household.cash)
    for lot in lots:
        p = prices.get(lot.symbol)
        if p is not None:
            total += float(lot.shares) * float(p)
    reserve = float(mandate.liquidity_reserve)
    fraction = reserve / total if total > 0 else 0.0
    return achievable_class_target(mandate.strategic_mix, universe, prices, excluded=excluded, reserve=fraction)
