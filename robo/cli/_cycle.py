"""What every trading command shares: the store, the market, the cycle and the brokers of a household.

    cycle = build_cycle(args.data)
    brokers = brokers_for(args, cycle, household)         # account id → broker, from each broker_account
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from typing import Any

from robo.cli import _args


def broker_args(p: argparse.ArgumentParser, default: str = "sim") -> None:
    """``--broker``, ``--account``, ``--key-file``, ``--live`` and its confirmation."""
    p.add_argument("--broker", choices=["sim", "alpaca"], default=default,
                   help="where accounts without a broker_account are traded (sim: the simulated broker)")
    p.add_argument("--account", type=_args.identifier("--account", "account id"),
                   help="trade only this household account (the others wait)")
    p.add_argument("--key-file", type=_args.input_file("--key-file"),
                   help="file with APCA_API_KEY_ID=… and APCA_API_SECRET_KEY=… lines")
    p.add_argument("--live", action="store_true", help="trade the LIVE Alpaca account (default: paper)")
    p.add_argument("--i-understand-live-trading", action="store_true", dest="confirm_live",
                   help="required together with --live")


def json_arg(p: argparse.ArgumentParser) -> None:
    """``--json``: print one JSON document on stdout instead of tables."""
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def emit(doc: Any) -> None:
    """Print ``doc`` as one JSON document (Decimals and dates as strings)."""
    sys.stdout.write(json.dumps(doc, default=str, indent=2) + "\n")
    sys.stdout.flush()


def market(kind: str) -> Any:
    """The embedded prices, the yfinance cache filled by ``robo data update`` (offline), or ``stocks``: the embedded
    funds with the shipped 20-stock demo set as more columns (to its last day), for a direct-index sleeve."""
    from engine.data import MarketData, YahooSource, load_market_data
    from engine.settings import Settings

    if kind == "embedded":
        return MarketData.embedded()
    if kind == "stocks":
        from engine.data.market import with_stock_prices
        from engine.data.stocks import embedded_stocks

        return with_stock_prices(MarketData.embedded(), embedded_stocks())
    return load_market_data(YahooSource(cache_dir=Settings().cache_dir / "yahoo", offline=True))


def store() -> Any:
    """The store of the settings, migrated to head."""
    from engine.store import Store

    s = Store.from_settings()
    s.upgrade()
    return s


def build_cycle(data: str = "embedded", *, with_store: bool = True) -> Any:
    """The one cycle over the chosen market data and the settings' store, with the settings' safety rails."""
    from brokers import rails_for
    from engine.config import load_universe
    from engine.cycle import Cycle
    from engine.planner import Planner

    planner = Planner(market(data), load_universe())
    return Cycle(planner, store=store() if with_store else None, rails=rails_for(), actor="robo")


def brokers_for(args: argparse.Namespace, cycle: Any, household: Any, start: date | None = None) -> dict[str, Any]:
    """Account id → broker for the household, from each account's broker_account and ``--broker``."""
    from brokers import household_brokers

    return household_brokers(household, cycle.planner.market, default=args.broker, start=start,
                             universe=cycle.planner.assets_for(household), key_file=args.key_file, live=args.live,
                             confirm_live=args.confirm_live, only=args.account)


def default_day(market_data: Any, broker: str) -> date:
    """Plan on the newest day; a simulated broker needs two more bars to fill sells, then buys."""
    from engine.data import previous_trading_day

    day = market_data.last_day
    if broker == "sim":
        day = previous_trading_day(previous_trading_day(day))
    return day


def proposal_doc(proposal: Any, household: Any, prices: Any) -> dict[str, Any]:
    """The proposal as plain data: id, status, approval, orders with their route, explanation."""
    from engine.cycle import route_of

    orders = []
    for o in proposal.orders:
        orders.append({
            "client_order_id": o.client_order_id, "account": o.account, "symbol": o.symbol, "side": o.side.value,
            "qty": None if o.qty is None else f"{o.qty.normalize():f}",
            "notional": None if o.notional is None else f"{o.notional:f}",
            "approx_value": None if o.qty is None or o.symbol not in prices else f"{o.qty * prices[o.symbol]:.2f}",
            "route": route_of(household.account(o.account)).value, "lots": list(o.lots),
        })
    return {"id": proposal.id, "household": proposal.household, "as_of": proposal.as_of.isoformat(),
            "status": proposal.status.value, "run_kind": proposal.run_kind.value, "trigger": proposal.trigger,
            "needs_approval": proposal.needs_approval, "approval_reasons": list(proposal.approval_reasons),
            "orders": orders, "explanation": list(proposal.explanation)}
