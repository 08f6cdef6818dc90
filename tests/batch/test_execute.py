"""BatchOptions(execute=True): proposals executed through each household's broker (behind the rails), failures
recorded, holdings stored."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from brokers import rails_for
from engine.batch import BatchOptions, BatchProgress, Day, ExecutionStatus, Executor, run_batch, synthetic
from engine.engine import ApprovalRules, EngineConfig
from engine.errors import BrokerError, BrokerUnavailable, ConfigError
from engine.model import ProposalStatus

# Planned on Wednesday: sells fill at Thursday's close, buys (sized to the cash the sells freed) at Friday's.
AS_OF = date(2026, 7, 29)

RAILS = rails_for()  # the settings' rails; a simulated broker's orders queue for its next bar


@pytest.fixture(scope="module")
def market():
    from engine.data import MarketData

    return MarketData.embedded()


@pytest.fixture(scope="module")
def day(market) -> Day:
    # no size rule holds these synthetic households back (they start far from their targets): all may trade
    rules = ApprovalRules(first_run=False, max_turnover=10.0, max_order_fraction=1.0)
    return Day.build(market, AS_OF, config=EngineConfig(approval=rules, mandate_paths=500))


@pytest.fixture(scope="module")
def households():
    return synthetic(6, seed=3, as_of=AS_OF)


def _sim(market, universe):
    from brokers import SimulatedBroker

    def broker_for(household):
        positions: dict[str, dict[str, Decimal]] = {}
        for lot in household.lots:
            held = positions.setdefault(lot.account, {})
            held[lot.symbol] = held.get(lot.symbol, Decimal(0)) + lot.shares
        return SimulatedBroker(market.prices, accounts={a.id: a.cash for a in household.accounts}, start=AS_OF,
                               positions=positions, assets=universe)

    return broker_for


def _holdings(household, account):
    shares: dict[str, Decimal] = {}
    for lot in household.lots:
        if lot.account == account:
            shares[lot.symbol] = shares.get(lot.symbol, Decimal(0)) + lot.shares
    return shares


def test_a_batch_executes_each_proposal_and_stores_what_the_broker_holds(tmp_path, market, day, households):
    from engine.store import Store

    brokers: dict = {}
    sim = _sim(market, day.universe)

    def broker_for(household):
        brokers[household.id] = sim(household)
        return brokers[household.id]

    seen: list[BatchProgress] = []
    with Store(f"sqlite:///{tmp_path / 'robo.db'}") as store:
        store.upgrade()
        result = run_batch(
            households,
            AS_OF,
            BatchOptions(
                executor=Executor.PROCESSES,
                workers=2,
                day=day,
                store=store,
                execute=True,
                rails=RAILS,
                broker_for=broker_for,
                progress=seen.append,
            ),
        )
        executed = [e for e in result.executions.values() if e.status is ExecutionStatus.EXECUTED]
        assert len(executed) >= 3 and set(result.executions) == set(result.proposals)
        assert result.execute_seconds > 0
        for e in executed:
            proposal = result.proposals[e.household]
            assert e.ok and e.fills == e.orders > 0 and e.errors == () and e.discrepancies == ()
            assert store.proposals.get(proposal.id).status is ProposalStatus.EXECUTED
            assert len(store.fills.for_household(e.household)) == e.fills
            broker = brokers[e.household]
            stored = store.households.get(e.household)
            for account in stored.accounts:  # the next night plans from what was traded
                assert _holdings(stored, account.id) == {p.symbol: p.qty for p in broker.positions(account.id)}
                assert account.cash == broker.account(account.id).cash
        lines = store.runs.get(result.run_id).summary["results"]
        assert all(lines[e.household]["execution"]["status"] == "executed" for e in executed)
        assert store.runs.get(result.run_id).summary["executions"]["executed"] == len(executed)
    phases = [p.phase for p in seen]
    assert phases[0] == "plan" and phases[-1] == "execute" and seen[-1].done == seen[-1].total == len(result.planned)


class _Refusing:
    """A broker whose every submit fails (an outage after the orders were built)."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def submit(self, order):
        raise BrokerError("planted: the broker refused the order", status=403)


