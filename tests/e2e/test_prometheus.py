"""The Prometheus names of the instrument catalog, proven in a real Prometheus.

The demo service runs under otelperf, exports OTLP to the collector started with the production
configuration (``collector-config/otelcol.yaml``, endpoints moved to loopback ports), which a real
Prometheus (Debian's) scrapes with exemplar storage on. Every metric of ``semconv.INSTRUMENTS``
(the Prometheus column of docs/signals.md) must then have data under the name
``Instrument.prometheus_name`` derives, except those the demo cannot exercise (listed with the reason),
and carry only the labels of their declared attributes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from otelperf.dashboards.catalog import DASHBOARDS
from otelperf.demo.load import generate_load
from otelperf.semconv import INSTRUMENTS
from tests.e2e.rig import free_port, launch, uvicorn, wait_until

NOT_EXERCISED = {
    "db_client_connection_timeouts_total": "the demo's pool never times out",
    "otelperf_metric_overflow_total": "the demo stays far below the series limit",
    "http_server_request_body_size_bytes": "the demo's requests carry no body",
}


def declared_prometheus_names() -> list[tuple[str, bool]]:
    """(Prometheus name, is a histogram) for every metric of the instrument catalog."""
    return [(instrument.prometheus_name, instrument.kind == "histogram") for instrument in INSTRUMENTS.values()]


def query(prometheus: str, expression: str) -> list[dict[str, object]]:
    response = httpx.get(f"{prometheus}/api/v1/query", params={"query": expression}, timeout=10).json()
    assert response["status"] == "success", response
    result: list[dict[str, object]] = response["data"]["result"]
    return result


def test_declared_metric_names_have_data_in_prometheus(
    prometheus_stack: dict[str, str], tmp_path: Path, redis_url: str
) -> None:
    service = "prometheus-proof"
    port = free_port()
    app = launch(
        uvicorn("otelperf.demo.app:app", "--port", str(port)),
        tmp_path=tmp_path,
        port=port,
        env={
            "OTEL_SERVICE_NAME": service,
            "OTEL_EXPORTER_OTLP_ENDPOINT": prometheus_stack["otlp"],
            "OTEL_METRIC_EXPORT_INTERVAL": "1000",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "REDIS_URL": redis_url,
            "DATABASE_URL": f"sqlite:///{tmp_path}/demo.db",
            # The N+1 counter needs an N+1: the demo's, found with the default settings.
            "DEMO_PROBLEMS": "n_plus_one",
        },
    ).wait_ready()
    asyncio.run(generate_load(app.base_url, duration_s=6, concurrency=4))
    prometheus = prometheus_stack["prometheus"]
    names = declared_prometheus_names()
    assert len(names) >= 20, names

    def missing() -> list[str]:
        absent = []
        for name, histogram in names:
            if name in NOT_EXERCISED:
                continue
            series = f"{name}_count" if histogram else name
            if not query(prometheus, f'{series}{{job="{service}"}}'):
                absent.append(series)
        return absent

    try:
        wait_until(lambda: not missing(), 40, "every declared metric in Prometheus", interval_s=2)
    except AssertionError:
        raise AssertionError(f"no data in Prometheus for: {missing()}") from None
    # Every label on a declared metric is one of its declared attributes, or the exporter's own.
    declared = {series: instrument for instrument in INSTRUMENTS.values() for series in instrument.prometheus_series}
    exporters = {"__name__", "job", "instance", "le", "otel_metric_overflow"}
    found = httpx.get(f"{prometheus}/api/v1/series", params={"match[]": f'{{job="{service}"}}'}, timeout=10).json()
    undeclared: set[tuple[str, str]] = set()
    labelled = 0
    for labels in found["data"]:
        instrument = declared.get(labels["__name__"])
        if instrument is None:
            continue
        own = {label for label in labels if label.startswith("otel_scope_")}
        undeclared.update(
            (instrument.name, label) for label in set(labels) - exporters - own - set(instrument.prometheus_labels)
        )
        labelled += bool(set(labels) & set(instrument.prometheus_labels))
    assert not undeclared, f"labels not declared in semconv.INSTRUMENTS: {sorted(undeclared)}"
    assert labelled > 20, found["data"]

    # Exemplars: latency buckets link to traces.
    exemplars = httpx.get(
        f"{prometheus}/api/v1/query_exemplars",
        timeout=10,
        params={
            "query": f'http_server_request_duration_seconds_bucket{{job="{service}"}}',
            "start": "0",
            "end": "9999999999",
        },
    ).json()["data"]
    trace_ids = [e["labels"].get("trace_id") for series in exemplars for e in series["exemplars"]]
    assert trace_ids and all(trace_ids), exemplars

    # Every PromQL query of every dashboard returns data for the demo (template variables substituted).
    executed: list[int] = []

    def empty_queries() -> list[str]:
        empty = []
        executed.clear()
        for spec in DASHBOARDS:
            for panel in spec.panels:
                if panel.kind == "flamegraph":
                    continue  # Pyroscope queries: tests/e2e/test_profiling.py covers the labels they use
                for dashboard_query in panel.queries:
                    expr = (
                        dashboard_query.expr.replace("$service", service)
                        .replace("$instance", ".*")
                        .replace("$__rate_interval", "1m")
                    )
                    executed.append(1)
                    if not query(prometheus, expr):
                        empty.append(f"{spec.uid} / {panel.title}: {expr}")
        return empty

    try:
        wait_until(lambda: not empty_queries(), 30, "data for every dashboard query", interval_s=2)
    except AssertionError:
        raise AssertionError("dashboard queries without data:\n" + "\n".join(empty_queries())) from None
    assert len(executed) >= 30, f"only {len(executed)} dashboard queries were executed"
    # The span_metrics connector's RED metrics, with bounded dimensions.
    calls = wait_until(
        lambda: query(prometheus, f'traces_span_metrics_calls_total{{service_name="{service}"}}'),
        40,
        "span-metrics (flushed every 15 s)",
        interval_s=2,
    )
    assert all("http_route" in series["metric"] or "span_name" in series["metric"] for series in calls)
    app.terminate()
