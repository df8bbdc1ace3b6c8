"""Freezing the start-up heap once the server has started (``OTELPERF_GC_FREEZE``, on by default).

A traced request makes objects that live for a second or more (spans waiting in the export queue,
their attributes), so they survive into CPython's oldest generation and trigger full collections
every so many requests. A full collection walks every tracked object of the process, and most of
them were created at import and start-up and live as long as it does; no request moves while it
runs, which shows in the fixed-rate p99. ``gc.freeze()`` moves those objects out of the
collector's sight; full collections then walk only what was created since, a small fraction of the
heap (figures in ``docs/benchmarks.md``).

The trade-off: a reference cycle made of frozen objects is never collected. A collection runs
just before the freeze, so nothing that is garbage by then is kept, and the amount is bounded by
the start-up heap (frozen objects freed by reference counting are freed as usual).

When: right after uvicorn's ``Server.startup`` (the app's lifespan has run, the sockets listen),
once per process, so in each worker too. Other servers: call ``gc.freeze()`` after start-up.
"""

from __future__ import annotations

import gc
import threading
import time
from typing import Any

from wrapt import wrap_function_wrapper

from otelperf.log import logger

_lock = threading.Lock()
_state = {"installed": False, "frozen": False}


def freeze_startup_heap() -> int | None:
    """Collect, then freeze, the heap as it is now (once per process); the objects frozen."""
    with _lock:
        if _state["frozen"]:
            return None
        _state["frozen"] = True
    try:
        started = time.perf_counter()
        gc.collect()
        gc.freeze()
        frozen = gc.get_freeze_count()
        logger.info(
            "start-up heap frozen: %d objects in %.0f ms, out of reach of full collections (OTELPERF_GC_FREEZE)",
            frozen,
            (time.perf_counter() - started) * 1000,
        )
        return frozen
    except Exception:  # noqa: BLE001 - a tuning step, never worth an error in the app
        logger.debug("gc.freeze failed", exc_info=True)
        return None


async def _after_uvicorn_startup(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    result = await wrapped(*args, **kwargs)
    if not getattr(instance, "should_exit", False):  # a failed start-up asks uvicorn to exit
        freeze_startup_heap()
    return result


def freeze_after_startup() -> bool:
    """Freeze the heap once uvicorn has started serving; False when uvicorn is not installed."""
    with _lock:
        if _state["installed"]:
            return True
        try:
            import uvicorn.server  # noqa: F401
        except ImportError:
            return False
        wrap_function_wrapper("uvicorn.server", "Server.startup", _after_uvicorn_startup)
        _state["installed"] = True
        return True
