"""`otelperf demo` end to end: the README's main-job command, shortened."""

from __future__ import annotations

import os
import subprocess

from tests.e2e.rig import BIN, REPO, Collector


def test_demo_runs_loads_and_summarises(collector: Collector) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "OTELPERF_"))}
    env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint,
        OTEL_SERVICE_NAME="demo-under-test",
        OTEL_METRIC_EXPORT_INTERVAL="1000",
        COLUMNS="200",
    )
    result = subprocess.run(
        [str(BIN / "otelperf"), "demo", "--duration", "4", "--concurrency", "4"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "What the clients saw" in output
    assert "GET /items/{item_id}" in output
    assert "http.server.request.duration" in output and "db.client.operation.duration" in output
    assert f"exported to {collector.endpoint}" in output
    assert "otelperf: INFO otelperf" in output  # the service's startup line is shown
    routes = {s.attributes.get("http.route") for s in collector.telemetry.spans("demo-under-test")}
    assert {"/items/{item_id}", "/categories/{category}", "/report/{category}", "/orders"} <= routes
