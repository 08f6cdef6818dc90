"""The REST API through the real app: approval with the signed-in actor, idempotency keys, 50 simultaneous
approvals, execution, life events re-planned by the cycle, errors with field/value/fix, OpenAPI."""

from __future__ import annotations

import asyncio

import httpx
import pytest


def test_approve_records_the_signed_in_user_as_actor(client, auth, store) -> None:
    r = client.post("/api/v1/proposals/p-rivera/approve", headers=auth("alex"), json={"reason": "tax cost is fine"})
    assert r.status_code == 200 and r.json()["status"] == "approved"
    [t] = store.proposals.history("p-rivera")
    assert (t.actor, t.to_status.value, t.reason) == ("alex", "approved", "tax cost is fine")
    entry = [e for e in store.audit.list(entity="proposal", entity_id="p-rivera") if e.action == "proposal.transition"]
    assert entry[-1].actor == "alex"
    again = client.post("/api/v1/proposals/p-rivera/approve", headers=auth("root"), json={})
    assert again.status_code == 409
    assert again.json()["error"]["type"] == "Conflict" and "approved" in again.json()["error"]["message"]


def test_a_client_of_a_firm_that_allows_it_approves_their_own(client, auth, store) -> None:
    r = client.post("/api/v1/proposals/p-rivera/approve", headers=auth("rosa"), json={"reason": "yes"})
    assert r.status_code == 200
    assert store.proposals.history("p-rivera")[0].actor == "rosa"
    refused = client.post("/api/v1/proposals/p-smith/approve", headers=auth("sam"), json={"reason": "yes"})
    assert refused.status_code == 403 and store.proposals.get("p-smith").status.value == "proposed"


def test_rejection_needs_a_reason_and_says_which_field(client, auth, store) -> None:
    r = client.post("/api/v1/proposals/p-rivera/reject", headers=auth("alex"), json={"reason": "  "})
    assert r.status_code == 422
    error = r.json()["error"]
    assert (error["type"], error["field"]) == ("ValidationError", "reason") and error["fix"]
    assert store.proposals.get("p-rivera").status.value == "proposed"  # nothing changed
    ok = client.post("/api/v1/proposals/p-rivera/reject", headers=auth("alex"), json={"reason": "wait for bonus"})
    assert ok.json()["status"] == "rejected"
    never = client.post("/api/v1/proposals/p-rivera/execute", headers=auth("alex"))
    assert never.status_code == 409


def test_an_idempotency_key_replays_the_first_response(client, auth, store) -> None:
    key = {"Idempotency-Key": "approve-p-rivera-1"}
    first = client.post("/api/v1/proposals/p-rivera/approve", headers=auth("alex") | key, json={"reason": "ok"})
    second = client.post("/api/v1/proposals/p-rivera/approve", headers=auth("alex") | key, json={"reason": "ok"})
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() and second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert len(store.proposals.history("p-rivera")) == 1  # the retry changed nothing
    other = client.post("/api/v1/proposals/p-rivera/approve", headers=auth("alex") | key, json={"reason": "else"})
    assert other.status_code == 422 and other.json()["error"]["field"] == "Idempotency-Key"
    # keys are per user: the same key from another user is a new request (here: a 409, approved already)
    theirs = client.post("/api/v1/proposals/p-rivera/approve", headers=auth("root") | key, json={"reason": "ok"})
    assert theirs.status_code == 409
    # an error response is replayed as well
    replay = client.post("/api/v1/proposals/p-rivera/approve", headers=auth("root") | key, json={"reason": "ok"})
    assert replay.status_code == 409 and replay.headers["idempotent-replayed"] == "true"


def test_a_retried_life_event_is_recorded_once(client, auth, store) -> None:
    body = {"kind": "inheritance", "on": "2026-07-30", "amount": "25000"}
    key = {"Idempotency-Key": "ev-1"}
    a = client.post("/api/v1/households/rivera/events", headers=auth("rosa") | key, json=body)
    b = client.post("/api/v1/households/rivera/events", headers=auth("rosa") | key, json=body)
    assert a.status_code == b.status_code == 200 and a.json() == b.json()
    events = [e for e in a.json()["events"] if e["kind"] == "inheritance"]
    assert len(events) == 1 and events[0]["applied"] is True  # the cycle ran the event's rule
    assert [e.actor for e in store.audit.list(household="rivera", action="household.record_event")] == ["rosa"]
    # without a key, the same event again is a conflict (events are idempotent by id), not a second inheritance
    c = client.post("/api/v1/households/rivera/events", headers=auth("rosa"), json=body)
    assert c.status_code == 409


