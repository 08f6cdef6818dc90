"""Paper trading at Alpaca, offline: keys and endpoint from the environment, account flags, the batch rails,
orders placed once and followed with one list request per poll — against the local look-alike of Alpaca's API.

    .venv/bin/python examples/brokers_alpaca_paper.py

With real paper keys, drop the local server and its ``APCA_API_BASE_URL``: the same code trades your paper account.
"""

from __future__ import annotations

import os
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from brokers import GuardedBroker, SafetyPolicy, submit_all, wait_for_final
from brokers.alpaca import AlpacaBroker
from engine.errors import TradingHalted
from engine.model import Order
from tests.brokers._alpaca_server import KEY_ID, SECRET, LocalAlpaca

prices = {"VTI": "250.12", "BND": "72.50", "VEA": "48.31"}
server = LocalAlpaca()  # the look-alike: a fresh paper account with cash only, its clock moves when we sleep
server.fresh_paper_account(cash="25000", prices=prices)
server.fill_every = 2.0  # each order moves one lifecycle step every 2 s of (fake) time

os.environ.update({"APCA_API_KEY_ID": KEY_ID, "APCA_API_SECRET_KEY": SECRET, "APCA_API_BASE_URL": server.url})
alpaca = AlpacaBroker.from_env_or_file(None, account="brokerage", sleep=server.clock.sleep, wall=server.clock.time)
info = alpaca.account()
print(f"{alpaca!r}: cash {info.cash} USD, status {info.status}, shorting {info.shorting_enabled}, "
      f"blocked: {info.blocked_reason()}")

guarded = GuardedBroker(alpaca, SafetyPolicy(max_data_age=None, max_order_fraction=0.5),
                        prices={s: Decimal(p) for s, p in prices.items()})
try:  # the account holds no VTI: Alpaca would open a short, the rails refuse it
    guarded.check_all([Order("demo-sell", "brokerage", "VTI", "sell", qty=Decimal(2))])
except TradingHalted as exc:
    print(f"refused ({exc.context['rail']} rail): {exc}")

orders = [Order("demo-001", "brokerage", "VTI", "buy", notional=Decimal("6000")),   # notional: cash-true
          Order("demo-002", "brokerage", "BND", "buy", qty=Decimal(40)),
          Order("demo-003", "brokerage", "VEA", "buy", notional=Decimal("3000"))]
placed = submit_all(guarded, orders)  # lookups, one batch check, then the POSTs
states = wait_for_final(alpaca, [p.client_order_id for p in placed], timeout=60, since=placed[0].submitted_at,
                        clock=server.clock.time, sleep=server.clock.sleep)
for cid, state in states.items():
    print(f"{cid}: {state.status.value}, {state.filled_qty.normalize():f} shares at {state.filled_avg_price}")
for p in alpaca.positions():
    print(f"position {p.symbol}: {p.qty.normalize():f} shares")
lists = sum(1 for r in server.requests if r.method == "GET" and r.path == "/v2/orders")
print(f"{len(server.requests)} requests in all ({lists} order lists while waiting); "
      f"peak {server.peak_per_minute(KEY_ID)} in any minute (Alpaca allows 200)")
server.close()
