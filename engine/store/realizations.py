"""Every realized gain and loss of a household, across runs: the source of a year's Form 8949.

    store.realizations.add_many(household.id, ledger.realized(include_sheltered=True), ledger.amendments())
    store.realizations.for_year(household.id, 2026)        # [Realization], amendments folded in
    store.realizations.form_8949(household.id, 2026)       # [Form8949Row], part I then part II

A cycle rebuilds its lot ledger from the stored household every run, so a ledger only knows the sales
of its own run; this table keeps them all. ``add_many`` is idempotent: a realization is keyed by a
SHA-256 of what identifies the sale (account, fund, lot, dates, shares, proceeds, basis, the ledger's
id), so storing the same one again updates it (a later purchase in the same run may have washed more
of its loss). A loss a later run's purchase disallows on a sale stored earlier comes as an amendment
(``LotLedger.amendments()``) and is kept as its own row, folded into the sale's row when read.
"""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select

from engine.store.base import SYSTEM, Repository, utc_now
from engine.store.mapping import RowMapper
from engine.store.tables import RealizationRow
from engine.tax.ledger import Realization

if TYPE_CHECKING:
    from engine.tax import Form8949Row

__all__ = ["REALIZATIONS", "RealizationRepository", "realization_key"]

#: Realizations ↔ ``realizations`` rows; the household, the idempotency key, whether the row is an amendment
#: and its times are the row's own.
REALIZATIONS: RowMapper[Realization] = RowMapper(
    Realization, RealizationRow, renames={"id": "realization_id"},
    keys=("household_id", "key", "amendment", "recorded_at", "updated_at"),
)


def realization_key(r: Realization, *, amendment: bool = False) -> str:
    """The idempotency key of a realization (hex SHA-256): the same sale gives the same key in any run."""
    # amounts by value, not by spelling: 0E-18 and 0 (or 25.000 and 25) are one sale, so they give one key
    parts = [r.account, r.symbol, r.lot_id, r.acquired.isoformat(), r.sold.isoformat(), _num(r.shares),
             _num(r.proceeds), _num(r.basis), r.id]
    if amendment:  # a later run's wash of an earlier sale: which replacement lots did it is what tells it apart
        parts = ["amendment", *parts, *r.replacements]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _num(x: Decimal) -> str:
    """A Decimal's value as canonical text (trailing zeros and exponent spelling dropped)."""
    return format(x.normalize(), "f")


class RealizationRepository(Repository):
    """Realized gains and losses per household (see the module docstring)."""

    def add_many(
        self, household_id: str, realizations: Iterable[Realization], amendments: Iterable[Realization] = ()
    ) -> int:
        """Store (or update) ``realizations`` and ``amendments`` of ``household_id``; returns how many are new.

        Raises:
            ValidationError: an amount or share count does not fit NUMERIC(38, 18) exactly (nothing is stored).
        """
        rows = [(r, False) for r in realizations] + [(r, True) for r in amendments]
        if not rows:
            return 0
        now = utc_now()
        new = 0
        with self._tx() as session:
            for r, amend in rows:
                key = realization_key(r, amendment=amend)
                row = session.get(RealizationRow, (household_id, key))
                if row is None:
                    new += 1
                    session.add(RealizationRow(**REALIZATIONS.values(
                        r, household_id=household_id, key=key, amendment=amend, recorded_at=now, updated_at=now)))
                elif (row.disallowed, row.lost, list(row.replacements or [])) != (
                        r.disallowed, r.lost, list(r.replacements)):
                    row.disallowed, row.lost, row.replacements, row.updated_at = (
                        r.disallowed, r.lost, list(r.replacements), now)
            if new:
                self._record(session, actor=SYSTEM, action="realizations.add", entity="household",
                             entity_id=household_id, household=household_id, after={"new": new})
        return new

    def for_year(self, household_id: str, year: int, *, include_sheltered: bool = False) -> builtins.list[Realization]:
        """The household's realizations sold in ``year``, by sale date, with later runs' wash sales folded in.

        An amendment adds its disallowed (and lost) USD to the sale it amends; an amendment whose sale is not
        stored (realized before the store kept realizations) is returned as it is (zero proceeds and basis).
        """
        lo, hi = date(year, 1, 1), date(year, 12, 31)
        with self._tx() as session:
            found = session.scalars(
                select(RealizationRow)
                .where(RealizationRow.household_id == household_id, RealizationRow.sold >= lo,
                       RealizationRow.sold <= hi)
                .order_by(RealizationRow.sold, RealizationRow.recorded_at, RealizationRow.key)
            ).all()
            rows = [_view(x) for x in found]
        sales = [(r, a) for r, a in rows if not a]
        out = [r for r, _ in sales]
        index = {(r.id, r.account, r.symbol, r.sold): i for i, r in enumerate(out)}
        for r, _a in (x for x in rows if x[1]):
            i = index.get((r.id, r.account, r.symbol, r.sold))
            if i is None:
                out.append(r)
                continue
            base = out[i]
            out[i] = replace(base, disallowed=base.disallowed + r.disallowed, lost=base.lost + r.lost,
                             replacements=base.replacements + r.replacements)
        return [r for r in out if include_sheltered or r.reportable]

    def form_8949(self, household_id: str, year: int) -> builtins.list[Form8949Row]:
        """Form 8949 rows of ``year`` from everything stored (``engine.tax.form_8949_rows``)."""
        from engine.tax import form_8949_rows

        return form_8949_rows(self.for_year(household_id, year), year)


def _view(row: RealizationRow) -> tuple[Realization, bool]:
    return REALIZATIONS.to_domain(row), bool(row.amendment)
