"""`opentelemetry-instrument` + otelperf, end to end through the real collector.

Each test launches real apps as subprocesses (uvicorn, gunicorn) with a unique ``service.name``
and asserts on what the collector's file exporter wrote.
"""

from __future__ import annotations

import signal
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import pytest
from packaging.requirements import Requirement

from otelperf.version import __version__
from tests.e2e.apps.probe_app import SECRET_EMAIL, SECRET_LITERAL, SECRET_VALUE
from tests.e2e.rig import BIN, App, Collector, exporting_pids, free_port, launch, uvicorn, wait_until

SERVER, CLIENT = 2, 3  # OTLP span kinds
StartApp = Callable[..., App]


@pytest.fixture
def start_app(tmp_path: Path, collector: Collector, redis_url: str, launched_apps: list[App]) -> Iterator[StartApp]:
    apps = launched_apps

    def start(command: list[str], service: str | None, port: int, **env: str) -> App:
        base = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
            "OTEL_METRIC_EXPORT_INTERVAL": "1000",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "REDIS_URL": redis_url,
        }
        if service:
            base["OTEL_SERVICE_NAME"] = service
        app = launch(command, tmp_path=tmp_path, env={**base, **env}, port=port)
        apps.append(app)
        return app

    yield start


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_single_worker_exports_sanitized_spans_metrics_and_resource(
    start_app: StartApp, collector: Collector, database: str, request: pytest.FixtureRequest
) -> None:
    service = unique("probe")
    env = {"DATABASE_URL": request.getfixturevalue("postgres_url")} if database == "postgresql" else {}
    port = free_port()
    app = start_app(uvicorn("probe_app:app", "--port", str(port)), service, port, **env).wait_ready()
    for user_id in (1, 1, 2):
        assert app.get(f"/users/{user_id}").status_code == 200
    assert app.get("/sync").status_code == 200
    assert app.post("/users/duplicate").status_code == 500
    app.terminate()

    telemetry = collector.telemetry
    spans = wait_until(
        lambda: (
            [
                s
                for s in telemetry.spans(service)
                if s.kind == SERVER and s.attributes.get("http.route") == "/users/duplicate"
            ]
            and telemetry.spans(service)
        ),
        20,
        "the app's spans",
    )
    server = [s for s in spans if s.kind == SERVER]
    routes = sorted(s.attributes.get("http.route") for s in server)
    # One server span per request (FastAPI's native telemetry steps aside), templated routes.
    assert routes == sorted(
        ["/healthz"] * routes.count("/healthz") + ["/users/{user_id}"] * 3 + ["/sync", "/users/duplicate"]
    )
    assert not [s for s in spans if s.name.endswith(("http send", "http receive"))]
    assert {s.scope for s in server} == {"otelperf.instrumentation.fastapi"}  # contrib's is replaced

    redis_spans = [
        s
        for s in spans
        if (s.kind == CLIENT and s.attributes.get("db.system") == "redis")
        or s.attributes.get("db.system.name") == "redis"
    ]
    statements = {s.attributes.get("db.statement") or s.attributes.get("db.query.text") for s in redis_spans}
    assert {"GET ?", "SET ? ? ? ?"} <= statements, statements

    db_spans = [s for s in spans if s.attributes.get("db.system.name") == database]
    texts = [s.attributes["db.query.text"] for s in db_spans]
    assert any("WHERE probe_users.id = ?" in t or "WHERE probe_users.id = %(id_1)s" in t for t in texts), texts
    assert any("email <> ?" in t for t in texts), texts
    assert {s.attributes["db.operation.name"] for s in db_spans} >= {"SELECT", "INSERT"}
    assert "probe_users" in {s.attributes.get("db.collection.name") for s in db_spans}
    failed_insert = [s for s in db_spans if s.attributes.get("error.type")]
    assert failed_insert and failed_insert[0].status.get("code") == 2  # STATUS_CODE_ERROR

    # Exceptions carry statement and parameters upstream; here they are scrubbed everywhere.
    duplicate = next(s for s in server if s.attributes.get("http.route") == "/users/duplicate")
    assert duplicate.name == "POST /users/duplicate" and duplicate.status.get("code") == 2
    assert duplicate.attributes["http.response.status_code"] == 500 and duplicate.attributes["error.type"]
    exception_events = [e for s in spans for e in s.events if e["name"] == "exception"]
    assert exception_events and any(duplicate.trace_id == s.trace_id for s in spans if s.events)
    raw = telemetry.raw_text()
    for secret in (SECRET_EMAIL, SECRET_VALUE, SECRET_LITERAL):
        assert secret not in raw, f"{secret} leaked to the collector"

    resource = server[0].resource
    assert resource["service.name"] == service
    assert resource["process.pid"] == app.process.pid
    assert resource["telemetry.distro.name"] == "otelperf"
    assert resource["telemetry.distro.version"] == __version__
    assert len(resource["service.instance.id"]) == 36

    # HTTP duration with exemplars pointing at real traces; DB duration for every statement.
    def users_points() -> list[Any]:
        points = telemetry.points(service, "http.server.request.duration")
        return [p for p in points if p.attributes.get("http.route") == "/users/{user_id}"]

    # The periodic exports before the last one hold fewer requests: wait for the final flush to land.
    wait_until(lambda: [p for p in users_points() if int(p.data["count"]) >= 3], 10, "all three /users requests")
    users_point = users_points()
    assert users_point and int(users_point[-1].data["count"]) == 3
    http_points = telemetry.points(service, "http.server.request.duration")
    exemplar_traces = {e["traceId"] for p in http_points for e in p.data.get("exemplars", [])}
    assert exemplar_traces & {s.trace_id for s in server}, "no exemplar links to an exported trace"
    db_points = telemetry.points(service, "db.client.operation.duration")
    assert {p.attributes.get("db.operation.name") for p in db_points} >= {"SELECT", "INSERT"}


