"""What the cycle hands back: an execution report and a sync report (plain, frozen values).

    report = cycle.execute(proposal_id)
    report.placed, report.advised, report.fills, report.discrepancies
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.model import Fill, Order, ProposalStatus
from engine.model.broker import BrokerOrder, Discrepancy
from engine.rebalancer import SkippedTrade

__all__ = ["ExecutionReport", "SyncReport"]


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """What happened when a proposal was executed: final status, orders placed (as last seen), advice, fills,
    skipped trades, reconciliation differences and errors (each naming the account)."""

    proposal_id: str
    status: ProposalStatus
    submitted: tuple[BrokerOrder, ...] = ()
    fills: tuple[Fill, ...] = ()
    skipped: tuple[SkippedTrade, ...] = ()
    discrepancies: tuple[Discrepancy, ...] = ()
    errors: tuple[str, ...] = ()
    advised: tuple[Order, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every broker order filled and the ledger matches the broker."""
        return self.status is ProposalStatus.EXECUTED and not self.discrepancies

    @property
    def working(self) -> tuple[BrokerOrder, ...]:
        """Orders still working at the broker when the wait ended (the next sync books their fills)."""
        return tuple(o for o in self.submitted if not o.final)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (money and shares as strings, exact)."""
        return {
            "proposal": self.proposal_id,
            "status": self.status.value,
            "placed": [{"client_order_id": o.client_order_id, "account": o.account, "symbol": o.symbol,
                        "side": o.side.value, "status": o.status.value,
                        "qty": _s(o.qty), "notional": _s(o.notional), "filled_qty": _s(o.filled_qty)}
                       for o in self.submitted],
            "advised": [{"client_order_id": o.client_order_id, "account": o.account, "symbol": o.symbol,
                         "side": o.side.value, "qty": _s(o.qty), "notional": _s(o.notional), "route": "advice"}
                        for o in self.advised],
            "filled": [{"client_order_id": f.client_order_id, "account": f.account, "symbol": f.symbol,
                        "side": f.side.value, "qty": _s(f.qty), "price": _s(f.price)} for f in self.fills],
            "skipped": [{"account": s.account, "symbol": s.symbol, "side": s.side.value, "reason": s.reason}
                        for s in self.skipped],
            "discrepancies": [_diff(d) for d in self.discrepancies],
            "errors": list(self.errors),
        }


@dataclass(frozen=True, slots=True)
class SyncReport:
    """Broker state read into the engine: positions per ``account:symbol``, cash per account (USD), new fills
    booked, differences between the store's lots and the broker, and the accounts adopted from the broker."""

    household: str
    positions: Mapping[str, Decimal]
    cash: Decimal
    new_fills: tuple[Fill, ...]
    discrepancies: tuple[Discrepancy, ...]
    adopted: tuple[str, ...] = ()
    cash_by_account: Mapping[str, Decimal] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (money and shares as strings, exact)."""
        return {
            "household": self.household,
            "positions": {k: _s(v) for k, v in self.positions.items()},
            "cash": _s(self.cash),
            "cash_by_account": {k: _s(v) for k, v in (self.cash_by_account or {}).items()},
            "new_fills": len(self.new_fills),
            "discrepancies": [_diff(d) for d in self.discrepancies],
            "adopted": list(self.adopted),
        }


def _s(x: Decimal | None) -> str | None:
    return None if x is None else f"{x.normalize():f}"


def _diff(d: Discrepancy) -> dict[str, Any]:
    return {"account": d.account, "symbol": d.symbol, "store": _s(d.ledger_qty), "broker": _s(d.broker_qty),
            "kind": d.kind.value}
