"""Per-step thread tagging for asyncio: concurrent requests on one loop thread stay apart.

A task factory installed on each application loop wraps the task's coroutine in
``TaggedCoroutine``, whose ``send``/``throw`` re-tag the loop thread with the root of *that* task
(read from its context, which asyncio makes current for each step) and run the step through the
root's route frame. Only a change of root costs a native call.
"""

from __future__ import annotations

import asyncio
import collections.abc
from typing import Any

from otelperf.profiling.tags import current_root, tag_thread


class TaggedCoroutine(collections.abc.Coroutine):  # type: ignore[type-arg]
    """A transparent coroutine proxy that tags the thread before every step."""

    __slots__ = ("_coroutine",)

    def __init__(self, coroutine: Any) -> None:
        self._coroutine = coroutine

    def send(self, value: Any = None) -> Any:
        root = current_root.get()
        tag_thread(root)
        if root is None:
            return self._coroutine.send(value)
        return root.run(self._coroutine.send, value)

    def throw(self, *args: Any) -> Any:
        root = current_root.get()
        tag_thread(root)
        if root is None:
            return self._coroutine.throw(*args)
        return root.run(self._coroutine.throw, *args)

    def close(self) -> None:
        self._coroutine.close()

    def __await__(self) -> Any:
        return self

    # asyncio's Task steps a coroutine that is not native through ``__next__``: the same function
    # as ``send``, not a call to it, keeps one frame fewer on the stack the profiler reads on every
    # sample (py-spy reads each frame with system calls).
    __next__ = send

    def __iter__(self) -> Any:
        return self

    def __getattr__(self, name: str) -> Any:
        # cr_frame, cr_running, __name__, __qualname__, ... for asyncio's repr and debuggers
        return getattr(self._coroutine, name)


def install_task_factory(loop: asyncio.AbstractEventLoop) -> None:
    """Wrap the coroutines of the loop's new tasks (chains an existing factory; idempotent)."""
    previous = loop.get_task_factory()
    if getattr(previous, "_otelperf", False):
        return

    def factory(loop: asyncio.AbstractEventLoop, coroutine: Any, **kwargs: Any) -> asyncio.Future[Any]:
        wrapped = TaggedCoroutine(coroutine) if asyncio.iscoroutine(coroutine) else coroutine
        if previous is not None:
            return previous(loop, wrapped, **kwargs)
        return asyncio.Task(wrapped, loop=loop, **kwargs)

    factory._otelperf = True  # type: ignore[attr-defined]
    loop.set_task_factory(factory)


class RouteFramedApp:
    """The ASGI app below the OpenTelemetry middleware, driven through ``TaggedCoroutine``.

    A request task's first step starts before its root span exists (the middleware creates it
    mid-step), so the task-level wrapper cannot frame it; this one starts right after.
    """

    __slots__ = ("app",)

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        return await _framed(self.app(scope, receive, send))


def _framed(coroutine: Any) -> Any:
    """``coroutine`` driven through ``TaggedCoroutine`` when a root is current (the request's span
    records). Without one there is no route frame to run it under, and the task-level wrapper
    already clears the thread's tags before each step: the coroutine runs as it is."""
    return TaggedCoroutine(coroutine) if current_root.get() is not None else coroutine


def _frame_inner_app(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    result = wrapped(*args, **kwargs)
    if not isinstance(getattr(instance, "app", None), RouteFramedApp):
        instance.app = RouteFramedApp(instance.app)
    return result


_framing = {"on": False}


def framing() -> bool:
    """Whether HTTP server spans must be named after their route when they start."""
    return _framing["on"]


def frame(coroutine: Any) -> Any:
    """``coroutine`` driven through ``TaggedCoroutine`` once profiling attributes spans and the
    request has a root, else itself (otelperf's HTTP server instrumentation runs each request's
    app through it)."""
    return _framed(coroutine) if _framing["on"] else coroutine


def frame_asgi_apps() -> None:
    """Frame the app below every HTTP server span from now on: otelperf's (``frame``) and contrib's
    ASGI middleware (its inner app wrapped when the middleware is created). Idempotent."""
    _framing["on"] = True
    try:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    except ImportError:
        return
    if getattr(OpenTelemetryMiddleware.__init__, "_otelperf", False):
        return
    from wrapt import FunctionWrapper

    wrapper: Any = FunctionWrapper(OpenTelemetryMiddleware.__init__, _frame_inner_app)
    wrapper._otelperf = True
    OpenTelemetryMiddleware.__init__ = wrapper  # type: ignore[method-assign]
