"""The ``direct`` scenario: a direct-index sleeve against an index fund with the fund-level harvester (issue 24).

    sc = load_direct_scenario("direct")                      # backtests/scenarios/direct.yaml
    data = load_sp500(folder)                               # engine.data.stocks; read in place, never shipped
    result = run_direct(sc, data)                           # strategies "direct" and "fund_tlh"
    result.summary()                                        # issue 19's metrics + tracking_error, tax_drag_alpha

Both strategies start from the same lump sum in one taxable account and live through the same days, prices,
dividends, costs and tax year (``backtests.taxes.TaxYear``, the engine's ``tax_on``); only the holdings differ:

- ``direct`` holds the stocks themselves through ``DirectIndexSleeve`` (tracking-error limit, lot-by-lot loss
  sales, wash sales across share classes through the ``LotLedger``) on a decision cadence;
- ``fund_tlh`` holds an index fund whose holdings are the same benchmark and runs the engine's
  ``TaxLossHarvester`` on the same cadence: a loss lot goes to a substitute fund and back after the wash window.

Prices. The S&P 500 file is a back-adjusted total-return series. Ordinary cash dividends are taken out of it
(price ratio = adjusted ratio − dividend ÷ previous close, exact for the file's adjustment, see its README) and
paid as cash on the ex-date, taxed as qualified dividends and reinvested at the next decision. The series stays
split-adjusted, so shares are counted in today's split-adjusted units and a split changes nothing (IRC §307: the
same basis over more shares; ``tests/direct/test_direct_backtest.py`` checks it against ``corporate.Split`` on raw
shares). Flagged distributions (spin-offs encoded as dividends or odd splits) stay reinvested in the parent's price
with the basis unchanged: no income, as §355 spin-offs are tax-free. A series that ends before the last day is a
``Delisting`` at its last price (``engine.tax.corporate``); the fund sells it inside the fund, tax-free to holders.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.metrics import harvest_yield, summary, tax_alpha_split, time_weighted_returns, tracking_error, turnover
from backtests.scenario import SCENARIO_DIR
from backtests.taxes import TaxYear
from engine.config.loader import read_yaml
from engine.data.stocks import StockData, load_sp500
from engine.errors import ConfigError, DataError, Infeasible, OptimizationError
from engine.estimates.sector_model import sector_risk_model
from engine.model import AccountType, Asset, AssetClass, FilingStatus, TaxProfile, Universe
from engine.optimizer.sleeve import DirectIndexSleeve, Exclusion, SleeveRules, SleeveSell, sleeve_inputs
from engine.tax import HarvestConfig, LotLedger, LotMethod, TaxLossHarvester, marginal_rates
from engine.tax.corporate import Delisting, apply_to_ledger
from engine.tax.harvest_run import wash_avoiding_buys

__all__ = [
    "CBL_TAX_ALPHA",
    "DirectResult",
    "DirectRun",
    "DirectScenario",
    "is_direct_scenario",
    "load_direct_data",
    "load_direct_scenario",
    "run_direct",
]

#: Chaudhuri, Burnham & Lo (FAJ 2020), 500 largest US stocks 1926–2018, monthly harvesting: tax alpha with the
#: wash-sale rule (without it: 1.08 %/yr).
CBL_TAX_ALPHA = 0.0082
ACCOUNT = "taxable"
FUND, SUBSTITUTE = "INDEX", "INDEX2"
STRATEGIES = ("direct", "fund_tlh")
_PRESETS: dict[str, Callable[[], Exclusion]] = {
    "tobacco": Exclusion.tobacco, "defense": Exclusion.defense, "fossil_fuels": Exclusion.fossil_fuels}


@dataclass(frozen=True)
class DirectScenario:
    """The scenario: dates, lump sum (USD), the filer, costs, cadence (trading days) and the sleeve's mandate."""

    name: str
    description: str
    start: date
    end: date
    lump_sum: float
    profile: TaxProfile
    outside_st: float
    outside_lt: float
    cost_bps: float  # per side: spread + slippage, charged on every traded dollar of both strategies
    cadence_days: int  # decisions every this many trading days (1 = daily); each year's first day is one too
    te_limit: float
    max_weight: float
    min_loss: float
    lot_slots: int
    exclusions: tuple[Exclusion, ...]
    harvest: HarvestConfig
    lookback_days: int
    refit_days: int
    min_trade_usd: float
    tickers: tuple[str, ...] = ()  # a subset of the universe (tests); empty: every stock of the data
    strategies: tuple[str, ...] = STRATEGIES
    file: str = ""


def _need(raw: Mapping[str, Any], key: str, file: str, kind: type | tuple[type, ...]) -> Any:
    if key not in raw:
        raise ConfigError("missing field", file=file, field=key, fix=f"add {key}: to the scenario")
    v = raw[key]
    if not isinstance(v, kind) or (isinstance(v, bool) and kind is not bool):
        raise ConfigError(f"wrong type ({type(v).__name__})", file=file, field=key, value=v,
                          fix="see backtests/scenarios/direct.yaml for the expected form")
    return v


