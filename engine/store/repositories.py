"""Repositories: the only code that reads or writes the store's tables; domain objects in, domain objects out.

    store.households.add(household); store.households.get("rivera") == household
    store.proposals.transition(pid, ProposalStatus.APPROVED, actor="alex", reason="looks right")

Every public method runs in one transaction (all or nothing) and writes its audit entries in that same
transaction. Database errors become ``StoreError`` / ``NotFound`` / ``Conflict`` with a fix hint.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from engine.errors import Conflict, EngineError, NotFound, StoreError, ValidationError
from engine.model import (
    Account,
    Fill,
    Goal,
    Household,
    LifeEvent,
    LossSale,
    Lot,
    Member,
    Order,
    Proposal,
    ProposalStatus,
    RiskProfile,
    TaxProfile,
    Values,
)
from engine.store.direct_index import DirectIndexRow, direct_index_rows, with_direct_index
from engine.store.mapping import RowMapper
from engine.store.records import (
    ORDER_TRANSITIONS,
    PROPOSAL_TRANSITIONS,
    AuditEntry,
    OrderRecord,
    OrderStatus,
    ProposalTransition,
    RunRecord,
    RunStatus,
)
from engine.store.tables import (
    AccountRow,
    AuditRow,
    FillRow,
    GoalRow,
    HouseholdRow,
    LifeEventRow,
    LossSaleRow,
    LotRow,
    MemberRow,
    OrderRow,
    ProposalRow,
    ProposalTransitionRow,
    RunRow,
)
from engine.store.types import decode_json, encode_json

__all__ = [
    "AuditLog",
    "FillRepository",
    "HouseholdRepository",
    "OrderRepository",
    "ProposalRepository",
    "RunRepository",
    "config_hash",
]

SYSTEM = "system"
_UPGRADE_FIX = "run `robo db upgrade` (or Store.upgrade()) to create or update the tables"


def _now() -> datetime:
    return datetime.now(UTC)


def _error(cls: type[StoreError], what: str, fix: str, **context: Any) -> StoreError:
    return cls(f"{what} — {fix}", fix=fix, **context)


def _normalized(value: Any) -> Any:
    """The value as the JSON column gives it back (dataclasses as dicts); raises ValidationError if not JSON-able."""
    return None if value is None else decode_json(encode_json(value))


def _missing_table(exc: DBAPIError) -> bool:
    orig = exc.orig
    return getattr(orig, "sqlstate", None) == "42P01" or "no such table" in str(orig)


class _Repository:
    """Shared plumbing: one transaction per call with errors translated at the boundary."""

    def __init__(self, sessions: sessionmaker[Session], audit: AuditLog | None = None) -> None:
        self._sessions = sessions
        self._audit = audit

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        try:
            with self._sessions.begin() as session:
                yield session
        except EngineError:
            raise
        except StatementError as exc:
            if isinstance(exc.orig, EngineError):
                raise exc.orig from exc
            if isinstance(exc, DBAPIError) and _missing_table(exc):
                raise _error(StoreError, "the database has no store tables yet", _UPGRADE_FIX) from exc
            if isinstance(exc, IntegrityError):
                raise _error(
                    Conflict,
                    f"the database refused the write: {str(exc.orig).splitlines()[0]}",
                    "check for a duplicate id or a reference to a missing record",
                ) from exc
            if isinstance(exc, OperationalError):  # refused connection, bad credentials, a locked or read-only file
                raise _error(StoreError, f"cannot use the database: {str(exc.orig).splitlines()[0]}",
                             "check ROBO_DATABASE_URL / --url and that the server runs") from exc
            raise _error(StoreError, f"database error: {str(exc.orig).splitlines()[0]}", "see the log") from exc
        except SQLAlchemyError as exc:
            raise _error(StoreError, f"database error: {exc}", "check ROBO_DATABASE_URL and the server") from exc

    def _record(
        self,
        session: Session,
        *,
        actor: str,
        action: str,
        entity: str,
        entity_id: str,
        household: str | None,
        before: Any = None,
        after: Any = None,
    ) -> None:
        assert self._audit is not None
        self._audit._write(
            session,
            actor=actor,
            action=action,
            entity=entity,
            entity_id=entity_id,
            household=household,
            before=before,
            after=after,
        )


# ---------------------------------------------------------------------------------------------
# Audit log
# ---------------------------------------------------------------------------------------------


class AuditLog(_Repository):
    """The append-only audit log: ``append`` and ``list`` only; rows are never updated or deleted."""

    def append(
        self,
        *,
        actor: str,
        action: str,
        entity: str,
        entity_id: str,
        household: str | None = None,
        before: Any = None,
        after: Any = None,
    ) -> AuditEntry:
        """Append one entry (``before``/``after`` any JSON-able value, dataclasses included) and return it."""
        with self._tx() as session:
            row = self._write(
                session,
                actor=actor,
                action=action,
                entity=entity,
                entity_id=entity_id,
                household=household,
                before=before,
                after=after,
            )
            session.flush()
            return _audit_entry(row)

    def list(
        self,
        *,
        household: str | None = None,
        entity: str | None = None,
        entity_id: str | None = None,
        action: str | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        """Entries matching every given filter, oldest first (``limit`` keeps the newest ``limit``)."""
        stmt = select(AuditRow)
        if household is not None:
            stmt = stmt.where(AuditRow.household_id == household)
        if entity is not None:
            stmt = stmt.where(AuditRow.entity == entity)
        if entity_id is not None:
            stmt = stmt.where(AuditRow.entity_id == entity_id)
        if action is not None:
            stmt = stmt.where(AuditRow.action == action)
        stmt = stmt.order_by(AuditRow.seq.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._tx() as session:
            return [_audit_entry(r) for r in reversed(session.scalars(stmt).all())]

    def _write(
        self,
        session: Session,
        *,
        actor: str,
        action: str,
        entity: str,
        entity_id: str,
        household: str | None,
        before: Any,
        after: Any,
    ) -> AuditRow:
        row = AuditRow(**_audit_values(actor=actor, action=action, entity=entity, entity_id=entity_id,
                                       household=household, before=before, after=after, at=_now()))
        session.add(row)
        return row

    def _write_many(self, session: Session, entries: Sequence[dict[str, Any]]) -> None:
        """Append many entries (``_write``'s keyword arguments each) with one bulk INSERT, in order."""
        now = _now()
        values = [_audit_values(**e, at=now, normalize=False) for e in entries]
        session.flush()  # entries written one by one earlier in the transaction keep their lower seq
        _bulk_insert(session, AuditRow, values)


def _audit_values(*, actor: str, action: str, entity: str, entity_id: str, household: str | None, before: Any,
                  after: Any, at: datetime, normalize: bool = True) -> dict[str, Any]:
    """An audit row's values, checked as every entry is (non-empty actor, action, entity and entity id).

    ``normalize=False`` leaves ``before``/``after`` to the JSON column, which encodes them the same way on
    insert (and refuses what is not JSON-able); the ORM row needs them normalized to read back as stored.
    """
    for name, value in (("actor", actor), ("action", action), ("entity", entity), ("entity_id", entity_id)):
        if not isinstance(value, str) or not value.strip():
            raise ValidationError("must be a non-empty string", field=f"audit.{name}", value=value)
    if normalize:
        before, after = _normalized(before), _normalized(after)
    return {"at": at, "actor": actor, "action": action, "entity": entity, "entity_id": entity_id,
            "household_id": household, "before": before, "after": after}


def _audit_entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        action=row.action,
        entity=row.entity,
        entity_id=row.entity_id,
        household=row.household_id,
        before=row.before,
        after=row.after,
    )


