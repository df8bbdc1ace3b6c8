"""Servers started in code, not on the command line: the decision follows what each process does.

The service (``tests/e2e/apps/served``) has its own entry point, ``python -m served MODE PORT``,
which starts uvicorn with ``workers=2`` or embeds gunicorn (with and without ``preload_app``).
Nothing on its command line names a server, so the process that runs ``sitecustomize`` first
looks like one that serves; it turns out to supervise only when the server starts its workers.
With traces, metrics and profiles captured, every process that served exports all three with its
own ``process.pid`` and ``service.instance.id``, no other process exports anything, and every
request has exactly one server span.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from otelperf.profiling.receiver import ProfileReceiver
from tests.e2e.rig import BIN, App, Collector, exporting_pids, free_port, launch, wait_until

SERVER = 2  # OTLP span kind
MODES = ["uvicorn-workers", "gunicorn-preload", "gunicorn"]


@pytest.fixture
def pyroscope_server() -> Iterator[ProfileReceiver]:
    server = ProfileReceiver().start()
    yield server
    server.stop()


def _start(tmp_path: Path, collector: Collector, pyroscope: ProfileReceiver, mode: str, service: str) -> App:
    port = free_port()
    env = {
        "OTEL_SERVICE_NAME": service,
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
        "OTELPERF_PYROSCOPE_ENDPOINT": pyroscope.endpoint,
        "OTELPERF_PROFILING_UPLOAD_INTERVAL": "1",
    }
    command = [str(BIN / "python"), "-m", "served", mode, str(port)]
    return launch(command, tmp_path=tmp_path, env=env, port=port).wait_ready()


@pytest.mark.parametrize("mode", MODES)
def test_each_serving_process_exports_every_signal_as_itself(
    tmp_path: Path, collector: Collector, pyroscope_server: ProfileReceiver, launched_apps: list[App], mode: str
) -> None:
    service = f"served-{mode}-{uuid.uuid4().hex[:8]}"
    app = _start(tmp_path, collector, pyroscope_server, mode, service)
    launched_apps.append(app)

    # Serve until both workers have answered, then some more: every answer names its process.
    answered: dict[int, int] = {}
    requests = 0
    while len(answered) < 2 or requests < 60:
        assert requests < 600, f"only {sorted(answered)} answered in {requests} requests"
        pid = app.get("/work").json()["pid"]
        answered[pid] = answered.get(pid, 0) + 1
        requests += 1
    workers = set(answered)
    supervisor = app.process.pid
    assert supervisor not in workers
    app.terminate()

    telemetry = collector.telemetry
    # Traces and metrics: from each worker, never from the supervisor.
    traced, measured = exporting_pids(telemetry, service, workers, 20)
    assert traced == workers, f"spans from {traced}, served by {workers}, supervisor {supervisor}"
    assert measured == workers, f"metrics from {measured}, served by {workers}, supervisor {supervisor}"

    # Exactly one server span per request (none lost, none twice), each from the process that answered.
    def work_spans() -> list[object]:
        spans = [s for s in telemetry.spans(service) if s.kind == SERVER and s.attributes.get("http.route") == "/work"]
        return spans if len(spans) >= requests else []

    spans = wait_until(work_spans, 20, f"{requests} server spans of /work")
    assert len(spans) == requests, f"{len(spans)} server spans for {requests} requests"
    assert len({s.span_id for s in spans}) == requests
    per_pid: dict[int, int] = {}
    for span in spans:
        pid = span.resource["process.pid"]
        per_pid[pid] = per_pid.get(pid, 0) + 1
    assert per_pid == answered, f"spans per process {per_pid}, requests answered {answered}"

    # One identity per process, the same on spans and metrics.
    span_instances = {(s.resource["process.pid"], s.resource["service.instance.id"]) for s in telemetry.spans(service)}
    point_instances = {
        (p.resource["process.pid"], p.resource["service.instance.id"]) for p in telemetry.points(service)
    }
    assert span_instances == point_instances, (span_instances, point_instances)
    assert len({instance for _, instance in span_instances}) == len(workers) == len(span_instances)

    # Profiles: from each worker, labelled with its own pid and instance id.
    samples = wait_until(
        lambda: [s for s in pyroscope_server.samples() if s.labels.get("service_name") == service], 15, "profiles"
    )
    profiled = {int(s.labels["pid"]) for s in samples}
    assert profiled == workers, f"profiles from {profiled}, served by {workers}, supervisor {supervisor}"
    profile_instances = {(int(s.labels["pid"]), s.labels["service_instance_id"]) for s in samples}
    assert profile_instances == span_instances, (profile_instances, span_instances)

    # Each process says what it decided.
    lines = app.otelperf_lines()
    about_supervisor = [line for line in lines if f"pid {supervisor} " in line and "forked from" not in line]
    assert about_supervisor and "exports nothing" in about_supervisor[-1], about_supervisor
    for worker in workers:
        assert any(f"on in pid {worker} " in line and "profiles -> pyroscope" in line for line in lines), lines
    assert "Pyroscope Agent shutdown failed" not in app.log()
