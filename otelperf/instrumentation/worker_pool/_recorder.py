"""The worker-pool instruments and the bookkeeping around one task's life."""

from __future__ import annotations

import contextlib
import re
import time
import weakref
from collections.abc import Iterable
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

from otelperf import semconv
from otelperf._instruments import BoundedHistogram, ObservedUpDownCounter, SelfCost
from otelperf._log import logger
from otelperf._memo import cached_on
from otelperf.version import __version__

_MARK = "_otelperf_tracked_max_workers"
_DEFAULT_PREFIX = re.compile(r"^ThreadPoolExecutor-\d+$")


def _executor_attributes(executor: Any, kind: str) -> dict[str, str]:
    prefix = getattr(executor, "_thread_name_prefix", "") or ""
    if kind == "process":
        name = "ProcessPoolExecutor"
    elif not prefix or _DEFAULT_PREFIX.match(prefix):
        name = "ThreadPoolExecutor"  # unnamed pools share one bounded name
    else:
        name = prefix
    return {semconv.WORKER_POOL_NAME: name, semconv.WORKER_POOL_KIND: kind}


def pool_attributes(executor: Any, kind: str) -> dict[str, str]:
    """``{name, kind}`` of an executor, computed once: the thread-name prefix, when the app chose one."""
    return cached_on(executor, "_otelperf_attributes", lambda: _executor_attributes(executor, kind))


class PoolRecorder:
    """Queue depth, queue wait, active workers and task duration, per pool."""

    def __init__(self, meter_provider: MeterProvider | None = None) -> None:
        meter = metrics.get_meter("otelperf.instrumentation.worker_pool", __version__, meter_provider=meter_provider)
        self.task_duration = BoundedHistogram(
            meter,
            semconv.WORKER_POOL_TASK_DURATION,
            "s",
            "Time a task ran in a worker.",
            semconv.TASK_DURATION_BUCKETS_S,
        )
        self.queue_wait = BoundedHistogram(
            meter,
            semconv.WORKER_POOL_QUEUE_WAIT,
            "s",
            "Time a task waited for a free worker.",
            semconv.FAST_DURATION_BUCKETS_S,
        )
        # Depth and active workers change twice per task: observed counts, not SDK measurements.
        self.queue_depth = ObservedUpDownCounter(
            meter, semconv.WORKER_POOL_QUEUE_DEPTH, "{task}", "Tasks submitted and not yet started."
        )
        self.active = ObservedUpDownCounter(
            meter, semconv.WORKER_POOL_WORKERS_ACTIVE, "{worker}", "Workers running a task."
        )
        self._max_workers: weakref.WeakKeyDictionary[Any, tuple[dict[str, str], int]] = weakref.WeakKeyDictionary()
        self._fixed_max: dict[str, tuple[dict[str, str], int]] = {}
        self._mark = object()  # this recorder's, so that a new recorder tracks the pools again
        meter.create_observable_gauge(
            semconv.WORKER_POOL_WORKERS_MAX,
            callbacks=[self._observe_max],
            unit="{worker}",
            description="The most workers the pool runs at once.",
        )
        self._outcomes: dict[tuple[str, str, str], dict[str, str]] = {}
        self.cost = SelfCost("worker_pool")

    def track(self, pool: Any, attributes: dict[str, str], max_workers: int | None) -> None:
        """Remember the pool's size for ``.workers.max``; called per task, so a pool already known
        with this size to this recorder is recognised by a mark on it (a ``WeakKeyDictionary``
        lookup would make a weak reference per task)."""
        if max_workers is None:
            return
        mark = (self._mark, max_workers)
        if getattr(pool, _MARK, None) == mark:
            return
        try:
            self._max_workers[pool] = (attributes, max_workers)
        except TypeError:
            self._fixed_max[attributes[semconv.WORKER_POOL_NAME]] = (attributes, max_workers)
        with contextlib.suppress(AttributeError, TypeError):  # a pool that takes no attribute: looked up each time
            setattr(pool, _MARK, mark)

    def with_outcome(self, attributes: dict[str, str], outcome: str) -> dict[str, str]:
        key = (attributes[semconv.WORKER_POOL_NAME], attributes[semconv.WORKER_POOL_KIND], outcome)
        found = self._outcomes.get(key)
        if found is None:
            found = self._outcomes[key] = {**attributes, semconv.WORKER_POOL_OUTCOME: outcome}
        return found

    def _observe_max(self, options: CallbackOptions) -> Iterable[Observation]:
        seen = set()
        for attributes, workers in [*self._max_workers.values(), *self._fixed_max.values()]:
            key = (attributes[semconv.WORKER_POOL_NAME], attributes[semconv.WORKER_POOL_KIND])
            if key not in seen:
                seen.add(key)
                yield Observation(workers, attributes)


class TaskLife:
    """One task from submission to completion; every step is idempotent and never raises."""

    __slots__ = ("_attributes", "_queued", "_recorder", "_started", "_submitted")

    def __init__(self, recorder: PoolRecorder, attributes: dict[str, str], *, queued: bool = True) -> None:
        self._recorder = recorder
        self._attributes = attributes
        self._queued = queued  # False where the queue is out of sight (process pools)
        self._submitted = time.perf_counter()
        self._started = 0.0
        if queued:
            try:
                recorder.queue_depth.add(1, attributes)
            except Exception:  # noqa: BLE001
                logger.debug("worker-pool measurement failed", exc_info=True)

    @property
    def started(self) -> bool:
        return self._started != 0.0

    def start(self) -> None:
        self._started = time.perf_counter()
        recorder, attributes = self._recorder, self._attributes
        try:
            # The counts first: a failing SDK measurement must not leave them off by one.
            recorder.active.add(1, attributes)
            if self._queued:
                recorder.queue_depth.add(-1, attributes)
                recorder.queue_wait.record(self._started - self._submitted, attributes)
        except Exception:  # noqa: BLE001 - never reach the application
            logger.debug("worker-pool measurement failed", exc_info=True)

    def finish(self, outcome: str) -> None:
        recorder = self._recorder
        try:
            recorder.active.add(-1, self._attributes)
            duration = time.perf_counter() - self._started
            recorder.task_duration.record(duration, recorder.with_outcome(self._attributes, outcome))
        except Exception:  # noqa: BLE001
            logger.debug("worker-pool measurement failed", exc_info=True)

    def dropped(self, outcome: str) -> None:
        """Cancelled, or refused by the executor, before it started."""
        recorder = self._recorder
        try:
            if self._queued:
                recorder.queue_depth.add(-1, self._attributes)
            recorder.task_duration.record(0.0, recorder.with_outcome(self._attributes, outcome))
        except Exception:  # noqa: BLE001
            logger.debug("worker-pool measurement failed", exc_info=True)
