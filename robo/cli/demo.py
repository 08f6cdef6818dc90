"""``robo demo``: the product in one command, on the embedded data (no network, no keys)."""

from __future__ import annotations

import argparse
from decimal import Decimal
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="show the whole product on the embedded data (offline)")
    p.add_argument("--household", default="sample", help="household YAML (default: the shipped sample)")
    p.add_argument("--out", type=Path, default=Path("robo-demo"), help="folder for the report and charts")
    p.set_defaults(func=run)


def _money(x: Decimal | float) -> str:
    return f"${float(x):,.0f}"


def run(args: argparse.Namespace) -> int:
    from engine.config import load_universe
    from engine.data import EmbeddedSource, MarketData, annualized_stats
    from robo.cli._households import resolve_household
    from robo.cli._out import console, table

    universe = load_universe()
    source = EmbeddedSource()
    market = MarketData(source.prices(), source=source.name)
    household = resolve_household(args.household, universe)
    last = market.last_day

    console.rule("[bold]adaptive-robo demo")
    console.print(f"[bold]Data:[/] {source.description()}", highlight=False)
    console.print(
        f"{len(market.tickers)} funds, {market.first_day} → {last} (adjusted closes, dividends included)\n",
        highlight=False,
    )

    stats = annualized_stats(market.prices, years=10, end=last)
    rows = []
    for ticker, asset in universe.assets.items():
        s = stats.loc[ticker] if ticker in stats.index else None
        rows.append(
            [
                ticker,
                asset.name,
                asset.asset_class.value,
                f"{asset.expense_ratio:.2%}",
                "—" if s is None else f"{s['annual_return']:+.1%}",
                "—" if s is None else f"{s['annual_volatility']:.1%}",
                "—" if s is None else str(s["first_day"]),
                asset.substitute_group or "",
            ]
        )
    console.print(
        table(
            f"Universe: annualised return / volatility over the last 10 years to {last}",
            ["ticker", "fund", "class", "fee", "return", "vol", "from", "harvest group"],
            rows,
        )
    )

    prices = market.latest()
    console.print(f"\n[bold]Household:[/] {household.name} ({household.id}) — "
                  f"{', '.join(m.name for m in household.members)}", highlight=False)
    acct_rows = []
    for acct in household.accounts:
        invested = sum(
            (lot.shares * Decimal(str(prices[lot.symbol])) for lot in household.lots if lot.account == acct.id),
            Decimal(0),
        )
        n = sum(1 for lot in household.lots if lot.account == acct.id)
        acct_rows.append([acct.id, acct.name, acct.type.value, n, _money(invested), _money(acct.cash)])
    console.print(table(f"Accounts, valued on {last}", ["id", "name", "type", "lots", "invested", "cash"], acct_rows))
    goal_rows = [
        [
            g.id,
            g.kind.value,
            _money(g.annual_income) + "/yr" if g.annual_income is not None else _money(g.target),
            str(g.target_date),
            g.priority,
            ", ".join(g.accounts),
        ]
        for g in household.goals
    ]
    console.print(table("Goals (today's dollars)", ["id", "kind", "target", "date", "priority", "funded from"],
                        goal_rows))
    return 0
