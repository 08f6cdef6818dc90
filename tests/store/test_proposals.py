"""Proposals round-trip with orders; illegal status moves are refused; fills are idempotent; runs keep provenance."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from engine.errors import Conflict, NotFound, ValidationError
from engine.model import Fill, Household, Order, OrderSide, OrderType, Proposal, ProposalStatus, RunKind
from engine.store import OrderStatus, RunStatus, Store, config_hash

CREATED = datetime(2026, 3, 31, 21, 5, 7, 123456, tzinfo=UTC)
PS = ProposalStatus


def _proposal(pid: str = "p-1", household: str = "rivera", *, created: datetime = CREATED) -> Proposal:
    orders = (
        Order(f"{pid}-0", "brokerage", "VWO", OrderSide.SELL, qty=Decimal("12.345678901"), lots=("b4",)),
        Order(f"{pid}-1", "brokerage", "VTI", OrderSide.BUY, notional=Decimal("1500.25")),
        Order(
            f"{pid}-2", "alex_401k", "BND", OrderSide.BUY, qty=Decimal("3"),
            type=OrderType.LIMIT, limit_price=Decimal("72.1"),
        ),
    )
    return Proposal(
        id=pid,
        household=household,
        as_of=date(2026, 3, 31),
        created=created,
        trigger="drift 3.4% > 3%",
        run_kind=RunKind.FULL_REBALANCE,
        targets={("brokerage", "VTI"): 0.31, ("brokerage", "VWO"): 0.0, ("alex_401k", "BND"): 0.1234567890123},
        orders=orders,
        explanation=("VWO sold to harvest a $412 loss", "VTI bought toward the 60% equity goal mix"),
        tax_preview={"realized_st": Decimal("-412.10"), "lots": ("b4",), "year": 2026},
        needs_approval=True,
        approval_reasons=("sells more than 10% of household value",),
        details={"solver": "CLARABEL", "objective": 0.0123},
    )


@pytest.fixture
def stored(store: Store, household: Household) -> Store:
    store.households.add(household)
    return store


def test_proposal_round_trips_with_orders(stored: Store) -> None:
    p = _proposal()
    stored.proposals.add(p)
    assert stored.proposals.get(p.id) == p
    records = stored.orders.for_proposal(p.id)
    assert [r.order for r in records] == list(p.orders)
    assert {r.status for r in records} == {OrderStatus.NEW}


def test_proposal_with_aware_non_utc_created_comes_back_as_the_same_instant(stored: Store) -> None:
    eastern = timezone(timedelta(hours=-4))
    p = _proposal(created=CREATED.astimezone(eastern))
    stored.proposals.add(p)
    loaded = stored.proposals.get(p.id)
    assert loaded.created == p.created and loaded.created.utcoffset() == timedelta(0)


def test_proposal_needs_a_stored_household_and_a_fresh_id(stored: Store) -> None:
    with pytest.raises(NotFound, match=r"household 'smith', which is not stored"):
        stored.proposals.add(_proposal(household="smith"))
    stored.proposals.add(_proposal())
    with pytest.raises(Conflict, match=r"already stored"):
        stored.proposals.add(_proposal())
    with pytest.raises(NotFound, match=r"no proposal 'nope'"):
        stored.proposals.get("nope")


def test_many_proposals_are_stored_at_once_and_each_refusal_is_named(stored: Store) -> None:
    stored.proposals.add(_proposal("p-old"))
    shares_an_order = dataclasses.replace(_proposal("p-3"), orders=(_proposal("p-2").orders[0],))
    batch = [
        _proposal("p-1"),
        _proposal("p-old"),  # already stored
        _proposal("p-2"),
        _proposal("p-1"),  # twice in the batch: the first is stored
        _proposal("p-x", household="smith"),  # household not stored
        shares_an_order,  # its order id belongs to p-2, stored just before it
        _proposal("p-5"),
    ]
    refused = stored.proposals.add_many(batch, actor="batch")
    assert set(refused) == {"p-old", "p-1", "p-x", "p-3"}
    assert isinstance(refused["p-old"], Conflict) and "already stored" in str(refused["p-old"])
    assert isinstance(refused["p-x"], NotFound) and "'smith', which is not stored" in str(refused["p-x"])
    assert isinstance(refused["p-3"], Conflict) and "p-2-0" in str(refused["p-3"])
    for pid in ("p-1", "p-2", "p-5"):
        assert stored.proposals.get(pid) == _proposal(pid)  # stored whole, orders included
    assert [r.order.client_order_id for r in stored.orders.for_proposal("p-5")] == ["p-5-0", "p-5-1", "p-5-2"]
    adds = [e.entity_id for e in stored.audit.list() if e.action == "proposal.add" and e.actor == "batch"]
    assert sorted(adds) == ["p-1", "p-2", "p-5"]
    assert stored.proposals.add_many([]) == {}


def test_happy_path_of_the_state_machine_is_audited(stored: Store) -> None:
    stored.proposals.add(_proposal())
    assert stored.proposals.transition("p-1", PS.APPROVED, actor="alex", reason="ok").status is PS.APPROVED
    assert stored.proposals.transition("p-1", "executing", actor="scheduler").status is PS.EXECUTING
    done = stored.proposals.transition("p-1", PS.PARTIALLY_EXECUTED, actor="broker", reason="VWO halted")
    assert done.status is PS.PARTIALLY_EXECUTED and done.orders == _proposal().orders
    history = stored.proposals.history("p-1")
    assert [(t.from_status, t.to_status, t.actor) for t in history] == [
        (PS.PROPOSED, PS.APPROVED, "alex"),
        (PS.APPROVED, PS.EXECUTING, "scheduler"),
        (PS.EXECUTING, PS.PARTIALLY_EXECUTED, "broker"),
    ]
    assert history[0].reason == "ok" and history[0].at.tzinfo is not None
    audit = stored.audit.list(entity="proposal", entity_id="p-1", action="proposal.transition")
    assert [(e.before, e.after["status"], e.actor) for e in audit] == [
        ({"status": "proposed"}, "approved", "alex"),
        ({"status": "approved"}, "executing", "scheduler"),
        ({"status": "executing"}, "partially_executed", "broker"),
    ]
    assert all(e.household == "rivera" for e in audit)


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ((), PS.EXECUTING),
        ((), PS.EXECUTED),
        ((PS.APPROVED,), PS.REJECTED),
        ((PS.REJECTED,), PS.APPROVED),
        ((PS.EXPIRED,), PS.EXECUTING),
        ((PS.APPROVED, PS.EXECUTING, PS.EXECUTED), PS.FAILED),
        ((PS.APPROVED, PS.EXECUTING), PS.APPROVED),
    ],
)
def test_illegal_transitions_are_conflicts_and_change_nothing(
    stored: Store, path: tuple[ProposalStatus, ...], illegal: ProposalStatus
) -> None:
    stored.proposals.add(_proposal())
    for status in path:
        stored.proposals.transition("p-1", status, actor="t")
    before = stored.proposals.get("p-1").status
    n_audit = len(stored.audit.list())
    with pytest.raises(Conflict, match=rf"cannot go from {before.value} to {illegal.value}.*allowed from"):
        stored.proposals.transition("p-1", illegal, actor="t")
    assert stored.proposals.get("p-1").status is before
    assert len(stored.proposals.history("p-1")) == len(path)
    assert len(stored.audit.list()) == n_audit


def test_transition_validates_status_and_actor(stored: Store) -> None:
    stored.proposals.add(_proposal())
    with pytest.raises(ValidationError, match=r"unknown ProposalStatus"):
        stored.proposals.transition("p-1", "done", actor="x")
    with pytest.raises(ValidationError, match=r"non-empty"):
        stored.proposals.transition("p-1", PS.APPROVED, actor=" ")
    with pytest.raises(NotFound):
        stored.proposals.transition("nope", PS.APPROVED, actor="x")


def test_list_filters_by_household_and_status(stored: Store, household: Household) -> None:
    stored.households.add(dataclasses.replace(household, id="smith"))
    stored.proposals.add(_proposal("p-1"))
    stored.proposals.add(_proposal("p-2", created=CREATED + timedelta(days=1)))
    stored.proposals.add(_proposal("s-1", household="smith"))
    stored.proposals.transition("p-2", PS.REJECTED, actor="jordan")
    assert [p.id for p in stored.proposals.list()] == ["p-1", "s-1", "p-2"]
    assert [p.id for p in stored.proposals.list(household="rivera")] == ["p-1", "p-2"]
    assert [p.id for p in stored.proposals.list(status=PS.PROPOSED)] == ["p-1", "s-1"]
    assert [p.id for p in stored.proposals.list(household="rivera", status="rejected")] == ["p-2"]
    assert stored.proposals.list(household="nobody") == []


def test_orders_add_many_and_status_machine(stored: Store) -> None:
    stored.proposals.add(_proposal())
    extra = [Order("p-1-3", "alex_roth", "VUG", OrderSide.BUY, notional=Decimal("400"))]
    stored.orders.add_many("p-1", extra)
    assert [r.order.client_order_id for r in stored.orders.for_proposal("p-1")] == ["p-1-0", "p-1-1", "p-1-2", "p-1-3"]
    with pytest.raises(Conflict, match=r"client_order_id already stored: p-1-3"):
        stored.orders.add_many("p-1", extra)
    with pytest.raises(NotFound):
        stored.orders.add_many("nope", [])
    assert stored.orders.update_status("p-1-0", OrderStatus.SUBMITTED).status is OrderStatus.SUBMITTED
    assert stored.orders.update_status("p-1-0", "submitted").status is OrderStatus.SUBMITTED  # no-op
    assert stored.orders.update_status("p-1-0", OrderStatus.PARTIALLY_FILLED).status is OrderStatus.PARTIALLY_FILLED
    assert stored.orders.update_status("p-1-0", OrderStatus.FILLED).status is OrderStatus.FILLED
    with pytest.raises(Conflict, match=r"cannot go from filled to canceled.*none \(final status\)"):
        stored.orders.update_status("p-1-0", OrderStatus.CANCELED)
    with pytest.raises(NotFound):
        stored.orders.update_status("nope", OrderStatus.FILLED)
    with pytest.raises(ValidationError, match=r"unknown OrderStatus"):
        stored.orders.update_status("p-1-1", "done")
    assert stored.orders.get("p-1-0").status is OrderStatus.FILLED
    actions = [e.action for e in stored.audit.list(household="rivera")]
    assert actions.count("order.status") == 3 and actions.count("orders.add") == 1


def _fill(oid: str = "p-1-0", at: datetime = CREATED, qty: str = "12.345678901", fid: str = "") -> Fill:
    return Fill(oid, "brokerage", "VWO", OrderSide.SELL, Decimal(qty), Decimal("51.2345"), at, Decimal("0.01"), fid)


def test_fills_are_idempotent_on_id(stored: Store) -> None:
    stored.proposals.add(_proposal())
    first = _fill(fid="exec-1")
    assert stored.fills.add(first) is True
    assert stored.fills.add(first) is False
    same_instant = CREATED.astimezone(timezone(timedelta(hours=2)))
    assert stored.fills.add(_fill(at=same_instant, fid="exec-1")) is False
    with pytest.raises(Conflict, match=r"different fill"):
        stored.fills.add(dataclasses.replace(first, qty=Decimal("1")))
    later = _fill(at=CREATED + timedelta(minutes=1), qty="1")
    assert stored.fills.add(later) is True
    assert stored.fills.for_household("rivera") == [first, later]
    assert stored.fills.for_household("rivera", since=CREATED + timedelta(seconds=1)) == [later]
    assert stored.fills.for_order("p-1-0") == [first, later]
    assert stored.fills.for_household("smith") == []
    assert len(stored.audit.list(entity="fill")) == 2


def test_fill_of_an_unknown_order_needs_a_household(stored: Store) -> None:
    outside = _fill(oid="manual-1")
    with pytest.raises(NotFound, match=r"pass household="):
        stored.fills.add(outside)
    assert stored.fills.add(outside, household="rivera") is True
    assert stored.fills.for_household("rivera") == [outside]


def test_runs_keep_config_hash_and_version(stored: Store) -> None:
    from importlib.metadata import version

    config = {"risk_aversion": 2.5, "cash_floor": Decimal("1000.00"), "start": date(2020, 1, 2), "tickers": ["VTI"]}
    run_id = stored.runs.start(RunKind.FULL_REBALANCE, config, household="rivera")
    record = stored.runs.get(run_id)
    assert record.status is RunStatus.RUNNING and record.finished is None
    assert record.config == config
    assert record.config_hash == config_hash(dict(reversed(list(config.items()))))  # key order does not matter
    assert record.config_hash != config_hash({**config, "risk_aversion": 3.0})
    assert record.package_version == version("adaptive-robo")
    assert record.kind == "full_rebalance" and record.household == "rivera"
    done = stored.runs.finish(run_id, RunStatus.SUCCEEDED, {"orders": 3, "turnover": Decimal("0.042")})
    assert done.status is RunStatus.SUCCEEDED and done.finished >= done.started
    assert done.summary == {"orders": 3, "turnover": Decimal("0.042")}
    with pytest.raises(Conflict, match=r"already finished as succeeded"):
        stored.runs.finish(run_id, RunStatus.FAILED)
    with pytest.raises(Conflict, match=r"cannot finish as 'running'"):
        stored.runs.finish(stored.runs.start("backtest", {}), RunStatus.RUNNING)
    with pytest.raises(NotFound):
        stored.runs.finish("nope", RunStatus.FAILED)
    assert [r.id for r in stored.runs.list(household="rivera")] == [run_id]
    assert [r.kind for r in stored.runs.list(kind="backtest")] == ["backtest"]


def test_run_config_must_be_json(stored: Store) -> None:
    with pytest.raises(ValidationError, match=r"cannot store a object as JSON"):
        stored.runs.start("backtest", {"policy": object()})
    assert stored.runs.list() == []
