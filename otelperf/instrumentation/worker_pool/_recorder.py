"""The worker-pool instruments, each pool's share of them, and the bookkeeping of one task's life.

Per task, the work is two histogram measurements (queue wait, run time) and four count changes
(queued, then running, then done): each pool's attribute sets, counts and outcome sets are found
once, when the pool's first task is submitted, and kept on the pool object.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import metrics
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

from otelperf import semconv
from otelperf.log import logger
from otelperf.metrics.instruments import BoundedHistogram, ObservedUpDownCounter, observe
from otelperf.version import __version__

_POOL = "_otelperf_pool"  # the attribute a pool object keeps its ``Pool`` in
_DEFAULT_PREFIX = re.compile(r"^ThreadPoolExecutor-\d+$")
_OUTCOMES = ("ok", "error", "cancelled")
_MAX_POOLS = 1000  # pools known by identity before the dead ones are pruned (also at each collection)


def _executor_attributes(executor: Any, kind: str) -> dict[str, str]:
    """``{name, kind}`` of an executor: its thread-name prefix, when the app chose one."""
    prefix = getattr(executor, "_thread_name_prefix", "") or ""
    if kind == "process":
        name = "ProcessPoolExecutor"
    elif not prefix or _DEFAULT_PREFIX.match(prefix):
        name = "ThreadPoolExecutor"  # unnamed pools share one bounded name
    else:
        name = prefix
    return {semconv.WORKER_POOL_NAME: name, semconv.WORKER_POOL_KIND: kind}


def _gone() -> None:
    return None


def _weak(owner: Any) -> Callable[[], Any]:
    """A weak reference to ``owner``; for an object that takes none, one that finds it gone, so
    that the pool is not kept alive (it is then looked up afresh for each task)."""
    try:
        return weakref.ref(owner)
    except TypeError:
        return _gone


class Pool:
    """One pool as one recorder sees it: its attributes, its counts and its outcome sets."""

    __slots__ = ("active", "attributes", "max_workers", "outcomes", "owner", "queued", "recorder")

    def __init__(self, recorder: PoolRecorder, owner: Any, attributes: dict[str, str], max_workers: int | None) -> None:
        self.recorder = recorder
        self.owner: Callable[[], Any] = _weak(owner)
        self.attributes = attributes
        self.max_workers = max_workers
        self.queued = recorder.queue_depth.count(attributes)
        self.active = recorder.active.count(attributes)
        self.outcomes = {outcome: {**attributes, semconv.WORKER_POOL_OUTCOME: outcome} for outcome in _OUTCOMES}


class PoolRecorder:
    """Queue depth, queue wait, active workers and task duration, per pool."""

    def __init__(self, meter_provider: MeterProvider | None = None) -> None:
        meter = metrics.get_meter("otelperf.instrumentation.worker_pool", __version__, meter_provider=meter_provider)
        self.task_duration = BoundedHistogram(meter, semconv.INSTRUMENTS[semconv.WORKER_POOL_TASK_DURATION])
        self.queue_wait = BoundedHistogram(meter, semconv.INSTRUMENTS[semconv.WORKER_POOL_QUEUE_WAIT])
        # Depth and active workers change twice per task: observed counts, not SDK measurements.
        self.queue_depth = ObservedUpDownCounter(meter, semconv.INSTRUMENTS[semconv.WORKER_POOL_QUEUE_DEPTH])
        self.active = ObservedUpDownCounter(meter, semconv.INSTRUMENTS[semconv.WORKER_POOL_WORKERS_ACTIVE])
        self._lock = threading.Lock()
        self._pools: dict[int, Pool] = {}  # id(owner) -> its Pool, while the owner lives
        observe(meter, semconv.INSTRUMENTS[semconv.WORKER_POOL_WORKERS_MAX], self._observe_max)

    def pool(self, owner: Any, kind: str, max_workers: int | None, attributes: dict[str, str] | None = None) -> Pool:
        """``owner``'s ``Pool`` (an executor, anyio's limiter), kept on it: one attribute read per
        task once known; looked up again for a new recorder or a new size."""
        pool: Pool | None = getattr(owner, _POOL, None)
        if pool is not None and pool.recorder is self and pool.max_workers == max_workers:
            return pool
        return self._find(owner, kind, max_workers, attributes)

    def _find(self, owner: Any, kind: str, max_workers: int | None, attributes: dict[str, str] | None) -> Pool:
        with self._lock:
            pool = self._pools.get(id(owner))
            if pool is None or pool.owner() is not owner or pool.max_workers != max_workers:
                pool = Pool(self, owner, attributes or _executor_attributes(owner, kind), max_workers)
                if len(self._pools) >= _MAX_POOLS:
                    self._prune()
                self._pools[id(owner)] = pool
        with contextlib.suppress(AttributeError, TypeError):  # anyio's limiter has slots: found by identity
            setattr(owner, _POOL, pool)
        return pool

    def _prune(self) -> None:
        for key, pool in list(self._pools.items()):
            if pool.owner() is None:
                del self._pools[key]

    def _observe_max(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            self._prune()
            pools = list(self._pools.values())
        seen = set()
        for pool in pools:
            key = (pool.attributes[semconv.WORKER_POOL_NAME], pool.attributes[semconv.WORKER_POOL_KIND])
            if pool.max_workers is not None and key not in seen:
                seen.add(key)
                yield Observation(pool.max_workers, pool.attributes)


class TaskLife:
    """One task from submission to completion; every step is idempotent and never raises.

    ``context`` is the submitter's: the task's measurements are recorded in it (their exemplars
    name its span); ``None`` where the task runs in a copy of it (anyio)."""

    __slots__ = ("_context", "_pool", "_queued", "_started", "_submitted")

    def __init__(self, pool: Pool, context: Context | None = None, *, queued: bool = True) -> None:
        self._pool = pool
        self._context = context
        self._queued = queued  # False where the queue is out of sight (process pools)
        self._submitted = time.perf_counter()
        self._started = 0.0
        if queued:
            pool.queued.up()

    @property
    def started(self) -> bool:
        return self._started != 0.0

    def start(self) -> None:
        self._started = started = time.perf_counter()
        pool = self._pool
        # The counts first: a failing SDK measurement must not leave them off by one.
        pool.active.up()
        if self._queued:
            pool.queued.down()
            try:
                pool.recorder.queue_wait.record(started - self._submitted, pool.attributes, self._context)
            except Exception:  # noqa: BLE001 - never reach the application
                logger.debug("worker-pool measurement failed", exc_info=True)

    def finish(self, outcome: str) -> None:
        pool = self._pool
        pool.active.down()
        duration = time.perf_counter() - self._started
        try:
            pool.recorder.task_duration.record(duration, pool.outcomes[outcome], self._context)
        except Exception:  # noqa: BLE001
            logger.debug("worker-pool measurement failed", exc_info=True)

    def done(self, future: Any) -> None:
        """A ``Future`` done callback. A task that started was measured when it finished; one that
        never started was cancelled, or failed with its pool (a broken pool's initializer): only
        then is the future asked which, under its lock."""
        if self._started == 0.0:
            self.dropped("cancelled" if future.cancelled() else "error")

    def dropped(self, outcome: str) -> None:
        """Cancelled, refused by the executor, or failed with a broken pool, before it started."""
        pool = self._pool
        if self._queued:
            pool.queued.down()
        try:
            pool.recorder.task_duration.record(0.0, pool.outcomes[outcome], self._context)
        except Exception:  # noqa: BLE001
            logger.debug("worker-pool measurement failed", exc_info=True)
