"""Servers that turn a serving process into a supervisor after otelperf has started in it.

A service's own command (``myapp serve``, ``python -m myapp``) looks like a process that serves:
``roles`` cannot tell from its command line that it will call ``uvicorn.run(app, workers=N)`` or
run an embedded gunicorn (``gunicorn.app.base.BaseApplication``), and only then start workers.
The moment a server becomes a supervisor is the call that starts its workers:

- ``uvicorn.supervisors.Multiprocess.run`` (``uvicorn.run`` with ``workers`` > 1), whose workers are
  spawned: fresh interpreters that run ``sitecustomize`` and classify themselves;
- ``uvicorn.supervisors.basereload.BaseReload.run`` (``reload=True``), likewise spawning the server;
- ``gunicorn.arbiter.Arbiter.run``, whose workers are forked from this process.

The moment a process shows it serves is its server's start: ``uvicorn.server.Server.startup``
(``uvicorn.run`` in one process, every uvicorn worker, gunicorn's ``UvicornWorker``) or
``gunicorn.workers.base.Worker.init_process`` (any gunicorn worker).

``watch`` wraps those methods when (and if) their modules are imported; the wrappers report to
``on_supervise(reason)`` or ``on_serve(reason)`` before the original runs, that is before any
worker exists or any request is accepted. They never raise into the server: a failing report is
logged at debug level and the server starts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from otelperf.log import logger

__all__ = ["SERVE", "SUPERVISE", "watch"]

Report = Callable[[str], None]

_lock = threading.Lock()
_watchers: list[tuple[Report, Report]] = []  # (on_supervise, on_serve)


def _uvicorn_workers(instance: Any) -> str:
    count = getattr(instance, "processes_num", None)
    return f"uvicorn supervisor of {count} workers (uvicorn.run)" if count else "uvicorn supervisor (uvicorn.run)"


SUPERVISE, SERVE = 0, 1

# (what it shows, module, class, method, the description of the process from the instance)
_HOOKS: tuple[tuple[int, str, str, str, Callable[[Any], str]], ...] = (
    (SUPERVISE, "uvicorn.supervisors.multiprocess", "Multiprocess", "run", _uvicorn_workers),
    (SUPERVISE, "uvicorn.supervisors.basereload", "BaseReload", "run", lambda _: "uvicorn reloader (uvicorn.run)"),
    (SUPERVISE, "gunicorn.arbiter", "Arbiter", "run", lambda _: "gunicorn master (Arbiter.run)"),
    (SERVE, "uvicorn.server", "Server", "startup", lambda _: "uvicorn server"),
    (SERVE, "gunicorn.workers.base", "Worker", "init_process", lambda _: "gunicorn worker"),
)


def _report(shows: int, describe: Callable[[Any], str], instance: Any) -> None:
    try:
        reason = describe(instance)
        for watcher in list(_watchers):
            watcher[shows](reason)
    except Exception:  # noqa: BLE001 - the server starts whatever happens here
        logger.debug("could not handle the server's start", exc_info=True)


def _hook(
    shows: int, module_name: str, class_name: str, method: str, describe: Callable[[Any], str]
) -> Callable[[Any], None]:
    def wrap(module: Any) -> None:
        from wrapt import wrap_function_wrapper

        def before_workers(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            _report(shows, describe, instance)
            return wrapped(*args, **kwargs)  # a coroutine for Server.startup, awaited by its caller

        try:
            wrap_function_wrapper(module, f"{class_name}.{method}", before_workers)
        except Exception:  # noqa: BLE001 - another version of the server: its workers are not seen
            logger.debug("cannot watch %s.%s.%s", module_name, class_name, method, exc_info=True)

    return wrap


def watch(on_supervise: Report, on_serve: Report) -> None:
    """Call ``on_supervise(reason)`` when a server here is about to start workers, ``on_serve(reason)``
    when one is about to serve (each may be called more than once)."""
    with _lock:
        first = not _watchers
        _watchers.append((on_supervise, on_serve))
    if not first:
        return
    from wrapt import register_post_import_hook

    for shows, module_name, class_name, method, describe in _HOOKS:
        register_post_import_hook(_hook(shows, module_name, class_name, method, describe), module_name)
