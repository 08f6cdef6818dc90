"""The broker-facing model: reconcile, statuses, value checks, and the protocol."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest

from brokers import (
    Broker,
    BrokerOrder,
    BrokerOrderStatus,
    DiscrepancyKind,
    GuardedBroker,
    SafetyPolicy,
    SimulatedBroker,
)
from engine.errors import ValidationError
from engine.model.broker import AccountInfo, reconcile


def test_reconcile_reports_each_kind_and_ignores_tolerance():
    found = reconcile(
        {"VTI": D("10"), "BND": D("5"), "VEA": D("1.0000000001"), "GLD": D(0)},
        {"VTI": D("9.5"), "IEF": D("2"), "VEA": D("1"), "bnd": D("5")},
        account="brokerage",
    )
    assert [(d.symbol, d.kind, d.difference) for d in found] == [
        ("IEF", DiscrepancyKind.MISSING_AT_BROKER, D("-2")),
        ("VTI", DiscrepancyKind.QUANTITY, D("0.5")),
    ]
    assert found[1].account == "brokerage" and "broker holds 10" in str(found[1])
    assert reconcile({"A": D(1)}, {}) [0].kind is DiscrepancyKind.MISSING_IN_LEDGER
    assert reconcile({"A": D(1)}, {"A": D("1.5")}, tolerance=D("0.6")) == []


def test_status_vocabulary():
    assert BrokerOrderStatus.parse("FILLED") is BrokerOrderStatus.FILLED
    assert BrokerOrderStatus.parse("calculated") is BrokerOrderStatus.OTHER
    finals = {s for s in BrokerOrderStatus if s.final}
    assert finals == {BrokerOrderStatus.FILLED, BrokerOrderStatus.CANCELED, BrokerOrderStatus.EXPIRED,
                      BrokerOrderStatus.REJECTED, BrokerOrderStatus.DONE_FOR_DAY}


def test_values_are_exact_and_aware():
    with pytest.raises(ValidationError, match="naive"):
        BrokerOrder("1", "c", "a", "VTI", "buy", "new", datetime(2026, 1, 2))
    o = BrokerOrder("1", "c", "a", "vti", "buy", "accepted", datetime(2026, 1, 2, tzinfo=UTC), qty="1.5")
    assert o.symbol == "VTI" and o.qty == D("1.5") and o.filled_qty == 0 and not o.final
    assert AccountInfo("a", 1, "2.5", 0).equity == D("2.5")


def test_implementations_satisfy_the_protocol(alpaca):
    sim = SimulatedBroker(lambda s, d: 1, accounts={"a": 1}, start=date(2026, 1, 2))
    assert isinstance(sim, Broker) and isinstance(alpaca, Broker)
    assert isinstance(GuardedBroker(sim, SafetyPolicy(max_data_age=None)), Broker)
