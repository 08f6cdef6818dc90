"""The paper trader's commands with --json on the simulated broker (no keys): import → rebalance → approve →
execute → advice list → confirm by hand → positions import; each prints exactly one JSON document."""

from __future__ import annotations

import json

import pytest

from robo.cli import main


@pytest.fixture()
def robo(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ROBO_DATABASE_URL", f"sqlite:///{tmp_path / 'robo.db'}")

    def run(*argv: str, code: int = 0) -> dict:
        capsys.readouterr()
        assert main(list(argv)) == code
        return json.loads(capsys.readouterr().out)  # one JSON document, nothing else on stdout

    return run


def test_rebalance_execute_advice_confirm_and_import_with_json(robo, tmp_path):
    assert main(["household", "import", "sample"]) == 0
    proposal = robo("rebalance", "rivera", "--json")
    assert proposal["status"] == "proposed" and proposal["needs_approval"]
    routes = {(o["account"], o["route"]) for o in proposal["orders"]}
    assert ("brokerage", "broker") in routes and ("alex_401k", "advice") in routes
    assert all(len(o["client_order_id"]) > len(proposal["id"]) for o in proposal["orders"])  # ids never cut off
    assert robo("approve", proposal["id"], "--json") == {"id": proposal["id"], "status": "approved"}
    report = robo("execute", proposal["id"], "--broker", "sim", "--json")
    assert report["status"] == "executed" and not report["errors"] and not report["discrepancies"]
    assert {p["account"] for p in report["placed"]} == {"brokerage"}
    assert {a["account"] for a in report["advised"]} == {"alex_401k", "jordan_ira", "alex_roth"}
    waiting = robo("advice", "list", "rivera", "--json")["advice"]
    assert len(waiting) == len(report["advised"])
    sell = next(a for a in waiting if a["side"] == "sell")
    done = robo("advice", "confirm", proposal["id"], sell["client_order_id"], "--qty", sell["qty"],
                "--price", "100.00", "--json")
    assert done["status"] == "filled"
    assert len(robo("advice", "list", "rivera", "--json")["advice"]) == len(waiting) - 1
    csv = tmp_path / "roth.csv"
    csv.write_text("symbol,qty,avg_cost\nVUG,71.5,220.10\nVB,40,180\n", encoding="utf-8")
    imported = robo("positions", "import", "rivera", "alex_roth", str(csv), "--json")
    assert sorted((x["symbol"], x["shares"]) for x in imported["lots"]) == [("VB", "40"), ("VUG", "71.5")]
    orders = robo("orders", "rivera", "--json")["orders"]
    assert {o["status"] for o in orders} >= {"filled", "advised"}
    # a held-at-broker account cannot be overwritten by a CSV: sync it instead
    assert main(["positions", "import", "rivera", "brokerage", str(csv)]) != 0
