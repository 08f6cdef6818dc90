"""Requests a 9-order submit + wait cycle makes against the local Alpaca, before and after the list-based wait.

    .venv/bin/python benchmarks/alpaca_requests.py      # prints requests, peak per 60 s window, and ratios

Alpaca allows 200 requests per minute per API key. "Before" is the previous ``wait_for_final``: every order
looked up by client order id every 0.5 s (the engine's poll), replayed here as it was; "after" is today's:
one ``GET /v2/orders`` per poll, 1 s growing 1.5× to 10 s. Two markets: (a) the orders queue because the
market is closed, so they work for the whole 120 s wait (the issue's case: 1,080 requests in 120 s);
(b) the market is open and each order moves one lifecycle step every 5 s (accepted → new → filled).
Time is a fake clock, so the run takes a few seconds. "before, no 429 limit" is what the old loop asks for
(the server does not refuse); "before, header-aware" is the old loop through today's adapter against
Alpaca's 200/min, which holds it at ``X-RateLimit-Remaining: 0`` until the reset (the old adapter had no
such hold and met 429s instead); "after" is today's wait.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from brokers.alpaca import AlpacaBroker
from engine.execution import submit_all, wait_for_final
from engine.model import Order
from tests.brokers._alpaca_server import KEY_ID, SECRET, FakeClock, LocalAlpaca

SYMBOLS = ("VTI", "VEA", "VWO", "BND", "BNDX", "VNQ", "VTIP", "SCHP", "VGIT")
WAIT = 120.0


def old_wait(broker: AlpacaBroker, ids: list[str], timeout: float, poll: float, clock: FakeClock) -> None:
    """The previous wait_for_final, verbatim in behaviour: each order by client id, every ``poll`` seconds."""
    start = clock.time()
    while True:
        states = [broker.order(cid) for cid in ids]
        if all(s is not None and s.final for s in states) or clock.time() - start >= timeout:
            return
        clock.sleep(poll)


def run(server: LocalAlpaca, *, old: bool, market_open: bool, limit: int = 200) -> tuple[int, int, int, int]:
    clock = server.clock = FakeClock()
    server.reset(cash="1000000", prices={s: "100" for s in SYMBOLS}, is_open=market_open)
    server.rate_limit = limit
    server.fill_every = 5.0 if market_open else None
    broker = AlpacaBroker(KEY_ID, SECRET, url_override=server.url, account="brokerage", sleep=clock.sleep,
                          wall=clock.time, rate_limit=10_000 if old else 200)
    orders = [Order(f"bench-{i:03d}", "brokerage", s, "buy", qty=Decimal(3)) for i, s in enumerate(SYMBOLS)]
    placed = submit_all(broker, orders)
    submitted = len(server.requests)
    ids = [p.client_order_id for p in placed]
    if old:
        old_wait(broker, ids, WAIT, 0.5, clock)
    else:
        wait_for_final(broker, ids, timeout=WAIT, since=placed[0].submitted_at, clock=clock.time, sleep=clock.sleep)
    refused = sum(1 for r in server.requests if r.status == 429)
    return submitted, len(server.requests), server.peak_per_minute(KEY_ID), refused


def main() -> None:
    server = LocalAlpaca()
    try:
        print(f"{'market':<26}{'wait':<22}{'submit':>7}{'total':>7}{'wait only':>10}{'peak/60s':>9}{'429s':>6}")
        for market_open, label in ((False, "closed (orders queue)"), (True, "open (a step every 5 s)")):
            rows = {}
            for name, old, limit in (("before, no 429 limit", True, 10**9), ("before, header-aware", True, 200),
                                     ("after", False, 200)):
                sub, total, peak, refused = run(server, old=old, market_open=market_open, limit=limit)
                rows[name] = (total - sub, peak)
                print(f"{label:<26}{name:<22}{sub:>7}{total:>7}{total - sub:>10}{peak:>9}{refused:>6}")
            base, new_ = rows["before, no 429 limit"], rows["after"]
            print(f"{'':<26}{'ratio before/after':<22}{'':>7}{'':>7}{base[0] / max(new_[0], 1):>9.1f}×"
                  f"{base[1] / max(new_[1], 1):>8.1f}×")
    finally:
        server.close()


if __name__ == "__main__":
    main()