def _num(raw: Mapping[str, Any], key: str, file: str, default: float | None = None, *, lo: float = 0.0,
         hi: float = math.inf, at: str = "") -> float:
    if not isinstance(raw, Mapping):
        raise ConfigError("must be a mapping", file=file, field=at.rstrip(".") or key, value=raw,
                          fix="see backtests/scenarios/direct.yaml for the expected form")
    v = raw.get(key, default)
    try:
        x = float(v)
    except (TypeError, ValueError):
        x = math.nan
    if isinstance(v, bool) or not math.isfinite(x) or not lo <= x <= hi:
        raise ConfigError(f"must be a number in [{lo:g}, {hi:g}]", file=file, field=at + key, value=v,
                          fix="write a plain number (fractions: 0.015 = 1.5 %)")
    return x


def _scenario_path(path_or_name: str | Path) -> Path:
    p = Path(path_or_name)
    return SCENARIO_DIR / f"{p.name}.yaml" if not p.suffix and not p.is_file() else p


def is_direct_scenario(path_or_name: str | Path) -> bool:
    """True when the scenario (a path or a shipped name) is a direct-indexing one (``kind: direct``)."""
    p = _scenario_path(path_or_name)
    if not p.is_file():
        return False
    try:
        raw = read_yaml(p)
    except ConfigError:
        return False
    return isinstance(raw, Mapping) and raw.get("kind") == "direct"


def load_direct_scenario(path_or_name: str | Path = "direct") -> DirectScenario:
    """The ``direct`` scenario from YAML (a path, or a shipped name whose file has ``kind: direct``).

    Raises:
        ConfigError: a missing file or a bad field; names the file, field, value and fix.
    """
    p = _scenario_path(path_or_name)
    if not p.is_file():
        raise ConfigError("no such scenario file", file=str(p), fix="pass a YAML path or the shipped name 'direct'")
    file = str(p)
    raw = read_yaml(p)
    if not isinstance(raw, Mapping) or raw.get("kind") != "direct":
        raise ConfigError("not a direct-indexing scenario", file=file, field="kind", value=getattr(raw, "get",
                          lambda *_: None)("kind"), fix="the file needs kind: direct")
    start, end = _need(raw, "start", file, date), _need(raw, "end", file, date)
    if end <= start:
        raise ConfigError("end must be after start", file=file, field="end", value=end)
    tax = _need(raw, "tax", file, Mapping)
    try:
        status = FilingStatus(str(tax.get("filing_status", "single")))
    except ValueError:
        raise ConfigError("unknown filing status", file=file, field="tax.filing_status",
                          value=tax.get("filing_status"), fix=f"one of {', '.join(s.value for s in FilingStatus)}"
                          ) from None
    profile = TaxProfile(filing_status=status, state=str(tax.get("state", "")),
                         state_rate=_num(tax, "state_rate", file, 0.0, hi=0.2, at="tax."),
                         ordinary_income=Decimal(repr(_num(tax, "ordinary_income", file, hi=1e9, at="tax."))))
    sleeve, harvest, costs, risk = (_section(raw, k, file) for k in ("sleeve", "fund_harvest", "costs", "risk_model"))
    exclusions = []
    items = sleeve.get("exclusions") or []
    if not isinstance(items, list):
        raise ConfigError("must be a list", file=file, field="sleeve.exclusions", value=items,
                          fix="e.g. exclusions: [tobacco, XOM]")
    for i, e in enumerate(items):
        if isinstance(e, str) and e in _PRESETS:
            exclusions.append(_PRESETS[e]())
        elif isinstance(e, str) and e.strip():
            exclusions.append(Exclusion(e, tickers=(e.upper(),)))
        else:
            raise ConfigError("an exclusion is a ticker or one of " + ", ".join(_PRESETS), file=file,
                              field=f"sleeve.exclusions.{i}", value=e)
    strategies = tuple(raw.get("strategies") or STRATEGIES)
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise ConfigError("unknown strategy", file=file, field="strategies", value=unknown,
                          fix=f"the direct scenario runs {', '.join(STRATEGIES)}")
    bps = _num(costs, "bps_per_side", file, 3.0, hi=100.0, at="costs.")
    return DirectScenario(
        name=str(raw.get("name", p.stem)), description=str(raw.get("description", "")), start=start, end=end,
        lump_sum=_num(raw, "lump_sum", file, lo=1000.0, hi=1e9), profile=profile,
        outside_st=_num(tax, "outside_st_gains", file, 0.0, hi=1e9, at="tax."),
        outside_lt=_num(tax, "outside_lt_gains", file, 0.0, hi=1e9, at="tax."),
        cost_bps=bps,
        cadence_days=int(_num(raw, "cadence_days", file, 5, lo=1, hi=252)),
        te_limit=_num(sleeve, "te_limit", file, 0.015, lo=1e-4, hi=1.0, at="sleeve."),
        max_weight=_num(sleeve, "max_weight", file, 0.10, lo=1e-3, hi=1.0, at="sleeve."),
        min_loss=_num(sleeve, "min_loss", file, 0.05, hi=1.0, at="sleeve."),
        lot_slots=int(_num(sleeve, "lot_slots", file, 4, lo=1, hi=64, at="sleeve.")),
        exclusions=tuple(exclusions),
        harvest=HarvestConfig(
            min_loss_usd=Decimal(repr(_num(harvest, "min_loss_usd", file, 500.0, hi=1e9, at="fund_harvest."))),
            min_loss_fraction=_num(harvest, "min_loss_fraction", file, 0.03, hi=0.99, at="fund_harvest."),
            cost_fraction=bps / 1e4, tracking_allowance=0.0),  # the substitute has the fund's returns here
        lookback_days=int(_num(risk, "lookback_days", file, 756, lo=60, hi=5000, at="risk_model.")),
        refit_days=int(_num(risk, "refit_days", file, 21, lo=1, hi=252, at="risk_model.")),
        min_trade_usd=_num(raw, "min_trade_usd", file, 100.0, hi=1e7),
        tickers=tuple(str(t).upper() for t in raw.get("tickers") or ()),
        strategies=strategies, file=file,
    )


