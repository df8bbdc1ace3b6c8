"""Runtime metrics: event-loop lag and tasks, GC pauses, process CPU/memory/threads, memory limit.

- ``otelperf.asyncio.event_loop.lag`` (s) and ``otelperf.asyncio.tasks``: probed every
  ``OTELPERF_EVENT_LOOP_LAG_INTERVAL`` seconds (default 0.5) on each watched loop. Loops are
  watched automatically when uvicorn starts serving and when ``asyncio.run`` (or any
  ``BaseEventLoop.run_forever``) runs (``otelperf.process.loops``); ``watch_event_loop()`` adds any other.
- ``otelperf.gc.pause.duration`` (s, ``cpython.gc.generation``) from ``gc.callbacks``.
- ``process.cpu.utilization``, ``process.memory.usage``, ``process.thread.count`` (semantic
  conventions) and ``otelperf.process.memory.limit`` (cgroup limit, else physical memory).

Usage::

    from otelperf.instrumentation.runtime import RuntimeInstrumentor, watch_event_loop

    RuntimeInstrumentor().instrument()
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Collection
from typing import Any

from opentelemetry import metrics
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from otelperf.instrumentation.runtime._event_loop import EventLoopProbe
from otelperf.instrumentation.runtime._gc import GcPauses
from otelperf.instrumentation.runtime._process import ProcessMetrics, memory_limit_bytes
from otelperf.instrumentation.runtime.package import _instruments
from otelperf.process import loops
from otelperf.version import __version__

__all__ = ["RuntimeInstrumentor", "memory_limit_bytes", "watch_event_loop"]

_state: dict[str, Any] = {}


def watch_event_loop(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Probe ``loop`` (default: the running loop) for lag and tasks. No-op when not instrumented."""
    probe: EventLoopProbe | None = _state.get("probe")
    if probe is None:
        return
    with contextlib.suppress(RuntimeError):  # no running loop
        probe.watch(loop or asyncio.get_running_loop())


def _watch(loop: asyncio.AbstractEventLoop) -> None:
    probe: EventLoopProbe | None = _state.get("probe")
    if probe is not None:
        probe.watch(loop)


class RuntimeInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Entry point ``otelperf_runtime``."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        meter = metrics.get_meter(__name__, __version__, meter_provider=kwargs.get("meter_provider"))
        probe = EventLoopProbe(meter, kwargs.get("event_loop_lag_interval_s", 0.5))
        gc_pauses = GcPauses(meter)
        _state.update(probe=probe, gc=gc_pauses, process=ProcessMetrics(meter))
        gc.callbacks.append(gc_pauses.callback)
        loops.subscribe(_watch)

    def _uninstrument(self, **kwargs: Any) -> None:
        gc_pauses = _state.pop("gc", None)
        if gc_pauses is not None and gc_pauses.callback in gc.callbacks:
            gc.callbacks.remove(gc_pauses.callback)
        probe = _state.pop("probe", None)
        if probe is not None:
            probe.stop()
        loops.unsubscribe(_watch)
        _state.pop("process", None)
