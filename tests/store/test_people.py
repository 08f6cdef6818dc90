"""Firms, users, their households, tokens and idempotency keys in the store (``store.users``), on both backends."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from engine.errors import Conflict, NotFound, ValidationError
from engine.store import Firm, Role, Store, TokenKind, TokenRecord, User

HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"  # shape of a PHC string; never verified here


@pytest.fixture
def people(store: Store, household) -> Store:
    store.households.add(household)
    store.users.add_firm(Firm("northwind", "Northwind Advisors", clients_may_approve=True))
    store.users.assign(household.id, "northwind")
    return store


def test_users_round_trip_with_their_households(people: Store, household) -> None:
    alex = people.users.add(User("alex", "Alex Kim", Role.ADVISOR, firm="northwind"), password_hash=HASH)
    rosa = people.users.add(User("rosa", "Rosa Rivera", Role.CLIENT, households=(household.id,)), password_hash=HASH)
    assert alex == people.users.get("alex") and alex.households == ()
    assert rosa.households == (household.id,)
    assert [u.id for u in people.users.list(role=Role.CLIENT)] == ["rosa"]
    assert people.users.households_of_firm("northwind") == [household.id]
    assert people.users.firm_of(household.id) == "northwind"
    assert people.users.firm("northwind").clients_may_approve is True
    assert people.users.password_hash("rosa") == HASH
    actions = [e.action for e in people.audit.list() if e.entity in ("user", "firm")]
    assert actions == ["firm.add", "user.add", "user.add"]


def test_bad_users_are_refused_and_nothing_is_written(people: Store) -> None:
    with pytest.raises(ValidationError, match="advisor belongs to a firm"):
        User("alex", "Alex", Role.ADVISOR)
    with pytest.raises(ValidationError, match="client needs their household"):
        people.users.add(User("c", "C", Role.CLIENT), password_hash=HASH)
    with pytest.raises(ValidationError, match=r"User\.id"):
        User("Alex Kim", "Alex", Role.ADMIN)
    with pytest.raises(ValidationError, match="not a password"):
        people.users.add(User("admin", "Admin", Role.ADMIN), password_hash="hunter2")
    with pytest.raises(NotFound, match="no household 'smith'"):
        people.users.add(User("sam", "Sam", Role.CLIENT, households=("smith",)), password_hash=HASH)
    with pytest.raises(NotFound, match="no firm"):
        people.users.add(User("bo", "Bo", Role.ADVISOR, firm="acme"), password_hash=HASH)
    assert people.users.list() == []
    people.users.add(User("admin", "Admin", Role.ADMIN), password_hash=HASH)
    with pytest.raises(Conflict, match="already exists"):
        people.users.add(User("admin", "Admin", Role.ADMIN), password_hash=HASH)


def test_tokens_store_only_the_hash_and_revoke(people: Store) -> None:
    people.users.add(User("admin", "Admin", Role.ADMIN), password_hash=HASH)
    digest = hashlib.sha256(b"secret").hexdigest()
    now = datetime.now(UTC)
    people.users.add_token(TokenRecord("t1", "admin", TokenKind.API, "ci", now), secret_hash=digest)
    record, stored, owner = people.users.token("t1")
    assert stored == digest and owner.id == "admin" and record.valid_at(now)
    people.users.revoke_token("t1", actor="admin")
    assert not people.users.token("t1")[0].valid_at(now)
    people.users.add_token(TokenRecord("s1", "admin", TokenKind.SESSION, "browser", now, now + timedelta(hours=1)),
                           secret_hash=digest)
    assert not people.users.token("s1")[0].valid_at(now + timedelta(hours=2))  # expired
    people.users.set_password("admin", HASH.replace("aGFz", "bmV3"))
    assert people.users.token("s1")[0].revoked is not None  # a new password ends every session
    people.users.set_active("admin", False)
    with pytest.raises(NotFound):
        people.users.token("t1")  # a deactivated user's tokens stop at once
    with pytest.raises(NotFound):
        people.users.password_hash("admin")


def test_an_idempotency_key_is_claimed_once(people: Store) -> None:
    people.users.add(User("admin", "Admin", Role.ADMIN), password_hash=HASH)
    claim = dict(method="POST", path="/api/v1/proposals/p/approve", fingerprint="f" * 64)
    assert people.users.claim_key("admin", "k1", **claim) is None
    running = people.users.claim_key("admin", "k1", **claim)
    assert running is not None and not running.finished
    people.users.finish_key("admin", "k1", status_code=200, response={"status": "approved"})
    done = people.users.claim_key("admin", "k1", **claim)
    assert done is not None and done.status_code == 200 and done.response == {"status": "approved"}
    assert people.users.claim_key("admin", "k2", **claim) is None
    people.users.release_key("admin", "k2")
    assert people.users.claim_key("admin", "k2", **claim) is None  # released: the retry may claim it again