def _section(raw: Mapping[str, Any], key: str, file: str) -> Mapping[str, Any]:
    v = raw.get(key) or {}
    if not isinstance(v, Mapping):
        raise ConfigError("must be a mapping", file=file, field=key, value=v,
                          fix="see backtests/scenarios/direct.yaml for the expected form")
    return v


def load_direct_data(prices: str | Path) -> StockData:
    """The S&P 500 set from its adjusted-close file; ``sp500_sectors.csv`` and ``sp500_dividends_splits.csv.gz``
    are read from the same folder (the set's own layout, see /work/shared/data/sp500/README.md).

    Raises:
        DataError: the file or a sibling is missing, or a file cannot be read (names the file and the fix).
    """
    path = Path(prices).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: no such file; give the S&P 500 adjusted-close file sp500_adj_close.csv.gz")
    if path.name != "sp500_adj_close.csv.gz":
        raise DataError(f"{path}: expected the S&P 500 set's sp500_adj_close.csv.gz (its sectors and dividends files "
                        "are read beside it); rename or point to the set's folder")
    try:
        data = load_sp500(path.parent)
    except (OSError, EOFError, ValueError, KeyError, pd.errors.ParserError) as exc:
        raise DataError(f"{path.parent}: the S&P 500 set cannot be read ({type(exc).__name__}: {exc}); rebuild it "
                        "with its build.py or fetch an intact copy") from None
    cols = {"date", "ticker", "dividend_amount", "split_coefficient", "div_pct_prev_close"}
    actions = data.actions
    if actions is None or not cols <= set(actions.columns):
        have = [] if actions is None else list(actions.columns)
        raise DataError(f"{path.parent / 'sp500_dividends_splits.csv.gz'}: columns {sorted(cols - set(have))} are "
                        "missing; rebuild it with the set's build.py")
    return data


# ------------------------------------------------------------------------------------------------
# Market arrays
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Market:
    days: list[date]
    tickers: list[str]
    price: np.ndarray  # T×N price-return (split-adjusted) closes, carried over one-day gaps; NaN outside life
    total: np.ndarray  # T×N total return of each day (NaN outside life)
    yld: np.ndarray  # T×N cash dividend ÷ previous close on ex-dates
    first: np.ndarray  # N: first row with a price (T when never)
    last: np.ndarray  # N: last row with a price (−1 when never)
    returns: pd.DataFrame  # T×N total returns for the risk model
    sectors: dict[str, str]


def _market(data: StockData, start: date, end: date, tickers: Sequence[str]) -> _Market:
    adj = data.prices.loc[pd.Timestamp(start): pd.Timestamp(end)]
    if tickers:
        missing = [t for t in tickers if t not in adj.columns]
        if missing:
            raise ConfigError("tickers not in the price file", field="tickers", value=missing[:5])
        adj = adj[list(tickers)]
    adj = adj.loc[:, adj.notna().any()]
    if len(adj) < 3:
        raise DataError(f"only {len(adj)} trading days between {start} and {end} in the price file")
    a = adj.to_numpy(dtype=float)
    T, N = a.shape
    valid = np.isfinite(a)
    first = np.where(valid.any(axis=0), valid.argmax(axis=0), T)
    last = np.where(valid.any(axis=0), T - 1 - valid[::-1].argmax(axis=0), -1)
    rows = np.arange(T)[:, None]
    alive = (rows >= first) & (rows <= last)
    filled = pd.DataFrame(a).ffill().to_numpy().copy()  # one-day gaps inside a life carry the last price
    filled[~alive] = np.nan
    ratio = np.full((T, N), np.nan)
    ratio[1:] = filled[1:] / filled[:-1]
    yld = np.zeros((T, N))
    act = data.actions
    if act is not None and len(act):
        ok = act[(act["flag"].fillna("") == "") & (act["dividend_amount"].astype(float) > 0)] \
            if "flag" in act.columns else act[act["dividend_amount"].astype(float) > 0]
        row = {pd.Timestamp(d): i for i, d in enumerate(adj.index)}
        col = {t: j for j, t in enumerate(adj.columns)}
        for d, t, pct in zip(ok["date"], ok["ticker"], ok["div_pct_prev_close"].astype(float), strict=True):
            i, j = row.get(pd.Timestamp(d)), col.get(str(t).upper())
            if i is not None and j is not None and first[j] < i <= last[j] and math.isfinite(pct):
                yld[i, j] = pct / 100.0
    pr = ratio - yld  # adj_t/adj_{t−1} = (close_t + div)/close_{t−1}: the price ratio is that less div/close_{t−1}
    price = np.full((T, N), np.nan)
    for j in range(N):
        if first[j] < T:
            seg = np.nan_to_num(pr[first[j] + 1: last[j] + 1, j], nan=1.0)
            price[first[j]: last[j] + 1, j] = filled[first[j], j] * np.concatenate(([1.0], np.cumprod(seg)))
    total = ratio - 1.0
    universe = data.universe
    return _Market([d.date() for d in adj.index], list(adj.columns), price, total, yld, first, last,
                   pd.DataFrame(total, index=adj.index, columns=adj.columns),
                   {s.ticker: s.sector for s in universe.stocks if s.ticker in set(adj.columns)})


