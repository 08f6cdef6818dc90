"""Household import and update over the REST API: the engine's loader validates the document (its typed errors
come back as JSON field/value/fix, nothing stored), money stays exact, every change is audited with the signed-in
user, and a document read back from GET …/document replaces the household unchanged."""

from __future__ import annotations

import json

import pytest


def _doc(client, auth, household: str = "rivera") -> dict:
    r = client.get(f"/api/v1/households/{household}/document", headers=auth("root"))
    assert r.status_code == 200
    return r.json()


def test_import_as_json_stores_exactly_what_was_sent(client, auth, store) -> None:
    doc = _doc(client, auth)
    doc["id"], doc["name"] = "garcia", "Garcia household"
    doc["accounts"][0]["cash"] = "1234.56"
    r = client.post("/api/v1/households", headers=auth("alex"), json=doc)
    assert r.status_code == 201, r.text
    assert r.json()["id"] == "garcia" and r.json()["firm"] == "northwind"
    stored = store.households.get("garcia")
    from decimal import Decimal

    assert stored.accounts[0].cash == Decimal("1234.56")
    assert stored.lots == store.households.get("rivera").lots  # the same lots, to the share
    [entry] = store.audit.list(household="garcia", action="household.add")
    assert entry.actor == "alex"
    assert [e.actor for e in store.audit.list(household="garcia", action="household.assign_firm")] == ["alex"]


def test_json_numbers_are_decimals_not_floats(client, auth, store) -> None:
    """A bare JSON number is parsed as a decimal (json parse_float=Decimal), never through a float."""
    doc = _doc(client, auth)
    doc["id"] = "exact"
    text = json.dumps(doc).replace(f'"cash": "{doc["accounts"][0]["cash"]}"', '"cash": 12345678901234.123456', 1)
    r = client.post("/api/v1/households", headers=auth("root") | {"Content-Type": "application/json"},
                    content=text)
    assert r.status_code == 201, r.text
    from decimal import Decimal

    assert store.households.get("exact").accounts[0].cash == Decimal("12345678901234.123456")  # a float keeps .123


def test_import_as_yaml_like_the_cli(client, auth, store) -> None:
    from engine.config import default_file

    text = default_file("households/sample.yaml").read_text(encoding="utf-8").replace("id: rivera", "id: yaml-one", 1)
    assert "id: yaml-one" in text
    r = client.post("/api/v1/households?firm=acme", headers=auth("root") | {"Content-Type": "application/yaml"},
                    content=text)
    assert r.status_code == 201, r.text
    assert store.users.firm_of("yaml-one") == "acme"
    from engine.config import load_household

    sample = load_household()
    assert store.households.get("yaml-one").lots == sample.lots


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d["members"][0].update(birth_date="1980-02-30"), "members.0.birth_date"),
    (lambda d: d["accounts"][0].update(type="crypto"), "accounts.0.type"),
    (lambda d: d.update(colour="blue"), "colour"),
    (lambda d: d["lots"][0].update(symbol="NOPE"), None),
    (lambda d: d.pop("members"), "members"),
])
def test_a_bad_document_is_a_422_naming_the_field_and_nothing_is_stored(client, auth, store, change, field) -> None:
    doc = _doc(client, auth)
    doc["id"] = "broken"
    change(doc)
    before = len(store.audit.list())
    r = client.post("/api/v1/households", headers=auth("alex"), json=doc)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["type"] == "ConfigError" and error["fix"]
    if field is not None:
        assert error["field"] == field
    else:
        assert error["field"].endswith(".symbol") and error["value"] == "NOPE"
    assert "broken" not in store.households.list() and len(store.audit.list()) == before


def test_broken_syntax_and_wrong_types_are_422(client, auth) -> None:
    r = client.post("/api/v1/households", headers=auth("root") | {"Content-Type": "application/json"},
                    content=b'{"id": "x",')
    assert r.status_code == 422 and "broken JSON at line 1" in r.json()["error"]["message"]
    r = client.post("/api/v1/households", headers=auth("root") | {"Content-Type": "application/yaml"},
                    content=b"id: [unclosed")
    assert r.status_code == 422 and "broken YAML" in r.json()["error"]["message"]
    r = client.post("/api/v1/households", headers=auth("root") | {"Content-Type": "application/xml"}, content=b"<x/>")
    assert r.status_code == 422 and r.json()["error"]["field"] == "Content-Type"
    r = client.post("/api/v1/households", headers=auth("root"), json=["a", "list"])
    assert r.status_code == 422 and "household document" in r.json()["error"]["message"]


