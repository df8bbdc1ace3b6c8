from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from otelperf.processors import SanitizingSpanProcessor

LEAKY_ERROR = (
    "(sqlite3.IntegrityError) UNIQUE constraint failed: users.id\n"
    "[SQL: INSERT INTO users (id, email) VALUES (?, ?)]\n"
    "[parameters: (1, 'alice@example.com')]"
)


def provider_with(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SanitizingSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def test_statements_exceptions_and_status_are_scrubbed_before_export() -> None:
    exporter = InMemorySpanExporter()
    tracer = provider_with(exporter).get_tracer("t")
    with tracer.start_as_current_span(
        "q", attributes={"db.statement": "SELECT * FROM t WHERE email = 'a@b.c'", "other": "kept 42"}
    ) as span:
        span.record_exception(ValueError(LEAKY_ERROR))
        span.set_status(Status(StatusCode.ERROR, LEAKY_ERROR))
    (exported,) = exporter.get_finished_spans()
    assert exported.attributes["db.statement"] == "SELECT * FROM t WHERE email = ?"
    assert exported.attributes["other"] == "kept 42"
    event = exported.events[0]
    for text in (
        event.attributes["exception.message"],
        event.attributes["exception.stacktrace"],
        exported.status.description,
    ):
        assert "alice@example.com" not in text
        assert "[parameters: ?]" in text
    assert exported.status.status_code is StatusCode.ERROR


def test_clean_spans_are_untouched() -> None:
    exporter = InMemorySpanExporter()
    tracer = provider_with(exporter).get_tracer("t")
    with tracer.start_as_current_span("clean", attributes={"db.statement": "GET ?"}):
        pass
    (exported,) = exporter.get_finished_spans()
    assert dict(exported.attributes) == {"db.statement": "GET ?"}
