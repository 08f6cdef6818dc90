"""The exit codes of ``robo``, in one place (documented in docs/errors.md).

    0   OK              the command did what was asked
    1   FAILED          it ran, but the outcome is not good (an order failed, reconciliation found differences)
    2   INPUT_ERROR     bad input: a file, setting, argument value, unknown id or bad market data — fix the input
    3   ENGINE_ERROR    the engine could not finish: no feasible portfolio, a broker refused, the database failed
    4   NEEDS_APPROVAL  a proposal was made but waits for a human (`robo approve ID`)
    64  USAGE_ERROR     the command line cannot be parsed (unknown option, missing argument) — see `--help`
    130 INTERRUPTED     Ctrl-C

2 stays the code of every input error because scripts already test for it; 64 is EX_USAGE of sysexits.h.
"""

from __future__ import annotations

from enum import IntEnum

from engine.errors import (
    BrokerError,
    ConfigError,
    Conflict,
    DataError,
    EngineError,
    NotFound,
    PlanningError,
    TaxRuleError,
)

__all__ = ["ExitCode", "exit_code_for"]


class ExitCode(IntEnum):
    """Process exit status of a ``robo`` command."""

    OK = 0
    FAILED = 1
    INPUT_ERROR = 2
    ENGINE_ERROR = 3
    NEEDS_APPROVAL = 4
    USAGE_ERROR = 64
    INTERRUPTED = 130


#: Errors that mean "the input is wrong": the user fixes the file, setting, argument or id and runs again.
_INPUT_ERRORS: tuple[type[EngineError], ...] = (
    ConfigError, DataError, NotFound, Conflict, PlanningError, TaxRuleError,
)


def exit_code_for(exc: EngineError) -> ExitCode:
    """``INPUT_ERROR`` for bad input (config, data, unknown ids, conflicts), ``ENGINE_ERROR`` otherwise."""
    if isinstance(exc, _INPUT_ERRORS) and not isinstance(exc, BrokerError):
        return ExitCode.INPUT_ERROR
    return ExitCode.ENGINE_ERROR
