"""Shared fixtures, loaded once per session with their shape pinned."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest_plugins = ["tests.db_fixtures"]  # store fixtures shared by the store and scheduler suites

# Property tests: in CI (CI=true) hypothesis replays a fixed set of examples, so a landing never turns red on a
# new random draw; on a developer's machine it keeps exploring (and saves what it finds in .hypothesis/).
try:
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        _hypothesis_settings.load_profile("ci")
except ImportError:  # pragma: no cover - hypothesis is a test dependency
    pass

# Tolerances, set once (CONTRIBUTING.md habit 11).
WEIGHT_TOL = 1e-6
MONEY_TOL = 0.005


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own ROBO_HOME so nothing touches ~/.adaptive-robo or a shared database."""
    home = tmp_path_factory.mktemp("robo-home")
    monkeypatch.setenv("ROBO_HOME", str(home))
    monkeypatch.delenv("ROBO_DATABASE_URL", raising=False)
    yield home


@pytest.fixture(scope="session")
def universe():
    from engine.config import load_universe

    u = load_universe()
    assert len(u) == 26
    return u


@pytest.fixture(scope="session")
def household(universe):
    from engine.config import load_household

    h = load_household(universe=universe)
    assert h.id == "rivera" and len(h.accounts) == 4 and len(h.lots) == 12
    return h


@pytest.fixture(scope="session")
def postgres_url():
    """PostgreSQL URL from ROBO_TEST_DATABASE_URL; skips without it unless ROBO_REQUIRE_POSTGRES=1."""
    url = os.environ.get("ROBO_TEST_DATABASE_URL")
    if not url:
        if os.environ.get("ROBO_REQUIRE_POSTGRES") == "1":
            pytest.fail("ROBO_REQUIRE_POSTGRES=1 but ROBO_TEST_DATABASE_URL is not set")
        pytest.skip(_PG_SKIP)
    return url


_PG_SKIP = "set ROBO_TEST_DATABASE_URL to run the PostgreSQL tests"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    """One line at the end when PostgreSQL tests were skipped, and why, so a green run never hides them."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if _PG_SKIP in str(getattr(r, "longrepr", ""))]
    if skipped:
        terminalreporter.write_line(
            f"PostgreSQL: {len(skipped)} test(s) skipped because ROBO_TEST_DATABASE_URL is not set; "
            "export ROBO_TEST_DATABASE_URL=postgresql+psycopg://USER@HOST:5432/DB to run them (.ci/run does)",
            yellow=True,
        )
