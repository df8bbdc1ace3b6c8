from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otelperf.export.resilient import ExportHealth, ResilientSpanExporter, distill_reason


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FlakyExporter(SpanExporter):
    def __init__(self) -> None:
        self.up = False
        self.calls = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.calls += 1
        if not self.up:
            raise ConnectionError("collector gone")
        return SpanExportResult.SUCCESS


def spans(n: int) -> list[ReadableSpan]:
    return [ReadableSpan(name=f"s{i}") for i in range(n)]


def otelperf_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "otelperf" and r.levelno == logging.WARNING]


@pytest.fixture(autouse=True)
def _capture(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    otelperf_logger = logging.getLogger("otelperf")
    otelperf_logger.addHandler(caplog.handler)  # otelperf's logger does not propagate
    otelperf_logger.setLevel(logging.INFO)
    otelperf_logger.propagate = False
    yield
    otelperf_logger.removeHandler(caplog.handler)


def test_circuit_breaker_drops_without_calling_the_collector(caplog: pytest.LogCaptureFixture) -> None:
    clock, inner = Clock(), FlakyExporter()
    exporter = ResilientSpanExporter(inner, ExportHealth("traces", "http://c:4317", clock=clock))
    assert exporter.export(spans(3)) is SpanExportResult.FAILURE  # tried, failed: circuit opens for 2 s
    for _ in range(50):
        exporter.export(spans(2))
    assert inner.calls == 1
    assert exporter.health.dropped_total == 103
    clock.now += 2.5
    exporter.export(spans(1))
    assert inner.calls == 2  # one probe after the back-off
    (first,) = otelperf_warnings(caplog)
    assert "cannot export traces to http://c:4317 (ConnectionError: collector gone)" in first


def test_reports_at_most_once_a_minute_then_recovery(caplog: pytest.LogCaptureFixture) -> None:
    clock, inner = Clock(), FlakyExporter()
    health = ExportHealth("traces", "http://c:4317", clock=clock)
    exporter = ResilientSpanExporter(inner, health)
    for _ in range(600):  # ten minutes of one batch a second
        exporter.export(spans(10))
        clock.now += 1
    warnings = otelperf_warnings(caplog)
    assert 10 <= len(warnings) <= 11, warnings
    assert any("still failing" in w and "spans dropped in the last 60 s" in w for w in warnings)
    inner.up = True
    clock.now += 60
    assert exporter.export(spans(5)) is SpanExportResult.SUCCESS
    # The whole outage's drops, not only those since the last minute's report.
    assert any("recovered; 6000 spans dropped while it was unreachable" in r.getMessage() for r in caplog.records)
    assert health.exported_total == 5


def test_distill_grpc_reason() -> None:
    message = (
        "Transient error StatusCode.UNAVAILABLE encountered while exporting traces to 127.0.0.1:1, "
        "retrying in 0.9s. Error details: failed to connect to all addresses; last error: UNKNOWN: "
        "ipv4:127.0.0.1:1: Failed to connect to remote host: Connection refused"
    )
    assert distill_reason(message) == "UNAVAILABLE: Connection refused"


class BlockedExporter(SpanExporter):
    """An exporter stuck in a slow call: the batch processor's queue fills up behind it."""

    def __init__(self) -> None:
        import threading

        self.release = threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.release.wait(10)
        return SpanExportResult.SUCCESS


def test_full_export_queue_is_counted_and_reported_once_not_per_span(caplog: pytest.LogCaptureFixture) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from otelperf.export.resilient import silence_exporter_logs

    clock = Clock()
    health = ExportHealth("traces", "http://collector:4317", clock=clock)
    silence_exporter_logs(health)
    exporter = BlockedExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=8, max_export_batch_size=4))
    tracer = provider.get_tracer("t")
    with caplog.at_level(logging.WARNING):
        for index in range(300):
            tracer.start_span(f"s{index}").end()
        clock.now += 61
        for index in range(50):
            tracer.start_span(f"late{index}").end()
    exporter.release.set()
    provider.shutdown()
    sdk_lines = [r for r in caplog.records if "Queue full" in r.getMessage()]
    assert not sdk_lines, f"{len(sdk_lines)} per-span SDK warnings reached the logs"
    assert health.queue_full_total >= 300  # at most 8 queued and 4 in the blocked export
    warnings = otelperf_warnings(caplog)
    assert len(warnings) == 2, warnings
    assert "traces export queue is full (OTEL_BSP_MAX_QUEUE_SIZE)" in warnings[0]
    assert "export queue was full" in warnings[1] and " spans dropped in the last 60 s" in warnings[1]
