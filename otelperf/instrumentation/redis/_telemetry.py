"""One client span and the cache measurements of each Redis command or pipeline.

``begin`` runs before the call and ``end`` after it; neither raises. The span is started only
where it can record (``ChildSpans``), with its attributes; the measurements are recorded always,
in the span's context when it records, so exemplars link them to it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import Span, SpanKind, Tracer

from otelperf import semconv
from otelperf._log import logger
from otelperf.instrumentation._children import ChildSpans
from otelperf.instrumentation._errors import record_error
from otelperf.instrumentation.cache._recorder import CacheRecorder
from otelperf.instrumentation.cache._results import command_name
from otelperf.instrumentation.redis._client import (
    batch_name,
    describe,
    pipeline_commands,
    pipeline_statement,
    statement,
)

# What ``begin`` hands to ``end``: the span (or None) and the start time; None when suppressed.
Call = tuple[Span | None, float] | None


class RedisTelemetry:
    def __init__(self, tracer: Tracer, recorder: CacheRecorder) -> None:
        self._tracer = tracer
        self._children = ChildSpans(tracer)
        self._recorder = recorder

    def begin(self, instance: Any, args: Sequence[Any]) -> Call:
        if not is_instrumentation_enabled():
            return None
        span = None
        try:
            if not self._children.skip():
                operation = command_name(args)
                attributes = dict(describe(instance).span_attributes)
                attributes[semconv.DB_OPERATION_NAME] = operation
                attributes[semconv.DB_QUERY_TEXT] = statement(args)
                span = self._tracer.start_span(operation, kind=SpanKind.CLIENT, attributes=attributes)
        except Exception:  # noqa: BLE001 - never reach the application
            logger.debug("redis span start failed", exc_info=True)
        return span, time.perf_counter()

    def end(self, call: Call, instance: Any, args: Sequence[Any], reply: Any, error: BaseException | None) -> None:
        if call is None:
            return
        span, started = call
        try:
            context = _finish(span, error)
            operation = command_name(args)
            self._recorder.command(
                describe(instance).name, operation, args, reply, time.perf_counter() - started, error, context
            )
        except Exception:  # noqa: BLE001
            logger.debug("redis span end failed", exc_info=True)

    def begin_pipeline(self, pipeline: Any) -> tuple[Call, list[Sequence[Any]]]:
        if not is_instrumentation_enabled():
            return None, []
        commands = pipeline_commands(pipeline)
        span = None
        try:
            if not self._children.skip():
                operation = batch_name(commands) if commands else "BATCH"
                attributes = dict(describe(pipeline).span_attributes)
                attributes[semconv.DB_OPERATION_NAME] = operation
                attributes[semconv.DB_OPERATION_BATCH_SIZE] = len(commands)
                attributes[semconv.DB_QUERY_TEXT] = pipeline_statement(commands)
                span = self._tracer.start_span(operation, kind=SpanKind.CLIENT, attributes=attributes)
        except Exception:  # noqa: BLE001
            logger.debug("redis pipeline span start failed", exc_info=True)
        return (span, time.perf_counter()), commands

    def end_pipeline(
        self, call: Call, pipeline: Any, commands: list[Sequence[Any]], replies: Any, error: BaseException | None
    ) -> None:
        if call is None:
            return
        span, started = call
        try:
            # A WATCHed key that changed aborts the transaction: the app's retry loop, not a failure.
            failed = None if _is_watch_error(error) else error
            context = _finish(span, failed)
            duration = time.perf_counter() - started
            self._recorder.pipeline(describe(pipeline).name, commands, replies, duration, error, context)
        except Exception:  # noqa: BLE001
            logger.debug("redis pipeline span end failed", exc_info=True)


def _finish(span: Span | None, error: BaseException | None) -> Any:
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
