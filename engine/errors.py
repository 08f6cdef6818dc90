"""One exception tree for adaptive-robo; every message says what failed, where, and how to fix it.

    try: engine.plan(household, as_of)
    except Infeasible as exc: print(exc.conflicts)

The tree::

    EngineError                      base of everything this package raises on purpose
    ├── ConfigError                  a YAML file, setting or API input is invalid (file, field path, value, fix)
    │   └── ValidationError          a domain value breaks an invariant (negative shares, naive datetime, ...)
    ├── DataError                    market data is missing or suspicious
    │   ├── UnknownTicker            a ticker is not in the source
    │   ├── EmptyRange               a date range holds no trading day / no price
    │   ├── BadPrice                 NaN inside a fund's life, non-positive or absurd prices, outsized moves
    │   ├── CalendarError            duplicate or unsorted dates, days that are not trading days
    │   ├── StaleData                the newest price is older than allowed
    │   └── LookAheadError           something asked for a price after the point-in-time cut
    ├── OptimizationError            the optimizer could not produce targets
    │   ├── Infeasible               constraints conflict; `.conflicts` names the groups and the slack they need
    │   └── SolverFailed             every solver in the fallback chain failed
    ├── TaxRuleError                 an operation the tax rules or the lot ledger forbid
    ├── PlanningError                goals, life events or planning inputs are inconsistent
    ├── StoreError                   the database refused or lacks something
    │   ├── NotFound                 no such household / proposal / run
    │   └── Conflict                 a uniqueness rule (idempotency key, state transition) was violated
    ├── ReconciliationError          broker positions and the ledger disagree (`.discrepancies`)
    └── BrokerError                  a broker refused or failed; keeps `status` and `client_order_id`
        ├── InsufficientFunds        buying power or shares not sufficient (HTTP 403 at Alpaca)
        ├── OrderRejected            bad order parameters (HTTP 422 at Alpaca)
        ├── RateLimited              too many requests (HTTP 429), after retries ran out
        ├── BrokerUnavailable        timeouts, connection errors, 5xx after retries ran out
        └── TradingHalted            a safety rail stopped the submit (kill switch, market closed, stale data, cap)

Third-party errors are translated at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "BadPrice",
    "BrokerError",
    "BrokerUnavailable",
    "CalendarError",
    "ConfigError",
    "Conflict",
    "DataError",
    "EmptyRange",
    "EngineError",
    "Infeasible",
    "InsufficientFunds",
    "LookAheadError",
    "NotFound",
    "OptimizationError",
    "OrderRejected",
    "PlanningError",
    "RateLimited",
    "ReconciliationError",
    "SolverFailed",
    "StaleData",
    "StoreError",
    "TaxRuleError",
    "TradingHalted",
    "UnknownTicker",
    "ValidationError",
]


class EngineError(Exception):
    """Base of every error adaptive-robo raises on purpose; ``context`` holds the where (household, date, ...)."""

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context: dict[str, Any] = dict(context)

    def __str__(self) -> str:
        return self.message


class ConfigError(EngineError):
    """Invalid configuration or API input: names the file, the field path, the bad value and a fix."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        field: str | None = None,
        value: Any = None,
        fix: str | None = None,
        **context: Any,
    ) -> None:
        parts = [message]
        if file:
            parts.insert(0, f"{file}:")
        if field:
            parts.append(f"(field {field}")
            parts[-1] += f", got {value!r})" if value is not None else ")"
        if fix:
            parts.append(f"— {fix}")
        super().__init__(" ".join(parts), file=file, field=field, value=value, fix=fix, **context)
        self.reason = message
        self.file = file
        self.field = field
        self.value = value
        self.fix = fix


class ValidationError(ConfigError):
    """A domain value breaks an invariant (negative shares, naive datetime, unknown account type)."""


class DataError(EngineError):
    """Market data is missing, malformed or suspicious; ``ticker`` and ``day`` say where."""

    def __init__(self, message: str, *, ticker: str | None = None, day: Any = None, **context: Any):
        super().__init__(message, ticker=ticker, day=day, **context)
        self.ticker = ticker
        self.day = day


class UnknownTicker(DataError):
    """A ticker is not available from the source."""


class EmptyRange(DataError):
    """A requested date range holds no trading day or no price."""


class BadPrice(DataError):
    """NaN inside a fund's life, a non-positive or absurd price, or an outsized one-day move."""


class CalendarError(DataError):
    """Duplicate, unsorted or non-trading dates."""


class StaleData(DataError):
    """The newest price is older than the allowed age."""


class LookAheadError(DataError):
    """A price after the point-in-time cut was requested or seen; backtests must never see the future."""


class OptimizationError(EngineError):
    """The optimizer could not produce targets; nothing downstream may trade on this result."""


class Infeasible(OptimizationError):
    """Constraints conflict; ``conflicts`` maps each constraint group to the slack it needed."""

    def __init__(self, message: str, *, conflicts: Mapping[str, float] | None = None, **context: Any):
        super().__init__(message, **context)
        self.conflicts: dict[str, float] = dict(conflicts or {})


class SolverFailed(OptimizationError):
    """Every solver in the fallback chain failed; ``attempts`` lists (solver, status or error)."""

    def __init__(self, message: str, *, attempts: Sequence[tuple[str, str]] = (), **context: Any):
        super().__init__(message, **context)
        self.attempts: list[tuple[str, str]] = list(attempts)


class TaxRuleError(EngineError):
    """An operation the tax rules or the lot ledger forbid; the ledger is left unchanged."""


class PlanningError(EngineError):
    """Goals, life events or planning inputs are inconsistent; the household is left unchanged."""


class StoreError(EngineError):
    """The database refused an operation or lacks a record."""


class NotFound(StoreError):
    """No such household, proposal, run or record."""


class Conflict(StoreError):
    """A uniqueness rule or state transition was violated (idempotency key taken, proposal already executed)."""


class ReconciliationError(EngineError):
    """Broker positions and the ledger disagree; ``discrepancies`` lists them for a human."""

    def __init__(self, message: str, *, discrepancies: Sequence[Any] = (), **context: Any):
        super().__init__(message, **context)
        self.discrepancies: list[Any] = list(discrepancies)


class BrokerError(EngineError):
    """A broker refused or failed; keeps the HTTP ``status`` and the order's ``client_order_id``."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        client_order_id: str | None = None,
        **context: Any,
    ) -> None:
        super().__init__(message, status=status, client_order_id=client_order_id, **context)
        self.status = status
        self.client_order_id = client_order_id


class InsufficientFunds(BrokerError):
    """Buying power or shares are not sufficient for the order."""


class OrderRejected(BrokerError):
    """The broker rejected the order's parameters."""


class RateLimited(BrokerError):
    """The broker kept answering 'too many requests' after the retries ran out."""


class BrokerUnavailable(BrokerError):
    """Timeouts, dropped connections or server errors after the retries ran out."""


class TradingHalted(BrokerError):
    """A safety rail stopped the submit: kill switch, market closed, stale data or an order over its cap."""
