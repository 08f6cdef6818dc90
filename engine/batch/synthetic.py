"""Synthetic households with realistic spreads, for tests and benchmarks of many-household runs.

    households = synthetic(2000, seed=7, as_of=date(2026, 7, 31), prices=market.prices)
    households[0].lots[:3]

Ages 25–70; one or two members; a taxable account always, traditional and Roth accounts for most;
balances log-normal around $250k; ~100 lots per household by default, bought on random past days at
the real historical price (so some lots stand at gains and some at losses, short- and long-term);
goals by life stage; ESG preferences for about a third; pending cash in some accounts.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from engine.model import (
    Account,
    AccountType,
    FilingStatus,
    Goal,
    GoalKind,
    Household,
    IncomeStability,
    Lot,
    Member,
    RiskProfile,
    TaxProfile,
    Universe,
    Values,
)

__all__ = ["synthetic"]

_CORE = ["VTI", "IVV", "VB", "VTV", "VUG", "VEA", "VWO", "BND", "AGG", "IEF", "TIP", "LQD", "HYG", "MUB", "VNQ", "GLD"]
_STATES = [("CA", 0.093), ("NY", 0.0685), ("TX", 0.0), ("FL", 0.0), ("WA", 0.0), ("MA", 0.05), ("IL", 0.0495),
           ("NJ", 0.0637), ("CO", 0.044), ("GA", 0.0539)]


def _money(x: float) -> Decimal:
    return Decimal(str(round(float(x), 2)))


def synthetic(
    n: int,
    seed: int = 0,
    *,
    as_of: date | None = None,
    prices: pd.DataFrame | None = None,
    universe: Universe | None = None,
    lots_per_household: int = 100,
) -> list[Household]:
    """``n`` reproducible households holding funds of ``prices`` (wide adjusted closes up to ``as_of``).

    Defaults: the embedded prices and their last day.
    Lots are bought on trading days with a price during the last 8 years before ``as_of``, at that
    day's price, so unrealized gains and losses are real. Same ``seed`` → identical households.
    """
    if prices is None:
        from engine.data import EmbeddedSource

        prices = EmbeddedSource().prices()
    if as_of is None:
        as_of = prices.index[-1].date()
    rng = np.random.default_rng(seed)
    cut = prices.loc[: pd.Timestamp(as_of)]
    tickers = [t for t in _CORE if t in cut.columns and (universe is None or t in universe)]
    if not tickers:
        raise ValueError("no known ticker in the price frame")
    window = cut.loc[pd.Timestamp(as_of) - pd.DateOffset(years=8):]
    days = window.index
    values = window[tickers].to_numpy()
    last = cut[tickers].ffill().iloc[-1].to_numpy()
    out: list[Household] = []
    for i in range(n):
        hid = f"hh{seed:03d}-{i:05d}"
        age = int(rng.integers(25, 71))
        couple = rng.random() < 0.6
        birth = date(as_of.year - age, int(rng.integers(1, 13)), int(rng.integers(1, 29)))
        income = _money(np.exp(rng.normal(np.log(95000), 0.5)))
        members = [Member("p1", "Primary", birth, income, 65, IncomeStability.STABLE)]
        if couple:
            b2 = date(birth.year + int(rng.integers(-4, 5)), int(rng.integers(1, 13)), int(rng.integers(1, 29)))
            stab = IncomeStability.VARIABLE if rng.random() < 0.3 else IncomeStability.STABLE
            members.append(Member("p2", "Partner", b2, _money(float(income) * rng.uniform(0.3, 1.2)), 65, stab))
        accounts = [Account("taxable", AccountType.TAXABLE, "Brokerage", cash=_money(rng.uniform(0, 20000)))]
        if rng.random() < 0.9:
            accounts.append(Account("trad", AccountType.TRADITIONAL, "401(k)", "p1", _money(rng.uniform(0, 5000))))
        if rng.random() < 0.75:
            accounts.append(Account("roth", AccountType.ROTH, "Roth IRA", "p1", _money(rng.uniform(0, 2000))))
        total = float(np.exp(rng.normal(np.log(250000), 0.9)))
        n_lots = max(len(accounts), int(rng.poisson(lots_per_household)))
        acct_idx = rng.integers(0, len(accounts), n_lots)
        asset_idx = rng.integers(0, len(tickers), n_lots)
        day_idx = rng.integers(0, len(days), n_lots)
        dollars = rng.dirichlet(np.ones(n_lots)) * total
        lots = []
        for j in range(n_lots):
            px = values[day_idx[j], asset_idx[j]]
            if not np.isfinite(px):  # fund not trading yet that day: buy at the last price instead
                px = last[asset_idx[j]]
            shares = Decimal(str(round(dollars[j] / px, 4)))
            if shares <= 0:
                continue
            acquired = days[day_idx[j]].date()
            lots.append(
                Lot(f"{hid}-L{j:04d}", accounts[acct_idx[j]].id, tickers[asset_idx[j]], shares,
                    _money(float(shares) * px), acquired)
            )
        goals = [_retirement(members[0], as_of, rng, [a.id for a in accounts if a.type is not AccountType.TAXABLE]
                             or ["taxable"])]
        goals.append(Goal("emergency", GoalKind.EMERGENCY, _money(rng.uniform(10000, 60000)),
                          as_of + timedelta(days=180), priority=1, accounts=("taxable",)))
        if age < 40 and rng.random() < 0.5:
            goals.append(Goal("home", GoalKind.HOME, _money(rng.uniform(50000, 200000)),
                              as_of + timedelta(days=int(rng.integers(2, 8)) * 365), priority=2,
                              accounts=("taxable",), monthly_contribution=_money(rng.uniform(200, 2000)),
                              flexibility=0.8))
        if 28 < age < 50 and rng.random() < 0.5:
            goals.append(Goal("college", GoalKind.EDUCATION, _money(rng.uniform(60000, 250000)),
                              as_of + timedelta(days=int(rng.integers(5, 18)) * 365), priority=3,
                              accounts=("taxable",), monthly_contribution=_money(rng.uniform(100, 800)),
                              flexibility=0.7))
        state, rate = _STATES[int(rng.integers(0, len(_STATES)))]
        values_pref = Values()
        if rng.random() < 0.33:
            values_pref = Values(exclude_tags=frozenset({"tobacco", "controversial_weapons"}),
                                 min_esg_score=(None, 5.0, 6.0)[int(rng.integers(0, 3))],
                                 tilt=float(rng.uniform(0, 0.6)))
        out.append(
            Household(
                id=hid,
                name=f"Synthetic household {i}",
                members=tuple(members),
                accounts=tuple(accounts),
                goals=tuple(goals),
                lots=tuple(lots),
                risk=RiskProfile(willingness=int(rng.integers(2, 10))),
                values=values_pref,
                tax=TaxProfile(
                    FilingStatus.MARRIED_JOINT if couple else FilingStatus.SINGLE,
                    state,
                    rate,
                    _money(float(income) * (1.6 if couple else 1.0)),
                ),
                monthly_savings=_money(rng.uniform(0, 4000)),
                monthly_expenses=_money(rng.uniform(3000, 12000)),
                emergency_months=float(rng.choice([3.0, 6.0])),
            )
        )
    return out


def _retirement(member: Member, as_of: date, rng: np.random.Generator, accounts: list[str]) -> Goal:
    year = max(member.birth_date.year + member.retirement_age, as_of.year + 1)
    return Goal(
        "retirement",
        GoalKind.RETIREMENT,
        Decimal(0),
        date(year, member.birth_date.month, member.birth_date.day),
        priority=1,
        accounts=tuple(accounts),
        monthly_contribution=_money(rng.uniform(200, 3000)),
        annual_income=_money(rng.uniform(40000, 150000)),
        years=30,
        flexibility=0.85,
    )
