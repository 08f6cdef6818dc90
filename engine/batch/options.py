"""How a batch runs, and how far it has got: ``BatchOptions`` and ``BatchProgress``.

options = BatchOptions(Executor.PROCESSES, workers=2, store=store, progress=print)
run_batch(households, as_of, options)
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.batch.day import Day
from engine.batch.types import Executor, KeptMandate
from engine.errors import ConfigError
from engine.model import RunKind

if TYPE_CHECKING:
    from engine.batch.execute import BrokerFactory
    from engine.data import MarketData
    from engine.engine import Engine
    from engine.model import Universe
    from engine.model.broker import Rails
    from engine.store import Store

log = logging.getLogger("engine.batch")


@dataclass(frozen=True, slots=True)
class BatchProgress:
    """Progress of a phase (``plan`` or ``execute``): households done of ``total``, failures, seconds, rate, ETA."""

    done: int
    total: int
    failed: int
    elapsed: float
    rate: float
    eta: float | None
    phase: str = "plan"


ProgressCallback = Callable[[BatchProgress], None]


@dataclass(frozen=True, slots=True)
class BatchOptions:
    """How ``run_batch`` runs: where, on which day's data, what it saves, and whether it trades.

    Where: ``executor`` and ``workers`` (default: the CPU count; 1 inline), ``chunk_size`` (households per
    task; default about 16 chunks per worker, 4–64), and for Dask ``client`` if given, else ``scheduler``
    (default ``Settings().dask_scheduler``), else a ``LocalCluster`` of ``workers`` single-threaded processes
    started and closed by the batch. The day: ``day``, else ``engine`` (its cached estimates), else a new
    ``Engine`` on ``market`` (default: the embedded prices) and ``universe``. ``mandates`` (e.g. last night's
    ``result.mandates``) are reused for households whose facts are unchanged, up to ``mandate_max_age_days``
    old. ``store``: proposals saved chunk by chunk while the workers plan, and a run record of kind ``batch``.
    ``progress`` gets a ``BatchProgress`` per chunk. ``execute=True`` executes, after planning (and saving),
    every proposal that needs no approval through ``broker_for(household)``, ``execute_threads`` households
    at a time, behind ``rails`` (the safety rails every order passes: ``brokers.rails_for()``). ``run_kind``: what
    every household's plan is — a full rebalance (default) or the nightly harvest run (``tax_loss_harvest``).

    Raises:
        ConfigError: an unknown executor, or a count below its minimum (workers, chunk size, threads ≥ 1; the
            mandate age ≥ 0 days).
    """

    executor: Executor | str = Executor.PROCESSES
    workers: int | None = None
    chunk_size: int | None = None
    day: Day | None = None
    engine: Engine | None = None
    market: MarketData | None = None
    universe: Universe | None = None
    scheduler: str | None = None
    client: Any = None
    store: Store | None = None
    progress: ProgressCallback | None = None
    mandates: Mapping[str, KeptMandate] | None = None
    mandate_max_age_days: int = 0
    execute: bool = False
    broker_for: BrokerFactory | None = None
    execute_threads: int = 1
    rails: Rails | None = None
    run_kind: RunKind = RunKind.FULL_REBALANCE

    def __post_init__(self) -> None:
        object.__setattr__(self, "executor", _executor(self.executor))
        try:
            object.__setattr__(self, "run_kind", RunKind(self.run_kind))
        except ValueError:
            raise ConfigError("unknown run kind", field="run_kind", value=self.run_kind,
                              fix=f"use one of: {', '.join(k.value for k in RunKind)}") from None
        for name, least in (("workers", 1), ("chunk_size", 1), ("execute_threads", 1), ("mandate_max_age_days", 0)):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
                raise ConfigError(
                    f"must be a whole number ≥ {least}",
                    field=name,
                    value=value,
                    fix=f"pass {name}={least} or more"
                    + (" (or leave it None for the default)" if name in ("workers", "chunk_size") else ""),
                )


_OPTION_NAMES = frozenset(f.name for f in dataclasses.fields(BatchOptions))


def _executor(value: Executor | str) -> Executor:
    try:
        return Executor(value)
    except ValueError as exc:
        raise ConfigError(
            "unknown executor", field="executor", value=value, fix=f"use one of: {', '.join(e.value for e in Executor)}"
        ) from exc
