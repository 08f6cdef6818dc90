"""Start the web service in-process on a temporary store and drive its REST API with httpx (offline, seconds).

    python examples/service_api.py

An admin sets up a firm, an advisor and a client; the cycle plans a proposal; the client reads their plan; the
advisor finds the proposal in the queue, reads why, approves it under an Idempotency-Key (a retry is replayed,
not repeated) and reads the audit. The client guessing another household's URL gets 404. The advisor imports a
household from its YAML (a typo is a 422 naming the field) and reads the scheduler's status.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import httpx
import uvicorn

from brokers import SafetyRails
from engine import load_household, load_universe
from engine.config import default_file
from engine.cycle import Cycle
from engine.data import MarketData
from engine.planner import Planner
from engine.store import Firm, Role, Store, User
from service import create_app
from service.auth import hash_password, issue_token


def serve(app: object) -> tuple[uvicorn.Server, str]:
    """Run ``app`` with uvicorn on a free port of this machine, in a background thread."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{Path(folder) / 'robo.db'}")
        store.upgrade()
        universe = load_universe()
        rivera = load_household(universe=universe)
        store.households.add(rivera)
        store.households.add(replace(rivera, id="smith", name="Smith household"))

        # People: what `robo user firm/assign/add/token` do from the command line.
        store.users.add_firm(Firm("northwind", "Northwind Advisors", clients_may_approve=False))
        store.users.assign("rivera", "northwind")
        hashed = hash_password("correct horse battery")
        store.users.add(User("alex", "Alex Kim", Role.ADVISOR, firm="northwind"), password_hash=hashed)
        store.users.add(User("rosa", "Rosa Rivera", Role.CLIENT, households=("rivera",)), password_hash=hashed)
        advisor = {"Authorization": f"Bearer {issue_token(store, 'alex', name='example')}"}
        client = {"Authorization": f"Bearer {issue_token(store, 'rosa', name='example')}"}

        cycle = Cycle(Planner(MarketData.embedded(), universe), store=store, rails=SafetyRails.from_settings())
        proposal = cycle.plan("rivera", date(2026, 7, 30))  # what the scheduler does each night
        server, base = serve(create_app(store, lambda: cycle))
        try:
            with httpx.Client(base_url=f"{base}/api/v1", timeout=60) as http:
                plan = http.get("/households/rivera/plan", headers=client).json()
                for g in plan["goals"]:
                    print(f"{g['name']:<30} probability {g['probability']:.0%}  funded {g['funded_ratio']:.0%}")

                queue = http.get("/proposals", params={"status": "proposed"}, headers=advisor).json()
                print("queue:", [(p["id"], p["household"], p["orders"]) for p in queue])
                detail = http.get(f"/proposals/{proposal.id}", headers=advisor).json()
                print("why:", detail["explanation"][0][:100], "…")
                print("routes:", sorted({(o["account"], o["route"]) for o in detail["order_list"]}))
                print("estimated tax change: $", detail["tax_preview"]["estimated_tax"])

                refused = http.post(f"/proposals/{proposal.id}/approve", headers=client, json={"reason": "mine"})
                print("client approves (firm forbids):", refused.status_code, refused.json()["error"]["message"])

                key = {"Idempotency-Key": f"approve-{proposal.id}"}
                first = http.post(f"/proposals/{proposal.id}/approve", headers=advisor | key, json={"reason": "ok"})
                retry = http.post(f"/proposals/{proposal.id}/approve", headers=advisor | key, json={"reason": "ok"})
                print("approve:", first.status_code, first.json()["status"],
                      "| retry replayed:", retry.headers.get("Idempotent-Replayed"), retry.status_code)

                audit = http.get("/audit", params={"household": "rivera"}, headers=advisor).json()
                last = audit[-1]
                print(f"audit: {last['actor']} {last['action']} {last['before']} → {last['after']}")

                guess = http.get("/households/smith", headers=client)
                print("client opens another household:", guess.status_code, guess.json()["error"]["message"])

                # The advisor imports a household from its YAML (as `robo household import`), first with a typo.
                text = default_file("households/sample.yaml").read_text(encoding="utf-8")
                text = text.replace("id: rivera", "id: garcia", 1).replace("Rivera", "Garcia")
                as_yaml = advisor | {"Content-Type": "application/yaml"}
                wrong = text.replace("type: taxable", "type: taxabel", 1)
                typo = http.post("/households", headers=as_yaml, content=wrong)
                e = typo.json()["error"]
                print("import with a typo:", typo.status_code, e["field"], repr(e["value"]), "—", e["fix"])
                made = http.post("/households", headers=as_yaml, content=text)
                print("import:", made.status_code, made.json()["id"], "served by", made.json()["firm"])
                status = http.get("/scheduler", headers=advisor).json()
                print("scheduler, next job:", status["upcoming"][0]["job"], "due", status["upcoming"][0]["due"])
        finally:
            server.should_exit = True
            store.close()


if __name__ == "__main__":
    main()
