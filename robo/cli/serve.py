"""``robo serve``: the advisor and client web app and the REST API on the store the CLI and scheduler share.

    robo serve                                   # http://127.0.0.1:8000 — sign in at /login, API docs at /api/docs
    robo serve --host 0.0.0.0 --port 8080 --data yahoo --broker none

Needs the ``web`` extra (``pip install 'adaptive-robo[web]'``) and at least one user (``robo user add``).
"""

from __future__ import annotations

import argparse
from typing import Any

from robo.cli import _args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the web app and REST API (FastAPI + uvicorn)")
    p.add_argument("--host", type=_args.host("--host"), default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=_args.int_range("--port", 1, 65535), default=8000, help="port (default: 8000)")
    p.add_argument("--url", help="database URL (default: ROBO_DATABASE_URL or SQLite under ROBO_HOME)")
    p.add_argument("--data", choices=["embedded", "yahoo"], default="embedded",
                   help="price data: the embedded set, or the yfinance cache filled by 'robo data update'")
    p.add_argument("--broker", choices=["sim", "none"], default="sim",
                   help="who holds broker-routed accounts on execute: a simulated broker per household, or none "
                        "(execute then only advises held-away accounts)")
    p.add_argument("--secure-cookies", action="store_true", help="mark session cookies Secure (behind HTTPS)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=run_serve)


def build_app(store: Any, *, data: str = "embedded", broker: str = "sim", secure_cookies: bool = False) -> Any:
    """The service over ``store``: the one cycle (market data loaded on first use, the settings' rails) and, with
    ``broker="sim"``, a simulated broker per household on execute (``none``: held-away advice only)."""
    try:
        from service import create_app
    except ImportError as exc:  # pragma: no cover - depends on the installation
        from engine.errors import ConfigError

        raise ConfigError("the web service needs its extra packages", field="robo serve",
                          fix="pip install 'adaptive-robo[web]'") from exc
    from brokers import household_brokers, rails_for
    from engine.config import load_universe
    from engine.cycle import Cycle
    from engine.planner import Planner
    from robo.cli._cycle import market

    universe = load_universe()
    state: dict[str, Cycle] = {}

    def cycle_factory() -> Cycle:
        state["cycle"] = Cycle(Planner(market(data), universe), store=store, rails=rails_for(), actor="robo")
        return state["cycle"]

    def brokers_for(household: Any, proposal: Any) -> Any:
        # one simulated broker per execution, holding the household as stored, its clock on the proposal's day
        return household_brokers(household, state["cycle"].planner.market, default="sim", start=proposal.as_of,
                                 universe=universe)

    return create_app(store, cycle_factory, brokers_for=brokers_for if broker == "sim" else None,
                      secure_cookies=secure_cookies)


def run_serve(args: argparse.Namespace) -> int:
    from engine.store import Store
    from robo.cli._out import console
    from service import serve

    store = Store(args.url)
    store.upgrade()
    app = build_app(store, data=args.data, broker=args.broker, secure_cookies=args.secure_cookies)
    if not store.users.list():
        console.print("[yellow]No user yet: add one with `robo user add NAME --role admin`.[/]", highlight=False)
    console.print(f"adaptive-robo on http://{args.host}:{args.port}/ (API docs: /api/docs) — {store!r}",
                  highlight=False)
    try:
        serve(app, host=args.host, port=args.port, log_level=args.log_level)
    finally:
        store.close()
    return 0
