"""What one statement records: a client span, ``db.client.operation.duration`` and slow-query events.

``StatementRecorder.begin``/``finish`` are called around each statement by whichever hook
``SQLAlchemyInstrumentor`` chose (``_execution.py``, or the engine events of ``_events.py``); they
never raise.
"""

from __future__ import annotations

import os
import time
from typing import Any

from opentelemetry.metrics import Meter
from opentelemetry.trace import SpanKind, Tracer

from otelperf import semconv
from otelperf.instrumentation._children import ChildSpans
from otelperf.instrumentation._errors import record_error
from otelperf.instrumentation.memo import cached_on
from otelperf.log import logger
from otelperf.metrics.instruments import BoundedHistogram, SelfCost
from otelperf.redaction.sql import sanitize_sql, summarize_sql

_MAX_MEMO = 4096
_SYSTEMS = {
    "postgresql": "postgresql",
    "sqlite": "sqlite",
    "mysql": "mysql",
    "mariadb": "mariadb",
    "mssql": "microsoft.sql_server",
    "oracle": "oracle.db",
}


def _describe_engine(engine: Any) -> dict[str, Any]:
    url = engine.url
    dialect = engine.dialect.name
    attributes: dict[str, Any] = {semconv.DB_SYSTEM_NAME: _SYSTEMS.get(dialect, dialect)}
    if url.database:
        # A SQLite database is a file path: keep the file name only.
        attributes[semconv.DB_NAMESPACE] = os.path.basename(url.database) if dialect == "sqlite" else url.database
    if url.host:
        attributes[semconv.SERVER_ADDRESS] = url.host
    if url.port:
        attributes[semconv.SERVER_PORT] = int(url.port)
    return attributes


def _engine_attributes(engine: Any) -> dict[str, Any]:
    """Per-engine attributes, computed once and kept on the engine."""
    return cached_on(engine, "_otelperf_attributes", lambda: _describe_engine(engine))


def _metric_attributes(engine: Any, operation: str, table: str | None) -> dict[str, Any]:
    """The measurement's attributes, memoised on the engine (they repeat with every query)."""
    memo: dict[tuple[str, str | None], dict[str, Any]] = cached_on(engine, "_otelperf_memo", dict)
    attributes = memo.get((operation, table))
    if attributes is None:
        attributes = dict(_engine_attributes(engine))
        attributes[semconv.DB_OPERATION_NAME] = operation
        if table:
            attributes[semconv.DB_COLLECTION_NAME] = table
        if len(memo) < _MAX_MEMO:
            memo[(operation, table)] = attributes
    return attributes


Statement = tuple[Any, float, dict[str, Any]]
"""A statement in flight: its span (``None`` when not started), start time, metric attributes."""


class StatementRecorder:
    """Starts a span before a statement and ends it, with a measurement, after."""

    def __init__(self, tracer: Tracer, meter: Meter, slow_query_threshold_s: float = 0.5) -> None:
        self._tracer = tracer
        self._children = ChildSpans(tracer)
        self._slow_s = slow_query_threshold_s
        self._duration = BoundedHistogram(meter, semconv.INSTRUMENTS[semconv.DB_CLIENT_OPERATION_DURATION])
        self._cost = SelfCost("sqlalchemy")

    def begin(self, connection: Any, statement: str) -> Statement | None:
        """The statement's state, or ``None`` if it could not be started (then nothing is recorded)."""
        try:
            timed = self._cost.sampled()
            begin = time.perf_counter()
            operation, table = summarize_sql(statement)
            metric_attributes = _metric_attributes(connection.engine, operation, table)
            span = None if self._children.skip() else self._start_span(statement, operation, table, metric_attributes)
            if timed:
                self._cost.record(begin)
            return span, time.perf_counter(), metric_attributes
        except Exception:  # noqa: BLE001 - never reach the application
            logger.debug("sqlalchemy statement start failed", exc_info=True)
            return None

    def _start_span(self, statement: str, operation: str, table: str | None, attributes: dict[str, Any]) -> Any:
        span_attributes = dict(attributes)
        span_attributes[semconv.DB_QUERY_TEXT] = sanitize_sql(statement)
        name = f"{operation} {table}" if table else operation
        return self._tracer.start_span(name, kind=SpanKind.CLIENT, attributes=span_attributes)

    def finish(self, state: Statement, error: BaseException | None) -> None:
        """End the span and record the duration; ``error`` is the driver's exception, if any."""
        try:
            span, started, attributes = state
            duration = time.perf_counter() - started
            if error is not None:
                attributes = dict(attributes)
                attributes[semconv.ERROR_TYPE] = type(error).__qualname__
            if span is None:  # under a parent that is not sampled (``ChildSpans``)
                self._duration.record(duration, attributes)
                return
            if error is not None:
                record_error(span, error, attributes[semconv.ERROR_TYPE])
            if duration >= self._slow_s:
                span.add_event(
                    semconv.DB_SLOW_QUERY_EVENT,
                    {
                        "otelperf.db.query.duration": duration,
                        "otelperf.db.slow_query.threshold": self._slow_s,
                    },
                )
            self._duration.record(duration, attributes, span=span)  # in the span's context
            span.end()
        except Exception:  # noqa: BLE001
            logger.debug("sqlalchemy span end failed", exc_info=True)
