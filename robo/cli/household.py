"""``robo household``: import a household YAML into the store, list stored households, show one.

    robo household import my_household.yaml      # validates against the universe, prints the id
    robo household show rivera
"""

from __future__ import annotations

import argparse
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from robo.cli import _args

if TYPE_CHECKING:
    from engine.model import Goal


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("household", help="households in the store: import, list, show")
    hsub = p.add_subparsers(dest="household_command", metavar="ACTION", required=True)
    imp = hsub.add_parser("import", help="validate a household YAML and store it (prints its id)")
    imp.add_argument("file", type=_args.household_ref("FILE"),
                     help="household YAML file, or 'sample' for the shipped sample")
    imp.add_argument("--replace", action="store_true", help="replace a stored household with the same id")
    imp.add_argument("--universe", type=_args.input_file("--universe"),
                     help="universe YAML (default: the configured universe)")
    imp.add_argument("--url", help="database URL (default: ROBO_DATABASE_URL or SQLite under ROBO_HOME)")
    imp.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    imp.set_defaults(func=import_household)
    show = hsub.add_parser("show", help="accounts, lots and goals of a stored household")
    show.add_argument("id", type=_args.identifier("ID", "household id"), help="household id")
    show.add_argument("--url", help="database URL (default: ROBO_DATABASE_URL or SQLite under ROBO_HOME)")
    show.set_defaults(func=show_household)
    ls = hsub.add_parser("list", help="stored households")
    ls.add_argument("--url", help="database URL (default: ROBO_DATABASE_URL or SQLite under ROBO_HOME)")
    ls.set_defaults(func=list_households)


def _money(x: Decimal) -> str:
    return f"${x:,.2f}"


def _goal_row(g: Goal) -> tuple[object, ...]:
    target, monthly = _money(g.target), _money(g.monthly_contribution)
    return (g.id, g.kind.value, g.name, target, g.target_date, g.priority, monthly)


def import_household(args: argparse.Namespace) -> int:
    from engine.config import load_household, load_universe
    from engine.errors import Conflict
    from engine.store import Store
    from robo.cli._out import console

    universe = load_universe(args.universe)
    # The import day is the planning day: goals must fall due after it, lots be bought on or before it.
    household = load_household(None if args.file == "sample" else args.file, universe=universe, as_of=date.today())
    with Store(args.url) as store:
        store.upgrade()
        if household.id in store.households.list():
            if not args.replace:
                raise Conflict(
                    f"household {household.id!r} is already stored — pass --replace to overwrite it",
                    household=household.id,
                )
            store.households.update(household, actor="cli")
        else:
            store.households.add(household, actor="cli")
    if args.json:
        from engine.cycle import route_of
        from robo.cli._cycle import emit

        emit({"id": household.id, "accounts": [
            {"id": a.id, "type": a.type.value, "broker_account": a.broker_account, "route": route_of(a).value}
            for a in household.accounts]})
    else:
        console.print(household.id, highlight=False)
    return 0


def show_household(args: argparse.Namespace) -> int:
    from engine.store import Store
    from robo.cli._out import console, table

    with Store(args.url, create=False) as store:
        h = store.households.get(args.id)
    people = ", ".join(f"{m.name} ({m.birth_date.isoformat()})" for m in h.members)
    console.print(f"[bold]{h.name}[/] ({h.id}) — {people}", highlight=False)
    console.print(
        f"risk willingness {h.risk.willingness}/10 · filing {h.tax.filing_status.value} · state {h.tax.state or '-'}"
        f" · saves {_money(h.monthly_savings)}/month · spends {_money(h.monthly_expenses)}/month",
        highlight=False,
    )
    console.print(
        table(
            "Accounts",
            ["id", "name", "type", "owner", "cash"],
            [(a.id, a.name, a.type.value, a.owner or "-", _money(a.cash)) for a in h.accounts],
        )
    )
    console.print(
        table(
            "Lots",
            ["id", "account", "symbol", "shares", "basis", "acquired"],
            [(lot.id, lot.account, lot.symbol, lot.shares, _money(lot.basis), lot.acquired) for lot in h.lots],
        )
    )
    console.print(
        table(
            "Goals",
            ["id", "kind", "name", "target", "by", "priority", "monthly"],
            [_goal_row(g) for g in h.goals],
        )
    )
    if h.events:
        console.print(
            table(
                "Life events",
                ["id", "kind", "on", "member", "amount"],
                [
                    (e.id, e.kind.value, e.on, e.member or "-", "-" if e.amount is None else _money(e.amount))
                    for e in h.events
                ],
            )
        )
    return 0


def list_households(args: argparse.Namespace) -> int:
    from engine.store import Store
    from robo.cli._out import console, table

    with Store(args.url, create=False) as store:
        ids = store.households.list()
        rows = []
        for hid in ids:
            h = store.households.get(hid)
            rows.append((h.id, h.name, len(h.members), len(h.accounts), len(h.lots), len(h.goals)))
    if not rows:
        console.print("no households stored yet — `robo household import FILE`", highlight=False)
        return 0
    console.print(table("Households", ["id", "name", "members", "accounts", "lots", "goals"], rows))
    return 0
