"""``robo rebalance|approve|reject|execute|orders|sync``: proposals for a household, with a human in the loop.

    robo household import config/households/sample.yaml
    robo rebalance rivera                      # plan and show the proposal (stored as 'proposed')
    robo approve PROPOSAL_ID && robo execute PROPOSAL_ID --broker sim
"""

from __future__ import annotations

import argparse
from datetime import date
from decimal import Decimal
from typing import Any

from engine.model import RunKind


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rebalance", help="plan a rebalance proposal for a household (and execute it if asked)")
    p.add_argument("household", help="household id in the store, a YAML file, or 'sample'")
    p.add_argument("--kind", choices=[k.value for k in RunKind], default=RunKind.FULL_REBALANCE.value)
    p.add_argument("--amount", type=Decimal, help="USD to raise (partial_liquidation)")
    p.add_argument("--as-of", type=date.fromisoformat, help="trading day to plan for (default: from the data)")
    p.add_argument("--data", choices=["embedded", "yahoo"], default="embedded",
                   help="price data: the embedded set, or the yfinance cache filled by 'robo data update'")
    _broker_args(p)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="show the proposal only (the default)")
    mode.add_argument("--execute", action="store_true", help="execute when no approval is needed")
    p.set_defaults(func=run_rebalance)

    a = sub.add_parser("approve", help="approve a proposal")
    a.add_argument("proposal")
    a.add_argument("--reason", default="")
    a.set_defaults(func=lambda args: _transition(args, "approved"))
    r = sub.add_parser("reject", help="reject a proposal")
    r.add_argument("proposal")
    r.add_argument("--reason", default="")
    r.set_defaults(func=lambda args: _transition(args, "rejected"))

    e = sub.add_parser("execute", help="execute an approved proposal through a broker")
    e.add_argument("proposal")
    e.add_argument("--data", choices=["embedded", "yahoo"], default="embedded")
    _broker_args(e)
    e.set_defaults(func=run_execute)

    o = sub.add_parser("orders", help="a household's proposals and their orders")
    o.add_argument("household")
    o.set_defaults(func=run_orders)

    s = sub.add_parser("sync", help="read broker positions and fills into the ledger, with reconciliation")
    s.add_argument("household")
    s.add_argument("--data", choices=["embedded", "yahoo"], default="embedded")
    _broker_args(s, default="alpaca")
    s.set_defaults(func=run_sync)


def _broker_args(p: argparse.ArgumentParser, default: str = "sim") -> None:
    p.add_argument("--broker", choices=["sim", "alpaca"], default=default)
    p.add_argument("--account", help="household account traded at Alpaca (default: the only/taxable one)")
    p.add_argument("--key-file", help="file with APCA_API_KEY_ID=… and APCA_API_SECRET_KEY=… lines")
    p.add_argument("--live", action="store_true", help="trade the LIVE Alpaca account (default: paper)")
    p.add_argument("--i-understand-live-trading", action="store_true", dest="confirm_live",
                   help="required together with --live")


def _market(kind: str) -> Any:
    from engine.data import MarketData, YahooSource, load_market_data
    from engine.settings import Settings

    if kind == "embedded":
        return MarketData.embedded()
    return load_market_data(YahooSource(cache_dir=Settings().cache_dir / "yahoo", offline=True))


def _store() -> Any:
    from engine.store import Store

    store = Store.from_settings()
    store.upgrade()
    return store


def _stored_household(store: Any, arg: str) -> Any:
    from engine.errors import NotFound

    try:
        return store.households.get(arg)
    except NotFound:
        return None


def simulated_broker(market: Any, household: Any, ledger: Any, start: date, universe: Any) -> Any:
    """A SimulatedBroker holding the household's accounts as the ledger and account cash have them."""
    from brokers import SimulatedBroker

    positions: dict[str, dict[str, Decimal]] = {}
    for lot in ledger.open_lots():
        book = positions.setdefault(lot.account, {})
        book[lot.symbol] = book.get(lot.symbol, Decimal(0)) + lot.shares
    return SimulatedBroker(market.prices, accounts={a.id: a.cash for a in household.accounts}, start=start,
                           positions=positions, assets=universe)


