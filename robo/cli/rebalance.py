"""``robo rebalance|approve|reject|execute|orders|sync``: proposals for a household, with a human in the loop.

    robo household import config/households/sample.yaml
    robo sync rivera --broker alpaca --adopt-broker   # start from the real account (differences must be resolved)
    robo rebalance rivera --broker alpaca --json      # plan and show the proposal (stored as 'proposed')
    robo approve PROPOSAL_ID && robo execute PROPOSAL_ID --broker alpaca

Every command runs the one cycle (``engine.cycle.Cycle``); accounts held away (``broker_account: away``) get
advice — the same orders, shown and stored for a person to place by hand (``robo advice confirm``).
"""

from __future__ import annotations

import argparse
from typing import Any

from engine.model import RunKind
from robo.cli import _args
from robo.cli._cycle import broker_args, brokers_for, build_cycle, default_day, emit, json_arg, proposal_doc
from robo.cli._exit import ExitCode


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rebalance", help="plan a rebalance proposal for a household (and execute it if asked)")
    p.add_argument("household", type=_args.household_ref("HOUSEHOLD"),
                   help="household id in the store, a YAML file, or 'sample'")
    p.add_argument("--kind", choices=[k.value for k in RunKind], default=RunKind.FULL_REBALANCE.value)
    p.add_argument("--amount", type=_args.usd("--amount"), help="USD to raise (partial_liquidation)")
    p.add_argument("--as-of", type=_args.trading_day("--as-of"),
                   help="trading day to plan for (default: from the data)")
    p.add_argument("--data", choices=["embedded", "yahoo", "stocks"], default="embedded",
                   help="price data: the embedded set, the yfinance cache filled by 'robo data update', or stocks "
                        "(the embedded funds with the 20-stock demo set, to 2022-12-28, for a direct index)")
    broker_args(p)
    json_arg(p)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="show the proposal only (the default)")
    mode.add_argument("--execute", action="store_true", help="execute when no approval is needed")
    p.set_defaults(func=run_rebalance)

    a = sub.add_parser("approve", help="approve a proposal")
    a.add_argument("proposal", type=_args.identifier("PROPOSAL", "proposal id"))
    a.add_argument("--reason", default="")
    json_arg(a)
    a.set_defaults(func=lambda args: _transition(args, "approved"))
    r = sub.add_parser("reject", help="reject a proposal")
    r.add_argument("proposal", type=_args.identifier("PROPOSAL", "proposal id"))
    r.add_argument("--reason", default="")
    json_arg(r)
    r.set_defaults(func=lambda args: _transition(args, "rejected"))

    e = sub.add_parser("execute", help="execute an approved proposal through its accounts' brokers")
    e.add_argument("proposal", type=_args.identifier("PROPOSAL", "proposal id"))
    e.add_argument("--data", choices=["embedded", "yahoo", "stocks"], default="embedded")
    broker_args(e)
    json_arg(e)
    e.set_defaults(func=run_execute)

    o = sub.add_parser("orders", help="a household's proposals and their orders")
    o.add_argument("household", type=_args.stored_household("HOUSEHOLD"))
    json_arg(o)
    o.set_defaults(func=run_orders)

    s = sub.add_parser("sync", help="read broker fills and positions into the household, with reconciliation")
    s.add_argument("household", type=_args.identifier("HOUSEHOLD", "household id"))
    s.add_argument("--data", choices=["embedded", "yahoo", "stocks"], default="embedded")
    s.add_argument("--adopt-broker", action="store_true",
                   help="replace a differing account's lots with the broker's positions (audited)")
    broker_args(s, default="alpaca")
    json_arg(s)
    s.set_defaults(func=run_sync)


def print_proposal(doc: dict[str, Any], preview: Any = None) -> None:
    """The proposal as tables: orders (with their route), tax preview, approval, explanation."""
    from robo.cli._out import console, table

    rows = [[o["client_order_id"], o["account"], o["route"], o["side"], o["symbol"], o["qty"] or "",
             f"${float(o['approx_value']):,.2f}" if o["approx_value"] else "", ",".join(o["lots"])]
            for o in doc["orders"]]
    console.print(f"[bold]Proposal {doc['id']}[/] ({doc['run_kind']}, {doc['status']}) on {doc['as_of']} — "
                  f"trigger: {doc['trigger']}", highlight=False, soft_wrap=True)
    console.print(table("Orders", ["client order id", "account", "route", "side", "symbol", "qty", "≈ value",
                                   "lots"], rows))
    if preview is not None:
        console.print("[bold]Tax impact preview[/]")
        for line in preview.lines() if hasattr(preview, "lines") else [str(preview)]:
            console.print(f"  {line}", highlight=False)
    if doc["needs_approval"]:
        console.print("[bold yellow]Needs approval:[/] " + "; ".join(doc["approval_reasons"]), highlight=False)
    console.print("[bold]Why[/]")
    for line in doc["explanation"]:
        console.print(f"  {line}", highlight=False)


