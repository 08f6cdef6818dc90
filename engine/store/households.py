"""Households and what they hold: members, accounts, lots, loss sales, goals and life events (one aggregate).

    store.households.add(household); store.households.get("rivera") == household
    store.households.record_event("rivera", LifeEvent(LifeEventKind.CHILD, date(2026, 9, 1)))

A household is one ``households`` row (its risk and tax profiles flattened into columns, its ESG values a JSON
document) and child rows per member, account, lot, loss sale, goal and life event, in the household's order
(``position``). The members' and goals' retirement-planning fields (Social Security, pensions, withdrawal
order …) are kept as a JSON document inside the household's ``values`` column (``"planning"``) until they get
columns. Every mapping below is generated from the dataclass's fields (``engine.store.mapping``).
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from engine.errors import Conflict, NotFound, ValidationError
from engine.model import (
    Account,
    Goal,
    Household,
    LifeEvent,
    LossSale,
    Lot,
    Member,
    Values,
)
from engine.store.base import SYSTEM, Repository, bulk_insert, present, store_error, utc_now
from engine.store.direct_index import DirectIndexRow, direct_index_rows, load_direct_index
from engine.store.mapping import Converter, DocumentMapper, Nested, RowMapper
from engine.store.tables import (
    AccountRow,
    GoalRow,
    HouseholdRow,
    LifeEventRow,
    LossSaleRow,
    LotRow,
    MemberRow,
)

__all__ = ["HOUSEHOLDS", "HouseholdRepository"]

_CHILD = ("household_id", "position")  # the keys of every child row: its household and its place in it

#: The ESG preferences, a JSON document in ``households.values`` (beside the ``"planning"`` document).
VALUES: DocumentMapper[Values] = DocumentMapper(Values)
HOUSEHOLDS: RowMapper[Household] = RowMapper(
    Household, HouseholdRow,
    nested={"risk": Nested(renames={"willingness": "risk_willingness", "answers": "risk_answers"}),
            "tax": Nested()},
    converters={"values": Converter(VALUES.to_doc, VALUES.from_doc)},
    children=("members", "accounts", "goals", "lots", "events", "loss_sales", "direct_index"),
    keys=("created_at", "updated_at"),
)
MEMBERS: RowMapper[Member] = RowMapper(Member, MemberRow, keys=_CHILD,
                                       document=("sex", "social_security", "claim_age", "pensions"))
ACCOUNTS: RowMapper[Account] = RowMapper(Account, AccountRow, keys=_CHILD)
LOTS: RowMapper[Lot] = RowMapper(Lot, LotRow, renames={"account": "account_id"}, keys=_CHILD)
LOSS_SALES: RowMapper[LossSale] = RowMapper(LossSale, LossSaleRow, renames={"account": "account_id"}, keys=_CHILD)
GOALS: RowMapper[Goal] = RowMapper(Goal, GoalRow, keys=_CHILD,
                                   document=("withdrawal_order", "guardrails", "plan_to_age"))
EVENTS: RowMapper[LifeEvent] = RowMapper(LifeEvent, LifeEventRow, renames={"on": "on_date"}, keys=_CHILD)

# Parents first (members, accounts, then what refers to them): the order rows are inserted in.
_CHILDREN: tuple[tuple[str, RowMapper[Any]], ...] = (
    ("members", MEMBERS), ("accounts", ACCOUNTS), ("lots", LOTS), ("loss_sales", LOSS_SALES), ("goals", GOALS),
    ("events", EVENTS),
)
_DEPENDENTS_FIRST = (LotRow, LossSaleRow, GoalRow, LifeEventRow, AccountRow, MemberRow, DirectIndexRow)


class HouseholdRepository(Repository):
    """Households with their members, accounts, lots, loss sales, goals and life events; round-trips exactly."""

    def add(self, household: Household, *, actor: str = SYSTEM, firm: str | None = None) -> None:
        """Store a new household (all rows or none); with ``firm``, that firm serves it from the same transaction
        (so its advisors never see a moment where the household exists but is nobody's).

        Raises:
            Conflict: a household with this id is already stored (use ``update``).
            NotFound: ``firm`` is not stored.
        """
        with self._tx() as session:
            if session.get(HouseholdRow, household.id) is not None:
                raise store_error(
                    Conflict,
                    f"household {household.id!r} is already stored",
                    "use store.households.update(household) to change it",
                    household=household.id,
                )
            _check_firm(session, firm)
            session.add(HouseholdRow(**_household_values(household, utc_now())))
            session.flush()
            _write_children(session, household)
            self._record(
                session,
                actor=actor,
                action="household.add",
                entity="household",
                entity_id=household.id,
                household=household.id,
                after=household,
            )
            if firm is not None:
                self._serve(session, [household.id], firm, actor)

    def add_many(self, households: Sequence[Household], *, actor: str = SYSTEM, firm: str | None = None) -> None:
        """Store many new households in one transaction with one bulk INSERT per table (all or none); each is
        stored, audited and read back exactly as ``add`` would. An import of thousands of households this way
        is one commit and a dozen statements instead of a transaction and ~10 statements per household.

        Raises:
            ValidationError: two of ``households`` share an id.
            Conflict: one of them is already stored (nothing is stored).
            NotFound: ``firm`` is not stored.
        """
        if not households:
            return
        ids = [h.id for h in households]
        if len(set(ids)) != len(ids):
            twice = sorted({i for i in ids if ids.count(i) > 1})
            raise ValidationError("the same household id twice in one import", field="households.id", value=twice,
                                  fix="give every household its own id")
        with self._tx() as session:
            taken = present(session, HouseholdRow.id, ids)
            if taken:
                raise store_error(Conflict, f"household {sorted(taken)[0]!r} is already stored ({len(taken)} of "
                             f"{len(ids)} are)", "import only new households; update stored ones one by one",
                             household=sorted(taken)[0])
            _check_firm(session, firm)
            at = utc_now()
            bulk_insert(session, HouseholdRow, [_household_values(h, at) for h in households])
            tables: dict[type[Any], list[dict[str, Any]]] = {}
            for h in households:
                for table, rows in _child_rows(h):
                    tables.setdefault(table, []).extend(rows)
            for table, values in tables.items():  # parents first: _child_rows' order
                bulk_insert(session, table, values)
            self._log._write_many(session, [
                {"actor": actor, "action": "household.add", "entity": "household", "entity_id": h.id,
                 "household": h.id, "before": None, "after": h} for h in households])
            if firm is not None:
                self._serve(session, ids, firm, actor)

    def _serve(self, session: Session, household_ids: Sequence[str], firm: str, actor: str) -> None:
        """Make ``firm`` serve the new households (rows and one audit entry each), in the caller's transaction."""
        from engine.store.people_tables import HouseholdFirmRow  # people's tables sit on top of these

        session.execute(insert(HouseholdFirmRow), [{"household_id": h, "firm_id": firm} for h in household_ids])
        self._log._write_many(session, [
            {"actor": actor, "action": "household.assign_firm", "entity": "household", "entity_id": h,
             "household": h, "before": {"firm": None}, "after": {"firm": firm}} for h in household_ids])

    def get(self, household_id: str) -> Household:
        """The stored household with this id.

        Raises:
            NotFound: no household with this id (the message lists how to add one).
        """
        with self._tx() as session:
            return _load_household(session, household_id)

    def list(self) -> list[str]:
        """Ids of all stored households, sorted."""
        with self._tx() as session:
            return list(session.scalars(select(HouseholdRow.id).order_by(HouseholdRow.id)))

    def update(self, household: Household, *, actor: str = SYSTEM) -> None:
        """Replace the stored household of the same id with ``household`` (audited with before and after).

        Raises:
            NotFound: no household with this id is stored (use ``add``).
        """
        with self._tx() as session:
            before = _load_household(session, household.id)
            row = session.get(HouseholdRow, household.id)
            assert row is not None
            _replace_household(session, row, household)
            self._record(
                session,
                actor=actor,
                action="household.update",
                entity="household",
                entity_id=household.id,
                household=household.id,
                before=before,
                after=household,
            )

    def record_event(self, household_id: str, event: LifeEvent, *, actor: str = SYSTEM) -> Household:
        """Append a life event to the household (not yet applied) and return the updated household.

        The event is stored with ``applied=False``: the next cycle (``engine.cycle.Cycle.plan``) runs it through
        its rule, exactly as ``robo event`` does, and stores the changed household. In the same transaction a
        scheduler wake-up (``ref`` ``event:<id>``) is written, so the household's cycle reacts at the scheduler's
        next poll without waiting for its life-event scan.

        Raises:
            NotFound: no household with this id.
            Conflict: an event with the same id is already recorded (recording is idempotent by id).
            ValidationError: the event names a member the household does not have.
        """
        with self._tx() as session:
            current = _load_household(session, household_id)
            if any(e.id == event.id for e in current.events):
                raise store_error(
                    Conflict,
                    f"household {household_id!r} already has life event {event.id!r}",
                    "give the event a distinct id",
                    household=household_id,
                )
            if event.member is not None:
                current.member(event.member)
            pending = replace(event, applied=False)  # recorded: the next cycle runs it through its rule
            session.add(LifeEventRow(**EVENTS.values(pending, household_id=household_id, position=len(current.events))))
            row = session.get(HouseholdRow, household_id)
            assert row is not None
            row.updated_at = utc_now()
            _wake_for_event(session, household_id, event, row.updated_at)
            self._record(
                session,
                actor=actor,
                action="household.record_event",
                entity="household",
                entity_id=household_id,
                household=household_id,
                after=event,
            )
            return _load_household(session, household_id)


def _check_firm(session: Session, firm: str | None) -> None:
    from engine.store.people_tables import FirmRow

    if firm is not None and session.get(FirmRow, firm) is None:
        raise store_error(NotFound, f"no firm {firm!r}", "add it first (robo user firm ID --name NAME)", firm=firm)


def _wake_for_event(session: Session, household_id: str, event: LifeEvent, now: datetime) -> None:
    """Ask the scheduler to run the household's cycle (a wake-up row, in the caller's transaction)."""
    from engine.store.jobs import WAKEUPS, Wakeup
    from engine.store.scheduler_tables import SchedulerWakeupRow

    ref = f"event:{event.id}"  # the scheduler's own ref for life events: one wake-up per event
    exists = session.execute(
        select(SchedulerWakeupRow.id).where(
            SchedulerWakeupRow.household_id == household_id, SchedulerWakeupRow.ref == ref
        )
    ).first()
    if exists is None:
        wakeup = Wakeup(uuid.uuid4().hex, household_id, "life_event", ref, now, None, None)
        session.add(SchedulerWakeupRow(**WAKEUPS.values(wakeup)))


def _household_values(h: Household, at: datetime) -> dict[str, Any]:
    """The ``households`` row of ``h`` (created and updated ``at``), its planning document inside ``values``."""
    values = HOUSEHOLDS.values(h, created_at=at, updated_at=at)
    planning = _planning_doc(h)
    if planning:
        values["values"]["planning"] = planning
    return values


def _planning_doc(h: Household) -> dict[str, Any]:
    """Members' and goals' ``document`` fields that differ from their defaults, by id (empty parts left out)."""
    members = {m.id: doc for m in h.members if (doc := MEMBERS.document(m))}
    goals = {g.id: doc for g in h.goals if (doc := GOALS.document(g))}
    return {k: v for k, v in (("members", members), ("goals", goals)) if v}


def _child_rows(h: Household) -> builtins.list[tuple[type[Any], builtins.list[dict[str, Any]]]]:
    """The household's child rows per table as values by attribute name, parents first: ``Row(**values)`` for the
    ORM, or a bulk insert (``bulk_insert``)."""
    out: builtins.list[tuple[type[Any], builtins.list[dict[str, Any]]]] = []
    for name, mapper in _CHILDREN:
        rows = [mapper.values(x, household_id=h.id, position=i) for i, x in enumerate(getattr(h, name))]
        out.append((mapper.table, rows))
    out.extend(direct_index_rows(h))  # the sleeve's settings: one JSON row (engine/store/direct_index.py)
    return out


def _write_children(session: Session, h: Household) -> None:
    """Insert children parents first (members → accounts → lots, loss sales, goals, events), flushing in between."""
    for table, rows in _child_rows(h):
        session.add_all(table(**values) for values in rows)
        session.flush()


def _replace_household(session: Session, row: HouseholdRow, h: Household) -> None:
    """Replace the stored household's row values and, wholesale, its children (dependents deleted first)."""
    for table in _DEPENDENTS_FIRST:
        session.execute(delete(table).where(table.household_id == h.id))
    values = _household_values(h, utc_now())
    del values["created_at"]
    for column, value in values.items():
        setattr(row, column, value)
    session.flush()
    _write_children(session, h)


def _load_household(session: Session, household_id: str) -> Household:
    row = session.get(HouseholdRow, household_id)
    if row is None:
        known = session.scalars(select(HouseholdRow.id).order_by(HouseholdRow.id).limit(5)).all()
        hint = f"stored ids include: {', '.join(known)}" if known else "the store holds no household yet"
        raise store_error(
            NotFound,
            f"no household {household_id!r} in the store",
            f"import one with `robo household import FILE` ({hint})",
            household=household_id,
        )
    planning: Mapping[str, Any] = row.values.get("planning", {})
    documents = {"members": planning.get("members", {}), "goals": planning.get("goals", {})}
    children: dict[str, tuple[Any, ...]] = {}
    for name, mapper in _CHILDREN:
        table: Any = mapper.table  # a child table: household_id and position columns
        stmt = select(table).where(table.household_id == household_id).order_by(table.position)
        docs = documents.get(name, {})
        children[name] = tuple(mapper.to_domain(r, document=docs.get(r.id)) for r in session.scalars(stmt))
    return HOUSEHOLDS.to_domain(row, {**children, "direct_index": load_direct_index(session, household_id)})
