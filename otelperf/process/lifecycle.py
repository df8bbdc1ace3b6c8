"""When the pipeline starts and how it ends: process role, fork, SIGTERM, exit.

- Start: at once in a serving process; in a supervisor (gunicorn master, uvicorn reloader or
  multi-worker parent), only in the children it forks (``os.register_at_fork``), each with a new
  ``service.instance.id``. Helpers never start.
- SIGTERM: uvicorn re-raises SIGTERM after its graceful shutdown with the handler that was in
  place before it started, so ``atexit`` never runs and upstream loses the final flush. otelperf
  installs that handler (only where the default action is in place): it flushes within the
  shutdown budget, restores the default action and re-raises, so the process still ends by
  SIGTERM exactly as without otelperf.
  gunicorn's ``UvicornWorker`` resets SIGTERM to the default action before uvicorn starts, so the
  handler alone cannot cover it: otelperf also flushes right after uvicorn's own graceful
  shutdown (``uvicorn.server.Server.shutdown``: connections drained, lifespan shutdown done),
  which is the last moment the process is certain to reach.
- Exit: an ``atexit`` hook flushes within the same budget (SIGINT, ``sys.exit``).
"""

from __future__ import annotations

import atexit
import functools
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol, TypeVar

from otelperf.log import logger
from otelperf.process import servers
from otelperf.process.roles import ProcessRole, RoleDecision
from otelperf.settings import Settings


class Telemetry(Protocol):
    """What a serving process runs (the pipeline): started once, flushed within a budget at the end,
    paused in a process that turns out to supervise, renewed in a process forked from one that ran it."""

    def start(self, *, standby: bool = False) -> None: ...

    def activate(self) -> None: ...

    def pause(self) -> None: ...

    def renew_after_fork(self) -> list[str]: ...

    def shutdown(self, reason: str) -> None: ...


T = TypeVar("T", bound=Telemetry)

# How long a process whose command line names no server waits for a sign that it serves or
# supervises before it profiles and exports metrics anyway (spans flow from the start).
SETTLE_AFTER_S = 10.0


class _ProcessState:
    """What this process runs; one instance, changed under its lock only."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pipeline: Telemetry | None = None
        self.deferred_settings: Settings | None = None
        self.atexit_registered = False
        self.fork_hook_registered = False
        self.supervising = False
        self.pid = os.getpid()
        # Says in a forked child that it now runs the pipeline it inherited (the startup line).
        self.announce: Callable[[RoleDecision], None] | None = None
        self.program = ""


_state = _ProcessState()


def begin(
    settings: Settings,
    decision: RoleDecision,
    build: Callable[[Settings], T],
    on_start: Callable[[T, RoleDecision], None],
) -> None:
    """Start now, or arrange to start in forked children, according to the process role."""
    if decision.role is ProcessRole.HELPER:
        return
    if decision.role is ProcessRole.SUPERVISOR:
        _state.deferred_settings = settings

        def start_in_child() -> None:
            # A fork of the supervisor is a worker: give it its own pipeline and identity.
            child_settings = _state.deferred_settings
            if child_settings is not None and _state.pipeline is None:
                worker = RoleDecision(ProcessRole.SERVER, decision.program, f"{decision.program} worker")
                _start(child_settings, build, on_start, worker)

        os.register_at_fork(after_in_child=start_in_child)
        return
    _start(settings, build, on_start, decision)


def _start(
    settings: Settings,
    build: Callable[[Settings], T],
    on_start: Callable[[T, RoleDecision], None],
    decision: RoleDecision,
) -> None:
    with _state.lock:
        if _state.pipeline is not None:
            return
        pipeline = build(settings)
        try:
            pipeline.start(standby=not decision.settled)
        except Exception as exc:  # noqa: BLE001 - degrade, never break the app
            logger.error("could not start the telemetry pipeline (%s: %s); telemetry is off", type(exc).__name__, exc)
            return
        _state.pipeline = pipeline
        _state.pid = os.getpid()
        _state.supervising = False
        _state.announce = functools.partial(on_start, pipeline)
        _state.program = decision.program
        if not _state.atexit_registered:
            atexit.register(shutdown, "exit")
            _state.atexit_registered = True
        if not _state.fork_hook_registered:
            # After the SDK's own hooks (registered when the providers were built), which restart its threads.
            os.register_at_fork(after_in_child=_renew_in_child)
            _state.fork_hook_registered = True
    _install_sigterm_flush()
    _flush_after_uvicorn_shutdown()
    servers.watch(_become_supervisor, _serves)
    if not decision.settled:
        timer = threading.Timer(SETTLE_AFTER_S, _serves, args=(f"no workers started within {SETTLE_AFTER_S:.0f} s",))
        timer.daemon = True
        timer.name = "otelperf-settle"
        timer.start()
    on_start(pipeline, decision)


def _serves(reason: str) -> None:
    """This process serves (or has started no workers in time): end the standby, if any."""
    pipeline = _state.pipeline
    if pipeline is not None and not _state.supervising:
        pipeline.activate()


def _become_supervisor(reason: str) -> None:
    """A server here is about to start its workers: this process serves nothing from now on."""
    with _state.lock:
        pipeline = _state.pipeline
        if pipeline is None or _state.supervising:
            return  # started as a supervisor (nothing runs here), or already told
        _state.supervising = True
    pipeline.pause()
    logger.info(
        "pid %d is a %s: it exports nothing from now on (it serves no request); each worker runs its own "
        "pipeline, profiler and identity",
        os.getpid(),
        reason,
    )


def _renew_in_child() -> None:
    """In a process forked from one that runs the pipeline: make it this process's own, and say so."""
    pipeline = _state.pipeline
    if pipeline is None or _state.pid == os.getpid():
        return
    parent, _state.pid = _state.pid, os.getpid()
    _state.lock = threading.Lock()
    _state.supervising = False
    try:
        for problem in pipeline.renew_after_fork():
            logger.warning("forked worker pid %d: %s", _state.pid, problem)
        if _state.announce is not None:
            _state.announce(RoleDecision(ProcessRole.SERVER, _state.program, f"worker forked from pid {parent}"))
    except Exception as exc:  # noqa: BLE001 - the forked process runs on, with what could be renewed
        logger.error(
            "forked worker pid %d: renewing the telemetry failed (%s: %s)", _state.pid, type(exc).__name__, exc
        )


def _install_sigterm_flush() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return  # the application (or its server) handles SIGTERM itself; atexit covers it
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):
        logger.debug("cannot install the SIGTERM flush handler", exc_info=True)


def _flush_after_uvicorn_shutdown() -> None:
    try:
        import uvicorn.server
    except ImportError:
        return
    original = uvicorn.server.Server.shutdown
    if getattr(original, "_otelperf", False):
        return

    @functools.wraps(original)
    async def shutdown_then_flush(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            await original(self, *args, **kwargs)
        finally:
            shutdown("server shutdown")

    shutdown_then_flush._otelperf = True  # type: ignore[attr-defined]
    uvicorn.server.Server.shutdown = shutdown_then_flush  # type: ignore[method-assign]


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    try:
        shutdown("SIGTERM")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


def shutdown(reason: str = "requested") -> None:
    """Flush and stop this process's pipeline now (idempotent)."""
    pipeline = _state.pipeline
    if pipeline is not None:
        pipeline.shutdown(reason)
