"""Statement hook through SQLAlchemy's public engine events: the fallback of ``_execution.py``.

Used when this SQLAlchemy's private execution methods are not the 2.0/2.1 ones. Listens on the
``Engine`` *class*, so every engine is covered; the statement's state rides on its execution
context between ``before_cursor_execute`` and ``after_cursor_execute`` (or ``handle_error``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from otelperf.instrumentation.sqlalchemy._statements import StatementRecorder
from otelperf.log import logger

_STATE = "_otelperf_query"


class EngineEvents:
    """The three ``Engine`` listeners, feeding a ``StatementRecorder``."""

    def __init__(self, recorder: StatementRecorder) -> None:
        self._recorder = recorder

    def _listeners(self) -> Iterator[tuple[str, Callable[..., None]]]:
        yield "before_cursor_execute", self.before_cursor_execute
        yield "after_cursor_execute", self.after_cursor_execute
        yield "handle_error", self.handle_error

    def install(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        for name, function in self._listeners():
            event.listen(Engine, name, function)

    def remove(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        for name, function in self._listeners():
            if event.contains(Engine, name, function):
                event.remove(Engine, name, function)

    def before_cursor_execute(  # noqa: PLR0917 - SQLAlchemy's event signature
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if context is None:  # a dialect's own cursor call, outside any statement execution
            return
        state = self._recorder.begin(conn, statement)
        if state is None:
            return
        try:
            setattr(context, _STATE, state)
        except Exception:  # noqa: BLE001 - never reach the application
            logger.debug("sqlalchemy execution context refused the statement state", exc_info=True)

    def after_cursor_execute(  # noqa: PLR0917 - SQLAlchemy's event signature
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        self._finish(context, None)

    def handle_error(self, exception_context: Any) -> None:
        context = getattr(exception_context, "execution_context", None)
        self._finish(context, getattr(exception_context, "original_exception", None))

    def _finish(self, context: Any, error: BaseException | None) -> None:
        state = getattr(context, _STATE, None)  # None for a missing context too
        if state is None:
            return
        try:
            delattr(context, _STATE)
        except AttributeError:
            return
        self._recorder.finish(state, error)
