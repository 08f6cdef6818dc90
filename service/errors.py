"""Engine errors → HTTP: one status per error class, and a JSON body with the engine's field, value and fix.

    status_of(Conflict("...")) == 409
    error_body(exc) == {"error": {"type": "Conflict", "message": "...", "field": None, "value": None, "fix": "..."}}
"""

from __future__ import annotations

from typing import Any

from engine.errors import (
    BrokerError,
    ConfigError,
    Conflict,
    DataError,
    EngineError,
    NotFound,
    OptimizationError,
    PlanningError,
    StoreError,
    TaxRuleError,
)
from service.auth import Forbidden, Unauthenticated
from service.schemas import plain

__all__ = ["error_body", "status_of"]

# Most specific first: the first class an error is an instance of decides (RFC 9110 §15 for the meanings).
_STATUS: tuple[tuple[type[BaseException], int], ...] = (
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),  # a state-machine move that is not legal now, a duplicate id, a taken idempotency key
    (ConfigError, 422),  # ValidationError included: the request is well-formed but its values break a rule
    (PlanningError, 422),
    (TaxRuleError, 422),
    (OptimizationError, 422),
    (BrokerError, 502),  # the broker refused or failed behind us
    (DataError, 503),  # market data missing or stale: the service cannot plan until it is refreshed
    (StoreError, 503),
    (EngineError, 400),
)


def status_of(exc: BaseException) -> int:
    """The HTTP status of an engine (or auth) error."""
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def error_body(exc: BaseException) -> dict[str, Any]:
    """``{"error": {type, message, field, value, fix}}`` for an engine or auth error (field/value/fix when known)."""
    context: dict[str, Any] = getattr(exc, "context", {}) or {}
    reason = getattr(exc, "reason", None) or getattr(exc, "message", None) or str(exc)
    if isinstance(exc, EngineError) and not isinstance(exc, ConfigError):
        reason = exc.message
    return {
        "error": {
            "type": type(exc).__name__,
            "message": str(reason),
            "field": context.get("field"),
            "value": plain(context.get("value")),
            "fix": context.get("fix"),
        }
    }