def _benchmark(m: _Market) -> np.ndarray:
    """T×N index weights at each close: start equal-weighted over the stocks alive, drift with price returns (a
    self-weighting index, like a cap-weighted one), an entrant joins at 1/N on its first day, an exit's weight
    leaves on its last (the index sells it at its last price)."""
    T, N = m.price.shape
    b = np.zeros((T, N))
    w = np.zeros(N)
    for t in range(T):
        if t:
            with np.errstate(invalid="ignore"):
                g = np.where(w > 0, m.price[t] / m.price[t - 1], 0.0)
            w = w * np.nan_to_num(g)
        joins = np.flatnonzero(m.first == t)
        ends = np.flatnonzero(m.last == t - 1) if t else np.array([], dtype=int)
        w[ends] = 0.0
        if w.sum() > 0:
            w = w / w.sum()
        if len(joins):
            alive = int(((m.first <= t) & (m.last >= t)).sum())
            w = w * (1 - len(joins) / alive)
            w[joins] = 1.0 / alive
        w = w / w.sum()
        b[t] = w
    return b


# ------------------------------------------------------------------------------------------------
# The run of one strategy
# ------------------------------------------------------------------------------------------------


@dataclass
class DirectRun:
    """Daily series (USD) and totals of one strategy."""

    strategy: str
    days: list[date]
    value: np.ndarray
    after_tax: np.ndarray
    after_tax_paid: np.ndarray
    flows_pre_tax: np.ndarray
    harvested: np.ndarray  # USD of losses harvested per day (reportable, after wash-sale disallowance)
    returns_index: np.ndarray  # daily total return of the benchmark index (fractions)
    income: np.ndarray = field(default_factory=lambda: np.zeros(0))  # USD of dividends received each day
    cash: np.ndarray = field(default_factory=lambda: np.zeros(0))  # USD of cash at each close
    traded: float = 0.0
    costs: float = 0.0
    dividends: float = 0.0
    taxes: list[Any] = field(default_factory=list)
    wash_sales: int = 0
    delistings: list[str] = field(default_factory=list)
    solves: int = 0
    solve_seconds: float = 0.0
    max_ex_ante_te: float = 0.0
    held_excluded: int = 0  # solves whose target held an excluded stock (must stay 0)
    over_limit: int = 0  # solves whose ex-ante tracking error ended above the limit (wash blocks; see the sleeve)
    over_limit_unexplained: int = 0  # of those, solves whose explanation does not say why (must stay 0)
    kept_washing: int = 0  # loss-lot sales of the solve not made because a recent buy would wash them
    notes: list[str] = field(default_factory=list)
    lots_open: int = 0
    seconds: float = 0.0
    ledger: LotLedger | None = None
    buys: list[tuple[date, str, float]] = field(default_factory=list)  # (day, ticker, USD)

    def metrics(self) -> dict[str, Any]:
        """Issue 19's metrics (annual fractions, USD) plus the realized tracking error against the index."""
        idx = pd.DatetimeIndex(pd.to_datetime(self.days))[1:]
        pre = pd.Series(time_weighted_returns(self.value, self.flows_pre_tax), index=idx)
        post = pd.Series(time_weighted_returns(self.after_tax, np.zeros(len(self.days))), index=idx)
        paid = pd.Series(time_weighted_returns(self.after_tax_paid, np.zeros(len(self.days))), index=idx)
        s_pre, s_post = summary(pre), summary(post)
        years = max((self.days[-1] - self.days[0]).days / 365.25, 1e-9)
        per_year = []
        realized: dict[int, list[Any]] = {}
        for x in self.ledger.realized() if self.ledger is not None else []:
            realized.setdefault(x.sold.year, []).append(x)
        for y in self.taxes:
            rows = [i for i, d in enumerate(self.days) if d.year == y.year]
            per_year.append({"year": y.year, "harvested": float(self.harvested[rows].sum()),
                             "realized_gains": float(sum(max(float(x.gain), 0.0) for x in realized.get(y.year, []))),
                          "dividends": float(self.income[rows].sum()), "st_gain": y.st_gain, "lt_gain": y.lt_gain,
                          "tax": y.tax, "carried_out": y.st_carry + y.lt_carry,
                          "value_end": float(self.value[rows[-1]])})
        return {
            "twr_pre_tax": s_pre["annual_return"],
            "twr_after_tax": s_post["annual_return"],
            "twr_after_tax_paid": summary(paid)["annual_return"],
            "tax_drag": s_pre["annual_return"] - s_post["annual_return"],
            "final_value": float(self.value[-1]),
            "final_after_tax": float(self.after_tax[-1]),
            "final_liquidation": float(self.after_tax[-1]),
            "taxes": float(sum(t.tax for t in self.taxes)),
            "dividend_tax": float(sum(t.dividend_tax for t in self.taxes)),
            "dividends": self.dividends,
            "harvested": float(self.harvested.sum()),
            "harvest_yield": harvest_yield(self.harvested.tolist(), self.value.tolist(), self.days),
            "turnover": turnover(self.traded, float(np.mean(self.value)), years),
            "costs": self.costs,
            "tracking_error": tracking_error(pre, pd.Series(self.returns_index[1:], index=idx)),
            "max_ex_ante_tracking_error": self.max_ex_ante_te,
            "solves_over_te_limit": self.over_limit,
            "loss_sales_kept_from_washing": self.kept_washing,
            "max_drawdown": s_pre["max_drawdown"],
            "average_cash": float(np.mean(self.cash[1:] / self.value[1:])),
            "wash_sales": self.wash_sales,
            "delistings": len(self.delistings),
            "solves": self.solves,
            "lots_open": self.lots_open,
            "seconds": self.seconds,
            "years": per_year,
        }


