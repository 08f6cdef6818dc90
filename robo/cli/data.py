"""``robo data``: show prices and 10-year statistics; update the Yahoo Finance cache (the only networked step).

    robo data show VTI BND                       # embedded data, offline
    robo data show --source yahoo VTI            # the Yahoo cache (offline; fill it with `robo data update`)
    robo data update VTI BND --start 2015-01-02  # downloads what the cache lacks, under Yahoo's terms
    robo data update --universe my_stocks.csv    # every stock of a direct-indexing universe (docs/direct-indexing.md)
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from robo.cli import _args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="market data: show prices and statistics, update the Yahoo cache")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    show = dsub.add_parser("show", help="last price, first day, 10-year CAGR and volatility per fund (offline)")
    show.add_argument("tickers", nargs="*", type=_args.ticker("TICKER"),
                      help="tickers (default: every fund of the source)")
    show.add_argument("--start", type=_args.iso_date("--start"), help="first day (YYYY-MM-DD)")
    show.add_argument("--end", type=_args.iso_date("--end"), help="last day (YYYY-MM-DD; default: the newest price)")
    show.add_argument("--source", choices=["embedded", "yahoo"], default="embedded",
                      help="embedded data (default) or the Yahoo cache written by `robo data update`")
    show.add_argument("--csv", type=_args.input_file("--csv", suffixes=(".csv", ".txt")),
                      help="read prices from this CSV instead (wide or long layout)")
    show.add_argument("--years", type=_args.real_range("--years", 0, 50, lo_open=True), default=10.0,
                      help="statistics window in years (default 10)")
    show.set_defaults(func=show_data)
    up = dsub.add_parser("update", help="download adjusted closes from Yahoo Finance into the cache (network)")
    up.add_argument("tickers", nargs="*", type=_args.ticker("TICKER"),
                    help="tickers (default: every fund of the universe)")
    up.add_argument("--start", type=_args.iso_date("--start"), help="first day to hold (default 2003-01-02)")
    up.add_argument("--end", type=_args.iso_date("--end"), help="last day (default: the last completed session)")
    up.add_argument("--universe", type=_args.input_file("--universe", suffixes=(".csv", ".txt")), metavar="FILE",
                    help="a stock universe CSV (ticker, name, gics_sector[, gics_sub_industry, issuer, market_cap]): "
                         "fetch every stock in it")
    up.set_defaults(func=update_data)


def _source(args: argparse.Namespace) -> Any:
    from engine.data import CsvSource, EmbeddedSource

    if args.csv is not None:
        return CsvSource(args.csv)
    if args.source == "yahoo":
        return _yahoo_source(offline=True)
    return EmbeddedSource()


def _yahoo_source(*, offline: bool = False) -> Any:
    """The Yahoo source over ``Settings().cache_dir / "yahoo"`` (tests replace this to add a local session)."""
    from engine.data import YahooSource
    from engine.settings import Settings

    return YahooSource(cache_dir=Settings().cache_dir / "yahoo", offline=offline)


def show_data(args: argparse.Namespace) -> int:
    from engine.data import MarketData, annualized_stats
    from robo.cli._out import console, table

    if args.start is not None and args.end is not None and args.start > args.end:
        from engine.errors import ConfigError

        raise ConfigError(f"--start {args.start} is after --end {args.end}", field="--start",
                          value=args.start.isoformat(), fix="swap them")
    source = _source(args)
    frame = source.prices(args.tickers or None, args.start, args.end)
    market = MarketData(frame, source=source.name)
    stats = annualized_stats(market.prices, years=args.years)
    last = market.latest()
    rows = []
    for t in market.tickers:
        s = stats.loc[t] if t in stats.index else None
        first = market.prices[t].first_valid_index()
        rows.append([
            t,
            f"{last[t]:,.2f}",
            str(market.prices[t].last_valid_index().date()),
            str(first.date()),
            "—" if s is None else f"{s['annual_return']:+.1%}",
            "—" if s is None else f"{s['annual_volatility']:.1%}",
            "—" if s is None else str(s["first_day"]),
            source.name,
        ])
    console.print(
        table(
            f"Adjusted closes (USD), {market.first_day} → {market.last_day}; "
            f"CAGR and volatility (simple daily returns × √252) over {args.years:g} years",
            ["ticker", "last", "last day", "first day", "CAGR", "vol", "stats from", "source"],
            rows,
        )
    )
    console.print(f"[dim]{source.description()}[/]", highlight=False)
    return 0


def update_data(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from engine.errors import ConfigError
    from robo.cli._out import console, table

    if args.start is not None and args.end is not None and args.start > args.end:
        raise ConfigError(f"--start {args.start} is after --end {args.end}", field="--start",
                          value=args.start.isoformat(), fix="swap them")  # checked before any download
    tickers = [t.upper() for t in args.tickers]
    if getattr(args, "universe", None) is not None:
        from engine.data.stocks import load_stock_universe

        stocks = load_stock_universe(args.universe)
        classes = ", ".join("/".join(sorted(g)) for g in stocks.identical) or "none"
        console.print(f"Universe {args.universe}: {len(stocks)} stocks in {len(stocks.sectors)} GICS sectors; "
                      f"share classes treated as one company for wash sales: {classes}", highlight=False)
        tickers += [t for t in stocks.tickers if t not in tickers]
    if not tickers:
        from engine.config import load_universe

        tickers = load_universe().tickers
    source = _yahoo_source()
    console.print(f"Downloading from Yahoo Finance into {source.cache_dir} (use under Yahoo's terms)",
                  highlight=False)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console,
                  transient=True) as progress:
        task = progress.add_task("yahoo", total=len(tickers))
        spans: dict[str, tuple[date, date]] = {}
        for t in tickers:
            progress.update(task, description=f"yahoo {t}")
            spans.update(source.update([t], args.start, args.end))
            progress.advance(task)
    rows = [[t, str(a), str(b)] for t, (a, b) in spans.items()]
    console.print(table(f"Cached in {source.cache_dir}", ["ticker", "from", "through"], rows))
    console.print(f"{len(source.fetches)} downloads; a rerun over the same days needs no network.", highlight=False)
    return 0
