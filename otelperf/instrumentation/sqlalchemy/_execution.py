"""Statement hook for SQLAlchemy 2: wrap the execution step itself, so engines carry no events.

Why not engine events (``_events.py``): once ``Engine`` has a listener, every new ``Connection``
joins the engine's event dispatch (seven joined listener collections), and every ORM ``Session``
opens a connection. On SQLite, two *empty* cursor listeners cost more instructions per statement
than otelperf's own span and measurement work (``docs/benchmarks.md``). Every statement of
SQLAlchemy 2.0 and 2.1 goes through one of two private ``Connection`` methods, called with
``(dialect, context, ...)``; wrapping them costs one call and leaves SQLAlchemy's
``_has_events`` fast paths untouched.

What this changes against the events: the measured time also covers SQLAlchemy's own work around
the cursor call (users' ``before_cursor_execute`` hooks, ``post_exec``, the result's setup); the
statement is the one SQLAlchemy compiled, before users' hooks rewrite it (sqlcommenter's comments
are dropped by the fingerprint anyway); an "insertmanyvalues" bulk insert is one span, not one per
batch; and a failure arrives wrapped by SQLAlchemy, so ``error.type`` is taken from the driver's
exception it wraps (``.orig``), the one the events' ``handle_error`` receives as ``original_exception``.

``available()`` checks those methods and their signature; when a SQLAlchemy release changes them,
the instrumentor falls back to the events with one log line.
"""

from __future__ import annotations

import inspect
from typing import Any

from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from otelperf.instrumentation.sqlalchemy._statements import StatementRecorder

_MODULE = "sqlalchemy.engine.base"
_METHODS = ("_exec_single_context", "_exec_insertmany_context")
_LEADING_PARAMETERS = ["self", "dialect", "context"]


def available() -> bool:
    """Whether this SQLAlchemy has both execution methods, called as ``(self, dialect, context, ...)``."""
    try:
        from sqlalchemy.engine.base import Connection

        for name in _METHODS:
            parameters = list(inspect.signature(getattr(Connection, name)).parameters)
            if parameters[: len(_LEADING_PARAMETERS)] != _LEADING_PARAMETERS:
                return False
    except Exception:  # noqa: BLE001 - missing or not introspectable: use the events
        return False
    return True


def driver_error(error: BaseException) -> BaseException:
    """The DBAPI driver's exception that SQLAlchemy wrapped (``DBAPIError.orig``), else ``error``."""
    try:
        original = getattr(error, "orig", None)
    except Exception:  # noqa: BLE001 - an exception whose attributes raise: keep it as it is
        return error
    return original if isinstance(original, BaseException) else error


class ExecutionHook:
    """Times each statement around ``Connection._exec_single_context``/``_exec_insertmany_context``."""

    def __init__(self, recorder: StatementRecorder) -> None:
        self._recorder = recorder

    def install(self) -> None:
        for name in _METHODS:
            wrap_function_wrapper(_MODULE, f"Connection.{name}", self._execute)

    def remove(self) -> None:
        from sqlalchemy.engine.base import Connection

        for name in _METHODS:
            unwrap(Connection, name)

    def _execute(self, wrapped: Any, connection: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        context = args[1] if len(args) > 1 else kwargs.get("context")
        statement = getattr(context, "statement", None)
        state = self._recorder.begin(connection, statement) if isinstance(statement, str) else None
        if state is None:
            return wrapped(*args, **kwargs)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as error:
            self._recorder.finish(state, driver_error(error))
            raise
        self._recorder.finish(state, None)
        return result
