"""The household YAML's ``direct_index:`` section: the checks against the stock universe it names.

    direct_index:
      accounts: [brokerage]          # taxable accounts holding the stocks
      fund: IVV                      # the index fund the sleeve replaces (its look-through is the benchmark)
      universe: embedded             # or a folder with the S&P 500 set, or a universe CSV (relative to this file)
      te_limit: 0.02                 # annual tracking error, fraction
      tax_budget: 5000               # USD of net tax a plan may realize moving out of the fund
      exclude: [fossil_fuels]        # presets: tobacco, defense, fossil_fuels

Its schema is ``engine.model.DirectIndex``'s, derived like every other section (``engine.config.schema.RULES``);
``engine.config.loader`` calls ``with_universe_resolved`` and ``check_direct_index``; every error names the file,
the field, the value and the fix.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from engine.errors import ConfigError
from engine.model import Household, Universe

__all__ = ["check_direct_index", "sleeve_symbols", "with_universe_resolved"]


def with_universe_resolved(household: Household, file: str | None) -> Household:
    """A sleeve's relative ``universe`` path is resolved against the household file's folder."""
    sleeve = household.direct_index
    if sleeve is None or not file or sleeve.universe.strip().lower() == "embedded":
        return household
    p = Path(sleeve.universe).expanduser()
    if p.is_absolute():
        return household
    return replace(household, direct_index=replace(sleeve, universe=str(Path(file).resolve().parent / p)))


def check_direct_index(household: Household, *, file: str | None, universe: Universe | None) -> None:
    """The sleeve's references: its universe exists, its fund is a fund of ``universe``, every ticker, sector and
    sub-industry it names is in the stock universe, and lots outside the fund universe are sleeve stocks.

    Raises:
        ConfigError: naming the file, the ``direct_index`` field, the value and the fix.
    """
    d = household.direct_index
    if d is None:
        return
    from engine.data.stocks import stock_universe

    try:
        stocks = stock_universe(d.universe)
    except (ConfigError, OSError) as exc:
        raise ConfigError(f"the direct-index universe cannot be read: {exc}", file=file,
                          field="direct_index.universe", value=d.universe,
                          fix="use embedded, a folder holding the S&P 500 set, or a CSV with ticker, name, "
                              "gics_sector") from exc
    if universe is not None and d.fund not in universe:
        raise ConfigError("the index fund the sleeve replaces is not in the fund universe", file=file,
                          field="direct_index.fund", value=d.fund,
                          fix="name a fund of config/universe.yaml (e.g. IVV or VTI)")
    if d.fund in stocks:
        raise ConfigError("the sleeve's index fund is also a stock of its universe", file=file,
                          field="direct_index.fund", value=d.fund, fix="name the index fund, not a stock")
    named = [("exclude_tickers", t) for t in d.exclude_tickers] + [("tilts", t) for t in d.tilts] + [
        ("benchmark_weights", t) for t in d.benchmark_weights]
    for where, ticker in named:
        if ticker not in stocks:
            raise ConfigError("a ticker outside the sleeve's stock universe", file=file,
                              field=f"direct_index.{where}", value=ticker,
                              fix=f"use a stock of {d.universe} (e.g. {', '.join(stocks.tickers[:3])})")
    sectors = {s.casefold() for s in stocks.sectors}
    for sector in d.exclude_sectors:
        if sector.casefold() not in sectors:
            raise ConfigError("not a GICS sector of the sleeve's universe", file=file,
                              field="direct_index.exclude_sectors", value=sector,
                              fix=f"use one of: {', '.join(stocks.sectors)}")
    subs = {s.sub_industry.casefold() for s in stocks.stocks if s.sub_industry}
    for sub in d.exclude_sub_industries:
        if sub.casefold() not in subs:
            raise ConfigError("not a GICS sub-industry of the sleeve's universe", file=file,
                              field="direct_index.exclude_sub_industries", value=sub,
                              fix="write the sub-industry as the universe file spells it (e.g. Tobacco)")
    for lot in household.lots:
        if universe is not None and lot.symbol in universe:
            continue
        if lot.symbol not in stocks:
            raise ConfigError(f"lot {lot.id} holds a ticker outside the fund universe and the sleeve's stocks",
                              file=file, field=f"lots[{lot.id}].symbol", value=lot.symbol,
                              fix="add it to the sleeve's universe or correct the ticker")
        if lot.account not in d.accounts:
            raise ConfigError(f"lot {lot.id} holds the stock {lot.symbol} outside the direct-index accounts",
                              file=file, field=f"lots[{lot.id}].account", value=lot.account,
                              fix=f"hold single stocks in {', '.join(d.accounts)} (direct_index.accounts)")


def sleeve_symbols(household: Household) -> frozenset[str]:
    """The stock tickers a household's lots may hold outside the fund universe (its sleeve's universe)."""
    if household.direct_index is None:
        return frozenset()
    from engine.data.stocks import stock_universe

    try:
        return frozenset(stock_universe(household.direct_index.universe).tickers)
    except (ConfigError, OSError):
        return frozenset()
