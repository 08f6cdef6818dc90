"""Run records with their provenance: the configuration, its SHA-256 and the package version.

    run_id = store.runs.start("backtest", config, household="rivera")
    store.runs.finish(run_id, "succeeded", {"cagr": 0.061}).config_hash
"""

from __future__ import annotations

import builtins
import hashlib
import json
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import Conflict, NotFound, ValidationError
from engine.store.base import Repository, normalized, store_error, utc_now
from engine.store.mapping import RowMapper
from engine.store.records import RunRecord, RunStatus
from engine.store.tables import RunRow
from engine.store.types import encode_json

__all__ = ["RUNS", "RunRepository", "config_hash", "package_version"]

#: Run records ↔ ``runs`` rows.
RUNS: RowMapper[RunRecord] = RowMapper(RunRecord, RunRow, renames={
    "household": "household_id", "started": "started_at", "finished": "finished_at"})


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


class RunRepository(Repository):
    """Run records with their provenance (configuration, its hash, the package version)."""

    def start(self, kind: str, config: dict[str, Any], household: str | None = None) -> str:
        """Record a run as started now; returns its new id.

        Raises:
            ValidationError: the configuration cannot be stored as JSON.
        """
        if not isinstance(kind, str) or not kind.strip():
            raise ValidationError("must be a non-empty string", field="run.kind", value=kind)
        run = RunRecord(id=uuid.uuid4().hex, kind=str(kind), household=household, config=normalized(dict(config)),
                        config_hash=config_hash(config), package_version=package_version(), started=utc_now(),
                        finished=None, status=RunStatus.RUNNING, summary=None)
        with self._tx() as session:
            session.add(RunRow(**RUNS.values(run)))
        return run.id

    def finish(self, run_id: str, status: RunStatus | str, summary: Any = None) -> RunRecord:
        """Mark the run finished now with ``status`` and a JSON-able ``summary``.

        Raises:
            NotFound: no run with this id.
            Conflict: the run is already finished, or ``status`` is ``running``.
        """
        final = RunStatus(status)
        if final is RunStatus.RUNNING:
            raise store_error(Conflict, "a run cannot finish as 'running'", "use succeeded, failed or cancelled")
        with self._tx() as session:
            row = _run_or_raise(session, run_id)
            if row.finished_at is not None:
                raise store_error(
                    Conflict,
                    f"run {run_id!r} already finished as {row.status}",
                    "start a new run instead",
                    run_id=run_id,
                )
            row.status = final.value
            row.finished_at = utc_now()
            row.summary = normalized(summary)
            session.flush()
            return RUNS.to_domain(row)

    def get(self, run_id: str) -> RunRecord:
        """The run record.

        Raises:
            NotFound: no run with this id.
        """
        with self._tx() as session:
            return RUNS.to_domain(_run_or_raise(session, run_id))

    def list(self, *, kind: str | None = None, household: str | None = None) -> builtins.list[RunRecord]:
        """Runs, optionally of one kind and/or household, oldest first."""
        stmt = select(RunRow)
        if kind is not None:
            stmt = stmt.where(RunRow.kind == str(kind))
        if household is not None:
            stmt = stmt.where(RunRow.household_id == household)
        with self._tx() as session:
            return [RUNS.to_domain(r) for r in session.scalars(stmt.order_by(RunRow.started_at, RunRow.id))]


def _run_or_raise(session: Session, run_id: str) -> RunRow:
    row = session.get(RunRow, run_id)
    if row is None:
        raise store_error(NotFound, f"no run {run_id!r} in the store", "check the run id", run_id=run_id)
    return row
