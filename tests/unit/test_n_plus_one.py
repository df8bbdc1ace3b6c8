from __future__ import annotations

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, set_span_in_context

from otelperf.processors import NPlusOneSpanProcessor, SanitizingSpanProcessor
from tests.unit.conftest import read_points

MS = 1_000_000
SELECT_ONE = "SELECT * FROM items WHERE id = 7"


def run_request(repeats: int, each_ms: int) -> tuple[InMemorySpanExporter, InMemoryMetricReader]:
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    provider = TracerProvider()
    provider.add_span_processor(SanitizingSpanProcessor())
    provider.add_span_processor(
        NPlusOneSpanProcessor(5, 0.05, meter=MeterProvider(metric_readers=[reader]).get_meter("t"))
    )
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracer = provider.get_tracer("t")
    root = tracer.start_span(
        "GET /orders/{id}", kind=SpanKind.SERVER, attributes={"http.route": "/orders/{id}"}, start_time=0
    )
    context = set_span_in_context(root)
    clock = 1
    for index in range(repeats):
        child = tracer.start_span(
            "SELECT items",
            context=context,
            kind=SpanKind.CLIENT,
            start_time=clock,
            attributes={
                "db.query.text": SELECT_ONE.replace("7", str(index)),
                "db.operation.name": "SELECT",
                "db.collection.name": "items",
            },
        )
        clock += each_ms * MS
        child.end(end_time=clock)
    other = tracer.start_span(
        "SELECT orders",
        context=context,
        start_time=clock,
        attributes={"db.query.text": "SELECT * FROM orders WHERE id = 1"},
    )
    other.end(end_time=clock + 100 * MS)
    root.end(end_time=clock + 200 * MS)
    return spans, reader


def n_plus_one_events(spans: InMemorySpanExporter) -> list[dict[str, object]]:
    root = next(s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER)
    return [dict(e.attributes or {}) for e in root.events if e.name == "otelperf.db.n_plus_one"]


def test_repeated_statement_is_reported_with_fingerprint_count_and_route() -> None:
    spans, reader = run_request(repeats=6, each_ms=10)
    (event,) = n_plus_one_events(spans)
    assert event["otelperf.db.query.fingerprint"] == "SELECT * FROM items WHERE id = ?"
    assert event["otelperf.db.n_plus_one.count"] == 6
    assert abs(float(event["otelperf.db.n_plus_one.duration"]) - 0.06) < 1e-9  # type: ignore[arg-type]
    assert event["db.collection.name"] == "items"
    (point,) = read_points(reader, "otelperf.db.n_plus_one")
    assert point.attributes == {
        "http.route": "/orders/{id}",
        "db.operation.name": "SELECT",
        "db.collection.name": "items",
    }
    assert point.count == 1


def test_too_few_or_too_fast_repetitions_stay_quiet() -> None:
    spans, reader = run_request(repeats=4, each_ms=50)
    assert n_plus_one_events(spans) == []
    spans, reader = run_request(repeats=10, each_ms=2)  # 20 ms in total, under 50 ms
    assert n_plus_one_events(spans) == []
    assert read_points(reader, "otelperf.db.n_plus_one") == []
