"""``robo advice|positions``: the trades a person places by hand for accounts held away, and their holdings.

    robo advice list rivera                                      # advised orders still waiting for a person
    robo advice confirm PROPOSAL ORDER_ID --qty 12 --price 101.25 # book the trade as it was placed
    robo positions import rivera alex_401k statement.csv          # symbol,qty,avg_cost lines from the custodian
"""

from __future__ import annotations

import argparse
import csv
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation

from robo.cli import _args
from robo.cli._cycle import build_cycle, emit, json_arg


def register(sub: argparse._SubParsersAction) -> None:
    a = sub.add_parser("advice", help="trades a person places by hand for held-away accounts")
    asub = a.add_subparsers(dest="advice_command", metavar="ACTION", required=True)
    ls = asub.add_parser("list", help="advised orders still waiting for a person")
    ls.add_argument("household", type=_args.stored_household("HOUSEHOLD"))
    json_arg(ls)
    ls.set_defaults(func=run_list)
    c = asub.add_parser("confirm", help="book an advised trade as the person placed it")
    c.add_argument("proposal", type=_args.identifier("PROPOSAL", "proposal id"))
    c.add_argument("order", type=_args.identifier("ORDER", "client order id"),
                   help="the advised order's client order id")
    c.add_argument("--qty", required=True, type=_args.decimal("--qty", hi=Decimal(10**9), places=9),
                   help="shares traded")
    c.add_argument("--price", required=True, type=_args.decimal("--price", hi=Decimal(10**6), places=6, unit=" USD"),
                   help="USD per share")
    c.add_argument("--fees", default=Decimal(0), type=_args.usd("--fees", allow_zero=True), help="USD (default 0)")
    c.add_argument("--on", type=_args.iso_date("--on"), help="trade date (default: today)")
    json_arg(c)
    c.set_defaults(func=run_confirm)

    p = sub.add_parser("positions", help="holdings of held-away accounts")
    psub = p.add_subparsers(dest="positions_command", metavar="ACTION", required=True)
    im = psub.add_parser("import", help="replace a held-away account's lots with a CSV of positions")
    im.add_argument("household", type=_args.identifier("HOUSEHOLD", "household id"))
    im.add_argument("account", type=_args.identifier("ACCOUNT", "account id"))
    im.add_argument("file", type=_args.input_file("FILE", suffixes=(".csv", ".txt")),
                    help="CSV with header symbol,qty,avg_cost (USD per share)")
    json_arg(im)
    im.set_defaults(func=run_import)


def run_list(args: argparse.Namespace) -> int:
    from robo.cli._cycle import store
    from robo.cli._out import console, table

    s = store()
    s.households.get(args.household)
    rows = [{"proposal": p.id, "client_order_id": r.order.client_order_id, "account": r.order.account,
             "side": r.order.side.value, "symbol": r.order.symbol,
             "qty": None if r.order.qty is None else f"{r.order.qty.normalize():f}"}
            for p in s.proposals.list(household=args.household) for r in s.orders.for_proposal(p.id)
            if r.status.value == "advised"]
    if args.json:
        emit({"household": args.household, "advice": rows})
    else:
        console.print(table(f"Advice waiting for {args.household}", ["proposal", "order", "account", "side",
                                                                     "symbol", "qty"],
                            [[r["proposal"], r["client_order_id"], r["account"], r["side"], r["symbol"], r["qty"]]
                             for r in rows]))
    return 0


def run_confirm(args: argparse.Namespace) -> int:
    from engine.errors import NotFound
    from engine.model import Fill
    from robo.cli._out import console

    cycle = build_cycle()
    proposal = cycle.proposal(args.proposal)
    order = next((o for o in proposal.orders if o.client_order_id == args.order), None)
    if order is None:
        raise NotFound(f"proposal {proposal.id} has no order {args.order}", fix="robo advice list HOUSEHOLD")
    at = datetime.combine(args.on or date.today(), time(16), tzinfo=UTC)
    fill = Fill(order.client_order_id, order.account, order.symbol, order.side, args.qty, args.price, at,
                fees=args.fees, id=f"hand-{order.client_order_id}-{at:%Y%m%d}")
    household = cycle.confirm_advice(proposal.id, [fill], actor="robo")
    if args.json:
        emit({"proposal": proposal.id, "order": order.client_order_id, "status": "filled",
              "cash": f"{household.account(order.account).cash:f}"})
    else:
        console.print(f"Booked {order.side.value} {args.qty} {order.symbol} at ${args.price} in {order.account}.",
                      highlight=False)
    return 0


def run_import(args: argparse.Namespace) -> int:
    from engine.errors import DataError
    from engine.model import BrokerPosition
    from robo.cli._out import console

    try:
        with args.file.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise DataError(f"cannot read {args.file}: {exc.strerror}", file=str(args.file)) from None
    positions = []
    for n, row in enumerate(rows, start=2):
        try:
            positions.append(BrokerPosition(args.account, row["symbol"], Decimal(row["qty"]),
                                            Decimal(row["avg_cost"])))
        except (KeyError, InvalidOperation, TypeError) as exc:
            raise DataError(f"line {n}: needs symbol, qty and avg_cost numbers ({exc!r})", file=str(args.file),
                            fix="header symbol,qty,avg_cost; numbers as plain text") from None
    household = build_cycle().import_positions(args.household, args.account, positions, actor="robo")
    lots = [x for x in household.lots if x.account == args.account]
    if args.json:
        emit({"household": household.id, "account": args.account,
              "lots": [{"symbol": x.symbol, "shares": f"{x.shares:f}", "basis": f"{x.basis:f}"} for x in lots]})
    else:
        console.print(f"{args.account}: {len(lots)} lots imported (basis from avg_cost).")
    return 0
