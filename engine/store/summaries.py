"""Read models for lists: proposal and household summaries and audit pages, scoped to who is asking, in one query.

    store.summaries.proposals(Scope.firm("northwind"), status="proposed", limit=50)    # no orders loaded
    store.summaries.households(Scope.user("rosa"))                                       # id, name, firm, pending

A queue over thousands of households must not load every proposal's orders or every household's lots: these
queries read only the columns a list shows, count orders in the database, and filter by scope with a join
(a firm's households, a client's linked households) instead of a long ``IN`` list.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased

from engine.model import ProposalStatus
from engine.store.audit import audit_entry
from engine.store.base import Repository
from engine.store.people_tables import HouseholdFirmRow, UserHouseholdRow
from engine.store.proposals import proposal_status
from engine.store.records import AuditEntry
from engine.store.tables import AuditRow, HouseholdRow, OrderRow, ProposalRow

__all__ = ["HouseholdSummaryRecord", "ProposalSummaryRecord", "Scope", "SummaryRepository"]


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose households a list covers: every household (``kind="all"``), a firm's, or a user's linked ones."""

    kind: str = "all"
    id: str | None = None

    @classmethod
    def everything(cls) -> Scope:
        return cls()

    @classmethod
    def firm(cls, firm_id: str) -> Scope:
        return cls("firm", firm_id)

    @classmethod
    def user(cls, user_id: str) -> Scope:
        return cls("user", user_id)

    def where(self, stmt: Select[Any], household_column: Any) -> Select[Any]:
        """``stmt`` restricted to this scope's households (by a join on ``household_column``)."""
        if self.kind == "firm":
            return stmt.join(HouseholdFirmRow, HouseholdFirmRow.household_id == household_column).where(
                HouseholdFirmRow.firm_id == self.id)
        if self.kind == "user":
            return stmt.join(UserHouseholdRow, UserHouseholdRow.household_id == household_column).where(
                UserHouseholdRow.user_id == self.id)
        return stmt


@dataclass(frozen=True, slots=True)
class ProposalSummaryRecord:
    """A proposal as a list shows it: no orders, their count; ``created`` aware UTC."""

    id: str
    household: str
    as_of: date
    created: datetime
    status: ProposalStatus
    trigger: str
    run_kind: str
    needs_approval: bool
    approval_reasons: tuple[str, ...]
    orders: int


@dataclass(frozen=True, slots=True)
class HouseholdSummaryRecord:
    """A household as a list shows it: its firm and its number of proposals awaiting a decision."""

    id: str
    name: str
    firm: str | None
    pending: int


class SummaryRepository(Repository):
    """Scoped, paged list queries for the service (``store.summaries``)."""

    def proposals(self, scope: Scope = Scope(), *, status: ProposalStatus | str | None = None,
                  household: str | None = None, limit: int | None = None, offset: int = 0,
                  newest_first: bool = False) -> builtins.list[ProposalSummaryRecord]:
        """Proposals in ``scope`` (optionally one status, one household), oldest ``created`` first (or newest).

        Two steps in one statement: the page's ids are chosen first (filter, sort, limit on narrow columns),
        then only those rows are read and their orders counted — so the order count never runs for rows the page
        does not show (SQLite otherwise evaluated it for every pending proposal before sorting newest first).
        """
        page = self._proposal_filter(select(ProposalRow.id.label("pid"), ProposalRow.created.label("at")),
                                     scope, status, household)
        if newest_first:
            page = page.order_by(ProposalRow.created.desc(), ProposalRow.id.desc())
        else:
            page = page.order_by(ProposalRow.created, ProposalRow.id)
        page = page.offset(offset)
        if limit is not None:
            page = page.limit(limit)
        chosen = page.subquery("page")
        orders = (select(func.count()).select_from(OrderRow).where(OrderRow.proposal_id == ProposalRow.id)
                  .correlate(ProposalRow).scalar_subquery())
        stmt = (select(ProposalRow.id, ProposalRow.household_id, ProposalRow.as_of, ProposalRow.created,
                       ProposalRow.status, ProposalRow.trigger, ProposalRow.run_kind, ProposalRow.needs_approval,
                       ProposalRow.approval_reasons, orders)
                .select_from(chosen).join(ProposalRow, ProposalRow.id == chosen.c.pid))
        if newest_first:
            stmt = stmt.order_by(chosen.c.at.desc(), chosen.c.pid.desc())
        else:
            stmt = stmt.order_by(chosen.c.at, chosen.c.pid)
        with self._tx() as session:
            return [ProposalSummaryRecord(r[0], r[1], r[2], r[3], ProposalStatus(r[4]), r[5], r[6], r[7],
                                          tuple(r[8] or ()), int(r[9])) for r in session.execute(stmt)]

    def count_proposals(self, scope: Scope = Scope(), *, status: ProposalStatus | str | None = None,
                        household: str | None = None) -> int:
        """How many proposals ``proposals`` would list without a limit."""
        stmt = self._proposal_filter(select(func.count(ProposalRow.id)), scope, status, household)
        with self._tx() as session:
            return int(session.execute(stmt).scalar_one())

    @staticmethod
    def _proposal_filter(stmt: Select[*tuple[Any, ...]], scope: Scope, status: ProposalStatus | str | None,
                         household: str | None) -> Select[Any]:
        stmt = scope.where(stmt.select_from(ProposalRow), ProposalRow.household_id)
        if status is not None:
            stmt = stmt.where(ProposalRow.status == proposal_status(status).value)
        if household is not None:
            stmt = stmt.where(ProposalRow.household_id == household)
        return stmt

    def households(self, scope: Scope = Scope(), *, limit: int | None = None,
                   offset: int = 0) -> builtins.list[HouseholdSummaryRecord]:
        """Households in ``scope`` by id, with firm and the count of ``proposed`` proposals."""
        pending = (select(func.count()).select_from(ProposalRow)
                   .where(ProposalRow.household_id == HouseholdRow.id,
                          ProposalRow.status == ProposalStatus.PROPOSED.value).correlate(HouseholdRow)
                   .scalar_subquery())
        served = aliased(HouseholdFirmRow)  # the scope may join household_firms too: this one is the subquery's own
        firm = (select(served.firm_id).where(served.household_id == HouseholdRow.id).correlate(HouseholdRow)
                .scalar_subquery())
        stmt = scope.where(select(HouseholdRow.id, HouseholdRow.name, firm, pending).select_from(HouseholdRow),
                           HouseholdRow.id).order_by(HouseholdRow.id).offset(offset)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._tx() as session:
            return [HouseholdSummaryRecord(r[0], r[1], r[2], int(r[3])) for r in session.execute(stmt)]

    def audit(self, scope: Scope = Scope(), *, household: str | None = None,
              limit: int = 200) -> builtins.list[AuditEntry]:
        """The newest ``limit`` audit entries about households in ``scope`` (all entries for ``Scope()``), oldest
        first. Entries about no household are in the everything-scope only."""
        stmt = scope.where(select(AuditRow), AuditRow.household_id)
        if household is not None:
            stmt = stmt.where(AuditRow.household_id == household)
        stmt = stmt.order_by(AuditRow.seq.desc()).limit(limit)
        with self._tx() as session:
            return [audit_entry(r) for r in reversed(session.scalars(stmt).all())]
