"""Fixtures for the broker tests: one local Alpaca server per session (reset per test), a fake clock."""

from __future__ import annotations

import pytest

from tests.brokers._alpaca_server import KEY_ID, SECRET, FakeClock, LocalAlpaca

PRICES = {"VTI": "250.12", "BND": "72.50", "VEA": "48.31", "BRK": "400"}


@pytest.fixture(scope="session")
def _server():
    srv = LocalAlpaca(stall=0.6)
    yield srv
    srv.close()


@pytest.fixture
def server(_server):
    """The local Alpaca, reset: 10,000 USD cash, 10 BND, BRK not fractionable, market open, no faults.

    A new fake clock per test also gives each test its own client-side rate limiter (one per key and clock).
    """
    _server.chaos_rate = 0.0
    _server.partial_rate = 0.0
    _server.unique_client_order_ids = True
    _server.fill_every = None
    _server.rate_limit = 200
    _server.clock = FakeClock()
    _server.reset(cash="10000", prices=PRICES, positions={"BND": "10"}, fractionable={"BRK": False})
    return _server


@pytest.fixture
def alpaca(server):
    """An AlpacaBroker on the local server; sleeping only moves the fake clock."""
    from brokers.alpaca import AlpacaBroker

    return AlpacaBroker(KEY_ID, SECRET, url_override=server.url, account="brokerage", timeout=0.25,
                        sleep=server.clock.sleep, wall=server.clock.time)
