"""Finding the application's event loops, for whoever needs them (runtime metrics, profiling).

A loop is announced to the subscribers when it starts running (``BaseEventLoop.run_forever``,
so ``asyncio.run`` too) and when uvicorn starts serving on it (which also covers uvloop, whose
``run_forever`` cannot be wrapped). Subscribers must be idempotent: a loop may be announced twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any

from wrapt import wrap_function_wrapper

from otelperf.log import logger

LoopCallback = Callable[[asyncio.AbstractEventLoop], None]

_subscribers: list[LoopCallback] = []
_lock = threading.Lock()
_installed: dict[str, bool] = {}


def _announce(loop: asyncio.AbstractEventLoop) -> None:
    for callback in list(_subscribers):
        try:
            callback(loop)
        except Exception:  # noqa: BLE001 - a subscriber must not break the loop's start
            logger.debug("event-loop subscriber failed", exc_info=True)


def _run_forever(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _announce(instance)
    return wrapped(*args, **kwargs)


async def _uvicorn_startup(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _announce(asyncio.get_running_loop())
    return await wrapped(*args, **kwargs)


def subscribe(callback: LoopCallback) -> None:
    """Call ``callback(loop)`` for every loop that starts from now on (and the running one)."""
    with _lock:
        if callback not in _subscribers:
            _subscribers.append(callback)
        if not _installed:
            wrap_function_wrapper("asyncio.base_events", "BaseEventLoop.run_forever", _run_forever)
            _installed["asyncio"] = True
            try:
                import uvicorn.server  # noqa: F401
            except ImportError:
                pass
            else:
                wrap_function_wrapper("uvicorn.server", "Server.startup", _uvicorn_startup)
                _installed["uvicorn"] = True
    with contextlib.suppress(RuntimeError):  # no loop running in this thread
        callback(asyncio.get_running_loop())


def unsubscribe(callback: LoopCallback) -> None:
    with _lock:
        if callback in _subscribers:
            _subscribers.remove(callback)