class _Sim:
    """Shared bookkeeping of one strategy: ledger, cash, tax year, daily values (subclasses trade)."""

    def __init__(self, sc: DirectScenario, m: _Market, bench: np.ndarray, name: str,
                 identical: Sequence[set[str]]) -> None:
        self.sc, self.m, self.bench, self.name = sc, m, bench, name
        self.ledger = LotLedger({ACCOUNT: AccountType.TAXABLE}, identical)
        self.taxes = TaxYear(sc.profile, outside_st=sc.outside_st, outside_lt=sc.outside_lt)
        self.rates = marginal_rates(sc.profile)
        T = len(m.days)
        self.run = DirectRun(name, m.days, np.zeros(T), np.zeros(T), np.zeros(T), np.zeros(T), np.zeros(T),
                             np.zeros(T), np.zeros(T), np.zeros(T))
        self.cash = float(sc.lump_sum)
        self.tax_due = 0.0
        self.owed = 0.0
        self.gains = (0.0, 0.0)  # this year's gains tax so far, capital losses that would carry (USD)
        self.basis = 0.0

    # -- hooks ---------------------------------------------------------------------------------------------
    def holdings_value(self, t: int) -> float:
        raise NotImplementedError

    def dividends(self, t: int) -> float:
        raise NotImplementedError

    def decide(self, t: int) -> None:
        raise NotImplementedError

    def corporate(self, t: int) -> None:
        """Actions of the day before valuation (delistings); the fund has none (it trades inside)."""

    # -- shared --------------------------------------------------------------------------------------------
    def trade_cost(self, usd: float) -> None:
        c = abs(usd) * self.sc.cost_bps / 1e4
        self.run.traded += abs(usd)
        self.run.costs += c
        self.cash -= c

    def refresh(self, year: int) -> None:
        """After trades: the ledger's open basis and this year's gains tax (cached until the next trade)."""
        self.basis = float(sum(lot.basis for lot in self.ledger.open_lots()))
        self.gains = self.taxes.gains_tax_and_carry(self.ledger, year)

    def simulate(self, decision_days: set[int]) -> DirectRun:
        start = time.perf_counter()
        r, m = self.run, self.m
        T = len(m.days)
        for t, day in enumerate(m.days):
            if t:
                div = self.dividends(t)
                if div:
                    self.cash += div
                    r.dividends += div
                    r.income[t] = div
                    self.taxes.accrue_income(div, 0.0, 0.0)  # qualified dividends (held > 60 days: the index's)
            self.corporate(t)
            if t in decision_days and t < T - 1:
                if self.tax_due:  # last year's tax (or refund) leaves the portfolio on the year's first decision
                    self.cash -= self.tax_due
                    r.flows_pre_tax[t] -= self.tax_due
                    self.tax_due = 0.0
                self.decide(t)
                self.refresh(day.year)
            v = self.holdings_value(t) + self.cash
            r.value[t] = v
            r.cash[t] = self.cash
            ytd = self.gains[0] + self.taxes.income_tax_so_far()
            deferred = (v - self.cash - self.basis - self.gains[1]) * self.rates.long_term
            r.after_tax[t] = v - self.tax_due - self.owed - ytd - deferred
            r.after_tax_paid[t] = v - self.tax_due - self.owed - ytd
            if t + 1 == T or m.days[t + 1].year != day.year:
                res = self.taxes.settle(self.ledger, day.year)
                r.taxes.append(res)
                if t + 1 < T:
                    self.tax_due += res.tax
                else:
                    self.owed += res.tax
                self.gains = (0.0, self.taxes.carried)
                deferred = (v - self.cash - self.basis - self.taxes.carried) * self.rates.long_term
                r.after_tax[t] = v - self.tax_due - self.owed - deferred
                r.after_tax_paid[t] = v - self.tax_due - self.owed
        r.wash_sales = len(self.ledger.wash_sales())
        r.lots_open = len(self.ledger.open_lots())
        r.ledger = self.ledger
        r.seconds = time.perf_counter() - start
        return r

    def harvest_record(self, t: int, reals: Sequence[Any]) -> None:
        for x in reals:
            if x.reportable and x.gain < 0:
                self.run.harvested[t] += float(-x.gain)

    def raise_cash(self, t: int, prices: Mapping[str, float]) -> None:
        """Cash below 0 (a tax bill): sell every holding pro rata, lots that cost the least tax first."""
        held: dict[str, Decimal] = {}
        for lot in self.ledger.open_lots(ACCOUNT):
            held[lot.symbol] = held.get(lot.symbol, Decimal(0)) + lot.shares
        # Groups bought in the last 30 days are left alone where the rest covers the bill (their loss lots, sold
        # first by TAX_MIN, would only be washed).
        washing = self.ledger.blocked_loss_sales(held, self.m.days[t])
        rest = {s: q for s, q in held.items() if s not in washing}
        if sum(float(q) * prices[s] for s, q in rest.items()) > -self.cash * 1.5:
            held = rest
        total = sum(float(q) * prices[s] for s, q in held.items())
        if total <= 0:
            return
        frac = min(1.0, -self.cash * 1.001 / total)
        for s, q in held.items():
            qty = (q * Decimal(repr(frac))).quantize(Decimal("0.000001"))
            if qty <= 0:
                continue
            qty = min(qty, q)
            self.ledger.sell(ACCOUNT, s, qty, _px(prices[s]), self.m.days[t], LotMethod.TAX_MIN)
            usd = float(qty) * prices[s]
            self.cash += usd
            self.trade_cost(usd)


