"""The instrument catalog: Prometheus naming, the instruments created from it, the docs table."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.metrics import Meter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, set_span_in_context
from typer.testing import CliRunner

from otelperf import semconv
from otelperf.cli._app import app
from otelperf.dashboards.catalog import DASHBOARDS
from otelperf.metrics import instruments
from otelperf.rules import load_catalog
from otelperf.rules.export import SloTargets, alerting_rules, recording_rules
from otelperf.semconv import INSTRUMENTS, prometheus_label, prometheus_name

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("name", "unit", "kind", "expected"),
    [
        # Cases of github.com/prometheus/otlptranslator's metric_namer_test.go (suffixes on, no UTF-8),
        # the namer the collector's prometheus exporter uses.
        ("requests", "", "counter", "requests_total"),
        ("cpu_usage", "1", "observable_gauge", "cpu_usage_ratio"),
        ("items", "1", "counter", "items_total"),
        ("response_time", "ms", "observable_gauge", "response_time_milliseconds"),
        ("memory_usage", "By", "observable_gauge", "memory_usage_bytes"),
        ("requests", "1/s", "observable_gauge", "requests_per_second"),
        ("throughput", "By/s", "observable_gauge", "throughput_bytes_per_second"),
        ("custom_metric", "custom_unit", "observable_gauge", "custom_metric_custom_unit"),
        ("custom_metric", "{custom}", "observable_gauge", "custom_metric"),
        ("custom_metric", "By/{custom}", "observable_gauge", "custom_metric_bytes"),
        ("requests_total", "", "counter", "requests_total"),
        ("cpu_usage_ratio", "1", "observable_gauge", "cpu_usage_ratio"),
        ("response_time_seconds", "s", "observable_gauge", "response_time_seconds"),
        ("123_requests", "", "counter", "_123_requests_total"),
        ("http..server__duration", "s", "histogram", "http_server_duration_seconds"),
        # The kinds and units otelperf uses: an up-down counter is a gauge without _total or _ratio.
        ("process.cpu.utilization", "1", "observable_up_down_counter", "process_cpu_utilization"),
        ("otelperf.db.n_plus_one", "{occurrence}", "counter", "otelperf_db_n_plus_one_total"),
        ("cpython.gc.collections", "{collection}", "observable_counter", "cpython_gc_collections_total"),
        ("http.server.active_requests", "{request}", "up_down_counter", "http_server_active_requests"),
    ],
)
def test_prometheus_names_follow_the_collectors_namer(name: str, unit: str, kind: Any, expected: str) -> None:
    assert prometheus_name(name, unit, kind) == expected


def test_the_prometheus_names_otelperf_queries_stay_what_they_are() -> None:
    # Names in users' dashboards and alerts: a change here breaks them.
    assert {name: instrument.prometheus_name for name, instrument in INSTRUMENTS.items()} == {
        "http.server.request.duration": "http_server_request_duration_seconds",
        "http.server.active_requests": "http_server_active_requests",
        "http.server.request.body.size": "http_server_request_body_size_bytes",
        "http.server.response.body.size": "http_server_response_body_size_bytes",
        "db.client.operation.duration": "db_client_operation_duration_seconds",
        "db.client.connection.count": "db_client_connection_count",
        "db.client.connection.max": "db_client_connection_max",
        "db.client.connection.wait_time": "db_client_connection_wait_time_seconds",
        "db.client.connection.timeouts": "db_client_connection_timeouts_total",
        "otelperf.cache.operation.duration": "otelperf_cache_operation_duration_seconds",
        "otelperf.db.n_plus_one": "otelperf_db_n_plus_one_total",
        "otelperf.worker_pool.task.duration": "otelperf_worker_pool_task_duration_seconds",
        "otelperf.worker_pool.queue.wait": "otelperf_worker_pool_queue_wait_seconds",
        "otelperf.worker_pool.queue.depth": "otelperf_worker_pool_queue_depth",
        "otelperf.worker_pool.workers.active": "otelperf_worker_pool_workers_active",
        "otelperf.worker_pool.workers.max": "otelperf_worker_pool_workers_max",
        "otelperf.asyncio.event_loop.lag": "otelperf_asyncio_event_loop_lag_seconds",
        "otelperf.asyncio.tasks": "otelperf_asyncio_tasks",
        "otelperf.gc.pause.duration": "otelperf_gc_pause_duration_seconds",
        "cpython.gc.collections": "cpython_gc_collections_total",
        "process.cpu.utilization": "process_cpu_utilization_ratio",
        "process.memory.usage": "process_memory_usage_bytes",
        "process.thread.count": "process_thread_count",
        "otelperf.process.memory.limit": "otelperf_process_memory_limit_bytes",
        "otelperf.metric.overflow": "otelperf_metric_overflow_total",
        "otelperf.self.duration": "otelperf_self_duration_seconds",
    }
    assert INSTRUMENTS[semconv.CACHE_OPERATION_DURATION].prometheus_series == (
        "otelperf_cache_operation_duration_seconds_bucket",
        "otelperf_cache_operation_duration_seconds_sum",
        "otelperf_cache_operation_duration_seconds_count",
    )


def test_labels_are_attributes_with_every_other_character_an_underscore() -> None:
    assert prometheus_label("db.client.connection.pool.name") == "db_client_connection_pool_name"
    assert prometheus_label("http.route") == "http_route"
    assert prometheus_label("a..b-c") == "a__b_c"  # runs kept, as the exporter's label namer does
    assert prometheus_label("9lives") == "key_9lives"


def test_every_declaration_is_complete_and_consistent() -> None:
    for name, instrument in INSTRUMENTS.items():
        assert name == instrument.name and instrument.unit and instrument.description.endswith("."), name
        assert bool(instrument.buckets) == (instrument.kind == "histogram"), name
        assert list(instrument.buckets) == sorted(set(instrument.buckets)), name
        assert not instrument.enforce_buckets or instrument.kind == "histogram", name
        assert len(set(instrument.attributes)) == len(instrument.attributes), name
    names = [instrument.prometheus_name for instrument in INSTRUMENTS.values()]
    assert len(set(names)) == len(names)


class _Spy:
    """A meter that notes every instrument created through it, as created."""

    def __init__(self, meter: Meter, created: dict[str, tuple[Any, ...]]) -> None:
        self._meter = meter
        self._created = created

    def __getattr__(self, attribute: str) -> Any:
        create: Callable[..., Any] = getattr(self._meter, attribute)
        if not attribute.startswith("create_"):
            return create

        def spy(name: str, **options: Any) -> Any:
            advisory = options.get("explicit_bucket_boundaries_advisory")
            kind = attribute.removeprefix("create_")
            self._created[name] = (kind, options.get("unit"), options.get("description"), tuple(advisory or ()))
            return create(name, **options)

        return spy


def test_every_instrument_otelperf_creates_is_its_declaration(monkeypatch: pytest.MonkeyPatch) -> None:
    from otelperf.instrumentation.cache.recorder import CacheRecorder
    from otelperf.instrumentation.fastapi._server import ServerTelemetry
    from otelperf.instrumentation.runtime._event_loop import EventLoopProbe
    from otelperf.instrumentation.runtime._gc import GcPauses
    from otelperf.instrumentation.runtime._process import ProcessMetrics
    from otelperf.instrumentation.sqlalchemy._pool import PoolMetrics
    from otelperf.instrumentation.sqlalchemy._statements import StatementRecorder
    from otelperf.instrumentation.worker_pool._recorder import PoolRecorder
    from otelperf.processors import NPlusOneSpanProcessor

    created: dict[str, tuple[Any, ...]] = {}
    spy: Any = _Spy(MeterProvider(metric_readers=[InMemoryMetricReader()]).get_meter("spy"), created)
    monkeypatch.setattr(instruments, "_own_meter", lambda: spy)
    monkeypatch.setattr(instruments, "_shared", {})  # instruments created once per process
    provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    monkeypatch.setattr(provider, "get_meter", lambda *args, **kwargs: spy)
    tracer = TracerProvider().get_tracer("t")
    ProcessMetrics(spy)
    EventLoopProbe(spy, 1.0)
    GcPauses(spy)
    ServerTelemetry(tracer, spy)
    PoolMetrics(spy)
    StatementRecorder(tracer, spy)
    CacheRecorder("redis", meter_provider=provider)
    PoolRecorder(meter_provider=provider)
    instruments._overflow_counter(spy)
    instruments.SelfCost("test").record(time.perf_counter())
    traced = TracerProvider()
    traced.add_span_processor(NPlusOneSpanProcessor(2, 0.0, meter=spy))
    root = traced.get_tracer("t").start_span("GET /", kind=SpanKind.SERVER, attributes={"http.route": "/"})
    for _ in range(3):
        statement = {"db.query.text": "SELECT * FROM items WHERE id = 1", "db.operation.name": "SELECT"}
        traced.get_tracer("t").start_span("SELECT", context=set_span_in_context(root), attributes=statement).end()
    root.end()

    assert sorted(created) == sorted(INSTRUMENTS)
    for name, instrument in INSTRUMENTS.items():
        expected = (instrument.kind, instrument.unit, instrument.description, instrument.buckets)
        assert created[name] == expected, name


def _metrics_and_labels(expression: str) -> tuple[set[str], set[str]]:
    """The series names and the label names an expression uses (template variables, strings,
    functions and keywords set aside)."""
    text = re.sub(r'"[^"]*"', '""', expression)
    text = re.sub(r"\$\w+|\[[^\]]*\]|\b\d[\w.]*", " ", text)
    labels = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", text))
    for grouping in re.findall(r"\b(?:by|on|without|ignoring)\s*\(([^)]*)\)", text):
        labels.update(label.strip() for label in grouping.split(",") if label.strip())
    text = re.sub(r"\b(?:by|on|without|ignoring)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\{[^}]*\}", " ", text)
    words = set(re.findall(r"[a-zA-Z_:][\w:]*(?!\w*\s*\()", text))
    functions = set(re.findall(r"([a-zA-Z_]\w*)\s*\(", text))
    keywords = {"and", "or", "unless", "offset", "bool", "vector", "le", "Inf", "group_left", "group_right"}
    return words - functions - keywords - labels, labels


def test_dashboards_and_exported_rules_query_declared_metrics_by_declared_labels() -> None:
    series = {name: instrument for instrument in INSTRUMENTS.values() for name in instrument.prometheus_series}
    panels = [panel for spec in DASHBOARDS for panel in spec.panels if panel.kind != "flamegraph"]
    expressions = [query.expr for panel in panels for query in panel.queries]
    exported = [recording_rules(list(load_catalog().values()), SloTargets()), alerting_rules(SloTargets())]
    expressions += [rule["expr"] for document in exported for group in document["groups"] for rule in group["rules"]]
    recorded = {rule["record"] for group in exported[0]["groups"] for rule in group["rules"]}
    checked = 0
    for expression in expressions:
        used, labels = _metrics_and_labels(expression)
        declared = [series[name] for name in used if name in series]
        assert used - recorded <= set(series), (expression, used - recorded - set(series))
        if declared:
            allowed = {"job", "instance", "le", "rule", "category"}
            allowed.update(label for instrument in declared for label in instrument.prometheus_labels)
            assert labels <= allowed, (expression, labels - allowed)
            checked += 1
    assert checked > 40


def test_the_docs_metrics_table_is_generated_from_the_catalog() -> None:
    result = CliRunner().invoke(app, ["metrics", "--markdown"])
    assert result.exit_code == 0 and result.output.strip() == semconv.metrics_table()
    docs = (REPO / "docs" / "signals.md").read_text()
    match = re.search(r"<!-- metrics:begin -->\n(.*?)\n<!-- metrics:end -->", docs, re.DOTALL)
    assert match, "docs/signals.md lacks the generated metrics table markers"
    assert match.group(1).strip() == semconv.metrics_table(), "stale metrics table: otelperf metrics --markdown"
    for instrument in INSTRUMENTS.values():
        assert f"| `{instrument.name}` |" in match.group(1) and f"`{instrument.prometheus_name}`" in match.group(1)
