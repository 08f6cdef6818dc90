"""Randomized faults over 500 runs: no duplicate orders, every accepted order accounted for, ledger == broker.

Each run resets the local Alpaca, draws a few orders and a fault rate, and drives the real alpaca-py client
through ``submit_all`` → ``wait_for_final`` → ``fills`` → ledger → ``reconcile`` while the server answers
429s, 500/503/504s, 403s, drops connections before or after taking an order, and stalls past the timeout.
The server does *not* enforce unique client order ids here, so any second placement would be counted.
"""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal as D

import pytest

from brokers import reconcile, submit_all, total_by_symbol, wait_for_final
from brokers.alpaca import AlpacaBroker
from engine.errors import BrokerError, BrokerUnavailable, RateLimited
from engine.model import Order
from tests.brokers._alpaca_server import KEY_ID, SECRET

RUNS = 500
SYMBOLS = {"VTI": ("250.12", True), "BND": ("72.5", True), "VEA": ("48.31", True), "BRK": ("400", False)}
FAULTS = (("429", 4.0), ("500", 3.0), ("503", 2.0), ("504", 2.0), ("drop_before", 2.0), ("drop_after", 3.0),
          ("slow_after", 0.12), ("403", 0.5))


def _orders(rng: random.Random, held: dict[str, D], run: int) -> list[Order]:
    out = []
    for i, sym in enumerate(rng.sample(sorted(SYMBOLS), rng.randint(1, 4))):
        frac = SYMBOLS[sym][1]
        cid = f"run{run}-{i:03d}"
        if sym in held and rng.random() < 0.6:
            qty = held[sym] if rng.random() < 0.3 else (held[sym] / 2).quantize(D("1e-3") if frac else D(1))
            if rng.random() < 0.05:
                qty += 1  # more than held: Alpaca answers 403 insufficient qty
            if qty > 0:
                out.append(Order(cid, "brokerage", sym, "sell", qty=qty))
        elif frac and rng.random() < 0.5:
            out.append(Order(cid, "brokerage", sym, "buy", notional=D(rng.randint(100, 3000))))
        else:
            qty = D(rng.randint(1, 6)) if not frac else D(rng.randint(1, 4000)) / 1000
            out.append(Order(cid, "brokerage", sym, "buy", qty=qty))
    return out


def _persist(call, tries=20):
    """What an operator (or the engine's next cycle) does after a broker outage: try again later."""
    for _ in range(tries - 1):
        try:
            return call()
        except (BrokerUnavailable, RateLimited):
            continue
    return call()


def test_randomized_faults_never_duplicate_and_always_reconcile(server):
    server.unique_client_order_ids = False
    broker = AlpacaBroker(KEY_ID, SECRET, url_override=server.url, account="brokerage", timeout=0.25,
                          max_attempts=4, sleep=server.clock.sleep, wall=server.clock.time)
    stats: Counter[str] = Counter()
    for run in range(RUNS):
        rng = random.Random(run)
        held = {s: D(rng.randint(0, 40)) / (4 if SYMBOLS[s][1] else 1) for s in rng.sample(sorted(SYMBOLS), 2)}
        held = {s: q for s, q in held.items() if q > 0}
        server.chaos_rate = 0.0
        shorting = rng.random() < 0.5  # Alpaca paper: on from 2,000 USD equity unless the account is long-only
        server.reset(cash=str(rng.choice([500, 5_000, 20_000])), prices={s: p for s, (p, _) in SYMBOLS.items()},
                     positions=held, fractionable={s: f for s, (_, f) in SYMBOLS.items()}, shorting=shorting)
        server.partial_rate = 0.3
        since = server.clock.now()
        orders = _orders(rng, held, run)
        server.chaos(rate=rng.choice([0.1, 0.25, 0.4]), kinds=FAULTS, seed=run)

        try:
            submit_all(broker, orders)
            stats["submit_ok"] += 1
        except BrokerError as exc:
            stats[type(exc).__name__] += 1

        # Every order the server took is one we meant, taken once, and found by its client order id.
        intended = {o.client_order_id for o in orders}
        taken = Counter(o.client_order_id for o in server.state.orders)
        assert set(taken) <= intended, f"run {run}: unknown orders {set(taken) - intended}"
        assert all(n == 1 for n in taken.values()), f"run {run}: duplicates {taken}"
        found = {cid: _persist(lambda c=cid: broker.order(c)) for cid in sorted(intended)}
        assert {c for c, f in found.items() if f is not None} == set(taken), f"run {run}"
        for cid, f in found.items():
            if f is not None:
                assert f.id == server.by_cid(cid)[0].id

        # Wait for final states (the market ticks while we sleep), read fills, book them, reconcile.
        live = [c for c, f in found.items() if f is not None]
        ticks: list[float] = []

        def tick(seconds: float, ticks: list[float] = ticks) -> None:
            ticks.append(seconds)
            server.tick()

        states = _persist(lambda live=live, ticks=ticks, tick=tick: wait_for_final(
            broker, live, timeout=20, poll=1, clock=lambda: len(ticks), sleep=tick))
        assert all(st.final for st in states.values()), f"run {run}: {states}"
        fills = _persist(lambda since=since: broker.fills(since))
        assert len({f.id for f in fills}) == len(fills)
        ledger = dict(held)
        per_order: Counter[str] = Counter()
        for f in fills:
            ledger[f.symbol] = ledger.get(f.symbol, D(0)) + (f.qty if f.side == "buy" else -f.qty)
            per_order[f.client_order_id] += f.qty
        for cid in live:
            assert per_order[cid] == server.by_cid(cid)[0].filled_qty, f"run {run}: fills of {cid}"
        positions = total_by_symbol(_persist(broker.positions))
        assert reconcile(positions, ledger) == [], f"run {run}"
        if not shorting:
            assert all(q >= 0 for q in positions.values()), f"run {run}: a short without shorting: {positions}"
        stats["shorts"] += sum(1 for q in positions.values() if q < 0)
        # The client's limiter keeps every key within Alpaca's 200 requests per rolling minute.
        assert server.peak_per_minute(KEY_ID) <= 200, f"run {run}"
        stats["injected"] += len(server.injected)
        for kind in server.injected:
            stats[f"fault:{kind}"] += 1
        server.chaos_rate = 0.0

    # The faults really happened, each kind many times, and some runs ended in errors the engine must handle.
    print(dict(stats))
    for kind, _ in FAULTS:
        assert stats[f"fault:{kind}"] >= (10 if kind in ("slow_after", "403") else 100), (kind, stats)
    assert stats["submit_ok"] > RUNS // 2 and stats["InsufficientFunds"] > 0


@pytest.mark.parametrize("seed", range(3))
def test_strict_server_with_faults_matches_alpacas_rule(server, seed):
    """With Alpaca's unique client_order_id rule on, a blind resubmit is answered 422 and resolved by lookup."""
    broker = AlpacaBroker(KEY_ID, SECRET, url_override=server.url, account="brokerage", timeout=0.25,
                          sleep=server.clock.sleep, wall=server.clock.time)
    orders = [Order(f"s{seed}-{i}", "brokerage", "VTI", "buy", qty=D(1)) for i in range(5)]
    submit_all(broker, orders)
    server.chaos(rate=0.3, kinds=FAULTS[:-1], seed=seed)
    again = [_persist(lambda o=o: broker.submit(o)) for o in orders]  # no lookup first: the 422 path
    server.chaos_rate = 0.0
    assert [a.id for a in again] == [server.by_cid(o.client_order_id)[0].id for o in orders]
    assert len(server.state.orders) == 5
