"""Scoped list queries (``store.summaries``) agree with the full repositories, on both backends."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine.model import ProposalStatus
from engine.store import Firm, Role, Scope, Store, User
from tests.store.test_proposals import _proposal

HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"


@pytest.fixture
def world(store: Store, household) -> Store:
    store.households.add(household)
    store.households.add(replace(household, id="smith", name="Smith"))
    store.users.add_firm(Firm("northwind", "Northwind"))
    store.users.assign("rivera", "northwind")
    store.users.add(User("rosa", "Rosa", Role.CLIENT, households=("smith",)), password_hash=HASH)
    store.proposals.add(_proposal("p-1", "rivera"))
    store.proposals.add(_proposal("p-2", "smith"))
    store.proposals.transition("p-2", ProposalStatus.REJECTED, actor="alex", reason="no")
    return store


def test_proposal_summaries_match_the_full_proposals(world: Store) -> None:
    full = {p.id: p for p in world.proposals.list()}
    rows = world.summaries.proposals()
    assert [r.id for r in rows] == list(full)
    for r in rows:
        p = full[r.id]
        assert (r.household, r.as_of, r.created, r.status, r.orders, r.approval_reasons) == (
            p.household, p.as_of, p.created, p.status, len(p.orders), p.approval_reasons)
    assert [r.id for r in world.summaries.proposals(Scope.firm("northwind"))] == ["p-1"]
    assert [r.id for r in world.summaries.proposals(Scope.user("rosa"))] == ["p-2"]
    assert world.summaries.proposals(status="proposed") == world.summaries.proposals(Scope.firm("northwind"))
    assert world.summaries.count_proposals(Scope.user("rosa"), status="proposed") == 0
    assert [r.id for r in world.summaries.proposals(newest_first=True, limit=1)] == ["p-2"]


def test_household_summaries_and_audit_are_scoped(world: Store) -> None:
    every = world.summaries.households()
    assert [(h.id, h.firm, h.pending) for h in every] == [("rivera", "northwind", 1), ("smith", None, 0)]
    assert [h.id for h in world.summaries.households(Scope.firm("northwind"))] == ["rivera"]
    assert [h.id for h in world.summaries.households(Scope.user("rosa"))] == ["smith"]
    assert {e.household for e in world.summaries.audit(Scope.user("rosa"))} == {"smith"}
    assert None in {e.household for e in world.summaries.audit()}  # user and firm entries: everything-scope only
    newest = world.summaries.audit(limit=2)
    assert [e.seq for e in newest] == [e.seq for e in world.audit.list()][-2:]


def test_pages_of_the_queue_cover_it_once_in_either_order(store: Store, household) -> None:
    """Pages (limit/offset) newest first are the oldest-first list reversed, each row once, orders counted."""
    from datetime import UTC, datetime, timedelta

    store.households.add(household)
    start = datetime(2026, 7, 1, tzinfo=UTC)
    for i in range(7):  # two share a created instant: the id breaks the tie the same way in both orders
        created = start + timedelta(minutes=min(i, 5))
        store.proposals.add(replace(_proposal(f"q-{i}", "rivera"), created=created))
    oldest = [r.id for r in store.summaries.proposals(status="proposed")]
    pages = [store.summaries.proposals(status="proposed", newest_first=True, limit=3, offset=o) for o in (0, 3, 6)]
    newest = [r.id for page in pages for r in page]
    assert newest == list(reversed(oldest)) and len(set(newest)) == 7
    full = {p.id: len(p.orders) for p in store.proposals.list()}
    assert all(r.orders == full[r.id] for page in pages for r in page)
