"""Many households at once: a cycle for thousands of accounts in-process, on a process pool, or on Dask.

    from engine.batch import Executor, run_batch, synthetic
    result = run_batch(synthetic(100, seed=1), date(2026, 7, 31), BatchOptions(Executor.PROCESSES, workers=2))

This package is the only home of Dask (imported lazily, only for ``Executor.DASK``).
"""

from engine.batch.day import BATCH_MANDATE_PATHS, Day
from engine.batch.execute import BrokerFactory, ExecutionOutcome, ExecutionStatus, execute_planned
from engine.batch.run import BatchOptions, BatchProgress, chunk_households, run_batch, shape_hint
from engine.batch.synthetic import synthetic
from engine.batch.types import (
    BatchResult,
    ChunkReport,
    Executor,
    HouseholdOutcome,
    KeptMandate,
    OutcomeStatus,
    WorkerMemory,
)
from engine.batch.work import household_fingerprint, plan_one, proposal_id, run_chunk, worker_cache

__all__ = [
    "BATCH_MANDATE_PATHS",
    "BatchOptions",
    "BatchProgress",
    "BatchResult",
    "BrokerFactory",
    "ChunkReport",
    "Day",
    "ExecutionOutcome",
    "ExecutionStatus",
    "Executor",
    "HouseholdOutcome",
    "KeptMandate",
    "OutcomeStatus",
    "WorkerMemory",
    "chunk_households",
    "execute_planned",
    "household_fingerprint",
    "plan_one",
    "proposal_id",
    "run_batch",
    "run_chunk",
    "shape_hint",
    "synthetic",
    "worker_cache",
]