def _px(x: float) -> Decimal:
    return Decimal(f"{x:.6f}")


def _qty(usd: float, price: float) -> Decimal:
    return Decimal(f"{usd / price:.6f}")


class _DirectSim(_Sim):
    """The sleeve: stocks alive today, tracking the index within the limit, harvested lot by lot."""

    def __init__(self, sc: DirectScenario, m: _Market, bench: np.ndarray, data: StockData,
                 identical: Sequence[set[str]]) -> None:
        super().__init__(sc, m, bench, "direct", identical)
        self.universe = data.universe.select(m.tickers)
        self.pos = {tk: j for j, tk in enumerate(m.tickers)}
        self.units = np.zeros(len(m.tickers))
        self.rules = SleeveRules(te_limit=sc.te_limit, exclusions=sc.exclusions, max_weight=sc.max_weight,
                                 cost=sc.cost_bps / 1e4, short_rate=self.rates.short_term,
                                 long_rate=self.rates.long_term, min_loss=sc.min_loss, lot_slots=sc.lot_slots)
        self.excluded = {tk for ex in sc.exclusions for tk in ex.matches(self.universe)}
        self.model: Any = None
        self.model_day = -10**9

    def holdings_value(self, t: int) -> float:
        return float(np.nansum(self.units * np.nan_to_num(self.m.price[t])))

    def dividends(self, t: int) -> float:
        return float(np.nansum(self.units * self.m.yld[t] * np.nan_to_num(self.m.price[t - 1])))

    def corporate(self, t: int) -> None:
        for j in np.flatnonzero((self.m.last == t) & (self.units > 0)):
            if t == len(self.m.days) - 1:
                continue
            tk, px = self.m.tickers[j], float(self.m.price[t, j])
            reals = apply_to_ledger(self.ledger, Delisting(tk, _px(px), self.m.days[t], "price series ends"))
            usd = float(sum(x.proceeds for x in reals))
            self.cash += usd
            self.units[j] = 0.0
            self.run.delistings.append(f"{self.m.days[t]} {tk} at {px:.4f}: {len(reals)} lots, ${usd:,.0f}")
            self.refresh(self.m.days[t].year)

    def _sync_units(self) -> None:
        self.units[:] = 0.0
        for lot in self.ledger.open_lots(ACCOUNT):
            self.units[self.pos[lot.symbol]] += float(lot.shares)

    def _prices(self, t: int) -> dict[str, float]:
        p = self.m.price[t]
        return {tk: float(p[j]) for j, tk in enumerate(self.m.tickers) if math.isfinite(p[j])}

    def decide(self, t: int) -> None:
        m, day = self.m, self.m.days[t]
        prices = self._prices(t)
        if self.cash < 0:
            self.raise_cash(t, prices)
            self._sync_units()
        b = self.bench[t].copy()
        if not self.ledger.open_lots() or t < 20:
            self._buy_weights(t, b, prices)  # the first purchase (and before a risk model has 20 days): the index
            return
        alive = (m.first <= t) & (m.last > t)
        try:
            if self.model is None or t - self.model_day >= self.sc.refit_days:
                window = m.returns.iloc[max(1, t - self.sc.lookback_days + 1): t + 1]
                self.model = sector_risk_model(window, m.sectors, as_of=day)
                self.model_day = t
            x = sleeve_inputs(self.ledger, ACCOUNT, self.universe, self.model, prices, day, benchmark=b,
                              rules=self.rules, cash=max(self.cash, 0.0))
            # Dead or not yet listed: neither held nor bought. The concentration cap never forces a sale below the
            # benchmark's own weight (an equal-start index lets a winner pass 10 %: MNST reaches 13 %); selling
            # it there would realize gains the fund never does. Exclusions (ub 0) stay.
            ub = np.where(alive, np.where(x.ub > 0, np.maximum(x.ub, 1.1 * b), 0.0), 0.0)
            x = replace(x, ub=ub, buy_ok=np.where(alive, x.buy_ok, 0.0))
            res = DirectIndexSleeve.for_inputs(x).solve(x, explain_exclusions=False)
        except (Infeasible, OptimizationError, ConfigError, DataError) as exc:
            self.run.notes.append(f"{day}: no trade, the sleeve solve failed: {exc}")
            return
        r = self.run
        r.solves += 1
        r.solve_seconds += res.solve_seconds
        r.max_ex_ante_te = max(r.max_ex_ante_te, res.tracking_error)
        if any(res.weights.get(tk, 0.0) > 1e-6 for tk in self.excluded):
            r.held_excluded += 1
        sells = self._unwashed(res.sells, prices, day)
        buys = {tk: w * x.value for tk, w in res.buys.items()}
        if res.tracking_error > self.sc.te_limit * 1.001 + 1e-6:
            r.over_limit += 1
            r.over_limit_unexplained += not any("is above the limit" in e for e in res.explanation)
        for s in sells:
            if s.value < self.sc.min_trade_usd / 10:
                continue
            lot = self.ledger.lot(s.lot_id)
            px = prices[s.symbol]
            qty = min(_qty(s.value, px), lot.shares)
            if qty >= lot.shares * Decimal("0.999"):
                qty = lot.shares
            if qty <= 0:
                continue
            reals = self.ledger.sell(ACCOUNT, s.symbol, qty, _px(px), day, LotMethod.SPECIFIC, lots=[s.lot_id])
            self.harvest_record(t, reals)
            usd = float(qty) * px
            self.cash += usd
            self.trade_cost(usd)
        budget = self.cash
        for tk, want in sorted(buys.items(), key=lambda kv: -kv[1]):
            usd = min(want, budget)
            if usd < self.sc.min_trade_usd:
                continue
            self._buy(t, tk, usd, prices[tk])
            budget = self.cash
        self._sync_units()

    def _unwashed(self, sells: Sequence[SleeveSell], prices: Mapping[str, float], day: date) -> list[SleeveSell]:
        """The solve's sales less the loss lots whose share-class group was bought in the last 30 days: kept (the
        solve gives them no credit, and a sale would only be washed into the new lot). A group sold and bought in
        one solve is already netted by the sleeve (``DirectIndexSleeve.solve``)."""
        blocked = self.ledger.blocked_loss_sales({s.symbol for s in sells}, day)
        out: list[SleeveSell] = []
        for s in sells:
            lot = self.ledger.lot(s.lot_id)
            if s.symbol in blocked and float(lot.shares) * prices[s.symbol] < float(lot.basis):
                self.run.kept_washing += 1
                continue
            out.append(s)
        return out

    def _buy(self, t: int, tk: str, usd: float, px: float) -> None:
        qty = _qty(usd / (1 + self.sc.cost_bps / 1e4), px)
        if qty <= 0:
            return
        self.ledger.buy(ACCOUNT, tk, qty, _px(px), self.m.days[t])
        spent = float(qty) * px
        self.cash -= spent
        self.trade_cost(spent)
        self.run.buys.append((self.m.days[t], tk, spent))

    def _buy_weights(self, t: int, b: np.ndarray, prices: Mapping[str, float]) -> None:
        cash = self.cash
        keep = np.array([tk not in self.excluded for tk in self.m.tickers])
        w = np.where(keep, b, 0.0)
        w = w / w.sum()
        for j in np.flatnonzero(w > 0):
            usd = cash * w[j]
            if usd >= self.sc.min_trade_usd:
                self._buy(t, self.m.tickers[j], usd, prices[self.m.tickers[j]])
        self._sync_units()


