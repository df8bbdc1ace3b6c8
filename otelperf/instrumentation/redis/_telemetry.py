"""One client span and the cache measurements of each Redis command or pipeline.

``RedisTelemetry.command`` / ``.pipeline`` run before the call and return an ``Operation`` whose
``end`` runs after it; none of them raises. The span is started only where it can record
(``ChildSpans``); the measurements are recorded always, in the span's context when it records, so
exemplars link them to it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import Span, SpanKind, Tracer

from otelperf import semconv
from otelperf.instrumentation._children import ChildSpans
from otelperf.instrumentation._errors import record_error
from otelperf.instrumentation.cache.recorder import CacheRecorder
from otelperf.instrumentation.cache.results import command_name
from otelperf.instrumentation.redis._client import (
    Client,
    batch_name,
    describe,
    pipeline_commands,
    pipeline_statement,
    statement,
)
from otelperf.log import logger


class Operation:
    """A command (``commands`` is ``None``) or a pipeline in flight: its span, if any, and its start."""

    __slots__ = ("_args", "_client", "_commands", "_operation", "_recorder", "_span", "_started")

    def __init__(  # noqa: PLR0917 - the whole state of one call, set once
        self,
        recorder: CacheRecorder,
        client: Client,
        operation: str,
        args: Sequence[Any],
        commands: list[Sequence[Any]] | None,
        span: Span | None,
    ) -> None:
        self._recorder = recorder
        self._client = client
        self._operation = operation
        self._args = args
        self._commands = commands
        self._span = span
        self._started = time.perf_counter()

    def end(self, reply: Any, error: BaseException | None) -> None:
        duration = time.perf_counter() - self._started
        try:
            name = self._client.name
            if self._commands is None:
                context = _finish(self._span, error)
                self._recorder.command(name, self._operation, self._args, reply, duration, error, context)
            else:
                # A WATCHed key that changed aborts the transaction: the app's retry loop, not a failure.
                context = _finish(self._span, None if _is_watch_error(error) else error)
                self._recorder.pipeline(name, self._commands, reply, duration, error, context)
        except Exception:  # noqa: BLE001 - never reach the application
            logger.debug("redis span end failed", exc_info=True)


class RedisTelemetry:
    def __init__(self, tracer: Tracer, recorder: CacheRecorder) -> None:
        self._tracer = tracer
        self._children = ChildSpans(tracer)
        self._recorder = recorder

    def command(self, instance: Any, args: Sequence[Any]) -> Operation | None:
        """A single command (``None`` when instrumentation is suppressed, or the client is unknown)."""
        if not is_instrumentation_enabled():
            return None
        try:
            client, operation = describe(instance), command_name(args)
        except Exception:  # noqa: BLE001 - never reach the application
            logger.debug("redis client description failed", exc_info=True)
            return None
        span = self._start(client, operation, args, None)
        return Operation(self._recorder, client, operation, args, None, span)

    def pipeline(self, instance: Any, args: Sequence[Any]) -> Operation | None:
        """A pipeline's ``execute``: its queued commands, read before they run."""
        if not is_instrumentation_enabled():
            return None
        try:
            client, commands = describe(instance), pipeline_commands(instance)
            operation = batch_name(commands)
        except Exception:  # noqa: BLE001
            logger.debug("redis client description failed", exc_info=True)
            return None
        span = self._start(client, operation, args, commands)
        return Operation(self._recorder, client, operation, args, commands, span)

    def _start(
        self, client: Client, operation: str, args: Sequence[Any], commands: list[Sequence[Any]] | None
    ) -> Span | None:
        """The span of a command (``commands`` is ``None``) or a pipeline, unless the sampler would drop
        it (or starting it fails); its attributes are built only for a span that is started."""
        try:
            if self._children.skip():
                return None
            attributes = {**client.span_attributes, semconv.DB_OPERATION_NAME: operation}
            if commands is None:
                attributes[semconv.DB_QUERY_TEXT] = statement(args)
            else:
                attributes[semconv.DB_OPERATION_BATCH_SIZE] = len(commands)
                attributes[semconv.DB_QUERY_TEXT] = pipeline_statement(commands)
            return self._tracer.start_span(operation, kind=SpanKind.CLIENT, attributes=attributes)
        except Exception:  # noqa: BLE001
            logger.debug("redis span start failed", exc_info=True)
            return None


def _finish(span: Span | None, error: BaseException | None) -> Context | None:
    """End the span; the context its measurements are recorded in (``None``: the current one)."""
    if span is None or not span.is_recording():
        return None
    context = trace.set_span_in_context(span)
    if error is not None:
        record_error(span, error, type(error).__qualname__)
    span.end()
    return context


def _is_watch_error(error: BaseException | None) -> bool:
    return error is not None and type(error).__name__ == "WatchError"