def test_broker_failures_and_approvals_are_recorded_and_the_batch_goes_on(tmp_path, market, day, households):
    from engine.store import Store

    sim = _sim(market, day.universe)
    refused, unreachable = households[0].id, households[1].id

    def broker_for(household):
        if household.id == unreachable:
            raise BrokerUnavailable("planted: cannot connect")
        return _Refusing(sim(household)) if household.id == refused else sim(household)

    strict = Day.build(market, AS_OF, config=EngineConfig(mandate_paths=500))  # default rules: big changes wait
    with Store(f"sqlite:///{tmp_path / 'robo.db'}") as store:
        store.upgrade()
        loose = run_batch(
            households,
            AS_OF,
            BatchOptions(
                executor=Executor.INLINE, day=day, store=store, execute=True, rails=RAILS, broker_for=broker_for
            ),
        )
        ex = loose.executions
        assert ex[refused].status is ExecutionStatus.FAILED and "planted" in ex[refused].errors[0]
        assert ex[refused].fills == 0 and store.proposals.get(loose.proposals[refused].id).status is (
            ProposalStatus.FAILED
        )
        by_id = sorted(store.households.get(refused).lots, key=lambda lot: lot.id)
        assert by_id == sorted(households[0].lots, key=lambda lot: lot.id)  # nothing traded, nothing changed
        assert ex[unreachable].status is ExecutionStatus.ERROR and "BrokerUnavailable" in ex[unreachable].errors[0]
        assert store.proposals.get(loose.proposals[unreachable].id).status is ProposalStatus.PROPOSED
        others = [e for h, e in ex.items() if h not in (refused, unreachable)]
        assert others and all(e.status is ExecutionStatus.EXECUTED for e in others)
    waiting = run_batch(
        households[2:4],
        AS_OF,
        BatchOptions(executor=Executor.INLINE, day=strict, execute=True, rails=RAILS, broker_for=broker_for),
    )
    for e in waiting.executions.values():
        proposal = waiting.proposals[e.household]
        assert proposal.needs_approval and e.status is ExecutionStatus.AWAITING_APPROVAL and e.ok and e.orders == 0


def test_execute_needs_a_broker_per_household(day, households):
    with pytest.raises(ConfigError, match="broker_for"):
        run_batch(households[:1], AS_OF, BatchOptions(executor=Executor.INLINE, day=day, execute=True, rails=RAILS))


def test_threads_execute_the_same_orders(market, day, households):
    sim = _sim(market, day.universe)
    one = run_batch(
        households, AS_OF, BatchOptions(executor=Executor.INLINE, day=day, execute=True, rails=RAILS, broker_for=sim)
    )
    two = run_batch(
        households,
        AS_OF,
        BatchOptions(executor=Executor.INLINE, day=day, execute=True, rails=RAILS, broker_for=sim, execute_threads=3),
    )
    assert {h: (e.status, e.orders, e.fills) for h, e in one.executions.items()} == {
        h: (e.status, e.orders, e.fills) for h, e in two.executions.items()
    }


def test_a_households_first_proposal_waits_for_a_human_in_a_batch_too(tmp_path, market, day, households):
    from engine.engine import FIRST_RUN_REASON
    from engine.store import Store

    sim = _sim(market, day.universe)
    thursday = date(2026, 7, 30)
    rules = ApprovalRules(first_run=True, max_turnover=10.0, max_order_fraction=1.0)  # only the first-run rule
    first_run_only = Day.build(market, thursday, config=EngineConfig(approval=rules, mandate_paths=500))
    with Store(f"sqlite:///{tmp_path / 'robo.db'}") as store:
        store.upgrade()
        traded = run_batch(
            households[:2],
            AS_OF,
            BatchOptions(executor=Executor.INLINE, day=day, store=store, execute=True, rails=RAILS, broker_for=sim),
        )
        assert {e.status for e in traded.executions.values()} == {ExecutionStatus.EXECUTED}
        mixed = [store.households.get(h.id) for h in households[:2]] + list(households[2:4])  # traded, then new
        later = run_batch(mixed, thursday, BatchOptions(executor=Executor.INLINE, day=first_run_only, store=store))
        for h in mixed:
            proposal = later.proposals.get(h.id)
            if proposal is None or not proposal.orders:
                continue
            assert (FIRST_RUN_REASON in proposal.approval_reasons) is (h.id not in traded.executions)
            assert store.proposals.get(proposal.id).needs_approval is (h.id not in traded.executions)


def test_a_batch_stores_the_loss_sales_of_what_it_sold(tmp_path, market, day, household):
    """The sample household's plan sells its BND lot at a loss: the stored household keeps that sale's window."""
    from engine.store import Store

    with Store(f"sqlite:///{tmp_path / 'robo.db'}") as store:
        store.upgrade()
        result = run_batch(
            [household],
            AS_OF,
            BatchOptions(
                executor=Executor.INLINE,
                day=day,
                store=store,
                execute=True,
                rails=RAILS,
                broker_for=_sim(market, day.universe),
            ),
        )
        assert result.executions[household.id].status is ExecutionStatus.EXECUTED
        stored = store.households.get(household.id)
        fills = store.fills.for_household(household.id)
    (sold,) = [f for f in fills if f.account == "brokerage" and f.symbol == "BND"]
    (lot,) = [lot for lot in household.lots if lot.account == "brokerage" and lot.symbol == "BND"]
    cents = Decimal("0.01")
    proceeds = (sold.qty * sold.price - sold.fees).quantize(cents)
    basis = (lot.basis * sold.qty / lot.shares).quantize(cents)  # the optimizer may leave a 1e-9 share behind
    assert proceeds < basis
    (sale,) = [s for s in stored.loss_sales if s.symbol == "BND"]
    assert (sale.account, sale.sold, sale.acquired, sale.shares, sale.loss, sale.lot_id) == (
        "brokerage",
        sold.at.date(),
        lot.acquired,
        sold.qty,
        basis - proceeds,
        lot.id,
    )
    bought = {f.symbol for f in fills if f.side.value == "buy"}
    assert not {s.symbol for s in stored.loss_sales} & bought  # nothing bought back: every stored sale still open