class _FundSim(_Sim):
    """The index fund (its holdings are the benchmark) with the engine's fund-level harvester."""

    def __init__(self, sc: DirectScenario, m: _Market, bench: np.ndarray, identical: Sequence[set[str]]) -> None:
        super().__init__(sc, m, bench, "fund_tlh", identical)
        T = len(m.days)
        nav = np.ones(T)
        yld = np.zeros(T)
        for t in range(1, T):
            w = bench[t - 1]
            g = np.nan_to_num(m.price[t] / m.price[t - 1], nan=1.0)
            nav[t] = nav[t - 1] * float(w @ g)
            yld[t] = float(w @ m.yld[t])
        self.nav = nav * 100.0
        self.fund_yield = yld
        self.universe = Universe({
            FUND: Asset(FUND, AssetClass.US_EQUITY, name="index fund", substitute_group="index"),
            SUBSTITUTE: Asset(SUBSTITUTE, AssetClass.US_EQUITY, name="substitute index fund",
                              substitute_group="index"),
        })
        self.harvester = TaxLossHarvester(self.universe, sc.profile, sc.harvest, preferred={"index": FUND})
        self.units = 0.0

    def _units(self) -> float:
        return float(sum(lot.shares for lot in self.ledger.open_lots(ACCOUNT)))

    def holdings_value(self, t: int) -> float:
        return self.units * float(self.nav[t])

    def dividends(self, t: int) -> float:
        return self.units * float(self.nav[t - 1]) * float(self.fund_yield[t])

    def decide(self, t: int) -> None:
        day = self.m.days[t]
        px = float(self.nav[t])
        prices = {FUND: px, SUBSTITUTE: px}
        if self.cash < 0:
            self.raise_cash(t, prices)
        for d in self.harvester.scan(self.ledger, {k: _px(v) for k, v in prices.items()}, day):
            reals = TaxLossHarvester.apply(self.ledger, d)
            self.harvest_record(t, [x for x in reals if d.kind.value == "harvest"])
            usd = float(d.proceeds) + float(d.substitute_shares) * px
            self.cash += float(d.proceeds) - float(d.substitute_shares) * px
            self.trade_cost(usd)
        if self.cash >= self.sc.min_trade_usd:  # new money: the primary unless a buy there would wash a loss
            avoid = wash_avoiding_buys(self.ledger, prices, [FUND, SUBSTITUTE], self.universe, day)
            blocked = self.ledger.blocked_buys([FUND, SUBSTITUTE], day)
            ticker = next((tk for tk in (FUND, SUBSTITUTE) if tk not in avoid and tk not in blocked), FUND)
            qty = _qty(self.cash / (1 + self.sc.cost_bps / 1e4), px)
            if qty > 0:
                self.ledger.buy(ACCOUNT, ticker, qty, _px(px), day)
                spent = float(qty) * px
                self.cash -= spent
                self.trade_cost(spent)
        self.units = self._units()


