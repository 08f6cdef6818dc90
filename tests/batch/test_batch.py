"""run_batch: the same proposals with every executor, planted failures recorded, persistence, progress."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from engine.batch import (
    BatchOptions,
    BatchProgress,
    Day,
    Executor,
    OutcomeStatus,
    chunk_households,
    plan_one,
    proposal_id,
    run_batch,
    shape_hint,
    synthetic,
    worker_cache,
)
from engine.errors import ConfigError
from engine.model import Lot, RiskProfile, Values

AS_OF = date(2026, 7, 31)
N = 10


@pytest.fixture(scope="module")
def day() -> Day:
    from engine.data import MarketData

    d = Day.build(MarketData.embedded(), AS_OF)
    assert d.as_of == AS_OF and len(d.tickers) >= 16 and d.estimates.mu.shape == (len(d.tickers),)
    return d


@pytest.fixture(scope="module")
def households(day):
    hs = synthetic(N, seed=11, as_of=AS_OF)
    assert len(hs) == N and len({h.id for h in hs}) == N
    return hs


@pytest.fixture(scope="module")
def inline(day, households):
    result = run_batch(households, AS_OF, BatchOptions(executor=Executor.INLINE, day=day))
    assert [o.household for o in result.outcomes] == [h.id for h in households]
    return result


# Solves agree to the solver's tolerance, not to the bit (thread scheduling in BLAS and a re-used compiled problem
# change the last digits): sizes must agree within 1e-6 shares + 1e-7 of the size (a 500-share order: 5e-5 shares,
# well under a cent) and weights within 1e-6; everything else exactly.
QTY_TOL = Decimal("1e-6")
QTY_REL = Decimal("1e-7")


def _same_orders(a, b) -> bool:
    if len(a.orders) != len(b.orders):
        return False
    for x, y in zip(a.orders, b.orders, strict=True):
        if (x.client_order_id, x.account, x.symbol, x.side, x.notional, x.lots) != (
            y.client_order_id, y.account, y.symbol, y.side, y.notional, y.lots
        ):
            return False
        if (x.qty is None) != (y.qty is None):
            return False
        if x.qty is not None and abs(x.qty - y.qty) > QTY_TOL + QTY_REL * max(x.qty, y.qty):
            return False
    return True


def _same_book(r1, r2) -> bool:
    """What must not depend on the executor: per household, orders (id, account, symbol, side, size) and targets."""
    if r1.proposals.keys() != r2.proposals.keys():
        return False
    for hid, p in r1.proposals.items():
        q = r2.proposals[hid]
        if not _same_orders(p, q) or p.targets.keys() != q.targets.keys():
            return False
        if any(abs(p.targets[k] - q.targets[k]) > 1e-6 for k in p.targets):
            return False
    return True


def test_inline_plans_every_household_with_deterministic_ids(inline, households, day):
    # the engine finds a few synthetic households infeasible (a tight liquidity reserve, say): recorded, typed
    assert all(o.status is OutcomeStatus.FAILED and o.error_type for o in inline.failed)
    assert len(inline.planned) >= N - 2
    for h in households:
        if h.id not in inline.proposals:
            continue
        p = inline.proposals[h.id]
        assert p.id == proposal_id(h, day) == f"batch-20260731-{h.id}"
        assert p.as_of == AS_OF and p.household == h.id
        assert all(o.client_order_id.startswith(p.id) for o in p.orders)
        assert all(0 <= w <= 1 + 1e-9 for w in p.targets.values()) and sum(p.targets.values()) <= 1 + 1e-6
    assert any(p.orders for p in inline.proposals.values())
    assert inline.seconds > 0 and inline.households_per_second > 0 and 0 < inline.cpu_seconds < 60


def test_process_pool_gives_the_same_proposals(inline, households, day):
    result = run_batch(households, AS_OF, BatchOptions(executor=Executor.PROCESSES, workers=2, day=day, chunk_size=3))
    assert result.executor is Executor.PROCESSES and result.workers == 2
    assert _same_book(result, inline)
    assert 1 <= len(result.memory) <= 2 and result.cpu_seconds > 0
    for mem in result.memory.values():
        assert mem.peak_rss >= mem.last_rss > 0 and mem.compiled >= 1


def test_dask_local_cluster_gives_the_same_proposals(inline, households, day):
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        result = run_batch(
            households, AS_OF, BatchOptions(executor=Executor.DASK, day=day, client=client, chunk_size=3)
        )
        assert client.status == "running"  # a client passed in is left open for its owner
    assert result.executor is Executor.DASK
    assert _same_book(result, inline)


def test_planted_failures_are_recorded_and_the_batch_goes_on(day, households, inline):
    gap = households[0]
    lot = gap.lots[0]
    gap = replace(gap, lots=(*gap.lots, Lot("gap-lot", lot.account, "ZZZZ", Decimal(3), Decimal(300), lot.acquired)))
    infeasible = replace(households[1], risk=RiskProfile(willingness=2), values=Values(min_esg_score=9.9))
    batch = [gap, infeasible, *households[2:6]]
    result = run_batch(batch, AS_OF, BatchOptions(executor=Executor.PROCESSES, workers=2, day=day, chunk_size=2))
    by_id = {o.household: o for o in result.outcomes}
    assert by_id[gap.id].status is not OutcomeStatus.PLANNED and by_id[gap.id].proposal is None
    assert "ZZZZ" in by_id[gap.id].error  # a holding without a price today: a data gap
    assert by_id[infeasible.id].status is OutcomeStatus.FAILED
    assert by_id[infeasible.id].error_type == "Infeasible" and "ESG floor" in by_id[infeasible.id].error
    expected = [h.id for h in households[2:6] if h.id in inline.proposals]
    assert [o.household for o in result.planned] == expected
    counts = result.summary()["counts"]
    assert counts["planned"] == len(expected) and sum(counts.values()) == len(batch)
    assert result.summary()["results"][infeasible.id]["error_type"] == "Infeasible"


def test_an_unexpected_exception_is_an_error_outcome(day, households):
    broken = replace(day, engine=object())  # no plan method: a bug, not an EngineError
    outcome = plan_one(households[0], broken)
    assert outcome.status is OutcomeStatus.ERROR and outcome.error_type == "AttributeError" and not outcome.ok


def test_chunks_group_households_by_problem_shape(households):
    chunks = chunk_households(households, 3)
    assert sorted(h.id for c in chunks for h in c) == sorted(h.id for h in households)
    assert all(1 <= len(c) <= 3 for c in chunks)
    assert all(len({shape_hint(h) for h in c}) == 1 for c in chunks)
    with pytest.raises(ConfigError, match="chunk_size"):
        chunk_households(households, 0)


def test_a_worker_compiles_each_shape_once(day, households):
    cache = worker_cache()
    run_batch(households, AS_OF, BatchOptions(executor=Executor.INLINE, day=day))
    before = cache.stats()
    again = run_batch(households, AS_OF, BatchOptions(executor=Executor.INLINE, day=day))
    after = cache.stats()
    assert after.misses == before.misses  # the second batch compiles nothing: every shape is cached
    assert after.hits >= before.hits + len(households)
    assert len(again.outcomes) == len(households)


def test_progress_reports_rate_and_eta(day, households):
    seen: list[BatchProgress] = []
    run_batch(
        households[:6], AS_OF, BatchOptions(executor=Executor.INLINE, day=day, chunk_size=2, progress=seen.append)
    )
    assert seen[0].done == 0 and seen[-1].done == seen[-1].total == 6
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    assert seen[-1].rate > 0 and seen[-1].eta == 0
    assert all(p.eta is None or p.eta >= 0 for p in seen)


def test_results_are_persisted_per_household(tmp_path, day, households, inline):
    from engine.store import Store

    gap = replace(households[0], risk=RiskProfile(willingness=2), values=Values(min_esg_score=9.9))
    with Store(f"sqlite:///{tmp_path / 'robo.db'}") as store:
        store.upgrade()
        store.households.add(households[1])
        result = run_batch([gap, *households[1:4]], AS_OF, BatchOptions(executor=Executor.INLINE, day=day, store=store))
        run = store.runs.get(result.run_id)
        assert run.kind == "batch" and run.status.value == "succeeded"
        assert run.config["as_of"] == "2026-07-31" and run.config["households"] == 4
        lines = run.summary["results"]
        assert lines[gap.id]["status"] == "failed" and lines[gap.id]["error_type"] == "Infeasible"
        for h in (h for h in households[1:4] if h.id in inline.proposals):
            assert lines[h.id]["proposal"] == proposal_id(h, day)
            stored = store.proposals.get(proposal_id(h, day))
            assert [o.client_order_id for o in stored.orders] == [
                o.client_order_id for o in result.proposals[h.id].orders
            ]
        assert gap.id not in store.households.list()  # a failed household is not added to the store
        again = run_batch(households[1:2], AS_OF, BatchOptions(executor=Executor.INLINE, day=day, store=store))
        line = store.runs.get(again.run_id).summary["results"][households[1].id]
        assert "Conflict" in line["persist_error"]  # the same day's proposal is not stored twice


def test_a_failed_group_write_falls_back_to_one_proposal_at_a_time(tmp_path, day, households, inline, monkeypatch):
    from engine.errors import StoreError
    from engine.store import Store

    with Store(f"sqlite:///{tmp_path / 'robo.db'}") as store:
        store.upgrade()

        add_many = store.proposals.add_many

        def locked(proposals, **kw):  # a group's transaction fails as a whole; one proposal at a time succeeds
            if len(proposals) > 1:
                raise StoreError("database error: database is locked", fix="retry")
            return add_many(proposals, **kw)

        monkeypatch.setattr(store.proposals, "add_many", locked)
        batch = [h for h in households if h.id in inline.proposals][:3]
        store.households.add(batch[0])
        store.proposals.add(inline.proposals[batch[0].id])  # this one is a real conflict
        result = run_batch(batch, AS_OF, BatchOptions(executor=Executor.INLINE, day=day, store=store))
        lines = store.runs.get(result.run_id).summary["results"]
        assert "Conflict" in lines[batch[0].id]["persist_error"]
        for h in batch[1:]:
            assert "persist_error" not in lines[h.id]
            assert store.proposals.get(proposal_id(h, day)).orders == result.proposals[h.id].orders


def test_bad_arguments_are_config_errors(day, households):
    with pytest.raises(ConfigError, match="duplicate household"):
        run_batch([households[0], households[0]], AS_OF, BatchOptions(executor=Executor.INLINE, day=day))
    with pytest.raises(ConfigError, match="unknown executor"):
        run_batch(households[:1], AS_OF, BatchOptions(executor="threads", day=day))


# ---------------------------------------------------------------------------------------------
# Speed levers: batch Monte Carlo paths, kept mandates
# ---------------------------------------------------------------------------------------------


def test_a_batch_day_plans_mandates_with_fewer_paths(day, inline):
    from engine.batch import BATCH_MANDATE_PATHS

    assert day.engine.config.mandate_paths == BATCH_MANDATE_PATHS
    kept = next(iter(inline.mandates.values()))
    assert kept.mandate.details["paths"] == BATCH_MANDATE_PATHS


def test_fingerprint_is_stable_and_sees_goal_changes(households):
    from engine.batch import household_fingerprint

    h = households[0]
    assert household_fingerprint(h) == household_fingerprint(replace(h, lots=h.lots[:-1]))
    g = h.goals[0]
    changed = replace(h, goals=(replace(g, monthly_contribution=g.monthly_contribution + 1), *h.goals[1:]))
    assert household_fingerprint(changed) != household_fingerprint(h)
    tagged = replace(h, values=Values(exclude_tags=frozenset({"tobacco", "controversial_weapons", "gambling"})))
    assert household_fingerprint(tagged) == household_fingerprint(
        replace(h, values=Values(exclude_tags=frozenset({"gambling", "controversial_weapons", "tobacco"})))
    )


def test_kept_mandates_are_reused_until_the_household_changes_or_they_age(day, households, inline):
    from engine.batch import KeptMandate

    kept = inline.mandates
    assert set(kept) == {h.id for h in households}
    planned = [h for h in households if h.id in inline.proposals][:3]
    again = run_batch(
        planned, AS_OF, BatchOptions(executor=Executor.INLINE, day=day, mandates=kept, mandate_max_age_days=7)
    )
    for o in again.outcomes:
        assert o.mandate is kept[o.household]  # reused, not rebuilt
        if o.proposal is not None:
            assert _same_orders(o.proposal, inline.proposals[o.household])
    h = households[0]
    changed = replace(h, monthly_expenses=h.monthly_expenses + 100)
    old = KeptMandate(kept[h.id].fingerprint, replace(kept[h.id].mandate, as_of=date(2026, 7, 1)))
    out = run_batch(
        [changed, households[1]],
        AS_OF,
        BatchOptions(
            executor=Executor.INLINE,
            day=day,
            mandates={h.id: kept[h.id], households[1].id: old},
            mandate_max_age_days=7,
        ),
    )
    assert out.outcomes[0].mandate is not kept[h.id]  # household changed: rebuilt
    assert out.outcomes[1].mandate is not old and out.outcomes[1].mandate.mandate.as_of == AS_OF  # too old


def test_a_pool_hands_back_the_callers_own_kept_mandates(day, households, inline):
    # A reused mandate does not travel back from the worker: the outcome carries the caller's own object
    # (identity), a rebuilt one a new mandate; nothing else about the outcome changes.
    kept = dict(inline.mandates)
    h = households[0]
    changed = replace(h, monthly_expenses=h.monthly_expenses + 100)
    batch = [changed, *households[1:4]]
    out = run_batch(
        batch,
        AS_OF,
        BatchOptions(
            executor=Executor.PROCESSES, workers=2, day=day, chunk_size=2, mandates=kept, mandate_max_age_days=7
        ),
    )
    assert out.outcomes[0].mandate is not kept[h.id] and out.outcomes[0].mandate.fingerprint != kept[h.id].fingerprint
    for o in out.outcomes[1:]:
        assert o.mandate is kept[o.household]
    assert _same_book(
        out,
        run_batch(batch, AS_OF, BatchOptions(executor=Executor.INLINE, day=day, mandates=kept, mandate_max_age_days=7)),
    )


def test_in_process_batch_restores_the_garbage_collector(day, households):
    import gc

    before = (gc.get_threshold(), gc.get_freeze_count())  # other tests may have settled this process like a worker
    run_batch(households[:2], AS_OF, BatchOptions(executor=Executor.INLINE, day=day))
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_a_pool_that_spawns_its_workers_sends_them_the_chunks(day, households, inline, monkeypatch):
    # macOS and Windows spawn workers (nothing inherited): each task then carries its chunk and kept mandates.
    import multiprocessing

    import engine.batch.pool as pool

    monkeypatch.setattr(pool, "_pool_context", lambda: multiprocessing.get_context("spawn"))
    batch = households[:3]
    out = run_batch(
        batch,
        AS_OF,
        BatchOptions(
            executor=Executor.PROCESSES,
            workers=1,
            day=day,
            chunk_size=2,
            mandates=inline.mandates,
            mandate_max_age_days=7,
        ),
    )
    assert [o.household for o in out.outcomes] == [h.id for h in batch]
    assert all(o.mandate is inline.mandates[o.household] for o in out.outcomes)
    assert _same_book(out, run_batch(batch, AS_OF, BatchOptions(executor=Executor.INLINE, day=day)))
