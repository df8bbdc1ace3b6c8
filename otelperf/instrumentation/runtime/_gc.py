"""Garbage-collection pauses from ``gc.callbacks``, and collections per generation.

A gc callback runs wherever a collection happens to start: in any thread, between any two
allocations, possibly inside the metrics SDK while it holds the very lock that recording a
measurement takes. A callback that recorded the pause there would deadlock: a collection that
starts while the metric reader collects the pause histogram would wait on the lock its own thread
holds, and the process's metrics (and whatever reads them) would hang for good. So the callback
touches no lock: it
appends the pause to a bounded deque (atomic under the GIL), and the pauses are recorded when
metrics are collected, from the ``cpython.gc.collections`` callback, where the SDK holds no
aggregation lock.
"""

from __future__ import annotations

import gc
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from otelperf import semconv
from otelperf.metrics.instruments import BoundedHistogram, observe

# Pauses waiting for the next collection of metrics: far more than a busy process collects in an
# export interval; past it, the oldest are dropped (and counted in ``dropped``).
PENDING_LIMIT = 20_000


class GcPauses:
    def __init__(self, meter: Meter) -> None:
        self._histogram = BoundedHistogram(meter, semconv.INSTRUMENTS[semconv.GC_PAUSE_DURATION])
        observe(meter, semconv.INSTRUMENTS[semconv.CPYTHON_GC_COLLECTIONS], self._observe_collections)
        self._started = 0.0
        self._pending: deque[tuple[int, float]] = deque(maxlen=PENDING_LIMIT)
        self.dropped = 0
        self._attributes = {generation: {semconv.CPYTHON_GC_GENERATION: generation} for generation in range(3)}

    def callback(self, phase: str, info: dict[str, Any]) -> None:
        # Collections never overlap (they hold the GIL), so one start time is enough.
        if phase == "start":
            self._started = time.perf_counter()
        elif phase == "stop" and self._started:
            elapsed = time.perf_counter() - self._started
            self._started = 0.0
            if len(self._pending) == PENDING_LIMIT:
                self.dropped += 1
            self._pending.append((info.get("generation", 0), elapsed))

    def record_pending(self) -> None:
        """Record the pauses seen since the last call (never from a gc callback).

        Only those pending now: recording allocates, so collections keep adding pauses meanwhile.
        """
        for _ in range(len(self._pending)):
            try:
                generation, elapsed = self._pending.popleft()
            except IndexError:
                return
            attributes = self._attributes.get(generation) or {semconv.CPYTHON_GC_GENERATION: generation}
            self._histogram.record(elapsed, attributes)

    def _observe_collections(self, options: CallbackOptions) -> Iterable[Observation]:
        self.record_pending()
        for generation, stats in enumerate(gc.get_stats()):
            yield Observation(stats["collections"], self._attributes.get(generation, {}))