# ------------------------------------------------------------------------------------------------
# The scenario
# ------------------------------------------------------------------------------------------------


@dataclass
class DirectResult:
    """Both strategies' runs and the scenario's provenance."""

    scenario: DirectScenario
    runs: dict[str, DirectRun]
    universe_size: int
    period: tuple[date, date]
    cadence_days: int

    def summary(self) -> dict[str, Any]:
        """``{"strategies": {NAME: metrics}, "tax_drag_alpha": direct over fund_tlh, "anchor": CBL}`` (fractions)."""
        out = {name: r.metrics() for name, r in self.runs.items()}
        if "direct" in out and "fund_tlh" in out:
            a, b = out["direct"], out["fund_tlh"]
            a.update(tax_alpha_split(a["twr_pre_tax"], a["twr_after_tax"], b["twr_pre_tax"], b["twr_after_tax"]))
            # The same split on taxes paid only (no deferred tax on the lowered basis, no value of carried losses).
            a["tax_drag_alpha_paid"] = tax_alpha_split(a["twr_pre_tax"], a["twr_after_tax_paid"], b["twr_pre_tax"],
                                                       b["twr_after_tax_paid"])["tax_drag_alpha"]
            b.update({"tax_alpha": 0.0, "tax_drag_alpha": 0.0, "pre_tax_alpha": 0.0, "tax_drag_alpha_paid": 0.0})
        sc = self.scenario
        rates = marginal_rates(sc.profile)
        return {
            "scenario": sc.name,
            "period": [str(self.period[0]), str(self.period[1])],
            "stocks": self.universe_size,
            "cadence_days": self.cadence_days,
            "te_limit": sc.te_limit,
            "rates": {"short_term": rates.short_term, "long_term": rates.long_term, "niit": rates.niit},
            "strategies": out,
            "tax_drag_alpha": out.get("direct", {}).get("tax_drag_alpha", math.nan),
            "anchor": {"source": "Chaudhuri, Burnham & Lo (FAJ 2020), with the wash-sale rule", "tax_alpha":
                       CBL_TAX_ALPHA},
            "survivorship": "universe = S&P 500 members of March 2021 (survivorship-biased: fewer losses to "
                            "harvest, fewer delistings than the index really had)",
        }


def run_direct(sc: DirectScenario, data: StockData, *, strategies: Sequence[str] | None = None,
               cadence_days: int | None = None) -> DirectResult:
    """Run the scenario's strategies over ``data`` (same days, prices, dividends, costs and taxes for both)."""
    names = list(strategies or sc.strategies)
    for n in names:
        if n not in STRATEGIES:
            raise ConfigError("unknown strategy", field="strategies", value=n, fix=f"one of {', '.join(STRATEGIES)}")
    cadence = int(cadence_days or sc.cadence_days)
    m = _market(data, sc.start, sc.end, sc.tickers)
    bench = _benchmark(m)
    universe = data.universe.select(m.tickers)
    identical = [set(g) for g in universe.identical]
    ticks = set(range(0, len(m.days), cadence))
    ticks |= {t for t in range(1, len(m.days)) if m.days[t].year != m.days[t - 1].year}
    runs: dict[str, DirectRun] = {}
    for n in names:
        sim: _Sim = _DirectSim(sc, m, bench, data, identical) if n == "direct" else _FundSim(sc, m, bench, identical)
        run = sim.simulate(ticks)
        run.returns_index = np.r_[0.0, np.nansum(bench[:-1] * np.nan_to_num(m.total[1:]), axis=1)]
        runs[n] = run
    return DirectResult(sc, runs, len(m.tickers), (m.days[0], m.days[-1]), cadence)
