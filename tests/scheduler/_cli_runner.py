"""A ``--runner`` factory for the CLI tests: the simulated runner over a shared broker in the same database."""

from __future__ import annotations

from typing import Any

from tests.scheduler._sim import SharedBroker, SimRunner


def make(store: Any, config: Any) -> SimRunner:
    return SimRunner(store, SharedBroker(store.url).create())
