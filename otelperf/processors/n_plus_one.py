"""N+1 queries, found in-process: many sibling executions of one statement under one request.

For every local root span (a request, a job) the processor groups the finished DB client spans
by parent and by literal-free statement (the fingerprint). When the root ends, each group of at
least ``min_count`` executions (``OTELPERF_N_PLUS_ONE_MIN_COUNT``, default 5, as Sentry's
detector) that took at least ``min_duration_s`` in total (``OTELPERF_N_PLUS_ONE_MIN_DURATION``,
default 50 ms) is reported:

- an ``otelperf.db.n_plus_one`` event on the root span with ``otelperf.db.query.fingerprint``,
  ``otelperf.db.n_plus_one.count``, ``otelperf.db.n_plus_one.duration`` (s), the operation and
  the table;
- one increment of the ``otelperf.db.n_plus_one`` counter (``http.route``, ``db.operation.name``,
  ``db.collection.name``).

It sees sampled traces only (an unsampled span never reaches a processor). Its state holds open
spans only and is capped, so a span that never ends cannot grow memory without bound. Register it
after ``SanitizingSpanProcessor`` and before the export processor: the event is added to the
ended root before it is exported.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from opentelemetry.context import Context
from opentelemetry.metrics import Meter
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor

from otelperf import semconv
from otelperf._instruments import BoundedCounter, SelfCost, _own_meter
from otelperf._log import logger

_MAX_OPEN_SPANS = 100_000
_MAX_OPEN_ROOTS = 10_000


@dataclass
class _Group:
    count: int = 0
    duration_ns: int = 0
    operation: str | None = None
    table: str | None = None


@dataclass
class _Root:
    groups: dict[tuple[int, str], _Group] = field(default_factory=dict)


class NPlusOneSpanProcessor(SpanProcessor):
    """Adds an event to, and counts, each request that runs one statement N times in a row."""

    def __init__(self, min_count: int = 5, min_duration_s: float = 0.05, meter: Meter | None = None) -> None:
        self._meter = meter
        self._min_count = min_count
        self._min_duration_ns = int(min_duration_s * 1e9)
        self._root_of: dict[int, int] = {}
        self._roots: dict[int, _Root] = {}
        self._lock = threading.Lock()
        self._counter: BoundedCounter | None = None
        self._cost = SelfCost("processor.n_plus_one")

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        span_id = span.context.span_id
        parent = span.parent
        if parent is None or parent.is_remote:
            if len(self._roots) >= _MAX_OPEN_ROOTS:
                return
            self._roots[span_id] = _Root()
            self._root_of[span_id] = span_id
            return
        root = self._root_of.get(parent.span_id)
        if root is not None and len(self._root_of) < _MAX_OPEN_SPANS:
            self._root_of[span_id] = root

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
        context = span.context
        if context is None:
            return
        span_id = context.span_id
        root_id = self._root_of.pop(span_id, None)
        if root_id is None:
            return
        if root_id == span_id:
            root = self._roots.pop(span_id, None)
            if root is not None and root.groups:
                self._report(span, root)
            return
        attributes = span.attributes or {}
        text = attributes.get(semconv.DB_QUERY_TEXT) or attributes.get("db.statement")
        if not isinstance(text, str) or span.parent is None:
            return
        root = self._roots.get(root_id)
        if root is None:
            return
        duration = (span.end_time or 0) - (span.start_time or 0)
        with self._lock:
            group = root.groups.get((span.parent.span_id, text))
            if group is None:
                group = root.groups[(span.parent.span_id, text)] = _Group(
                    operation=_text(attributes.get(semconv.DB_OPERATION_NAME)),
                    table=_text(attributes.get(semconv.DB_COLLECTION_NAME)),
                )
            group.count += 1
            group.duration_ns += duration

    def _report(self, span: ReadableSpan, root: _Root) -> None:
        route = _text((span.attributes or {}).get(semconv.HTTP_ROUTE))
        for (_, fingerprint), group in root.groups.items():
            if group.count < self._min_count or group.duration_ns < self._min_duration_ns:
                continue
            event_attributes: dict[str, str | int | float] = {
                semconv.DB_QUERY_FINGERPRINT: fingerprint,
                "otelperf.db.n_plus_one.count": group.count,
                "otelperf.db.n_plus_one.duration": group.duration_ns / 1e9,
            }
            metric_attributes: dict[str, str] = {}
            if route:
                metric_attributes[semconv.HTTP_ROUTE] = route
            if group.operation:
                event_attributes[semconv.DB_OPERATION_NAME] = metric_attributes[semconv.DB_OPERATION_NAME] = (
                    group.operation
                )
            if group.table:
                event_attributes[semconv.DB_COLLECTION_NAME] = metric_attributes[semconv.DB_COLLECTION_NAME] = (
                    group.table
                )
            _append_event(span, Event(semconv.DB_N_PLUS_ONE_EVENT, event_attributes, span.end_time))
            if self._counter is None:
                self._counter = BoundedCounter(
                    self._meter or _own_meter(),
                    semconv.DB_N_PLUS_ONE,
                    unit="{occurrence}",
                    description="Requests that ran one statement N times under one parent (N+1 queries).",
                )
            self._counter.add(1, metric_attributes)

    def shutdown(self) -> None:
        self._roots.clear()
        self._root_of.clear()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _append_event(span: ReadableSpan, event: Event) -> None:
    """The span has ended (its API refuses events): add to its event list before export."""
    events = span._events
    if hasattr(events, "append"):
        events.append(event)
    else:
        span._events = (*events, event)
