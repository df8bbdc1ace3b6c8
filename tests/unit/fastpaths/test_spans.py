"""Span fields read as stored give what the span's properties give. These tests set the switches
themselves, so they run the same whether the run forces the fast paths off or not."""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import INVALID_SPAN, Link, SpanContext, Status, StatusCode, set_span_in_context

from otelperf.fastpaths import spans
from tests.unit.conftest import switched


def _spans() -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "t"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    parent = SpanContext(1, 2, is_remote=True)
    with tracer.start_as_current_span(
        "root", set_span_in_context(INVALID_SPAN.__class__(parent)), links=[Link(parent, {"l": 1})]
    ) as root:
        root.set_attribute("a", "b")
        root.add_event("e", {"k": 1})
        root.set_status(Status(StatusCode.ERROR, "bad"))
        with tracer.start_as_current_span("child"):
            pass
    return list(exporter.get_finished_spans())


def test_span_fields_read_as_stored_are_the_properties() -> None:
    for span in _spans():
        with switched(spans.SWITCH, True):
            stored = spans.export_fields(span)
            stored_identity = spans.getter("context", "parent")(span)
            stored_attributes = dict(spans.attribute_dict(span))
        with switched(spans.SWITCH, False):
            public = spans.export_fields(span)
            public_identity = spans.getter("context", "parent")(span)
            public_attributes = dict(spans.attribute_dict(span))
        assert [tuple(x) if i in (8, 10) else x for i, x in enumerate(stored)][:6] == list(public[:6])
        assert dict(stored[6]) == dict(public[6]) and stored[7] == public[7]
        assert tuple(stored[8]) == tuple(public[8]) and tuple(stored[10]) == tuple(public[10])
        assert (stored[9], stored[11], stored[12]) == (public[9], public[11], public[12])
        assert stored_identity == public_identity == (span.context, span.parent)
        assert stored_attributes == public_attributes == dict(span.attributes or {})
    assert spans.backing_dict(None) == {}
