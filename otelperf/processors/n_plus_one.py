"""N+1 queries, found in-process: many sibling executions of one statement under one request.

For every local root span (a request, a job) the processor groups the finished DB client spans
by parent and by literal-free statement (the fingerprint). When the root ends, a group is an N+1
when it has at least ``min_count`` executions (``OTELPERF_N_PLUS_ONE_MIN_COUNT``, default 5, as
Sentry's detector) and either took at least ``min_duration_s`` in total
(``OTELPERF_N_PLUS_ONE_MIN_DURATION``, default 50 ms, Sentry's floor, right for a database across
a network) or spanned at least ``min_share`` of the root's duration, from the start of its first
execution to the end of its last (``OTELPERF_N_PLUS_ONE_MIN_SHARE``, default 0.5). The second test
is for fast local databases, SQLite say: there each statement takes microseconds and the loop's
cost is the application's own work per row (ORM, driver, instrumentation) between the
statements, which the stretch includes and the statements' durations do not. A repetition both
brief and over a small part of its request is left alone. Each one is reported as:

- an ``otelperf.db.n_plus_one`` event on the root span with ``otelperf.db.query.fingerprint``,
  ``otelperf.db.n_plus_one.count``, ``otelperf.db.n_plus_one.duration`` (s, the executions'
  total), ``otelperf.db.n_plus_one.share`` (the stretch's share of the root's duration), the
  operation and the table;
- one increment of the ``otelperf.db.n_plus_one`` counter (``http.route``, ``db.operation.name``,
  ``db.collection.name``, ``otelperf.db.query.fingerprint``: the evidence a report names; literal-free
  statements of one code base are few, and the counter's series are capped like every other).

It sees sampled traces only (an unsampled span never reaches a processor). Its state holds open
spans only and is capped, so a span that never ends cannot grow memory without bound. Register it
after ``SanitizingSpanProcessor`` and before the export processor: the event is added to the
ended root before it is exported.
"""

from __future__ import annotations

import time
from typing import Any

from opentelemetry.context import Context
from opentelemetry.metrics import Meter
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor

from otelperf import semconv
from otelperf.fastpaths import span_rewrite, spans
from otelperf.log import logger
from otelperf.metrics.instruments import BoundedCounter, SelfCost, _own_meter

_MAX_OPEN_ROOTS = 10_000

# Per open local root: (parent span id, fingerprint) -> (start, end) (ns) of its executions, and
# the operation and table of each fingerprint. dict.setdefault and list.append are atomic under
# the GIL, so spans ending in several threads at once need no lock.
_Groups = dict[tuple[int, str], list[tuple[int, int]]]
_Labels = dict[tuple[int, str], tuple[Any, Any]]


class NPlusOneSpanProcessor(SpanProcessor):
    """Adds an event to, and counts, each request that runs one statement N times in a row.

    State is keyed by trace id and created only for local roots, so the common span (neither a
    root nor a database call) costs a few attribute reads, through ``fastpaths.spans`` (the span's
    stored fields rather than its properties where that fast path is on: this runs for every span).
    """

    def __init__(
        self, min_count: int = 5, min_duration_s: float = 0.05, meter: Meter | None = None, min_share: float = 0.5
    ) -> None:
        self._meter = meter
        self._min_count = min_count
        self._min_duration_ns = int(min_duration_s * 1e9)
        self._min_share = min_share
        self._roots: dict[int, tuple[int, _Groups, _Labels]] = {}
        self._counter: BoundedCounter | None = None
        self._cost = SelfCost("processor.n_plus_one")
        self._identity = spans.getter("context", "parent")
        self._times = spans.getter("start_time", "end_time")

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        context, parent = self._identity(span)
        if context is not None and (parent is None or parent.is_remote) and len(self._roots) < _MAX_OPEN_ROOTS:
            self._roots[context.trace_id] = (context.span_id, {}, {})

    def on_end(self, span: ReadableSpan) -> None:
        timed = self._cost.sampled()
        started = time.perf_counter() if timed else 0.0
        try:
            self._on_end(span)
        except Exception:  # noqa: BLE001 - a processor must never raise
            logger.debug("n+1 detection failed for %s", span.name, exc_info=True)
        if timed:
            self._cost.record(started)

    def _on_end(self, span: ReadableSpan) -> None:
        context, parent = self._identity(span)
        if context is None:
            return
        if parent is None or parent.is_remote:
            entry = self._roots.get(context.trace_id)
            if entry is not None and entry[0] == context.span_id:
                del self._roots[context.trace_id]
                if entry[1]:
                    self._report(span, entry[1], entry[2])
            return
        attributes = spans.attribute_dict(span)
        text = attributes.get(semconv.DB_QUERY_TEXT) or attributes.get("db.statement")
        if text.__class__ is not str:
            return
        entry = self._roots.get(context.trace_id)
        if entry is None:
            return
        key = (parent.span_id, text)
        executions = entry[1].get(key)
        if executions is None:
            executions = entry[1].setdefault(key, [])
            entry[2].setdefault(
                key, (attributes.get(semconv.DB_OPERATION_NAME), attributes.get(semconv.DB_COLLECTION_NAME))
            )
        start_time, end_time = self._times(span)
        executions.append((start_time or 0, end_time or 0))

    def _report(self, span: ReadableSpan, groups: _Groups, labels: _Labels) -> None:
        route = _text(spans.attribute_dict(span).get(semconv.HTTP_ROUTE))
        root_start, root_end = self._times(span)
        root_ns = max((root_end or 0) - (root_start or 0), 1)
        for key, executions in list(groups.items()):
            count = len(executions)
            if count < self._min_count:
                continue
            duration_ns = sum(end - start for start, end in executions)
            share = (max(end for _, end in executions) - min(start for start, _ in executions)) / root_ns
            if duration_ns < self._min_duration_ns and share < self._min_share:
                continue
            fingerprint = key[1]
            operation, table = labels.get(key, (None, None))
            event_attributes: dict[str, str | int | float] = {
                semconv.DB_QUERY_FINGERPRINT: fingerprint,
                "otelperf.db.n_plus_one.count": count,
                "otelperf.db.n_plus_one.duration": duration_ns / 1e9,
                "otelperf.db.n_plus_one.share": round(min(share, 1.0), 4),
            }
            metric_attributes: dict[str, str] = {semconv.DB_QUERY_FINGERPRINT: fingerprint}
            if route:
                metric_attributes[semconv.HTTP_ROUTE] = route
            if isinstance(operation, str):
                event_attributes[semconv.DB_OPERATION_NAME] = metric_attributes[semconv.DB_OPERATION_NAME] = operation
            if isinstance(table, str):
                event_attributes[semconv.DB_COLLECTION_NAME] = metric_attributes[semconv.DB_COLLECTION_NAME] = table
            # The root has ended (its API refuses events): added before it is exported.
            span_rewrite.append_event(span, Event(semconv.DB_N_PLUS_ONE_EVENT, event_attributes, span.end_time))
            if self._counter is None:
                self._counter = BoundedCounter(self._meter or _own_meter(), semconv.INSTRUMENTS[semconv.DB_N_PLUS_ONE])
            self._counter.add(1, metric_attributes)

    def shutdown(self) -> None:
        self._roots.clear()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