def _broker(args: argparse.Namespace, market: Any, household: Any, ledger: Any, start: date, universe: Any) -> Any:
    from brokers import AlpacaBroker, GuardedBroker, SafetyPolicy
    from engine.errors import ConfigError

    if args.broker == "sim":
        return simulated_broker(market, household, ledger, start, universe)
    if args.live and not args.confirm_live:
        raise ConfigError("live trading needs --live together with --i-understand-live-trading",
                          field="--live", fix="drop --live to trade the paper account")
    accounts = [a.id for a in household.accounts]
    account = args.account or (accounts[0] if len(accounts) == 1 else None)
    if account is None:
        raise ConfigError(
            f"an Alpaca account trades one household account; {household.id} has {len(accounts)}",
            field="--account", value=None, fix=f"name one of: {', '.join(accounts)}",
        )
    kw = {"paper": not args.live, "account": account, "confirm_live": args.confirm_live}
    inner = AlpacaBroker.from_key_file(args.key_file, **kw) if args.key_file else AlpacaBroker.from_settings(**kw)
    return GuardedBroker(inner, SafetyPolicy.from_settings())


def print_proposal(proposal: Any, prices: Any) -> None:
    """The proposal as tables: orders, tax preview, approval, explanation."""
    from robo.cli._out import console, table

    rows = [
        [o.client_order_id, o.account, o.side.value, o.symbol, f"{o.qty.normalize():f}" if o.qty else "",
         f"${float(o.qty * prices[o.symbol]):,.2f}" if o.qty and o.symbol in prices else "", ",".join(o.lots)]
        for o in proposal.orders
    ]
    console.print(table(f"Proposal {proposal.id} ({proposal.run_kind.value}, {proposal.status.value}) on "
                        f"{proposal.as_of} — trigger: {proposal.trigger}",
                        ["client order id", "account", "side", "symbol", "qty", "≈ value", "lots"], rows))
    preview = proposal.tax_preview
    if preview is not None:
        lines = preview.lines() if hasattr(preview, "lines") else [str(preview)]
        console.print("[bold]Tax impact preview[/]")
        for line in lines:
            console.print(f"  {line}", highlight=False)
    if proposal.needs_approval:
        console.print("[bold yellow]Needs approval:[/] " + "; ".join(proposal.approval_reasons), highlight=False)
    console.print("[bold]Why[/]")
    for line in proposal.explanation:
        console.print(f"  {line}", highlight=False)


def _persist_state(store: Any, household: Any, ledger: Any, broker: Any, day: date) -> Any:
    """Write the ledger's lots, its loss sales still open on ``day`` and the broker's cash to the stored household."""
    from engine.execution import holdings_after

    updated = holdings_after(household, ledger, broker, on=day)
    store.households.update(updated, actor="robo")
    return updated


def _print_report(report: Any) -> None:
    from robo.cli._out import console, table

    console.print(table(f"Execution of {report.proposal_id}: {report.status.value}",
                        ["order", "account", "side", "symbol", "qty", "price", "fees"],
                        [[f.client_order_id, f.account, f.side.value, f.symbol, f"{f.qty.normalize():f}",
                          f"${f.price:,.4f}", f"${f.fees:,.2f}"] for f in report.fills]))
    for e in report.errors:
        console.print(f"[red]error:[/] {e}", highlight=False)
    if report.discrepancies:
        console.print("[bold red]Reconciliation: the ledger and the broker disagree — flagged for a human[/]")
        for d in report.discrepancies:
            console.print(f"  {d}", highlight=False)
    else:
        console.print("Reconciliation: ledger and broker positions agree.")


