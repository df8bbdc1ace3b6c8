"""The pipeline: the providers, readers, views and processors it builds from the settings."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, set_span_in_context

from otelperf import semconv
from otelperf.export.resilient import ResilientMetricExporter, ResilientSpanExporter
from otelperf.metrics.exemplars import exemplar_reservoir_factory
from otelperf.pipeline import providers
from otelperf.pipeline.providers import Pipeline, _batch_options, _views, build_sampler
from otelperf.settings import load_settings
from tests.sdk_points import read_points

# Nothing listens on port 9 of the loopback: exporters are built, never reach anything.
UNREACHABLE = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTELPERF_SHUTDOWN_TIMEOUT": "2"}
NO_EXPORT = {"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}


def test_pipeline_applies_the_series_limit_to_every_reader() -> None:
    settings = load_settings(
        {
            "OTELPERF_METRIC_SERIES_LIMIT": "50",
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "none",
            "OTELPERF_LOCAL_METRICS": "true",
        }
    )
    pipeline = Pipeline(settings)
    pipeline.meter_provider = pipeline._build_meter_provider()  # without touching the global providers
    histogram = pipeline.meter_provider.get_meter("t").create_histogram("limited")
    for index in range(100):
        histogram.record(1.0, {"index": index})
    assert pipeline.local_reader is not None
    assert len(read_points(pipeline.local_reader, "limited")) == 51
    pipeline.meter_provider.shutdown()


@pytest.mark.fast_path("exemplars")
def test_every_histogram_otelperf_records_matches_exactly_one_of_its_views() -> None:
    # Two matching views would export an instrument twice; none would leave it the SDK's reservoir.
    histograms = [instrument.name for instrument in semconv.INSTRUMENTS.values() if instrument.kind == "histogram"]
    assert len(histograms) == 11
    views = _views()
    for name in histograms:
        matching = [view for view in views if view._match(SimpleNamespace(name=name))]  # type: ignore[arg-type]
        assert len(matching) == 1, name
        assert matching[0]._exemplar_reservoir_factory is exemplar_reservoir_factory(), name
    assert not any(view._match(SimpleNamespace(name="app.orders.total")) for view in views)  # type: ignore[arg-type]


def test_export_batches_are_small_unless_the_environment_says_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_MAX_QUEUE_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert _batch_options() == (64, 200)
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "32")
    assert _batch_options() == (32, 200)  # never larger than the queue the user chose
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "16")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "1000")
    assert _batch_options() == (None, None)  # the SDK reads the user's values itself


@pytest.mark.parametrize(
    ("name", "ratio", "description"),
    [
        ("parentbased_always_on", None, "ParentBased{root:AlwaysOnSampler,"),
        ("parentbased_traceidratio", "0.25", "ParentBased{root:TraceIdRatioBased{0.25},"),
        ("traceidratio", "0.5", "TraceIdRatioBased{0.5}"),
        ("always_off", None, "AlwaysOffSampler"),
    ],
)
def test_the_sampler_is_the_one_the_settings_name(name: str, ratio: str | None, description: str) -> None:
    environ = {"OTEL_TRACES_SAMPLER": name, **({"OTEL_TRACES_SAMPLER_ARG": ratio} if ratio else {})}
    assert build_sampler(load_settings(environ)).get_description().startswith(description)


def test_spans_leave_the_tracer_provider_sanitized_and_n_plus_ones_are_marked() -> None:
    """The processors the pipeline installs run before any exporter added after them: a statement's
    literals never reach it, and the repeated statement under one request is reported on the request."""
    pipeline = Pipeline(load_settings({**NO_EXPORT, "OTELPERF_N_PLUS_ONE_MIN_DURATION": "0"}))
    provider = pipeline._build_tracer_provider()
    exported = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    tracer = provider.get_tracer("t")
    request = tracer.start_span("GET /orders", kind=SpanKind.SERVER, attributes={"http.route": "/orders"})
    for order in range(6):
        statement = {"db.query.text": f"SELECT * FROM items WHERE order_id = {order}", "db.operation.name": "SELECT"}
        tracer.start_span("SELECT items", context=set_span_in_context(request), attributes=statement).end()
    request.end()
    provider.shutdown()
    spans = exported.get_finished_spans()
    statements = {span.attributes["db.query.text"] for span in spans if span.name == "SELECT items"}  # type: ignore[index]
    assert statements == {"SELECT * FROM items WHERE order_id = ?"}
    (server,) = [span for span in spans if span.kind is SpanKind.SERVER]
    assert [event.name for event in server.events] == ["otelperf.db.n_plus_one"]
    assert pipeline._exporters == [] and pipeline.healths == []  # OTEL_TRACES_EXPORTER=none: no exporter


def test_otlp_exporters_are_resilient_and_their_health_names_the_endpoint() -> None:
    pipeline = Pipeline(load_settings({**UNREACHABLE, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}))
    pipeline.tracer_provider = pipeline._build_tracer_provider()
    pipeline.meter_provider = pipeline._build_meter_provider()
    assert [type(exporter) for exporter in pipeline._exporters] == [ResilientSpanExporter, ResilientMetricExporter]
    assert [(health.signal, health.destination) for health in pipeline.healths] == [
        ("traces", "http://127.0.0.1:9"),
        ("metrics", "http://127.0.0.1:9"),
    ]
    pipeline.shutdown("test")
    assert pipeline._shutdown_done and pipeline._providers_flushed
    pipeline.shutdown("again")  # once only: the second call returns at once
    assert pipeline._providers_flushed


def test_standby_holds_the_exports_until_activated_and_a_paused_pipeline_stays_paused() -> None:
    pipeline = Pipeline(load_settings(UNREACHABLE))
    pipeline.tracer_provider = pipeline._build_tracer_provider()
    pipeline.meter_provider = pipeline._build_meter_provider()
    pipeline.standby = True
    for exporter in pipeline._exporters:
        exporter.pause()
    pipeline.activate()
    assert not pipeline.standby
    assert [exporter._paused for exporter in pipeline._exporters] == [False, False]
    pipeline.pause()
    assert pipeline.paused and all(exporter._paused for exporter in pipeline._exporters)
    pipeline.standby = True
    pipeline.activate()  # a supervisor does not serve: nothing resumes
    assert pipeline.standby and all(exporter._paused for exporter in pipeline._exporters)
    pipeline._shutdown_providers()


@pytest.fixture
def no_current_pipeline() -> Iterator[None]:
    saved = providers.current_pipeline()
    providers.set_current_pipeline(None)
    yield
    providers.set_current_pipeline(saved)


def test_local_metrics_are_the_current_pipelines_points(no_current_pipeline: None) -> None:
    assert providers.local_metrics() == [] and providers.local_snapshots() == []
    pipeline = Pipeline(load_settings({**NO_EXPORT, "OTELPERF_LOCAL_METRICS": "true"}))
    pipeline.meter_provider = pipeline._build_meter_provider()
    pipeline.meter_provider.get_meter("t").create_counter("unit.orders", unit="{order}").add(3, {"shop": "a"})
    providers.set_current_pipeline(pipeline)
    assert providers.current_pipeline() is pipeline
    (point,) = [point for point in providers.local_metrics() if point["name"] == "unit.orders"]
    assert (point["kind"], point["unit"], point["attributes"], point["value"]) == (
        "counter",
        "{order}",
        {"shop": "a"},
        3,
    )
    without = Pipeline(load_settings(NO_EXPORT))
    without.meter_provider = without._build_meter_provider()
    providers.set_current_pipeline(without)
    assert without.local_reader is None and providers.local_metrics() == []
    pipeline.meter_provider.shutdown()
    without.meter_provider.shutdown()


def test_what_shutdown_says_was_dropped() -> None:
    assert providers._dropped_text({}) == ""
    assert providers._dropped_text({"traces": 3, "metrics": 1}, refused=2) == (
        "; dropped while the collector was unreachable: 3 spans, 1 metric batches"
        "; 2 spans refused by the full export queue (OTEL_BSP_MAX_QUEUE_SIZE)"
    )
