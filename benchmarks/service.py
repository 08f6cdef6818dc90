"""Web service speed: the approval queue (page and API) and the proposal page, with many households and pending
proposals, on SQLite and on PostgreSQL; p50/p95 in milliseconds and the budget ratio printed.

    .venv/bin/python benchmarks/service.py       # issue 21's size, 10,000 households and 2,000 pending: 1–2 min
    .venv/bin/python benchmarks/service.py --households 2000 --requests 30 --backend sqlite   # a quick look

Budgets (issue 21): queue page and its API call p95 ≤ 50 ms, proposal page p95 ≤ 100 ms. Requests go through the
real app in-process (httpx through Starlette's TestClient: routing, auth, store queries, templates; no socket),
signed in as an advisor whose firm serves every household (the widest scope join) and as an admin. PostgreSQL
runs when ``ROBO_TEST_DATABASE_URL`` is set (a scratch schema, dropped afterwards). Seeding is not timed.
Households are full copies of the sample (two members, four accounts, twelve lots, four goals), stored with the
store's bulk path (``store.households.add_many``, 1,000 per transaction); each pending proposal is a copy of one
real planned proposal (28 orders, the full explanation and tax preview), stored with ``store.proposals.add_many``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BUDGET_MS = {"queue page": 50.0, "queue API": 50.0, "proposal page": 100.0, "proposal API": 100.0}
PASSWORD = "benchmark passphrase"
PLAN_DAY = date(2026, 7, 30)
FULL = {"households": 10_000, "pending": 2_000, "requests": 100}  # issue 21's size: the default run


@contextmanager
def postgres_url(base: str) -> Iterator[str]:
    """A scratch schema on the test server (dropped afterwards)."""
    from engine.store.db import make_engine  # the store owns SQLAlchemy: borrow its engine factory

    name = f"bench_service_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
        admin.dispose()


def planned(template, planner):
    """One real proposal for the sample household (planned once on a scratch store; every seed copies it)."""
    from engine.cycle import Cycle
    from engine.store import Store

    with Store("sqlite://") as scratch:
        scratch.upgrade()
        scratch.households.add(template)
        return Cycle(planner, store=scratch).plan(template.id, PLAN_DAY, proposal_id="seed")


def seed(store, households: int, pending: int, template, proposal) -> dict[str, str]:
    """Households (copies of the sample: 4 accounts, 12 lots, 4 goals), one firm serving them all, users, and
    ``pending`` proposals (copies of ``proposal``) spread over the households."""
    from engine.store import Firm, Role, User
    from service.auth import hash_password, issue_token

    store.users.add_firm(Firm("big", "Big Advisors"))
    store.households.add(template, firm="big")
    started = time.perf_counter()
    ids = [f"h{i:05d}" for i in range(households)]
    for i in range(0, households, 1000):  # the store's bulk path: one transaction per 1,000 households
        store.households.add_many([replace(template, id=hid, name=f"Household {hid}") for hid in ids[i:i + 1000]],
                                  firm="big")
    hashed = hash_password(PASSWORD)
    store.users.add(User("adv", "Advisor", Role.ADVISOR, firm="big"), password_hash=hashed)
    store.users.add(User("root", "Admin", Role.ADMIN), password_hash=hashed)
    batch = []
    for i in range(pending):
        pid = f"p{i:05d}"
        orders = tuple(replace(o, client_order_id=f"{pid}-{k:03d}") for k, o in enumerate(proposal.orders))
        batch.append(replace(proposal, id=pid, household=ids[i % households], orders=orders))
        if len(batch) == 500:
            store.proposals.add_many(batch)
            batch = []
    store.proposals.add_many(batch)
    print(f"  seeded {households:,} households (store.households.add_many) and {pending:,} pending proposals in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    return {u: issue_token(store, u, name="bench") for u in ("adv", "root")}


def timed(fn, n: int) -> tuple[float, float]:
    fn()  # warm (templates compiled, caches filled)
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def run(url: str, label: str, args: argparse.Namespace, template, planner,
        proposal) -> list[tuple[str, str, float, float]]:
    from fastapi.testclient import TestClient

    from engine.cycle import Cycle
    from engine.store import Store
    from service import create_app

    store = Store(url)
    store.upgrade()
    tokens = seed(store, args.households, args.pending, template, proposal)
    app = create_app(store, lambda: Cycle(planner, store=store))
    rows = []
    target = "p01000" if args.pending > 1000 else "p00000"
    with TestClient(app) as client:
        for user in ("adv", "root"):
            api = {"Authorization": f"Bearer {tokens[user]}"}
            client.cookies.clear()
            login = client.post("/login", data={"user": user, "password": PASSWORD}, follow_redirects=False)
            assert login.status_code == 303, login.text
            checks = {
                "queue page": lambda: client.get("/queue"),
                "queue API": lambda api=api: client.get("/api/v1/proposals?status=proposed&limit=50", headers=api),
                "proposal page": lambda: client.get(f"/proposals/{target}"),
                "proposal API": lambda api=api: client.get(f"/api/v1/proposals/{target}", headers=api),
            }
            for name, call in checks.items():
                r = call()
                assert r.status_code == 200, (name, r.status_code, r.text[:300])
                p50, p95 = timed(call, args.requests)
                rows.append((label, f"{name} ({'advisor' if user == 'adv' else 'admin'})", p50, p95))
    store.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=FULL["households"], help="default: issue 21's 10,000")
    ap.add_argument("--pending", type=int, default=FULL["pending"], help="default: issue 21's 2,000")
    ap.add_argument("--requests", type=int, default=FULL["requests"], help="timed requests per measurement")
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = ap.parse_args()
    name = "full size (issue 21)" if (args.households, args.pending) == (10_000, 2_000) else "reduced size"
    print(f"{name}: {args.households:,} households, {args.pending:,} pending proposals, "
          f"{args.requests} timed requests per measurement", flush=True)
    started = time.perf_counter()

    from engine import load_household, load_universe
    from engine.data import MarketData
    from engine.planner import Planner

    universe = load_universe()
    template = load_household(universe=universe)
    planner = Planner(MarketData.embedded(), universe)
    proposal = planned(template, planner)
    results = []
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            print("SQLite", flush=True)
            results += run(f"sqlite:///{Path(folder) / 'bench.db'}", "SQLite", args, template, planner, proposal)
    pg = os.environ.get("ROBO_TEST_DATABASE_URL")
    if args.backend in ("postgres", "both"):
        if pg:
            print("PostgreSQL", flush=True)
            with postgres_url(pg) as url:
                results += run(url, "PostgreSQL", args, template, planner, proposal)
        else:
            print("PostgreSQL skipped: set ROBO_TEST_DATABASE_URL")
    print(f"\n{name}: {args.households:,} households, {args.pending:,} pending proposals, "
          f"{args.requests} requests each; whole run {time.perf_counter() - started:.0f} s")
    print(f"{'backend':<11} {'request':<30} {'p50 ms':>8} {'p95 ms':>8} {'budget':>7} {'p95/budget':>11}")
    for backend, label, p50, p95 in results:
        budget = BUDGET_MS[label.split(" (")[0]]
        print(f"{backend:<11} {label:<30} {p50:8.1f} {p95:8.1f} {budget:7.0f} {p95 / budget:11.2f}")


if __name__ == "__main__":
    main()