# ---------------------------------------------------------------------------------------------
# Households
# ---------------------------------------------------------------------------------------------


class HouseholdRepository(_Repository):
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
                raise _error(
                    Conflict,
                    f"household {household.id!r} is already stored",
                    "use store.households.update(household) to change it",
                    household=household.id,
                )
            _check_firm(session, firm)
            now = _now()
            session.add(_household_row(household, now))
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
            taken = _present(session, HouseholdRow.id, ids)
            if taken:
                raise _error(Conflict, f"household {sorted(taken)[0]!r} is already stored ({len(taken)} of "
                             f"{len(ids)} are)", "import only new households; update stored ones one by one",
                             household=sorted(taken)[0])
            _check_firm(session, firm)
            now = _now()
            _bulk_insert(session, HouseholdRow, [_column_values(_household_row(h, now)) for h in households])
            tables: dict[type[Any], list[dict[str, Any]]] = {}
            for h in households:
                for table, rows in _child_rows(h):
                    tables.setdefault(table, []).extend(rows)
            for table, values in tables.items():  # parents first: _child_rows' order
                _bulk_insert(session, table, values)
            assert self._audit is not None
            self._audit._write_many(session, [
                {"actor": actor, "action": "household.add", "entity": "household", "entity_id": h.id,
                 "household": h.id, "before": None, "after": h} for h in households])
            if firm is not None:
                self._serve(session, ids, firm, actor)

    def _serve(self, session: Session, household_ids: Sequence[str], firm: str, actor: str) -> None:
        """Make ``firm`` serve the new households (rows and one audit entry each), in the caller's transaction."""
        from engine.store.people_tables import HouseholdFirmRow  # people's tables sit on top of these

        session.execute(insert(HouseholdFirmRow), [{"household_id": h, "firm_id": firm} for h in household_ids])
        assert self._audit is not None
        self._audit._write_many(session, [
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
                raise _error(
                    Conflict,
                    f"household {household_id!r} already has life event {event.id!r}",
                    "give the event a distinct id",
                    household=household_id,
                )
            if event.member is not None:
                current.member(event.member)
            pending = replace(event, applied=False)  # recorded: the next cycle runs it through its rule
            session.add(_event_row(household_id, len(current.events), pending))
            row = session.get(HouseholdRow, household_id)
            assert row is not None
            row.updated_at = _now()
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
        raise _error(NotFound, f"no firm {firm!r}", "add it first (robo user firm ID --name NAME)", firm=firm)


def _wake_for_event(session: Session, household_id: str, event: LifeEvent, now: datetime) -> None:
    """Ask the scheduler to run the household's cycle (a wake-up row, in the caller's transaction)."""
    from engine.store.scheduler_tables import SchedulerWakeupRow

    ref = f"event:{event.id}"  # the scheduler's own ref for life events: one wake-up per event
    exists = session.execute(
        select(SchedulerWakeupRow.id).where(
            SchedulerWakeupRow.household_id == household_id, SchedulerWakeupRow.ref == ref
        )
    ).first()
    if exists is None:
        session.add(SchedulerWakeupRow(id=uuid.uuid4().hex, household_id=household_id, reason="life_event", ref=ref,
                                       created_at=now, consumed_at=None, run_id=None))


def _household_row(h: Household, now: datetime) -> HouseholdRow:
    row = HouseholdRow(id=h.id, created_at=now)
    _fill_household_row(row, h, now)
    return row


def _planning_doc(h: Household) -> dict[str, Any]:
    """Members' and goals' planning fields that differ from their defaults, as plain JSON."""
    members = {}
    for m in h.members:
        doc: dict[str, Any] = {}
        if m.sex is not None:
            doc["sex"] = m.sex
        if m.social_security is not None:
            ss = m.social_security
            doc["social_security"] = {
                "pia": None if ss.pia is None else str(ss.pia), "earnings_file": ss.earnings_file, "auto": ss.auto
            }
        if m.claim_age is not None:
            doc["claim_age"] = m.claim_age
        if m.pensions:
            doc["pensions"] = [
                {"name": p.name, "annual": str(p.annual), "start_age": p.start_age, "cola": p.cola,
                 "survivor": p.survivor}
                for p in m.pensions
            ]
        if doc:
            members[m.id] = doc
    goals = {}
    for g in h.goals:
        doc = {}
        if g.withdrawal_order != "taxable_first":
            doc["withdrawal_order"] = g.withdrawal_order
        if g.guardrails:
            doc["guardrails"] = True
        if g.plan_to_age is not None:
            doc["plan_to_age"] = g.plan_to_age
        if doc:
            goals[g.id] = doc
    return {k: v for k, v in (("members", members), ("goals", goals)) if v}


def _with_planning(h: Household, doc: Mapping[str, Any] | None) -> Household:
    """``h`` with the planning fields ``_planning_doc`` stored put back on its members and goals."""
    if not doc:
        return h
    from dataclasses import replace as _replace

    members = doc.get("members", {})
    goals = doc.get("goals", {})
    return _replace(
        h,
        members=tuple(_replace(m, **members[m.id]) if m.id in members else m for m in h.members),
        goals=tuple(_replace(g, **goals[g.id]) if g.id in goals else g for g in h.goals),
    )


def _fill_household_row(row: HouseholdRow, h: Household, now: datetime) -> None:
    row.name = h.name
    row.risk_willingness = int(h.risk.willingness)
    row.risk_answers = dict(h.risk.answers)
    row.values = {
        "exclude_tags": sorted(h.values.exclude_tags),
        "exclude_tickers": sorted(h.values.exclude_tickers),
        "min_esg_score": h.values.min_esg_score,
        "max_carbon": h.values.max_carbon,
        "carbon_relative": h.values.carbon_relative,
        "tilt": h.values.tilt,
    }
    planning = _planning_doc(h)
    if planning:
        # Retirement-planning facts of members and goals (Social Security, pensions, withdrawal order …) ride in
        # this JSON document until members/goals get columns for them (a migration: see docs/planning.md).
        row.values["planning"] = planning
    row.filing_status = h.tax.filing_status.value
    row.state = h.tax.state
    row.state_rate = h.tax.state_rate
    row.ordinary_income = h.tax.ordinary_income
    row.st_loss_carryforward = h.tax.st_loss_carryforward
    row.lt_loss_carryforward = h.tax.lt_loss_carryforward
    row.monthly_savings = h.monthly_savings
    row.monthly_expenses = h.monthly_expenses
    row.emergency_months = float(h.emergency_months)
    row.updated_at = now


def _write_children(session: Session, h: Household) -> None:
    """Insert children parents first (members → accounts → lots, loss sales, goals, events), flushing in between."""
    for table, rows in _child_rows(h):
        session.add_all(table(**values) for values in rows)
        session.flush()


def _child_rows(h: Household) -> list[tuple[type[Any], list[dict[str, Any]]]]:
    """The household's child rows per table as values by attribute name, parents first (members, accounts, then
    what refers to them): ``Row(**values)`` for the ORM, or a bulk insert (``_bulk_insert``)."""
    return [
        (MemberRow, [
            dict(
                household_id=h.id,
                id=m.id,
                position=i,
                name=m.name,
                birth_date=m.birth_date,
                income=m.income,
                retirement_age=int(m.retirement_age),
                income_stability=m.income_stability.value,
            )
            for i, m in enumerate(h.members)
        ]),
        (AccountRow, [
            dict(
                household_id=h.id,
                id=a.id,
                position=i,
                type=a.type.value,
                name=a.name,
                owner=a.owner,
                cash=a.cash,
                broker_account=a.broker_account,
            )
            for i, a in enumerate(h.accounts)
        ]),
        (LotRow, [_lot_values(h.id, i, lot) for i, lot in enumerate(h.lots)]),
        (LossSaleRow, [
            dict(
                household_id=h.id,
                id=sale.id,
                position=i,
                account_id=sale.account,
                symbol=sale.symbol,
                sold=sale.sold,
                acquired=sale.acquired,
                shares=sale.shares,
                loss=sale.loss,
                lot_id=sale.lot_id,
            )
            for i, sale in enumerate(h.loss_sales)
        ]),
        (GoalRow, [
            dict(
                household_id=h.id,
                id=g.id,
                position=i,
                kind=g.kind.value,
                name=g.name,
                target=g.target,
                target_date=g.target_date,
                priority=int(g.priority),
                accounts=list(g.accounts),
                current_savings=g.current_savings,
                monthly_contribution=g.monthly_contribution,
                flexibility=g.flexibility,
                annual_income=g.annual_income,
                years=g.years,
            )
            for i, g in enumerate(h.goals)
        ]),
        (LifeEventRow, [_event_values(h.id, i, e) for i, e in enumerate(h.events)]),
        *direct_index_rows(h),
    ]


def _column_values(row: Any) -> dict[str, Any]:
    """An ORM row object's column values by attribute name."""
    return {c.key: getattr(row, c.key) for c in sa_inspect(type(row)).column_attrs}


def _bulk_insert(session: Session, table: type[Any], values: Sequence[dict[str, Any]]) -> None:
    """One Core ``executemany`` INSERT of rows given by ORM attribute name (no ORM objects, no per-row round trip
    to fetch keys); the columns' types (Money, UTCDateTime, JSON) still convert every value."""
    if not values:
        return
    column = {c.key: c.columns[0].key for c in sa_inspect(table).column_attrs}
    session.execute(table.__table__.insert(), [{column[k]: v for k, v in row.items()} for row in values])


#: Lots are mapped from Lot's fields (a new field is stored once its column exists; see engine/store/mapping.py).
_LOTS: RowMapper[Lot] = RowMapper(Lot, LotRow, renames={"account": "account_id"}, keys=("household_id", "position"))


def _lot_values(household_id: str, position: int, lot: Lot) -> dict[str, Any]:
    return _LOTS.values(lot, household_id=household_id, position=position)


def _event_row(household_id: str, position: int, e: LifeEvent) -> LifeEventRow:
    return LifeEventRow(**_event_values(household_id, position, e))


def _event_values(household_id: str, position: int, e: LifeEvent) -> dict[str, Any]:
    return dict(
        household_id=household_id,
        position=position,
        id=e.id,
        kind=e.kind.value,
        on_date=e.on,
        member=e.member,
        amount=e.amount,
        details=dict(e.details),
        applied=e.applied,
    )


def _replace_household(session: Session, row: HouseholdRow, h: Household) -> None:
    # Children are replaced wholesale: delete (dependents first), then insert the new ones.
    for table in (LotRow, LossSaleRow, GoalRow, LifeEventRow, AccountRow, MemberRow, DirectIndexRow):
        session.execute(delete(table).where(table.household_id == h.id))
    _fill_household_row(row, h, _now())
    session.flush()
    _write_children(session, h)


def _load_household(session: Session, household_id: str) -> Household:
    row = session.get(HouseholdRow, household_id)
    if row is None:
        known = session.scalars(select(HouseholdRow.id).order_by(HouseholdRow.id).limit(5)).all()
        hint = f"stored ids include: {', '.join(known)}" if known else "the store holds no household yet"
        raise _error(
            NotFound,
            f"no household {household_id!r} in the store",
            f"import one with `robo household import FILE` ({hint})",
            household=household_id,
        )

    def children(table: Any) -> Sequence[Any]:
        stmt = select(table).where(table.household_id == household_id).order_by(table.position)
        return session.scalars(stmt).all()

    values = row.values
    household = _with_planning(Household(
        id=row.id,
        name=row.name,
        members=tuple(
            Member(
                id=m.id,
                name=m.name,
                birth_date=m.birth_date,
                income=m.income,
                retirement_age=m.retirement_age,
                income_stability=m.income_stability,
            )
            for m in children(MemberRow)
        ),
        accounts=tuple(
            Account(
                id=a.id,
                type=a.type,
                name=a.name,
                owner=a.owner,
                cash=a.cash,
                broker_account=a.broker_account,
            )
            for a in children(AccountRow)
        ),
        goals=tuple(
            Goal(
                id=g.id,
                kind=g.kind,
                target=g.target,
                target_date=g.target_date,
                name=g.name,
                priority=g.priority,
                accounts=tuple(g.accounts),
                current_savings=g.current_savings,
                monthly_contribution=g.monthly_contribution,
                flexibility=g.flexibility,
                annual_income=g.annual_income,
                years=g.years,
            )
            for g in children(GoalRow)
        ),
        lots=tuple(_LOTS.to_domain(lot) for lot in children(LotRow)),
        risk=RiskProfile(willingness=row.risk_willingness, answers=dict(row.risk_answers)),
        values=Values(
            exclude_tags=frozenset(values["exclude_tags"]),
            exclude_tickers=frozenset(values["exclude_tickers"]),
            min_esg_score=values["min_esg_score"],
            max_carbon=values["max_carbon"],
            carbon_relative=values["carbon_relative"],
            tilt=values["tilt"],
        ),
        tax=TaxProfile(
            filing_status=row.filing_status,
            state=row.state,
            state_rate=row.state_rate,
            ordinary_income=row.ordinary_income,
            st_loss_carryforward=row.st_loss_carryforward,
            lt_loss_carryforward=row.lt_loss_carryforward,
        ),
        events=tuple(
            LifeEvent(
                kind=e.kind,
                on=e.on_date,
                member=e.member,
                amount=e.amount,
                details=dict(e.details),
                id=e.id,
                applied=e.applied,
            )
            for e in children(LifeEventRow)
        ),
        monthly_savings=row.monthly_savings,
        monthly_expenses=row.monthly_expenses,
        emergency_months=row.emergency_months,
        loss_sales=tuple(
            LossSale(
                id=sale.id,
                account=sale.account_id,
                symbol=sale.symbol,
                sold=sale.sold,
                acquired=sale.acquired,
                shares=sale.shares,
                loss=sale.loss,
                lot_id=sale.lot_id,
            )
            for sale in children(LossSaleRow)
        ),
    ), values.get("planning"))
    return with_direct_index(session, household)


# ---------------------------------------------------------------------------------------------
# Proposals and orders
# ---------------------------------------------------------------------------------------------


class ProposalRepository(_Repository):
    """Proposals with their orders and a guarded status life cycle (every transition audited)."""

    def add(self, proposal: Proposal, *, actor: str = SYSTEM) -> None:
        """Store a new proposal and its orders (status ``new``).

        Raises:
            NotFound: the proposal's household is not stored.
            Conflict: a proposal with this id, or one of its client_order_ids, is already stored.
            ValidationError: two of its orders share a client_order_id.
        """
        refused = self.add_many([proposal], actor=actor)
        if refused:
            raise refused[proposal.id]

    def add_many(self, proposals: Sequence[Proposal], *, actor: str = SYSTEM) -> dict[str, EngineError]:
        """Store new proposals and their orders in one transaction; returns the refused ones by proposal id.

        Each proposal is checked as ``add`` checks it, against the store and the proposals before it in
        ``proposals``; a refused one is left out and the rest are stored. A nightly batch writes this way: one
        commit and a few statements for many proposals instead of one commit and dozens of rows' statements each.
        """
        refused: dict[str, EngineError] = {}
        if not proposals:
            return refused
        with self._tx() as session:
            households = _present(session, HouseholdRow.id, {p.household for p in proposals})
            existing = _present(session, ProposalRow.id, {p.id for p in proposals})
            order_ids = {o.client_order_id for p in proposals for o in p.orders}
            taken = _present(session, OrderRow.client_order_id, order_ids)
            accepted: builtins.list[Proposal] = []
            for p in proposals:
                error = _refusal(p, households, existing, taken)
                if error is not None:
                    refused[p.id] = error
                    continue
                existing.add(p.id)
                taken.update(o.client_order_id for o in p.orders)
                accepted.append(p)
            if not accepted:
                return refused
            now = _now()
            session.execute(insert(ProposalRow), [_proposal_values(p, now) for p in accepted])
            _insert_orders(session, [(p.id, p.orders, 0) for p in accepted], now)
            for p in accepted:
                self._record(
                    session,
                    actor=actor,
                    action="proposal.add",
                    entity="proposal",
                    entity_id=p.id,
                    household=p.household,
                    after={"status": p.status.value, "orders": len(p.orders)},
                )
        return refused

    def get(self, proposal_id: str) -> Proposal:
        """The stored proposal with its orders.

        Raises:
            NotFound: no proposal with this id.
        """
        with self._tx() as session:
            row = _proposal_or_raise(session, proposal_id)
            return _proposal(row, _order_rows(session, [proposal_id]).get(proposal_id, []))

    def list(self, household: str | None = None, status: ProposalStatus | str | None = None) -> list[Proposal]:
        """Proposals, optionally of one household and/or in one status, oldest ``created`` first."""
        stmt = select(ProposalRow)
        if household is not None:
            stmt = stmt.where(ProposalRow.household_id == household)
        if status is not None:
            stmt = stmt.where(ProposalRow.status == _proposal_status(status).value)
        stmt = stmt.order_by(ProposalRow.created, ProposalRow.id)
        with self._tx() as session:
            rows = session.scalars(stmt).all()
            orders = _order_rows(session, [r.id for r in rows])
            return [_proposal(r, orders.get(r.id, [])) for r in rows]

    def households_with(
        self, statuses: Iterable[ProposalStatus | str], among: Iterable[str] | None = None
    ) -> set[str]:
        """Ids of the households (of ``among``, default all) having at least one proposal in one of ``statuses``."""
        values = sorted({_proposal_status(s).value for s in statuses})
        stmt = select(ProposalRow.household_id).where(ProposalRow.status.in_(values)).distinct()
        wanted = None if among is None else set(among)
        with self._tx() as session:
            found = set(session.scalars(stmt).all())
        return found if wanted is None else found & wanted

    def transition(
        self, proposal_id: str, new_status: ProposalStatus | str, *, actor: str, reason: str = ""
    ) -> Proposal:
        """Move a proposal along its life cycle and audit it; returns the updated proposal.

        Legal moves: proposed → approved / rejected / expired; approved → executing;
        executing → executed / partially_executed / failed.

        Raises:
            NotFound: no proposal with this id.
            Conflict: the move is not legal from the current status (or another writer moved it first).
        """
        target = _proposal_status(new_status)
        if not isinstance(actor, str) or not actor.strip():
            raise ValidationError("must be a non-empty string", field="actor", value=actor, fix="name who acts")
        with self._tx() as session:
            row = _proposal_or_raise(session, proposal_id)
            current = ProposalStatus(row.status)
            allowed = PROPOSAL_TRANSITIONS[current]
            if target not in allowed:
                options = ", ".join(sorted(s.value for s in allowed)) or "none (final status)"
                raise _error(
                    Conflict,
                    f"proposal {proposal_id!r} cannot go from {current.value} to {target.value}",
                    f"allowed from {current.value}: {options}",
                    proposal=proposal_id,
                    household=row.household_id,
                )
            now = _now()
            # Compare-and-set: a concurrent writer that moved the proposal first makes this update match 0 rows.
            result = session.execute(
                update(ProposalRow)
                .where(ProposalRow.id == proposal_id, ProposalRow.status == current.value)
                .values(status=target.value, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # pragma: no cover - needs two concurrent writers
                raise _error(
                    Conflict,
                    f"proposal {proposal_id!r} changed while moving it to {target.value}",
                    "reload it and retry",
                    proposal=proposal_id,
                )
            session.add(
                ProposalTransitionRow(
                    proposal_id=proposal_id,
                    from_status=current.value,
                    to_status=target.value,
                    actor=actor,
                    reason=reason,
                    at=now,
                )
            )
            self._record(
                session,
                actor=actor,
                action="proposal.transition",
                entity="proposal",
                entity_id=proposal_id,
                household=row.household_id,
                before={"status": current.value},
                after={"status": target.value, "reason": reason},
            )
            session.expire(row)
            row = _proposal_or_raise(session, proposal_id)
            return _proposal(row, _order_rows(session, [proposal_id]).get(proposal_id, []))

    def history(self, proposal_id: str) -> list[ProposalTransition]:
        """Every status change of the proposal, oldest first.

        Raises:
            NotFound: no proposal with this id.
        """
        with self._tx() as session:
            _proposal_or_raise(session, proposal_id)
            stmt = (
                select(ProposalTransitionRow)
                .where(ProposalTransitionRow.proposal_id == proposal_id)
                .order_by(ProposalTransitionRow.seq)
            )
            return [
                ProposalTransition(
                    proposal_id=t.proposal_id,
                    from_status=ProposalStatus(t.from_status),
                    to_status=ProposalStatus(t.to_status),
                    actor=t.actor,
                    reason=t.reason,
                    at=t.at,
                )
                for t in session.scalars(stmt)
            ]


def _proposal_status(value: ProposalStatus | str) -> ProposalStatus:
    try:
        return ProposalStatus(value)
    except ValueError as exc:
        raise ValidationError(
            "unknown ProposalStatus",
            field="status",
            value=value,
            fix=f"use one of: {', '.join(s.value for s in ProposalStatus)}",
        ) from exc


def _proposal_or_raise(session: Session, proposal_id: str) -> ProposalRow:
    row = session.get(ProposalRow, proposal_id)
    if row is None:
        raise _error(
            NotFound,
            f"no proposal {proposal_id!r} in the store",
            "check the id (store.proposals.list() shows the stored ones)",
            proposal=proposal_id,
        )
    return row


def _proposal_values(p: Proposal, now: datetime) -> dict[str, Any]:
    """A ``proposals`` row's values for ``p`` (by ORM attribute name)."""
    return {
        "id": p.id,
        "household_id": p.household,
        "as_of": p.as_of,
        "created": p.created,
        "trigger": p.trigger,
        "run_kind": p.run_kind.value,
        "targets": [[account, symbol, float(weight)] for (account, symbol), weight in p.targets.items()],
        "explanation": list(p.explanation),
        "tax_preview": p.tax_preview,
        "needs_approval": bool(p.needs_approval),
        "approval_reasons": list(p.approval_reasons),
        "status": p.status.value,
        "details": dict(p.details),
        "updated_at": now,
    }


_IN_LIST = 500  # values per IN (...) list: well under SQLite's bound-parameter limit on any build


def _present(session: Session, column: Any, values: Iterable[str]) -> set[str]:
    """Which of ``values`` the key ``column`` already holds (queried ``_IN_LIST`` at a time)."""
    wanted = sorted(set(values))
    found: set[str] = set()
    for i in range(0, len(wanted), _IN_LIST):
        found.update(session.scalars(select(column).where(column.in_(wanted[i : i + _IN_LIST]))).all())
    return found


def _refusal(p: Proposal, households: set[str], existing: set[str], taken: set[str]) -> EngineError | None:
    """Why ``p`` cannot be stored (household missing, id or a client_order_id taken, duplicate ids), or None."""
    if p.household not in households:
        return _error(
            NotFound,
            f"proposal {p.id!r} is for household {p.household!r}, which is not stored",
            "add the household first (store.households.add)",
            household=p.household,
        )
    if p.id in existing:
        return _error(
            Conflict,
            f"proposal {p.id!r} is already stored",
            "proposals are immutable; create a new proposal id",
            proposal=p.id,
        )
    return _order_refusal(p.id, p.orders, taken)


def _order_refusal(proposal_id: str, orders: Sequence[Order], taken: set[str]) -> EngineError | None:
    """Why ``orders`` cannot be added (a client_order_id repeated among them or already stored), or None."""
    ids = [o.client_order_id for o in orders]
    if len(set(ids)) != len(ids):
        return ValidationError("duplicate client_order_id among the orders", field="orders", value=ids)
    clash = sorted(i for i in ids if i in taken)
    if clash:
        return _error(
            Conflict,
            f"client_order_id already stored: {', '.join(clash)}",
            "client order ids are unique across proposals; derive them from the proposal id",
            proposal=proposal_id,
        )
    return None


def _proposal(row: ProposalRow, orders: list[OrderRow]) -> Proposal:
    return Proposal(
        id=row.id,
        household=row.household_id,
        as_of=row.as_of,
        created=row.created,
        trigger=row.trigger,
        run_kind=row.run_kind,
        targets={(a, s): w for a, s, w in row.targets},
        orders=tuple(_order(o) for o in orders),
        explanation=tuple(row.explanation),
        tax_preview=row.tax_preview,
        needs_approval=row.needs_approval,
        approval_reasons=tuple(row.approval_reasons),
        status=row.status,
        details=dict(row.details),
    )


def _order_rows(session: Session, proposal_ids: Sequence[str]) -> dict[str, builtins.list[OrderRow]]:
    out: dict[str, builtins.list[OrderRow]] = {}
    if not proposal_ids:
        return out
    stmt = select(OrderRow).where(OrderRow.proposal_id.in_(proposal_ids)).order_by(OrderRow.position)
    for o in session.scalars(stmt):
        out.setdefault(o.proposal_id, []).append(o)
    return out


def _add_orders(session: Session, proposal_id: str, orders: Sequence[Order], *, start: int, now: datetime) -> None:
    """Append ``orders`` to a stored proposal from position ``start``, after the same checks as a new proposal's."""
    error = _order_refusal(proposal_id, orders, _present(session, OrderRow.client_order_id,
                                                         (o.client_order_id for o in orders)))
    if error is not None:
        raise error
    _insert_orders(session, [(proposal_id, orders, start)], now)


def _insert_orders(session: Session, groups: Sequence[tuple[str, Sequence[Order], int]], now: datetime) -> None:
    """Insert (proposal id, orders, first position) groups in one executemany (checked by the caller)."""
    rows = [
        {
            "client_order_id": o.client_order_id,
            "proposal_id": proposal_id,
            "position": start + i,
            "account": o.account,
            "symbol": o.symbol,
            "side": o.side._value_,  # Enum.value is a descriptor call (~1 µs); _value_ the attribute it reads
            "qty": o.qty,
            "notional": o.notional,
            "type": o.type._value_,
            "time_in_force": o.time_in_force._value_,
            "limit_price": o.limit_price,
            "lots": list(o.lots),
            "status": OrderStatus.NEW.value,
            "updated_at": now,
        }
        for proposal_id, orders, start in groups
        for i, o in enumerate(orders)
    ]
    if rows:
        session.execute(insert(OrderRow), rows)


def _order(o: OrderRow) -> Order:
    return Order(
        client_order_id=o.client_order_id,
        account=o.account,
        symbol=o.symbol,
        side=o.side,
        qty=o.qty,
        notional=o.notional,
        type=o.type,
        time_in_force=o.time_in_force,
        limit_price=o.limit_price,
        lots=tuple(o.lots),
    )


def _order_record(o: OrderRow) -> OrderRecord:
    return OrderRecord(order=_order(o), proposal_id=o.proposal_id, status=OrderStatus(o.status), updated=o.updated_at)


class OrderRepository(_Repository):
    """Orders of proposals, keyed by ``client_order_id``, with a guarded status."""

    def add_many(self, proposal_id: str, orders: Sequence[Order], *, actor: str = SYSTEM) -> None:
        """Append orders to a stored proposal (status ``new``), all or none.

        Raises:
            NotFound: no proposal with this id.
            Conflict: a client_order_id is already stored.
        """
        with self._tx() as session:
            row = _proposal_or_raise(session, proposal_id)
            start = session.scalar(
                select(func.coalesce(func.max(OrderRow.position) + 1, 0)).where(OrderRow.proposal_id == proposal_id)
            )
            _add_orders(session, proposal_id, orders, start=int(start or 0), now=_now())
            self._record(
                session,
                actor=actor,
                action="orders.add",
                entity="proposal",
                entity_id=proposal_id,
                household=row.household_id,
                after=[o.client_order_id for o in orders],
            )

    def for_proposal(self, proposal_id: str) -> builtins.list[OrderRecord]:
        """The proposal's orders with their status, in the order they were added."""
        with self._tx() as session:
            return [_order_record(o) for o in _order_rows(session, [proposal_id]).get(proposal_id, [])]

    def get(self, client_order_id: str) -> OrderRecord:
        """The stored order with this client order id.

        Raises:
            NotFound: no such order.
        """
        with self._tx() as session:
            return _order_record(_order_or_raise(session, client_order_id))

    def update_status(
        self, client_order_id: str, status: OrderStatus | str, *, actor: str = SYSTEM, reason: str = ""
    ) -> OrderRecord:
        """Move an order to ``status`` (audited); setting the current status again is a no-op.

        Raises:
            NotFound: no such order.
            Conflict: the move is not allowed (e.g. from a final status such as filled).
        """
        try:
            target = OrderStatus(status)
        except ValueError as exc:
            raise ValidationError(
                "unknown OrderStatus",
                field="status",
                value=status,
                fix=f"use one of: {', '.join(s.value for s in OrderStatus)}",
            ) from exc
        with self._tx() as session:
            row = _order_or_raise(session, client_order_id)
            current = OrderStatus(row.status)
            if target is current and target is not OrderStatus.PARTIALLY_FILLED:
                return _order_record(row)
            if target not in ORDER_TRANSITIONS[current]:
                options = ", ".join(sorted(s.value for s in ORDER_TRANSITIONS[current])) or "none (final status)"
                raise _error(
                    Conflict,
                    f"order {client_order_id!r} cannot go from {current.value} to {target.value}",
                    f"allowed from {current.value}: {options}",
                    client_order_id=client_order_id,
                )
            row.status = target.value
            row.updated_at = _now()
            proposal = session.get(ProposalRow, row.proposal_id)
            self._record(
                session,
                actor=actor,
                action="order.status",
                entity="order",
                entity_id=client_order_id,
                household=proposal.household_id if proposal else None,
                before={"status": current.value},
                after={"status": target.value, "reason": reason},
            )
            session.flush()
            return _order_record(row)


def _order_or_raise(session: Session, client_order_id: str) -> OrderRow:
    row = session.get(OrderRow, client_order_id)
    if row is None:
        raise _error(
            NotFound,
            f"no order {client_order_id!r} in the store",
            "check the client_order_id (store.orders.for_proposal(id) lists a proposal's orders)",
            client_order_id=client_order_id,
        )
    return row


# ---------------------------------------------------------------------------------------------
# Fills
# ---------------------------------------------------------------------------------------------


class FillRepository(_Repository):
    """Executions, idempotent on the fill id."""

    def add(self, fill: Fill, *, household: str | None = None) -> bool:
        """Store a fill; returns False if this very fill was already stored (a no-op).

        The household is taken from the fill's stored order unless given.

        Raises:
            NotFound: the order is not stored and no ``household`` was given.
            Conflict: a different fill with the same id is already stored.
        """
        with self._tx() as session:
            existing = session.get(FillRow, fill.id)
            if existing is not None:
                if _fill(existing) != fill or (household is not None and existing.household_id != household):
                    raise _error(
                        Conflict,
                        f"a different fill with id {fill.id!r} is already stored",
                        "fill ids must be unique per execution; use the broker's execution id",
                        client_order_id=fill.client_order_id,
                    )
                return False
            if household is None:
                order = session.get(OrderRow, fill.client_order_id)
                proposal = session.get(ProposalRow, order.proposal_id) if order is not None else None
                if proposal is None:
                    raise _error(
                        NotFound,
                        f"fill {fill.id!r} is for order {fill.client_order_id!r}, which is not stored",
                        "pass household= to store a fill of an order placed outside the engine",
                        client_order_id=fill.client_order_id,
                    )
                household = proposal.household_id
            session.add(
                FillRow(
                    id=fill.id,
                    client_order_id=fill.client_order_id,
                    household_id=household,
                    account=fill.account,
                    symbol=fill.symbol,
                    side=fill.side.value,
                    qty=fill.qty,
                    price=fill.price,
                    fees=fill.fees,
                    at=fill.at,
                    recorded_at=_now(),
                )
            )
            self._record(
                session,
                actor=SYSTEM,
                action="fill.add",
                entity="fill",
                entity_id=fill.id,
                household=household,
                after=fill,
            )
            return True

    def for_household(self, household_id: str, *, since: datetime | None = None) -> builtins.list[Fill]:
        """The household's fills (optionally at or after ``since``, aware), oldest first."""
        stmt = select(FillRow).where(FillRow.household_id == household_id)
        if since is not None:
            stmt = stmt.where(FillRow.at >= since)
        with self._tx() as session:
            return [_fill(r) for r in session.scalars(stmt.order_by(FillRow.at, FillRow.id))]

    def for_order(self, client_order_id: str) -> builtins.list[Fill]:
        """The fills of one order, oldest first."""
        stmt = select(FillRow).where(FillRow.client_order_id == client_order_id).order_by(FillRow.at, FillRow.id)
        with self._tx() as session:
            return [_fill(r) for r in session.scalars(stmt)]


def _fill(r: FillRow) -> Fill:
    return Fill(
        client_order_id=r.client_order_id,
        account=r.account,
        symbol=r.symbol,
        side=r.side,
        qty=r.qty,
        price=r.price,
        at=r.at,
        fees=r.fees,
        id=r.id,
    )


# ---------------------------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------------------------


def config_hash(config: Any) -> str:
    """SHA-256 (hex) of the configuration's canonical JSON (sorted keys; Decimal/date kept exact)."""
    text = json.dumps(encode_json(config), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def package_version() -> str:
    """The installed adaptive-robo version (the source tree's when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("adaptive-robo")
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        from engine import __version__

        return __version__


class RunRepository(_Repository):
    """Run records with their provenance (configuration, its hash, the package version)."""

    def start(self, kind: str, config: dict[str, Any], household: str | None = None) -> str:
        """Record a run as started now; returns its new id.

        Raises:
            ValidationError: the configuration cannot be stored as JSON.
        """
        if not isinstance(kind, str) or not kind.strip():
            raise ValidationError("must be a non-empty string", field="run.kind", value=kind)
        run_id = uuid.uuid4().hex
        with self._tx() as session:
            session.add(
                RunRow(
                    id=run_id,
                    kind=str(kind),
                    household_id=household,
                    config=_normalized(dict(config)),
                    config_hash=config_hash(config),
                    package_version=package_version(),
                    started_at=_now(),
                    finished_at=None,
                    status=RunStatus.RUNNING.value,
                    summary=None,
                )
            )
        return run_id

    def finish(self, run_id: str, status: RunStatus | str, summary: Any = None) -> RunRecord:
        """Mark the run finished now with ``status`` and a JSON-able ``summary``.

        Raises:
            NotFound: no run with this id.
            Conflict: the run is already finished, or ``status`` is ``running``.
        """
        final = RunStatus(status)
        if final is RunStatus.RUNNING:
            raise _error(Conflict, "a run cannot finish as 'running'", "use succeeded, failed or cancelled")
        with self._tx() as session:
            row = _run_or_raise(session, run_id)
            if row.finished_at is not None:
                raise _error(
                    Conflict,
                    f"run {run_id!r} already finished as {row.status}",
                    "start a new run instead",
                    run_id=run_id,
                )
            row.status = final.value
            row.finished_at = _now()
            row.summary = _normalized(summary)
            session.flush()
            return _run(row)

    def get(self, run_id: str) -> RunRecord:
        """The run record.

        Raises:
            NotFound: no run with this id.
        """
        with self._tx() as session:
            return _run(_run_or_raise(session, run_id))

    def list(self, *, kind: str | None = None, household: str | None = None) -> builtins.list[RunRecord]:
        """Runs, optionally of one kind and/or household, oldest first."""
        stmt = select(RunRow)
        if kind is not None:
            stmt = stmt.where(RunRow.kind == str(kind))
        if household is not None:
            stmt = stmt.where(RunRow.household_id == household)
        with self._tx() as session:
            return [_run(r) for r in session.scalars(stmt.order_by(RunRow.started_at, RunRow.id))]


def _run_or_raise(session: Session, run_id: str) -> RunRow:
    row = session.get(RunRow, run_id)
    if row is None:
        raise _error(NotFound, f"no run {run_id!r} in the store", "check the run id", run_id=run_id)
    return row


def _run(r: RunRow) -> RunRecord:
    return RunRecord(
        id=r.id,
        kind=r.kind,
        household=r.household_id,
        config=r.config,
        config_hash=r.config_hash,
        package_version=r.package_version,
        started=r.started_at,
        finished=r.finished_at,
        status=RunStatus(r.status),
        summary=r.summary,
    )