def run_rebalance(args: argparse.Namespace) -> int:
    from engine.config import load_universe
    from engine.engine import Engine
    from robo.cli._households import resolve_household
    from robo.cli._out import console

    universe = load_universe()
    store = _store()
    household = _stored_household(store, args.household)
    persisted = household is not None
    if household is None:
        household = resolve_household(args.household, universe)
        console.print(f"[dim]{household.id} is not in the store: the proposal is not saved "
                      f"(robo household import FILE to keep one).[/]")
    market = _market(args.data)
    engine = Engine(market, universe, store=store if persisted else None)
    as_of = args.as_of or default_day(market, args.broker)
    ledger = engine.ledger(household)
    proposal = engine.plan(household, as_of, run_kind=RunKind(args.kind), amount=args.amount, ledger=ledger)
    print_proposal(proposal, engine.day(as_of).prices)
    if not args.execute:
        return 0
    if proposal.needs_approval:
        hint = f"robo approve {proposal.id} && robo execute {proposal.id}" if persisted else "import the household"
        console.print(f"[yellow]Not executed: approval needed. Next: {hint}[/]", highlight=False)
        return 0
    broker = _broker(args, market, household, ledger, as_of, universe)
    report = engine.execute(proposal, broker, ledger=ledger, household=household)
    _print_report(report)
    if persisted:
        _persist_state(store, household, ledger, broker, as_of)
    return 0 if report.ok else 1


def default_day(market: Any, broker: str) -> date:
    """Plan on the newest day; a simulated broker needs two more bars to fill sells, then buys."""
    from engine.data import previous_trading_day

    day = market.last_day
    if broker == "sim":
        day = previous_trading_day(previous_trading_day(day))
    return day


def _transition(args: argparse.Namespace, status: str) -> int:
    from engine.model import ProposalStatus
    from robo.cli._out import console

    store = _store()
    p = store.proposals.transition(args.proposal, ProposalStatus(status), actor="robo", reason=args.reason)
    console.print(f"Proposal {p.id} is now {p.status.value}.")
    return 0


def run_execute(args: argparse.Namespace) -> int:
    from engine.config import load_universe
    from engine.engine import Engine

    universe = load_universe()
    store = _store()
    proposal = store.proposals.get(args.proposal)
    household = store.households.get(proposal.household)
    market = _market(args.data)
    engine = Engine(market, universe, store=store)
    ledger = engine.ledger(household)
    broker = _broker(args, market, household, ledger, proposal.as_of, universe)
    report = engine.execute(proposal, broker, ledger=ledger, household=household)
    _print_report(report)
    _persist_state(store, household, ledger, broker, proposal.as_of)
    return 0 if report.ok else 1


def run_orders(args: argparse.Namespace) -> int:
    from robo.cli._out import console, table

    store = _store()
    rows = []
    for p in store.proposals.list(household=args.household):
        for rec in store.orders.for_proposal(p.id):
            o = rec.order if hasattr(rec, "order") else rec
            rows.append([p.id, p.status.value, str(p.as_of), o.client_order_id, o.account, o.side.value, o.symbol,
                         f"{o.qty.normalize():f}" if o.qty else f"${o.notional}",
                         getattr(rec, "status", "")])
    console.print(table(f"Orders of {args.household}",
                        ["proposal", "proposal status", "as of", "order", "account", "side", "symbol", "qty",
                         "order status"], rows))
    return 0


def run_sync(args: argparse.Namespace) -> int:
    from engine.config import load_universe
    from engine.engine import Engine
    from robo.cli._out import console

    universe = load_universe()
    store = _store()
    household = store.households.get(args.household)
    market = _market(args.data)
    engine = Engine(market, universe, store=store)
    ledger = engine.ledger(household)
    broker = _broker(args, market, household, ledger, market.last_day, universe)
    report = engine.sync(household, broker, ledger=ledger)
    console.print(f"{len(report.new_fills)} new fills booked; cash ${report.cash:,.2f}")
    for d in report.discrepancies:
        console.print(f"[red]discrepancy:[/] {d}", highlight=False)
    _persist_state(store, household, ledger, broker, market.last_day)
    return 0 if not report.discrepancies else 1
