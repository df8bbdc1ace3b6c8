"""Which request a thread is working for: Pyroscope thread tags, and a frame named after the route.

The local root span of the work in progress is published in a ``ContextVar`` when it starts; every
place that switches a thread from one piece of work to another (an event-loop task step, a
thread-pool task, anyio's threadpool) calls ``tag_thread`` with the root it is about to run.
The native tag calls happen only when the root differs from the thread's current one.

Tags are labels (``span_id``, ``span_name``): what Grafana's trace-to-profile link queries. The
agent resolves a sample's tags asynchronously, after taking its stack, so when a thread switches
work every few milliseconds (an event loop interleaving requests) some samples get the tag of
the work that followed (``docs/benchmarks.md`` gives the shares ``tests/e2e/test_profiling.py``
measures). So the work also runs *through* a one-line frame named ``[<span name>]``
(``Root.run``): stacks are captured atomically, which makes the route in the flamegraph exact.
For the same reason a pool thread is not untagged when its task returns, only re-tagged by its
next task: the task's last samples keep their labels.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from otelperf.log import logger

SPAN_ID = "span_id"
SPAN_NAME = "span_name"


_MAX_FRAMES = 1000
_frames: dict[str, Callable[..., Any]] = {}


def _run(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return function(*args, **kwargs)


def route_frame(span_name: str) -> Callable[..., Any]:
    """``_run`` under a code name of ``[<span name>]`` (one per name, bounded)."""
    frame = _frames.get(span_name)
    if frame is None:
        if len(_frames) >= _MAX_FRAMES:
            return _run
        name = f"[{span_name}]"
        frame = types.FunctionType(_run.__code__.replace(co_name=name, co_qualname=name), _run.__globals__, name)
        frame = _frames.setdefault(span_name, frame)
    return frame


class Root:
    """The local root span of a unit of work, its tag values and its route frame."""

    __slots__ = ("number", "run", "span_id", "span_name")

    def __init__(self, number: int, span_name: str) -> None:
        self.number = number  # the span id as the SDK holds it
        self.span_id = format(number, "016x")  # as Pyroscope and Grafana want it
        self.span_name = span_name
        self.run = route_frame(span_name)


current_root: ContextVar[Root | None] = ContextVar("otelperf_profile_root", default=None)


class _ThreadState(threading.local):
    root: Root | None = None  # the root the thread's native tags name
    held: bool = False  # a root starting now is made current but not tagged yet (``hold_tags``)


_thread = _ThreadState()
_native: dict[str, Any] = {}


def enable(pyroscope_module: Any) -> None:
    """Tagging becomes live once the agent runs (before that every call is a cheap no-op)."""
    _native["add"] = pyroscope_module.add_thread_tag
    _native["remove"] = pyroscope_module.remove_thread_tag


def disable() -> None:
    _native.clear()


def active() -> bool:
    return bool(_native)


def tag_thread(root: Root | None) -> None:
    """Make the calling thread's tags those of ``root`` (``None`` clears them)."""
    if not _native:
        return
    tagged = _thread.root
    if tagged is root:
        return
    try:
        add, remove = _native["add"], _native["remove"]
        if tagged is not None:
            remove(SPAN_ID, tagged.span_id)
            remove(SPAN_NAME, tagged.span_name)
        if root is not None:
            add(SPAN_ID, root.span_id)
            add(SPAN_NAME, root.span_name)
        _thread.root = root
    except Exception:  # noqa: BLE001 - profiling must never break the work it observes
        logger.debug("thread tagging failed", exc_info=True)


def tagged_root() -> Root | None:
    """The root the calling thread is tagged with."""
    return _thread.root


def hold_tags(held: bool) -> None:
    """Hold (or release) the tagging of root spans that start on the calling thread.

    An HTTP server span starts under the method's name; only a span that records is then matched
    to its route and renamed (``retitle``), so that unsampled requests cost no route match. While
    held, a starting root is made current without the native tag calls: the first step of the
    work it frames (``profiling.tasks``) tags the thread with the root as renamed, once."""
    _thread.held = held


def holding() -> bool:
    return _thread.held


def retitle(span_id: int, span_name: str) -> None:
    """Rename the current root, if it is span ``span_id``: a new ``Root`` (tags and route frame
    follow the name), re-tagging the thread only if it was tagged with the old one."""
    root = current_root.get()
    if root is None or root.number != span_id or root.span_name == span_name:
        return
    renamed = Root(span_id, span_name)
    current_root.set(renamed)
    if _thread.root is root:
        tag_thread(renamed)