def test_a_life_event_changes_the_plan(client, auth) -> None:
    before = client.get("/api/v1/households/rivera/plan", headers=auth("alex")).json()
    wealth = {g["goal_id"]: g["wealth"] for g in before["goals"]}
    r = client.post("/api/v1/households/rivera/events", headers=auth("alex"),
                    json={"kind": "inheritance", "on": "2026-07-30", "amount": "250000"})
    assert r.status_code == 200
    after = client.get("/api/v1/households/rivera/plan", headers=auth("alex")).json()
    # the inheritance fills under-funded goals in priority order first; what is left is general wealth
    assert sum(g["wealth"] for g in after["goals"]) > sum(wealth.values()) + 150_000
    assert after["goals"] != before["goals"]


def test_bad_input_is_a_422_naming_the_field(client, auth) -> None:
    r = client.post("/api/v1/households/rivera/events", headers=auth("alex"), json={"kind": "lottery", "on": "x"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "kind"
    r = client.get("/api/v1/proposals?status=pending", headers=auth("alex"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "query.status"
    r = client.post("/api/v1/households/rivera/what-if", headers=auth("alex"), json={"changes": ["retire-at=sixty"]})
    assert r.status_code == 422 and r.json()["error"]["type"] == "PlanningError"
    r = client.post("/api/v1/households/rivera/events", headers=auth("alex"),
                    json={"kind": "child", "on": "2026-07-30", "member": "nobody"})
    assert r.status_code in (404, 422) and r.json()["error"]["message"]


def test_what_if_reports_before_and_after(client, auth) -> None:
    r = client.post("/api/v1/households/rivera/what-if", headers=auth("rosa"), json={"changes": ["save-more=2000"]})
    assert r.status_code == 200
    body = r.json()
    before = {g["goal_id"]: g["probability"] for g in body["before"]["goals"]}
    after = {g["goal_id"]: g["probability"] for g in body["after"]["goals"]}
    assert after[body["focus"]] > before[body["focus"]]  # saving more toward a goal raises its probability


def test_proposal_detail_has_routes_binding_and_tax_preview(client, auth, store) -> None:
    d = client.get("/api/v1/proposals/p-rivera", headers=auth("alex")).json()
    household = store.households.get("rivera")
    from engine.cycle import route_of

    routes = {a.id: route_of(a).value for a in household.accounts}
    assert d["order_list"] and all(o["route"] == routes[o["account"]] for o in d["order_list"])
    assert all(o["status"] == "new" for o in d["order_list"])
    assert d["binding"] == store.proposals.get("p-rivera").details["binding"]
    assert {"short_term_gain", "estimated_tax"} <= set(d["tax_preview"])
    assert d["explanation"] and abs(sum(t["weight"] for t in d["targets"]) - 1) < 0.05


def test_execute_after_approval_places_orders_once(client, auth, store) -> None:
    client.post("/api/v1/proposals/p-rivera/approve", headers=auth("alex"), json={"reason": "go"})
    r = client.post("/api/v1/proposals/p-rivera/execute", headers=auth("alex") | {"Idempotency-Key": "x1"})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["proposal"] == "p-rivera" and report["status"] in ("executed", "partially_executed", "failed")
    assert report["placed"] or report["advised"]
    again = client.post("/api/v1/proposals/p-rivera/execute", headers=auth("alex"))
    assert again.status_code == 409
    transitions = [t.to_status.value for t in store.proposals.history("p-rivera")]
    assert transitions.count("executing") == 1 and transitions[0] == "approved"
    assert {t.actor for t in store.proposals.history("p-rivera")} == {"alex"}


@pytest.mark.parametrize("action", ["approve", "execute"])
def test_fifty_simultaneous_requests_act_once(app, auth, store, action) -> None:
    """50 approvals at once → one approval; 50 executions of an approved proposal → one execution. The store's
    compare-and-set transition decides; every loser gets a clear 409."""
    if action == "execute":
        store.proposals.transition("p-rivera", "approved", actor="alex")

    async def storm() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            url = f"/api/v1/proposals/p-rivera/{action}"
            body = {"reason": "go"} if action == "approve" else None
            return await asyncio.gather(*(c.post(url, headers=auth("alex"), json=body) for _ in range(50)))

    responses = asyncio.run(storm())
    codes = sorted(r.status_code for r in responses)
    assert codes.count(200) == 1 and codes.count(409) == 49, codes
    losers = [r.json()["error"] for r in responses if r.status_code == 409]
    assert all(e["type"] == "Conflict" and e["message"] for e in losers)
    moved = [t.to_status.value for t in store.proposals.history("p-rivera")]
    assert moved.count("approved") == 1 and moved.count("executing") == (1 if action == "execute" else 0)


def test_openapi_describes_every_endpoint(client) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    paths = set(spec["paths"])
    assert {"/api/v1/proposals", "/api/v1/proposals/{proposal_id}/approve", "/api/v1/households/{household_id}/plan",
            "/api/v1/households/{household_id}/events", "/api/v1/audit"} <= paths
    approve = spec["paths"]["/api/v1/proposals/{proposal_id}/approve"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in approve["parameters"])
    assert {"401", "403", "404", "409", "422"} <= set(approve["responses"])
