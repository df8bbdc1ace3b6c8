"""The profile span processor: local roots get a profile id and tag their thread, or only the route
frame when samples cannot be labelled."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import set_span_in_context

from otelperf.profiling import ProfileSpanProcessor, tags
from tests.unit.profiling.conftest import FakeNative


def test_local_roots_get_a_profile_id_and_tag_their_thread(native: FakeNative) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(ProfileSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    root = tracer.start_span("GET /orders")
    child = tracer.start_span("SELECT orders", context=set_span_in_context(root))
    child.end()
    root.end()
    spans = {span.name: span for span in exporter.get_finished_spans()}
    span_id = format(spans["GET /orders"].context.span_id, "016x")
    assert spans["GET /orders"].attributes["pyroscope.profile.id"] == span_id
    assert "pyroscope.profile.id" not in spans["SELECT orders"].attributes
    assert native.calls == [
        ("add", "span_id", span_id),
        ("add", "span_name", "GET /orders"),
        ("remove", "span_id", span_id),
        ("remove", "span_name", "GET /orders"),
    ]


def test_roots_carry_no_profile_id_when_samples_cannot_be_labelled() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(ProfileSpanProcessor(link_spans=False))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("GET /x"):
        root = tags.current_root.get()
        assert root is not None and root.span_name == "GET /x"  # the [route] frame still follows the work
    (span,) = exporter.get_finished_spans()
    assert "pyroscope.profile.id" not in (span.attributes or {})
