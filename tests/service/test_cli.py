"""``robo user`` and ``robo serve``'s app against a temporary SQLite store (ROBO_DATABASE_URL)."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient

from engine.store import Store
from robo.cli import main

PASSWORD = "a long enough passphrase"


@pytest.fixture
def db(tmp_path, monkeypatch, household) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("ROBO_DATABASE_URL", url)
    with Store(url) as store:
        store.upgrade()
        store.households.add(household)
    return url


def _with_password(monkeypatch, password: str = PASSWORD) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))


def test_user_add_list_token_revoke(db, monkeypatch, capsys) -> None:
    assert main(["user", "firm", "northwind", "--name", "Northwind Advisors", "--clients-may-approve"]) == 0
    assert main(["user", "assign", "rivera", "northwind"]) == 0
    _with_password(monkeypatch)
    assert main(["user", "add", "alex", "--role", "advisor", "--firm", "northwind", "--password-stdin"]) == 0
    _with_password(monkeypatch, "short")
    assert main(["user", "add", "rosa", "--role", "client", "--household", "rivera", "--password-stdin"]) == 2
    assert "at least 10 characters" in capsys.readouterr().out
    _with_password(monkeypatch)
    assert main(["user", "add", "rosa", "--role", "client", "--password-stdin"]) == 2  # a client needs a household
    assert main(["user", "token", "alex", "--name", "ci"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("robo_")
    with Store(db) as store:
        stored = store.users.tokens("alex")
        assert [t.name for t in stored] == ["ci"]
        assert token.split(".")[1] not in repr(stored)  # the secret is not in the store, only its hash
        assert store.users.password_hash("alex").startswith("$argon2id$")
    assert main(["user", "list"]) == 0
    out = capsys.readouterr().out
    assert "alex" in out and "northwind" in out and stored[0].id in out
    assert main(["user", "revoke", stored[0].id]) == 0
    with Store(db) as store:
        assert store.users.tokens("alex")[0].revoked is not None


def test_serve_builds_the_app_on_the_store(db, monkeypatch) -> None:
    from robo.cli.serve import build_app
    from service.auth import issue_token

    _with_password(monkeypatch)
    assert main(["user", "add", "root", "--role", "admin", "--password-stdin"]) == 0
    with Store(db) as store:
        token = issue_token(store, "root", name="t")
        app = build_app(store, broker="none")
        with TestClient(app) as client:
            assert client.get("/login").status_code == 200
            r = client.get("/api/v1/households/rivera/plan", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200 and r.json()["goals"]
