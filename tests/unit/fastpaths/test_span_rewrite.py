"""An ended span's attributes, events and status rewritten in place, whatever holds its events."""

from __future__ import annotations

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import SpanContext, Status, StatusCode

from otelperf.fastpaths import span_rewrite


def test_an_ended_span_is_rewritten_whatever_holds_its_events() -> None:
    for events in ([Event("exception", {"exception.message": "raw"})], (Event("exception"),)):
        span = ReadableSpan("s", SpanContext(1, 2, is_remote=False), attributes={"a": "raw"}, events=events)
        span_rewrite.replace_attributes(span, {"a": "clean"})
        span_rewrite.rewrite_events(span, lambda event: Event("clean", None, event.timestamp))
        span_rewrite.append_event(span, Event("added"))
        span_rewrite.replace_status(span, Status(StatusCode.ERROR, "clean"))
        assert dict(span.attributes or {}) == {"a": "clean"}
        assert [event.name for event in span.events] == ["clean", "added"]
        assert span.status.description == "clean"