def _print_report(report: Any) -> None:
    from robo.cli._out import console, table

    console.print(f"[bold]Execution of {report.proposal_id}: {report.status.value}[/]", highlight=False,
                  soft_wrap=True)
    console.print(table("Fills", ["order", "account", "side", "symbol", "qty", "price", "fees"],
                        [[f.client_order_id, f.account, f.side.value, f.symbol, f"{f.qty.normalize():f}",
                          f"${f.price:,.4f}", f"${f.fees:,.2f}"] for f in report.fills]))
    if report.advised:
        console.print(table("Advice for held-away accounts (place these by hand, then robo advice confirm)",
                            ["order", "account", "side", "symbol", "qty"],
                            [[o.client_order_id, o.account, o.side.value, o.symbol,
                              f"{o.qty.normalize():f}" if o.qty else f"${o.notional}"] for o in report.advised]))
    for o in report.working:
        console.print(f"[yellow]working:[/] {o.client_order_id} {o.side.value} {o.symbol} ({o.status.value}); "
                      "robo sync books its fills", highlight=False)
    for e in report.errors:
        console.print(f"[red]error:[/] {e}", highlight=False)
    if report.discrepancies:
        console.print("[bold red]Reconciliation: the ledger and the broker disagree — flagged for a human[/]")
        for d in report.discrepancies:
            console.print(f"  {d}", highlight=False)
    else:
        console.print("Reconciliation: ledger and broker positions agree.")


def run_rebalance(args: argparse.Namespace) -> int:
    from robo.cli._households import resolve_household
    from robo.cli._out import console

    cycle = build_cycle(args.data)
    household: Any = args.household
    if args.household not in cycle.store.households.list():
        household = resolve_household(args.household, cycle.planner.universe)
        cycle.store = None  # a file or the sample: planned, not saved
        if not args.json:
            console.print(f"[dim]{household.id} is not in the store: the proposal is not saved "
                          f"(robo household import FILE to keep one).[/]")
    household = cycle.household(household)
    as_of = args.as_of or cycle.default_day(household, default_day(cycle.planner.market, args.broker))
    proposal = cycle.plan(household, as_of, run_kind=RunKind(args.kind), amount=args.amount)
    doc = proposal_doc(proposal, household, cycle.planner.day(as_of).prices)
    if not args.execute:
        emit(doc) if args.json else print_proposal(doc, proposal.tax_preview)
        return 0
    if proposal.needs_approval:
        if args.json:
            emit(doc)
        else:
            print_proposal(doc, proposal.tax_preview)
            console.print(f"[yellow]Not executed: approval needed. Next: robo approve {proposal.id} && "
                          f"robo execute {proposal.id}[/]", highlight=False)
        return ExitCode.NEEDS_APPROVAL
    report = cycle.execute(proposal, brokers=brokers_for(args, cycle, household, as_of), household=household)
    if args.json:
        emit({"proposal": doc, "execution": report.to_dict()})
    else:
        print_proposal(doc, proposal.tax_preview)
        _print_report(report)
    return 0 if report.ok else 1


def _transition(args: argparse.Namespace, status: str) -> int:
    from engine.model import ProposalStatus
    from robo.cli._cycle import store
    from robo.cli._out import console

    p = store().proposals.transition(args.proposal, ProposalStatus(status), actor="robo", reason=args.reason)
    if args.json:
        emit({"id": p.id, "status": p.status.value})
    else:
        console.print(f"Proposal {p.id} is now {p.status.value}.", soft_wrap=True)
    return 0


def run_execute(args: argparse.Namespace) -> int:
    cycle = build_cycle(args.data)
    proposal = cycle.proposal(args.proposal)
    household = cycle.household(proposal.household)
    report = cycle.execute(proposal, brokers=brokers_for(args, cycle, household, proposal.as_of), household=household)
    emit(report.to_dict()) if args.json else _print_report(report)
    return 0 if report.ok else 1


def run_orders(args: argparse.Namespace) -> int:
    from robo.cli._cycle import store
    from robo.cli._out import console, table

    s = store()
    s.households.get(args.household)  # an unknown household is an error, not an empty table
    rows = []
    for p in s.proposals.list(household=args.household):
        for rec in s.orders.for_proposal(p.id):
            o = rec.order
            rows.append({"proposal": p.id, "proposal_status": p.status.value, "as_of": p.as_of.isoformat(),
                         "client_order_id": o.client_order_id, "account": o.account, "side": o.side.value,
                         "symbol": o.symbol, "qty": None if o.qty is None else f"{o.qty.normalize():f}",
                         "notional": None if o.notional is None else f"{o.notional:f}", "status": rec.status.value})
    if args.json:
        emit({"household": args.household, "orders": rows})
        return 0
    if not rows:
        console.print(f"{args.household} has no orders yet (robo rebalance {args.household}).", highlight=False)
    for pid in dict.fromkeys(r["proposal"] for r in rows):  # one table per proposal, ids in full
        mine = [r for r in rows if r["proposal"] == pid]
        console.print(table(f"Proposal {pid} ({mine[0]['proposal_status']}, as of {mine[0]['as_of']})",
                            ["order", "account", "side", "symbol", "qty", "order status"],
                            [[r["client_order_id"], r["account"], r["side"], r["symbol"],
                              r["qty"] or f"${r['notional']}", r["status"]] for r in mine]))
    return 0


def run_sync(args: argparse.Namespace) -> int:
    from robo.cli._out import console

    cycle = build_cycle(args.data)
    household = cycle.household(args.household)
    report = cycle.sync(household, brokers=brokers_for(args, cycle, household), adopt=args.adopt_broker)
    if args.json:
        emit(report.to_dict())
    else:
        console.print(f"{len(report.new_fills)} new fills booked; cash ${report.cash:,.2f}")
        for acct in report.adopted:
            console.print(f"adopted the broker's positions as the lots of {acct} (basis from avg_entry_price)")
        for d in report.discrepancies:
            console.print(f"[red]discrepancy:[/] {d}", highlight=False)
        if report.discrepancies:
            console.print(f"Nothing trades in these accounts until resolved: robo sync {household.id} "
                          "--adopt-broker takes the broker's positions.", highlight=False)
    return 0 if not report.discrepancies else 1
