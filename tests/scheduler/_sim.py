"""Test doubles with real state: a simulated broker shared by processes, and a runner that trades through it.

The broker keeps its orders in a table keyed by ``client_order_id`` (PRIMARY KEY) in the test's database
schema — a second submit of the same id is refused by the database, the way Alpaca refuses a duplicate
client order id. Orders fill at once at a fixed price; fills are keyed by fill id.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Column, MetaData, Numeric, String, Table, create_engine, insert, select
from sqlalchemy.exc import IntegrityError

from engine.errors import BrokerError, NotFound
from engine.model import Fill, Household, Order, OrderSide, Proposal, RunKind
from engine.scheduler import JobContext, JobKind, JobOutcome
from engine.store import Store

PRICE = Decimal("100")
SYMBOLS = ("VTI", "VXUS", "BND", "VNQ", "TIP")
FILLED_AT = datetime(2024, 11, 27, 20, 5, tzinfo=UTC)

_meta = MetaData()
ORDERS = Table(
    "sim_broker_orders",
    _meta,
    Column("client_order_id", String, primary_key=True),
    Column("household", String, nullable=False),
    Column("account", String, nullable=False),
    Column("symbol", String, nullable=False),
    Column("side", String, nullable=False),
    Column("qty", Numeric(28, 10), nullable=False),
)


class DuplicateOrder(BrokerError):
    """The broker already has an order with this client_order_id."""


class SharedBroker:
    """A simulated broker whose state lives in the database, shared by every process of a test."""

    def __init__(self, url: str) -> None:
        self._engine = create_engine(url)

    def create(self) -> SharedBroker:
        _meta.create_all(self._engine)
        return self

    def order(self, client_order_id: str) -> dict | None:
        """The order with this client id, or None (how a worker checks before resubmitting)."""
        with self._engine.connect() as conn:
            row = conn.execute(select(ORDERS).where(ORDERS.c.client_order_id == client_order_id)).mappings().first()
            return dict(row) if row is not None else None

    def submit(self, order: Order, household: str) -> None:
        """Accept (and at once fill) ``order``; a duplicate client order id raises ``DuplicateOrder``."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(ORDERS).values(
                        client_order_id=order.client_order_id,
                        household=household,
                        account=order.account,
                        symbol=order.symbol,
                        side=order.side.value,
                        # a notional (USD) order fills at PRICE, as Alpaca fills a notional buy: shares = USD / price
                        qty=order.qty if order.qty is not None else (order.notional / PRICE).quantize(Decimal("1e-9")),
                    )
                )
        except IntegrityError as exc:
            raise DuplicateOrder(
                f"duplicate client_order_id {order.client_order_id}", status=422,
                client_order_id=order.client_order_id,
            ) from exc

    def fills(self, household: str) -> list[Fill]:
        """Every fill of the household's orders (one per order, at ``PRICE``)."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(ORDERS).where(ORDERS.c.household == household)).mappings().all()
        return [
            Fill(r["client_order_id"], r["account"], r["symbol"], OrderSide(r["side"]), Decimal(r["qty"]), PRICE,
                 FILLED_AT, id=f"{r['client_order_id']}-fill")
            for r in rows
        ]

    def all_orders(self) -> list[dict]:
        with self._engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(ORDERS)).mappings().all()]

    def close(self) -> None:
        self._engine.dispose()


class SimRunner:
    """A ``CycleRunner`` that trades a deterministic proposal per cycle through a ``SharedBroker``.

    Drift checks and reactions place ``orders_per_cycle`` buys; the harvest scan and market jobs only report;
    the account sync books the broker's fills into the store. ``hang=(household, n)`` blocks forever after the
    household's n-th order (to be killed there); ``fail`` names (job, household) pairs that raise.
    """

    def __init__(
        self,
        store: Store,
        broker: SharedBroker,
        *,
        orders_per_cycle: int = 3,
        hang: tuple[str, int] | None = None,
        hang_file: Path | None = None,
        fail: set[tuple[JobKind, str]] | None = None,
        deposits: dict[str, Decimal] | None = None,
    ) -> None:
        self.store = store
        self.broker = broker
        self.orders_per_cycle = orders_per_cycle
        self.hang = hang
        self.hang_file = hang_file
        self.fail = fail or set()
        self.deposits = deposits or {}
        self.calls: list[JobContext] = []

    def run(self, ctx: JobContext) -> JobOutcome:
        self.calls.append(ctx)
        if ctx.household is not None and (ctx.job, ctx.household) in self.fail:
            raise RuntimeError(f"simulated failure of {ctx.job} for {ctx.household}")
        if ctx.job in (JobKind.DRIFT_CHECK, JobKind.REACT):
            return self._cycle(ctx)
        if ctx.job is JobKind.ACCOUNT_SYNC:
            assert ctx.household is not None
            new = sum(self.store.fills.add(f, household=ctx.household) for f in self.broker.fills(ctx.household))
            deposit = self.deposits.get(ctx.household, Decimal(0))
            wake = (("deposit", f"deposit:{ctx.trading_day}"),) if deposit >= Decimal(5000) else ()
            return JobOutcome(fills=new, notes={"deposit": str(deposit)}, wake=wake)
        return JobOutcome(notes={"job": ctx.job.value})

    def _cycle(self, ctx: JobContext) -> JobOutcome:
        assert ctx.household is not None
        try:
            proposal = self.store.proposals.get(ctx.proposal_id)
            existed = True
        except NotFound:
            proposal = self._proposal(ctx)
            self.store.proposals.add(proposal, actor="scheduler")
            existed = False
        look_up_first = ctx.resumed or existed  # an earlier attempt may have reached the broker
        for i, order in enumerate(proposal.orders):
            if self.hang is not None and self.hang == (ctx.household, i):
                if self.hang_file is not None:
                    self.hang_file.write_text(ctx.run_id)
                threading.Event().wait()  # killed here with SIGKILL
            ctx.heartbeat()  # fencing: never submit after losing the claim
            if look_up_first and self.broker.order(order.client_order_id) is not None:
                continue
            self.broker.submit(order, ctx.household)
        booked = sum(self.store.fills.add(f, household=ctx.household) for f in self.broker.fills(ctx.household))
        return JobOutcome(
            proposal_ids=(proposal.id,),
            client_order_ids=tuple(o.client_order_id for o in proposal.orders),
            fills=booked,
        )

    def _proposal(self, ctx: JobContext) -> Proposal:
        assert ctx.household is not None
        orders = tuple(
            Order(f"{ctx.proposal_id}-{i:03d}", "brokerage", SYMBOLS[i % len(SYMBOLS)], OrderSide.BUY,
                  qty=Decimal(i + 1))
            for i in range(self.orders_per_cycle)
        )
        return Proposal(ctx.proposal_id, ctx.household, ctx.trading_day, ctx.now, ctx.job.value,
                        RunKind.FULL_REBALANCE, {}, orders)


def households(template: Household, n: int) -> list[Household]:
    """``n`` copies of the sample household with ids h00, h01, ..."""
    return [replace(template, id=f"h{i:02d}", name=f"Household {i:02d}") for i in range(n)]


class HouseholdBroker:
    """One household's view of a ``SharedBroker`` as an ``engine.model.broker.Broker``, for the real ``Engine``.

    Orders fill at once at ``PRICE`` (cash is ample); ``hang=(household, n)`` blocks forever before the
    household's n-th order reaches the broker, after writing ``hang_file`` (to be killed there).
    """

    CASH = Decimal(10_000_000)

    def __init__(self, shared: SharedBroker, household: str, *, hang: tuple[str, int] | None = None,
                 hang_file: Path | None = None) -> None:
        self.shared = shared
        self.household = household
        self.hang = hang
        self.hang_file = hang_file

    def _mine(self) -> list[dict]:
        return [o for o in self.shared.all_orders() if o["household"] == self.household]

    def _view(self, row: dict):
        from engine.model.broker import BrokerOrder, BrokerOrderStatus

        return BrokerOrder(id=f"shared-{row['client_order_id']}", client_order_id=row["client_order_id"],
                           account=row["account"], symbol=row["symbol"], side=OrderSide(row["side"]),
                           status=BrokerOrderStatus.FILLED, submitted_at=FILLED_AT, qty=Decimal(row["qty"]),
                           filled_qty=Decimal(row["qty"]), filled_avg_price=PRICE, updated_at=FILLED_AT)

    def account(self, account: str | None = None):
        from engine.model.broker import AccountInfo

        return AccountInfo(account or "brokerage", self.CASH, self.CASH, self.CASH)

    def positions(self, account: str | None = None):
        from engine.model.broker import BrokerPosition

        held: dict[tuple[str, str], Decimal] = {}
        for o in self._mine():
            if account is None or o["account"] == account:
                key = (o["account"], o["symbol"])
                held[key] = held.get(key, Decimal(0)) + Decimal(o["qty"])
        return [BrokerPosition(a, s, q) for (a, s), q in sorted(held.items())]

    def asset(self, symbol: str):
        from engine.model.broker import AssetInfo

        return AssetInfo(symbol, tradable=True, fractionable=True)

    def clock(self):
        from engine.model.broker import MarketClock

        return MarketClock(FILLED_AT, True, FILLED_AT, FILLED_AT)

    def last_price(self, symbol: str) -> Decimal:
        return PRICE

    def submit(self, order: Order):
        if self.hang is not None and self.hang[0] == self.household and len(self._mine()) == self.hang[1]:
            if self.hang_file is not None:
                self.hang_file.write_text(order.client_order_id)
            threading.Event().wait()  # killed here with SIGKILL
        self.shared.submit(order, self.household)
        found = self.order(order.client_order_id)
        assert found is not None
        return found

    def order(self, client_order_id: str):
        row = self.shared.order(client_order_id)
        return self._view(row) if row is not None else None

    def orders(self, status: str = "open", account: str | None = None, *, after=None, symbols=None, limit=None):
        from engine.model.broker import select_orders

        mine = [self._view(o) for o in self._mine() if account is None or o["account"] == account]
        return select_orders(mine, status, after=after, symbols=symbols, limit=limit)

    def cancel(self, order_id: str) -> None:
        raise BrokerError(f"order {order_id} is filled; nothing to cancel", status=422)

    def fills(self, since: datetime, account: str | None = None) -> list[Fill]:
        return [f for f in self.shared.fills(self.household)
                if f.at >= since and (account is None or f.account == account)]


APPROVED_SYMBOLS = ("VTI", "BND", "VNQ")


def approved_proposal(store: Store, household: str, created: datetime, *, orders: int = 3) -> Proposal:
    """Store and approve proposal ``appr-<household>`` of ``orders`` buys (as a human would through the CLI)."""
    from engine.model import ProposalStatus

    pid = f"appr-{household}"
    proposal = Proposal(
        pid, household, created.date(), created, "manual", RunKind.FULL_REBALANCE, {},
        tuple(Order(f"{pid}-{i:03d}", "brokerage", APPROVED_SYMBOLS[i % 3], OrderSide.BUY, qty=Decimal(i + 1))
              for i in range(orders)),
        needs_approval=True, approval_reasons=("first run",),
    )
    store.proposals.add(proposal, actor="scheduler")
    return store.proposals.transition(pid, ProposalStatus.APPROVED, actor="alex", reason="looks fine")