def test_service_name_is_derived_from_the_program(start_app: StartApp, collector: Collector) -> None:
    port = free_port()
    marker = unique("marker")
    app = start_app(
        uvicorn("probe_app:app", "--port", str(port)),
        None,
        port,
        OTEL_RESOURCE_ATTRIBUTES=f"deployment.environment.name={marker}",
    ).wait_ready()
    app.terminate()
    spans = wait_until(
        lambda: [s for s in collector.telemetry.spans() if s.resource.get("deployment.environment.name") == marker],
        20,
        "spans",
    )
    assert spans[0].resource["service.name"] == "probe-app"
    assert any("as service.name=probe-app" in line for line in app.otelperf_lines())


OURS_SQLALCHEMY, CONTRIB_SQLALCHEMY = "otelperf.instrumentation.sqlalchemy", "opentelemetry.instrumentation.sqlalchemy"


def _contrib_supports_installed_sqlalchemy() -> bool:
    """The SQLAlchemy versions contrib's instrumentation declares, against the installed SQLAlchemy."""
    from opentelemetry.instrumentation.sqlalchemy.package import _instruments

    return all(Requirement(declared).specifier.contains(version("sqlalchemy")) for declared in _instruments)


@pytest.mark.parametrize("disabled", ["", "otelperf_sqlalchemy"], ids=["default", "ours-disabled"])
def test_one_sqlalchemy_instrumentation_at_a_time(start_app: StartApp, collector: Collector, disabled: str) -> None:
    """otelperf's SQLAlchemy instrumentation, or with it disabled contrib's where contrib supports the
    installed SQLAlchemy, never both; where contrib does not, one line says what is missing."""
    service = unique("sqlalchemy")
    port = free_port()
    env = {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": disabled} if disabled else {}
    app = start_app(uvicorn("probe_app:app", "--port", str(port)), service, port, **env).wait_ready()
    assert app.get("/users/2").status_code == 200  # no such user: a Redis miss, then two statements
    app.terminate()

    def request_and_spans() -> tuple[Any, list[Any]] | None:
        spans = collector.telemetry.spans(service)
        served = [s for s in spans if s.kind == SERVER and s.attributes.get("http.route") == "/users/{user_id}"]
        return (served[0], spans) if served else None

    request, spans = wait_until(request_and_spans, 20, "the request's spans")
    statements = [
        s.scope
        for s in spans
        if s.trace_id == request.trace_id
        and "probe_users" in str(s.attributes.get("db.query.text") or s.attributes.get("db.statement"))
    ]
    db_scopes = {s.scope for s in spans} & {OURS_SQLALCHEMY, CONTRIB_SQLALCHEMY}
    log = app.log().splitlines()
    startup_line = next(line for line in app.otelperf_lines() if " on in pid " in line)
    skipped = [line for line in log if "sqlalchemy instrumentation is skipped" in line]
    assert not [line for line in log if "nothing can be instrumented" in line], "the loader's own line is left in"

    if not disabled:
        assert statements == [OURS_SQLALCHEMY] * 2 and db_scopes == {OURS_SQLALCHEMY}
        assert "sqlalchemy (replaced by otelperf_sqlalchemy)" in startup_line and not skipped
    elif _contrib_supports_installed_sqlalchemy():
        assert statements == [CONTRIB_SQLALCHEMY] * 2 and db_scopes == {CONTRIB_SQLALCHEMY}
        assert "otelperf_sqlalchemy (disabled by" in startup_line and not skipped
        assert "sqlalchemy" in startup_line.split("instrumented: ", 1)[1].split(";")[0].split(", ")
    else:
        assert statements == [] and db_scopes == set()
        assert len(skipped) == 1, log
        assert f"and sqlalchemy {version('sqlalchemy')} is installed" in skipped[0]
        assert "database spans and metrics are missing" in skipped[0]
        assert skipped[0].startswith("otelperf: WARNING contrib's sqlalchemy instrumentation is skipped: it supports")


def _pids_serving(app: App, want: int, attempts: int = 400) -> set[int]:
    pids: set[int] = set()
    for _ in range(attempts):
        pids.add(app.get("/users/1").json()["pid"])
        if len(pids) >= want:
            break
    return pids


def _assert_only_workers_export(collector: Collector, service: str, workers: set[int], supervisor: int) -> None:
    telemetry = collector.telemetry
    span_pids, metric_pids = exporting_pids(telemetry, service, workers, 20)
    assert span_pids == workers, f"spans from {span_pids}, workers {workers}, supervisor {supervisor}"
    assert metric_pids == workers, f"metrics from {metric_pids}, workers {workers}, supervisor {supervisor}"
    instance_ids = {p.resource["service.instance.id"] for p in telemetry.points(service)}
    assert len(instance_ids) == len(workers)
    # Each worker's HTTP series is its own: one cumulative series per instance and route.
    series = {
        (p.resource["service.instance.id"], p.attributes.get("http.route"))
        for p in telemetry.points(service, "http.server.request.duration")
    }
    assert {instance for instance, route in series if route == "/users/{user_id}"} == instance_ids


def test_uvicorn_workers_each_export_with_their_own_identity(start_app: StartApp, collector: Collector) -> None:
    service = unique("uvicorn-workers")
    port = free_port()
    app = start_app(uvicorn("probe_app:app", "--port", str(port), "--workers", "2"), service, port).wait_ready()
    workers = _pids_serving(app, 2)
    assert len(workers) == 2
    app.terminate()
    _assert_only_workers_export(collector, service, workers, app.process.pid)
    lines = app.otelperf_lines()
    assert any("uvicorn supervisor of 2 workers" in line for line in lines)
    # Each worker froze its own start-up heap once it served; the supervisor serves nothing.
    assert sum("start-up heap frozen" in line for line in lines) == 2, lines


@pytest.mark.parametrize(
    ("preload", "fast_paths"),
    [(False, True), (True, True), (False, False)],
    ids=["fork-then-import", "preload", "fast-paths-off"],
)
def test_gunicorn_workers_each_export_with_their_own_identity(
    start_app: StartApp, collector: Collector, preload: bool, fast_paths: bool
) -> None:
    """The master loads the instrumentors before any meter provider exists (it starts none), so
    their histograms are the API's proxies; each worker records them directly into its SDK's
    aggregations all the same (the debug line ``metrics.direct`` logs when a histogram goes direct)."""
    service = unique("gunicorn-workers")
    port = free_port()
    command = [
        str(BIN / "gunicorn"),
        "-k",
        "uvicorn.workers.UvicornWorker",
        "-w",
        "2",
        "-b",
        f"127.0.0.1:{port}",
        "--graceful-timeout",
        "10",
        *(["--preload"] if preload else []),
        "probe_app:app",
    ]
    env = {"OTELPERF_LOG_LEVEL": "debug", "OTELPERF_FAST_PATHS": str(fast_paths).lower()}
    app = start_app(command, service, port, **env).wait_ready()
    workers = _pids_serving(app, 2)
    assert len(workers) == 2
    app.terminate()
    _assert_only_workers_export(collector, service, workers, app.process.pid)
    lines = app.otelperf_lines()
    duration = "http.server.request.duration"
    master = f"{duration}: recorded through the SDK's public Histogram.record: an API proxy whose meter provider"
    direct = {
        pid
        for pid in workers
        if f"{duration}: recorded directly into the SDK's aggregations (pid {pid})" in "\n".join(lines)
    }
    startup_lines = [line for line in lines if f"otelperf {__version__} on in pid" in line]
    assert len(startup_lines) == 2, lines
    if fast_paths:
        assert any(master in line for line in lines), lines
        assert direct == workers, lines
        assert all(
            "fast paths on: histograms, exemplars, context, spans, grpc_export" in line for line in startup_lines
        )
    else:
        assert direct == set(), lines
        assert all(line.endswith("; fast paths off (OTELPERF_FAST_PATHS=false)") for line in startup_lines), lines


def test_uvicorn_reload_is_instrumented_and_explained(start_app: StartApp, collector: Collector) -> None:
    service = unique("reload")
    port = free_port()
    app = start_app(uvicorn("probe_app:app", "--port", str(port), "--reload"), service, port).wait_ready()
    server_pid = app.get("/healthz").json()["pid"]
    assert server_pid != app.process.pid
    app.get("/users/1")
    spans = wait_until(lambda: collector.telemetry.spans(service), 20, "spans from the reloaded server")
    assert {s.resource["process.pid"] for s in spans} == {server_pid}
    assert any(
        "uvicorn reloader" in line and "use --reload only in development" in line for line in app.otelperf_lines()
    )
    app.terminate()


def test_sigterm_flushes_the_last_requests(start_app: StartApp, collector: Collector) -> None:
    """Exports are scheduled far in the future: only the SIGTERM flush can deliver them."""
    service = unique("sigterm")
    port = free_port()
    app = start_app(
        uvicorn("probe_app:app", "--port", str(port)),
        service,
        port,
        OTEL_BSP_SCHEDULE_DELAY="60000",
        OTEL_METRIC_EXPORT_INTERVAL="60000",
    ).wait_ready()
    for _ in range(20):
        assert app.get("/users/1").status_code == 200
    app.terminate(signal.SIGTERM)
    # The process still ends by SIGTERM, as it would without otelperf.
    assert app.process.returncode == -signal.SIGTERM
    telemetry = collector.telemetry
    spans = wait_until(
        lambda: [s for s in telemetry.spans(service) if s.attributes.get("http.route") == "/users/{user_id}"],
        10,
        "flushed spans",
    )
    assert len({s.span_id for s in spans}) == 20
    points = wait_until(
        lambda: [
            p
            for p in telemetry.points(service, "http.server.request.duration")
            if p.attributes.get("http.route") == "/users/{user_id}"
        ],
        10,
        "flushed metrics",
    )
    assert int(points[-1].data["count"]) == 20


def _latencies(app: App, count: int) -> list[float]:
    latencies = []
    with httpx.Client(base_url=app.base_url, timeout=10) as client:
        for _ in range(count):
            started = time.perf_counter()
            assert client.get("/users/1").status_code == 200
            latencies.append(time.perf_counter() - started)
    return latencies


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_collector_down_never_hurts_the_app(start_app: StartApp) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    port = free_port()
    app = start_app(
        uvicorn("probe_app:app", "--port", str(port)),
        unique("down"),
        port,
        OTEL_EXPORTER_OTLP_ENDPOINT=dead,
        OTELPERF_SHUTDOWN_TIMEOUT="2",
    ).wait_ready()
    baseline_port = free_port()
    baseline = start_app(
        uvicorn("probe_app:app", "--port", str(baseline_port)),
        unique("none"),
        baseline_port,
        OTEL_TRACES_EXPORTER="none",
        OTEL_METRICS_EXPORTER="none",
    ).wait_ready()
    down, up, rss = [], [], []
    for _ in range(6):  # interleaved rounds, so machine noise hits both alike
        down += _latencies(app, 60)
        up += _latencies(baseline, 60)
        rss.append(_rss_mib(app.process.pid))
    elapsed = app.terminate()
    baseline.terminate()
    print(
        f"\ncollector down: median {statistics.median(down) * 1000:.2f} ms vs no export "
        f"{statistics.median(up) * 1000:.2f} ms over {len(down)} requests each; exit took {elapsed:.2f} s; "
        f"RSS per round {', '.join(f'{value:.1f}' for value in rss)} MiB"
    )
    assert statistics.median(down) <= statistics.median(up) * 1.5 + 0.002
    # Memory is bounded: once the export queue has filled (first rounds), RSS stops growing.
    assert rss[-1] - rss[1] < 10, rss
    assert elapsed < 2 + 3, "shutdown is bounded by OTELPERF_SHUTDOWN_TIMEOUT"
    lines = app.otelperf_lines()
    warnings = [line for line in lines if "WARNING" in line]
    assert any("cannot export traces" in line and "app is not affected" in line for line in warnings), lines
    assert len(warnings) <= 4, warnings  # one per signal, not one per retry
    assert "Transient error" not in app.log()


def test_bad_settings_are_reported_and_the_app_runs(start_app: StartApp, collector: Collector) -> None:
    service = unique("bad-settings")
    port = free_port()
    app = start_app(
        uvicorn("probe_app:app", "--port", str(port)),
        service,
        port,
        OTELPERF_PROFILING_SAMPLE_RATE="fast",
        OTEL_TRACES_SAMPLER="sometimes",
        OTELPERF_SHUTDOWN_TIMEOUT="-1",
        OTELPERF_GC_FREEZE="false",
    ).wait_ready()
    assert app.get("/users/1").status_code == 200
    app.terminate()
    lines = app.otelperf_lines()
    assert not [line for line in lines if "heap frozen" in line], "OTELPERF_GC_FREEZE=false was ignored"
    expected = [
        "OTELPERF_PROFILING_SAMPLE_RATE='fast' is not a whole number of samples per second; using 19 instead",
        "OTEL_TRACES_SAMPLER='sometimes' is not one of",
        "OTELPERF_SHUTDOWN_TIMEOUT='-1' is out of range",
    ]
    for text in expected:
        assert sum(text in line for line in lines) == 1, (text, lines)
    # The fallbacks are in force: the default sampler exported the request.
    wait_until(lambda: collector.telemetry.spans(service), 20, "spans under fallback settings")
