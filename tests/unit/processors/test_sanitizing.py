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


def test_url_values_userinfo_and_credential_headers_are_redacted() -> None:
    exporter = InMemorySpanExporter()
    tracer = provider_with(exporter).get_tracer("t")
    attributes = {
        "url.query": "token=abc123&page=2",
        "url.full": "https://bob:hunter2@api.example.com/v1/x?sig=zzz#frag",
        "http.target": "/login?password=pw",
        "http.request.header.authorization": ("Bearer abc123",),
        "http.request.header.cookie": ("session=abc123",),
        "http.request.header.x_session_id": ("abc123",),
        "http.response.header.set_cookie": ("session=abc123; HttpOnly",),
        "http.request.header.accept": ("application/json",),
        "http.route": "/login",
    }
    with tracer.start_as_current_span("GET /login", attributes=attributes):
        pass
    (exported,) = exporter.get_finished_spans()
    clean = dict(exported.attributes)
    assert clean["url.query"] == "token=?&page=?"
    assert clean["url.full"] == "https://api.example.com/v1/x?sig=?#?"
    assert clean["http.target"] == "/login?password=?"
    for header in ("authorization", "cookie", "x_session_id"):
        assert clean[f"http.request.header.{header}"] == ("[REDACTED]",)
    assert clean["http.response.header.set_cookie"] == ("[REDACTED]",)
    assert clean["http.request.header.accept"] == ("application/json",)
    assert clean["http.route"] == "/login"
    assert "abc123" not in str(clean) and "hunter2" not in str(clean) and "zzz" not in str(clean)
