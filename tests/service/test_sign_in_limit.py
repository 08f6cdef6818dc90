"""Sign-in throttling: 10 failed sign-ins per user name and per client address in 15 minutes, then 429 with
``Retry-After`` (RFC 6585 §4) without checking the password (OWASP Authentication Cheat Sheet, "Login
Throttling"); failures and the start of a lock are in the audit log, with no password in it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.service.conftest import PASSWORD


def _try(client: TestClient, user: str, password: str = "not the password") -> object:
    return client.post("/login", data={"user": user, "password": password}, follow_redirects=False)


@pytest.fixture
def from_address(app):
    """``from_address("203.0.113.5")`` → a client whose requests come from that address."""
    clients = []

    def make(address: str) -> TestClient:
        c = TestClient(app, client=(address, 50000))
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


def test_ten_failures_lock_the_user_name_then_429_with_retry_after(from_address, store) -> None:
    client = from_address("203.0.113.5")
    for _ in range(10):
        assert _try(client, "alex").status_code == 401
    locked = _try(client, "alex", PASSWORD)  # even the right password: it is not checked while locked
    assert locked.status_code == 429
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    assert "Too many failed sign-ins" in locked.text and "robo_session" not in locked.headers.get("set-cookie", "")
    # the name is locked from every address; another name from another address is not
    elsewhere = from_address("198.51.100.7")
    assert _try(elsewhere, "alex", PASSWORD).status_code == 429
    assert _try(elsewhere, "bea", PASSWORD).status_code == 303


def test_ten_failures_from_one_address_lock_the_address_for_every_name(from_address) -> None:
    client = from_address("203.0.113.9")
    for i in range(10):
        assert _try(client, f"guess{i}").status_code == 401  # spraying many names
    assert _try(client, "rosa", PASSWORD).status_code == 429
    assert _try(from_address("192.0.2.1"), "rosa", PASSWORD).status_code == 303  # rosa herself is not locked


def test_nine_failures_do_not_lock(from_address) -> None:
    client = from_address("203.0.113.20")
    for _ in range(9):
        _try(client, "sam")
    assert _try(client, "sam", PASSWORD).status_code == 303


def test_failures_and_the_lock_are_audited_without_secrets(from_address, store) -> None:
    client = from_address("203.0.113.30")
    for _ in range(10):
        _try(client, "Alex ")  # names are compared as sign-in compares them: stripped, lower-case
    _try(client, "alex")
    by_user = store.audit.list(entity="sign_in", entity_id="user:alex")
    assert [e.action for e in by_user].count("auth.sign_in_failed") == 10
    [lock] = [e for e in by_user if e.action == "auth.sign_in_locked"]
    assert lock.after["address"] == "203.0.113.30" and lock.after["retry_after_seconds"] > 0
    by_address = store.audit.list(entity="sign_in", entity_id="address:203.0.113.30")
    assert len(by_address) == 10
    assert "not the password" not in repr(store.audit.list())


def test_the_lock_ends_when_the_window_passes(app, store) -> None:
    """The window slides: once the oldest counted failures are 15 minutes old, sign-in works again."""
    from service.auth import SignInLimit

    shift = {"by": timedelta(0)}
    app.state.sign_in_limit = SignInLimit(clock=lambda: datetime.now(UTC) + shift["by"])
    with TestClient(app, client=("203.0.113.40", 1)) as client:
        for _ in range(10):
            _try(client, "alex")
        assert _try(client, "alex", PASSWORD).status_code == 429
        shift["by"] = timedelta(minutes=14)
        assert _try(client, "alex", PASSWORD).status_code == 429
        shift["by"] = timedelta(minutes=15, seconds=5)
        assert _try(client, "alex", PASSWORD).status_code == 303


def test_retry_after_counts_from_the_oldest_failure_in_the_window(store) -> None:
    from service.auth import SignInLimit

    limit = SignInLimit(attempts=3, window=timedelta(minutes=10))
    for _ in range(3):
        limit.failed(store, "alex", "192.0.2.50")
    wait = limit.retry_after(store, "alex", "192.0.2.50")
    assert wait is not None and 590 <= wait <= 600
    later = SignInLimit(attempts=3, window=timedelta(minutes=10),
                        clock=lambda: datetime.now(UTC) + timedelta(minutes=4))
    assert 350 <= later.retry_after(store, "alex", "192.0.2.50") <= 360  # 4 of the 10 minutes have passed
    assert limit.retry_after(store, "bea", "192.0.2.51") is None


def test_a_limit_needs_a_positive_window() -> None:
    from engine.errors import ValidationError
    from service.auth import SignInLimit

    with pytest.raises(ValidationError):
        SignInLimit(attempts=0)
    with pytest.raises(ValidationError):
        SignInLimit(window=timedelta(0))
