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


def run_request(
    repeats: int, each_ms: float, *, gap_ms: float = 0, tail_ms: float = 200, **options: float
) -> tuple[InMemorySpanExporter, InMemoryMetricReader]:
    """A request running one statement ``repeats`` times (``each_ms`` each, ``gap_ms`` of the app's
    own work between them), then another statement (100 ms) and ``tail_ms`` - 100 ms more work."""
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    provider = TracerProvider()
    provider.add_span_processor(SanitizingSpanProcessor())
    provider.add_span_processor(
        NPlusOneSpanProcessor(meter=MeterProvider(metric_readers=[reader]).get_meter("t"), **options)
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
        clock += int(each_ms * MS)
        child.end(end_time=clock)
        clock += int(gap_ms * MS)
    other = tracer.start_span(
        "SELECT orders",
        context=context,
        start_time=clock,
        attributes={"db.query.text": "SELECT * FROM orders WHERE id = 1"},
    )
    other.end(end_time=clock + 100 * MS)
    root.end(end_time=clock + int(tail_ms * MS))
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
        "otelperf.db.query.fingerprint": "SELECT * FROM items WHERE id = ?",
    }
    assert point.count == 1


def test_too_few_or_too_fast_repetitions_stay_quiet() -> None:
    spans, reader = run_request(repeats=4, each_ms=50)
    assert n_plus_one_events(spans) == []
    # 20 ms in total (under 50 ms), stretching over 20 of the request's 220 ms (under half).
    spans, reader = run_request(repeats=10, each_ms=2)
    assert n_plus_one_events(spans) == []
    assert read_points(reader, "otelperf.db.n_plus_one") == []


def test_a_fast_repetition_that_is_most_of_its_request_is_an_n_plus_one() -> None:
    """SQLite: twenty 30 µs lookups, 0.4 ms of ORM work around each, in a 10 ms request. Their total
    (0.6 ms) is far under 50 ms; the loop is 8.6 ms of the request's 10.2 ms."""
    spans, reader = run_request(repeats=20, each_ms=0.03, gap_ms=0.4, tail_ms=1.5)
    (event,) = n_plus_one_events(spans)
    assert event["otelperf.db.n_plus_one.count"] == 20
    assert 0.0005 < float(event["otelperf.db.n_plus_one.duration"]) < 0.0007  # type: ignore[arg-type]
    assert 0.5 < float(event["otelperf.db.n_plus_one.share"]) < 0.9  # type: ignore[arg-type]
    (point,) = read_points(reader, "otelperf.db.n_plus_one")
    assert point.attributes["http.route"] == "/orders/{id}"


def test_the_share_test_is_its_setting() -> None:
    """``min_share`` (OTELPERF_N_PLUS_ONE_MIN_SHARE) at 1 leaves only Sentry's total-duration test."""
    spans, _ = run_request(repeats=20, each_ms=0.03, gap_ms=0.4, tail_ms=1.5, min_share=1.0)
    assert n_plus_one_events(spans) == []
    spans, _ = run_request(repeats=20, each_ms=3, tail_ms=10_000, min_share=1.0)  # 60 ms in total
    assert len(n_plus_one_events(spans)) == 1
