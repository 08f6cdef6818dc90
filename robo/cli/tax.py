"""``robo tax``: marginal rates, lots marked to market, and today's loss-harvesting decisions.

    robo tax rates sample
    robo tax lots sample --as-of 2026-03-02
    robo tax harvest sample --as-of 2026-03-02
"""

from __future__ import annotations

import argparse
from datetime import date
from decimal import Decimal
from typing import Any

from robo.cli import _args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tax", help="tax engine: marginal rates, unrealized gains by lot, loss harvesting")
    tsub = p.add_subparsers(dest="tax_command", metavar="ACTION", required=True)
    rates = tsub.add_parser("rates", help="marginal rates and tax drag per account type")
    rates.add_argument("household", type=_args.household_ref("HOUSEHOLD"),
                       help="household YAML, 'sample', or a stored id")
    rates.set_defaults(func=show_rates)
    for name, helptext, func in (
        ("lots", "open lots marked to the embedded prices: unrealized gain, term", show_lots),
        ("harvest", "loss-harvesting decisions on a day, with their reasons", show_harvest),
    ):
        q = tsub.add_parser(name, help=helptext)
        q.add_argument("household", type=_args.household_ref("HOUSEHOLD"),
                       help="household YAML, 'sample', or a stored id")
        q.add_argument("--as-of", type=_args.trading_day("--as-of"),
                       help="day (YYYY-MM-DD; default: last embedded day)")
        q.set_defaults(func=func)


def _money(x: Decimal) -> str:
    return f"-${-x:,.2f}" if x < 0 else f"${x:,.2f}"


def _context(args: argparse.Namespace) -> tuple[Any, Any, date, dict[str, Decimal]]:
    from engine.config import load_universe
    from engine.data import MarketData
    from robo.cli._households import resolve_household

    universe = load_universe()
    household = resolve_household(args.household, universe)  # lots bought after --as-of are skipped, not refused
    market = MarketData.embedded()
    day = args.as_of or market.last_day
    snap = market.as_of(day).snapshot(day)
    prices = {t: Decimal(repr(round(float(p), 4))) for t, p in snap.prices.items() if p == p}
    return universe, household, snap.day, prices


def show_rates(args: argparse.Namespace) -> int:
    from engine.config import load_universe
    from engine.model import AccountType
    from engine.tax import load_tax_tables, marginal_rates, tax_drag
    from robo.cli._households import resolve_household
    from robo.cli._out import console, table

    universe = load_universe()
    household = resolve_household(args.household, universe)
    r = marginal_rates(household.tax)
    t = load_tax_tables()
    console.print(
        f"[bold]{household.name}[/]: {household.tax.filing_status.value}, other income "
        f"{_money(household.tax.ordinary_income)}, state rate {household.tax.state_rate:.2%} — {t.year} tables",
        highlight=False,
    )
    console.print(
        f"short-term {r.short_term:.2%} · long-term {r.long_term:.2%} · federal {r.federal_ordinary:.0%} / "
        f"{r.federal_long_term:.0%} · NIIT {r.niit:.1%} · state {r.state:.2%}",
        highlight=False,
    )
    kinds = (AccountType.TAXABLE, AccountType.TRADITIONAL, AccountType.ROTH)
    rows = [
        (tk, *(f"{tax_drag(universe[tk], k, household.tax, rates=r):.3%}" for k in kinds)) for tk in universe.tickers
    ]
    console.print(table("Annual tax drag (fraction of value)", ["fund", *[k.value for k in kinds]], rows))
    return 0


def show_lots(args: argparse.Namespace) -> int:
    from engine.tax import LotLedger, unrealized
    from robo.cli._out import console, table

    universe, household, day, prices = _context(args)
    ledger = LotLedger.from_household(household, universe)
    rows = unrealized(ledger, prices, day)
    console.print(
        table(
            f"Open lots of {household.id} on {day} (embedded adjusted closes)",
            ["account", "lot", "fund", "shares", "acquired", "price", "value", "basis", "gain", "term", "long-term on"],
            [
                (x.account, x.lot_id, x.symbol, x.shares, x.acquired, x.price, _money(x.value), _money(x.basis),
                 _money(x.gain), x.term.value, x.long_term_on or "-")
                for x in rows
            ],
        )
    )
    return 0


def show_harvest(args: argparse.Namespace) -> int:
    from engine.tax import LotLedger, TaxLossHarvester
    from robo.cli._out import console

    universe, household, day, prices = _context(args)
    ledger = LotLedger.from_household(household, universe)
    harvester = TaxLossHarvester(universe, household.tax)
    decisions = harvester.scan(ledger, prices, day)
    for d in decisions:
        console.print(d.explain(), highlight=False)
    for s in harvester.review(ledger, prices, day):
        console.print(f"skip lot {s.lot_id} ({s.symbol} in {s.account}, loss {_money(s.loss)}): {s.reason}",
                      highlight=False)
    if not decisions:
        console.print(f"nothing to harvest on {day}", highlight=False)
    return 0
