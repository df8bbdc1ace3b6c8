"""Garbage-collection pauses from ``gc.callbacks``: one measurement per collection."""

from __future__ import annotations

import time
from typing import Any

from opentelemetry.metrics import Meter

from otelperf import semconv
from otelperf._instruments import BoundedHistogram


class GcPauses:
    def __init__(self, meter: Meter) -> None:
        self._histogram = BoundedHistogram(
            meter,
            semconv.GC_PAUSE_DURATION,
            "s",
            "Stop-the-world time of one CPython garbage collection.",
            semconv.FAST_DURATION_BUCKETS_S,
        )
        self._started = 0.0
        self._attributes = {generation: {semconv.CPYTHON_GC_GENERATION: generation} for generation in range(3)}

    def callback(self, phase: str, info: dict[str, Any]) -> None:
        # Collections never overlap (they hold the GIL), so one start time is enough.
        if phase == "start":
            self._started = time.perf_counter()
        elif phase == "stop" and self._started:
            elapsed = time.perf_counter() - self._started
            self._started = 0.0
            try:
                generation = info.get("generation", 0)
                attributes = self._attributes.get(generation) or {semconv.CPYTHON_GC_GENERATION: generation}
                self._histogram.record(elapsed, attributes)
            except Exception:  # noqa: BLE001 - a gc callback must never raise
                pass
