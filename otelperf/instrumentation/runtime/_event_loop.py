"""Event-loop lag and task count, probed from a side thread at a fixed interval.

Every ``interval_s`` a daemon thread schedules one callback on each watched loop with
``call_soon_threadsafe`` and the time it was scheduled; the delay until the loop runs it is the
lag a request would have suffered at that moment (a blocking coroutine shows up as a long lag).
The callback runs on the loop's own thread, where it also counts the loop's tasks. Cost: one
callback per loop per interval.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Iterable

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from otelperf import semconv
from otelperf.metrics.instruments import BoundedHistogram, observe


class EventLoopProbe:
    def __init__(self, meter: Meter, interval_s: float) -> None:
        self._interval_s = interval_s
        self._loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
        self._tasks: dict[int, int] = {}
        self._lag = BoundedHistogram(meter, semconv.INSTRUMENTS[semconv.ASYNCIO_EVENT_LOOP_LAG])
        observe(meter, semconv.INSTRUMENTS[semconv.ASYNCIO_TASKS], self._observe_tasks)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Probe ``loop`` from now on (idempotent); starts the probe thread on first use."""
        self._loops.add(loop)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="otelperf-loop-lag", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            for loop in list(self._loops):
                if loop.is_closed():
                    self._loops.discard(loop)
                    self._tasks.pop(id(loop), None)
                    continue
                if not loop.is_running():
                    continue
                try:
                    loop.call_soon_threadsafe(self._on_loop, loop, time.perf_counter())
                except RuntimeError:  # closed in between
                    self._loops.discard(loop)

    def _on_loop(self, loop: asyncio.AbstractEventLoop, scheduled: float) -> None:
        try:
            self._lag.record(time.perf_counter() - scheduled, {})
            self._tasks[id(loop)] = len(asyncio.all_tasks(loop))
        except Exception:  # noqa: BLE001 - runs on the application's loop: never raise
            pass

    def _observe_tasks(self, options: CallbackOptions) -> Iterable[Observation]:
        open_loops = [loop for loop in list(self._loops) if not loop.is_closed()]
        if open_loops:
            yield Observation(sum(self._tasks.get(id(loop), 0) for loop in open_loops))
