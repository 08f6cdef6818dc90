"""Idempotent submission and waiting live in the engine (``engine.execution``); re-exported here for brokers users.

    from brokers import submit_all, wait_for_final
"""

from engine.execution import submit_all, wait_for_final

__all__ = ["submit_all", "wait_for_final"]