def test_an_existing_id_is_a_409_pointing_at_put(client, auth, store) -> None:
    doc = _doc(client, auth)
    mine = client.post("/api/v1/households", headers=auth("alex"), json=doc)
    assert mine.status_code == 409 and "PUT /api/v1/households/rivera" in mine.json()["error"]["fix"]
    theirs = client.post("/api/v1/households", headers=auth("bea"), json=doc)  # smith's firm: rivera is not theirs
    assert theirs.status_code == 409 and "PUT" not in theirs.json()["error"]["fix"]
    assert store.users.firm_of("rivera") == "northwind"


def test_an_advisor_imports_only_into_their_own_firm(client, auth, store) -> None:
    doc = _doc(client, auth)
    doc["id"] = "elsewhere"
    r = client.post("/api/v1/households?firm=acme", headers=auth("alex"), json=doc)
    assert r.status_code == 403 and "elsewhere" not in store.households.list()
    r = client.post("/api/v1/households?firm=nosuch", headers=auth("root"), json=doc)
    assert r.status_code == 404 and "elsewhere" not in store.households.list()


def test_put_replaces_the_household_and_audits_before_and_after(client, auth, store) -> None:
    doc = _doc(client, auth)
    doc["monthly_savings"] = "4321.00"
    doc["name"] = "Rivera family"
    r = client.put("/api/v1/households/rivera", headers=auth("alex"), json=doc)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Rivera family" and r.json()["monthly_savings"] in ("4321.00", "4321")
    [entry] = store.audit.list(household="rivera", action="household.update")
    assert entry.actor == "alex" and entry.before["name"] != entry.after["name"] == "Rivera family"
    # the document read back is what was sent: GET → PUT → GET is a fixed point
    again = _doc(client, auth)
    assert again == json.loads(json.dumps(doc)) | {"monthly_savings": again["monthly_savings"]}
    from decimal import Decimal

    assert store.households.get("rivera").monthly_savings == Decimal("4321.00")


def test_put_round_trip_changes_nothing(client, auth, store) -> None:
    before = store.households.get("rivera")
    r = client.put("/api/v1/households/rivera", headers=auth("root"), json=_doc(client, auth))
    assert r.status_code == 200
    assert store.households.get("rivera") == before


def test_put_refuses_another_id_and_bad_values_leaving_the_household(client, auth, store) -> None:
    before = store.households.get("rivera")
    doc = _doc(client, auth)
    doc["id"] = "someone-else"
    r = client.put("/api/v1/households/rivera", headers=auth("alex"), json=doc)
    assert r.status_code == 422 and r.json()["error"]["field"] == "id"
    doc = _doc(client, auth)
    doc["monthly_savings"] = "-5"
    r = client.put("/api/v1/households/rivera", headers=auth("alex"), json=doc)
    assert r.status_code == 422 and r.json()["error"]["field"] == "monthly_savings"
    assert store.households.get("rivera") == before


def test_an_import_with_an_idempotency_key_is_stored_once(client, auth, store) -> None:
    doc = _doc(client, auth)
    doc["id"] = "retried"
    key = {"Idempotency-Key": "import-retried"}
    a = client.post("/api/v1/households", headers=auth("alex") | key, json=doc)
    b = client.post("/api/v1/households", headers=auth("alex") | key, json=doc)
    assert a.status_code == b.status_code == 201 and b.headers["idempotent-replayed"] == "true"
    assert len(store.audit.list(household="retried", action="household.add")) == 1


def test_openapi_documents_the_household_document(client) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    post = spec["paths"]["/api/v1/households"]["post"]
    assert {"application/json", "application/yaml"} <= set(post["requestBody"]["content"])
    assert "put" in spec["paths"]["/api/v1/households/{household_id}"]
    assert "/api/v1/scheduler" in spec["paths"]
