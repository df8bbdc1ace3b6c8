"""Last line of defence: no SQL literal, bound value or credential leaves the process in a span.

otelperf's own instrumentors already record literal-free statements. This processor covers what
others record, at ``on_end``, before the span reaches the export processor:

- ``db.query.text`` / ``db.statement`` attributes from any instrumentation;
- ``exception`` events (``exception.message`` and ``exception.stacktrace``), where drivers and
  SQLAlchemy put the statement and its parameter values;
- the span status description, which several instrumentations fill with ``str(exc)``;
- URLs and query strings (``url.query``, ``url.full``, ...): parameter values and userinfo dropped;
- captured credential headers (``http.request.header.authorization``, cookies, ``set-cookie``,
  anything named like a token, secret, password or session): the value becomes ``[REDACTED]``.

It must be registered before the export processor. Spans with none of these are left untouched
after three cheap checks (the common case).
"""

from __future__ import annotations

from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import Status
from opentelemetry.util.types import AttributeValue

from otelperf.fastpaths import span_rewrite, spans
from otelperf.redaction.sql import sanitize_sql, scrub_message
from otelperf.redaction.urls import URL_ATTRIBUTES, is_sensitive_header_attribute, redact_query, redact_url
from otelperf.semconv import STATEMENT_ATTRIBUTES

_EXCEPTION_TEXT = ("exception.message", "exception.stacktrace")
_REDACTED = ("[REDACTED]",)


class SanitizingSpanProcessor(SpanProcessor):
    """Rewrites statement text, exception events and status descriptions without literals.

    The ended span is read through ``fastpaths.spans`` and changed through
    ``fastpaths.span_rewrite`` (the only way to change what the export processor will see)."""

    def __init__(self) -> None:
        self._read = spans.getter("events", "status")

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        try:
            self._sanitize(span)
        except Exception:  # noqa: BLE001 - a processor must never raise
            from otelperf.log import logger

            logger.debug("sanitizing span %s failed", span.name, exc_info=True)

    def _sanitize(self, span: ReadableSpan) -> None:
        values = spans.attribute_dict(span)
        if values:
            replacements: dict[str, AttributeValue] = {}
            for key in STATEMENT_ATTRIBUTES:
                value = values.get(key)
                if isinstance(value, str):
                    clean = sanitize_sql(value)
                    if clean != value:
                        replacements[key] = clean
            for key in URL_ATTRIBUTES:
                value = values.get(key)
                if isinstance(value, str):
                    clean = redact_query(value) if key == "url.query" else redact_url(value)
                    if clean != value:
                        replacements[key] = clean
            for key in values:
                if is_sensitive_header_attribute(key):
                    replacements[key] = _REDACTED
            if replacements:
                span_rewrite.replace_attributes(span, replacements)
        events, status = self._read(span)
        if events:
            span_rewrite.rewrite_events(span, _sanitize_event)
        description = status.description
        if description:
            clean_description = scrub_message(description)
            if clean_description != description:
                span_rewrite.replace_status(span, Status(status.status_code, clean_description))

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def _sanitize_event(event: Event) -> Event:
    if event.name != "exception" or not event.attributes:
        return event
    attributes = dict(event.attributes)
    changed = False
    for key in _EXCEPTION_TEXT:
        value = attributes.get(key)
        if isinstance(value, str):
            clean = scrub_message(value)
            if clean != value:
                attributes[key] = clean
                changed = True
    if not changed:
        return event
    return Event(event.name, attributes, event.timestamp)
