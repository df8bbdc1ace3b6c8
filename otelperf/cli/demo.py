"""``otelperf demo``: the sample service under ``opentelemetry-instrument``, loaded, summarised.

It needs no Docker and no collector. When a collector answers at the configured OTLP endpoint,
telemetry goes there too; otherwise the service keeps it in-process only and the demo says so.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from otelperf import semconv
from otelperf.demo.load import LoadResult, generate_load
from otelperf.demo.scenario import DEFAULT_CONCURRENCY, DEFAULT_PROBLEMS, DEFAULT_RATE
from otelperf.export.reachability import tcp_check
from otelperf.profiling.receiver import ProfileReceiver
from otelperf.rules.render import print_table
from otelperf.rules.report import Report
from otelperf.settings import load_settings

console = Console()

SETTLE_S = 1.0  # after the service answers: start-up (the heap freeze, the first samples) settles


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _script(name: str) -> str:
    """A console script installed next to this interpreter (the venv's bin directory)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    raise FileNotFoundError(f"{name} is not installed next to {sys.executable}")


def demo_environment(problems: frozenset[str]) -> tuple[dict[str, str], str]:
    """The service's environment, and where its telemetry goes (for the summary)."""
    env = dict(os.environ)
    env.setdefault("OTEL_SERVICE_NAME", "otelperf-demo")
    env["OTELPERF_LOCAL_METRICS"] = "true"
    # Samples of the in-process copy twice a second: the report covers the load's window to within it.
    env.setdefault("OTELPERF_LOCAL_HISTORY_INTERVAL", "0.5")
    env["DEMO_PROBLEMS"] = ",".join(sorted(problems)) or "none"
    env["PYTHONUNBUFFERED"] = "1"
    settings = load_settings(env)
    endpoint = settings.endpoint_for("traces")
    if settings.traces_exporter == "otlp" and not tcp_check("otlp", endpoint, 0.5).ok:
        env["OTEL_TRACES_EXPORTER"] = "none"
        env["OTEL_METRICS_EXPORTER"] = "none"
        where = (
            f"kept in-process only: no collector answers at {endpoint} "
            "(start one, or set OTEL_EXPORTER_OTLP_ENDPOINT, to export)"
        )
    else:
        where = f"exported to {endpoint} ({settings.otlp_protocol}) and kept in-process"
    return env, where


def _wait_ready(base_url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the demo service exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            response = httpx.get(f"{base_url}/healthz", timeout=1.0)
            if response.status_code == 200:
                health: dict[str, Any] = response.json()
                return health
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the demo service did not answer within {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")


def run_demo(
    duration_s: float = 20.0,
    *,
    rate_per_s: float = DEFAULT_RATE,
    concurrency: int = DEFAULT_CONCURRENCY,
    port: int = 0,
    problems: frozenset[str] = frozenset(DEFAULT_PROBLEMS),
    out: Path | None = None,
) -> int:
    """Run the shop with ``problems`` planted, load it, print what was seen and the report, and write
    the report as HTML and JSON (``out``, default: ``otelperf-demo-report.html`` in the temp folder)."""
    port = port or _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env, destination = demo_environment(problems)
    receiver = None
    if not load_settings(env).pyroscope_endpoint:
        # No Pyroscope: the agent uploads to this process instead, every second (the report comes first).
        receiver = ProfileReceiver().start()
        env["OTELPERF_PYROSCOPE_ENDPOINT"] = receiver.endpoint
        env.setdefault("OTELPERF_PROFILING_UPLOAD_INTERVAL", "1")
        # A run of seconds, not hours: sample at 100 Hz so that even the light routes get a ranking.
        env.setdefault("OTELPERF_PROFILING_SAMPLE_RATE", "100")
    log = Path(tempfile.mkstemp(prefix="otelperf-demo-", suffix=".log")[1])
    command = [
        _script("opentelemetry-instrument"),
        _script("uvicorn"),
        "otelperf.demo.app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
    ]
    planted = ", ".join(sorted(problems)) or "none (--healthy)"
    console.print(f"[bold]otelperf demo[/bold]: starting the shop service on {base_url} under opentelemetry-instrument")
    console.print(f"planted problems: {planted}")
    with log.open("wb") as log_file:
        process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        health = _wait_ready(base_url, process, log)
        profiles = "a local receiver (no Pyroscope configured)" if receiver else env["OTELPERF_PYROSCOPE_ENDPOINT"]
        console.print(
            f"service ready: cache={health['cache']}, database={health['database']}; telemetry {destination}; "
            f"profiles to {profiles}"
        )
        # Let start-up settle (the heap freeze, the first samples) outside the report's window.
        time.sleep(SETTLE_S)
        started = time.time()
        result = _run_load(base_url, duration_s, rate_per_s, concurrency)
        # A slow machine may still be draining the load's last requests: give the service time.
        server_metrics = httpx.get(f"{base_url}/demo/telemetry", timeout=30.0).json()
        report = _fetch_report(base_url, started, started + (result.sending_s or result.duration_s))
    except RuntimeError as exc:
        console.print(f"[red]demo failed:[/red] {exc}")
        return 1
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        if receiver is not None:
            receiver.stop()
    print_summary(result, server_metrics, log, local_profiles=receiver is not None)
    if report is not None:
        print_table(report, console)
        html, data = _write_report(report, out)
        console.print(f"[bold]HTML report:[/bold] {html}  (JSON: {data})")
    return 0 if result.requests and result.errors < result.requests else 1


def _write_report(report: Report, out: Path | None) -> tuple[Path, Path]:
    from otelperf.rules.html import to_html

    html = (out or Path(tempfile.gettempdir()) / "otelperf-demo-report.html").resolve()
    html.parent.mkdir(parents=True, exist_ok=True)
    html.write_text(to_html(report), encoding="utf-8")
    data = html.with_suffix(".json")
    data.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    return html, data


def _fetch_report(base_url: str, since: float, until: float) -> Report | None:
    """The service's in-process performance report over the time the load was sent, with charts."""
    try:
        response = httpx.get(
            f"{base_url}/performance/report",
            params={"since": f"{since:.3f}", "until": f"{until:.3f}", "charts": "true"},
            timeout=60.0,
        )
        return Report.from_dict(response.json()) if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError) as exc:
        console.print(f"[yellow]no performance report:[/yellow] {exc}")
        return None


def run_load(base_url: str, duration_s: float = 60.0, concurrency: int = 4) -> int:
    """Load a running service; ``duration_s`` 0 loops in one-minute rounds until interrupted."""
    round_s = duration_s or 60.0
    try:
        while True:
            result = asyncio.run(generate_load(base_url.rstrip("/"), round_s, concurrency))
            console.print(f"{result.requests} requests in {result.duration_s:.0f} s, {result.errors} errors")
            if duration_s:
                return 0 if result.requests and result.errors < result.requests else 1
    except KeyboardInterrupt:
        return 0


def _run_load(base_url: str, duration_s: float, rate_per_s: float, concurrency: int) -> LoadResult:
    columns = (TextColumn("load"), BarColumn(), TextColumn("{task.fields[requests]} requests"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("load", total=duration_s, requests=0)

        def update(elapsed: float, requests: int) -> None:
            progress.update(task, completed=min(elapsed, duration_s), requests=requests)

        return asyncio.run(generate_load(base_url, duration_s, concurrency, on_progress=update, rate_per_s=rate_per_s))


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def print_summary(
    result: LoadResult, server_metrics: list[dict[str, Any]], log: Path, *, local_profiles: bool = False
) -> None:
    abandoned = f", {result.abandoned} left unanswered" if result.abandoned else ""
    client = Table(
        title=f"What the clients saw ({result.requests} requests in {result.duration_s:.1f} s, "
        f"{result.requests / result.duration_s:.0f} req/s{abandoned})"
    )
    for column in ("route", "requests", "errors", "p50 ms", "p95 ms", "p99 ms"):
        client.add_column(column, justify="left" if column == "route" else "right")
    for route, stats in sorted(result.routes.items()):
        client.add_row(
            route,
            str(len(stats.latencies_s)),
            str(stats.errors),
            _ms(stats.percentile(50)),
            _ms(stats.percentile(95)),
            _ms(stats.percentile(99)),
        )
    console.print(client)
    console.print(server_table(server_metrics))
    console.print(signals_table(server_metrics))
    console.print(flamegraph_hint(local_profiles))
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.startswith("otelperf:")]
    if lines:
        console.print("[bold]otelperf said[/bold] (service log: " + str(log) + ")")
        for line in lines:
            console.print("  " + line, markup=False, highlight=False)


def _label(attributes: dict[str, Any]) -> str:
    if "http.route" in attributes:
        parts = [
            attributes.get("http.request.method", ""),
            attributes["http.route"],
            str(attributes.get("http.response.status_code", "")),
        ]
    else:
        parts = [
            attributes.get("db.system.name", ""),
            attributes.get("db.operation.name", ""),
            attributes.get("db.collection.name", ""),
        ]
    if "error.type" in attributes:
        parts.append(f"error={attributes['error.type']}")
    return " ".join(part for part in parts if part)


def server_table(points: list[dict[str, Any]]) -> Table:
    """Server-side duration metrics: one row per metric and operation."""
    table = Table(title="What otelperf measured inside the service: HTTP and database durations")
    for column in ("metric", "operation", "count", "mean ms"):
        table.add_column(column, justify="right" if column in ("count", "mean ms") else "left")
    rows: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for point in points:
        if point["name"] not in (semconv.HTTP_SERVER_REQUEST_DURATION, semconv.DB_CLIENT_OPERATION_DURATION):
            continue
        row = rows[(point["name"], _label(point["attributes"]))]
        row[0] += point["count"]
        row[1] += point["sum"]
    for (name, label), (count, total) in sorted(rows.items()):
        table.add_row(name, label, str(int(count)), _ms(total / count) if count else "")
    if not rows:
        table.add_row("(nothing measured)", "", "", "")
    return table


def _sum(points: list[dict[str, Any]], name: str, field: str = "count", **match: str) -> float:
    total = 0.0
    for point in points:
        if point["name"] == name and all(point["attributes"].get(k.replace("_", ".")) == v for k, v in match.items()):
            total += point.get(field, point.get("value", 0)) or 0
    return total


def _values(points: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [point for point in points if point["name"] == name]


def signals_table(points: list[dict[str, Any]]) -> Table:
    """The signals upstream lacks, summarised: cache, database pool, N+1, worker pools, runtime."""
    table = Table(title="Cache, database, worker pools and runtime, as otelperf measured them")
    table.add_column("signal")
    table.add_column("observed")
    cache_metric = semconv.CACHE_OPERATION_DURATION
    for system in sorted({p["attributes"].get("otelperf.cache.system") for p in _values(points, cache_metric)}):
        hits = sum(
            p["count"]
            for p in _values(points, cache_metric)
            if p["attributes"].get("otelperf.cache.system") == system
            and p["attributes"].get("otelperf.cache.result") == "hit"
        )
        misses = sum(
            p["count"]
            for p in _values(points, cache_metric)
            if p["attributes"].get("otelperf.cache.system") == system
            and p["attributes"].get("otelperf.cache.result") == "miss"
        )
        if hits + misses:
            table.add_row(f"cache hit ratio ({system})", f"{hits / (hits + misses):.0%} of {int(hits + misses)} reads")
    n_plus_one: dict[str, int] = defaultdict(int)
    for point in _values(points, semconv.DB_N_PLUS_ONE):
        n_plus_one[point["attributes"].get("http.route", "?")] += int(point["value"])
    for route, occurrences in sorted(n_plus_one.items()):
        table.add_row("N+1 queries", f"{route}: {occurrences} request(s) ran one statement 5+ times in a row")
    used = _sum(points, semconv.DB_CLIENT_CONNECTION_COUNT, "value", db_client_connection_state="used")
    maximum = _sum(points, semconv.DB_CLIENT_CONNECTION_MAX, "value")
    waits = _values(points, semconv.DB_CLIENT_CONNECTION_WAIT_TIME)
    if waits:
        count = sum(p["count"] for p in waits)
        mean = sum(p["sum"] for p in waits) / count if count else 0.0
        table.add_row(
            "database pool",
            f"{int(used)} of {int(maximum)} connections in use at the end; "
            f"{int(count)} checkouts, mean wait {_ms(mean)} ms",
        )
    for point in _values(points, semconv.WORKER_POOL_QUEUE_WAIT):
        name = point["attributes"].get("otelperf.worker_pool.name")
        mean = point["sum"] / point["count"] if point["count"] else 0.0
        table.add_row(f"worker pool {name}", f"{int(point['count'])} tasks, mean queue wait {_ms(mean)} ms")
    lag = _values(points, semconv.ASYNCIO_EVENT_LOOP_LAG)
    if lag and lag[0]["count"]:
        table.add_row(
            "event-loop lag", f"mean {_ms(lag[0]['sum'] / lag[0]['count'])} ms over {int(lag[0]['count'])} probes"
        )
    gc_points = _values(points, semconv.GC_PAUSE_DURATION)
    if gc_points:
        table.add_row(
            "GC pauses",
            f"{int(sum(p['count'] for p in gc_points))} collections, "
            f"{_ms(sum(p['sum'] for p in gc_points))} ms in total",
        )
    memory = _sum(points, semconv.PROCESS_MEMORY_USAGE, "value")
    limit = _sum(points, semconv.PROCESS_MEMORY_LIMIT, "value")
    if memory and limit:
        table.add_row("memory", f"{memory / 2**20:.0f} MiB resident, {memory / limit:.1%} of the limit")
    overflow = _sum(points, semconv.METRIC_OVERFLOW, "value")
    table.add_row("series over the limit", f"{int(overflow)} measurements" if overflow else "none")
    return table


def flamegraph_hint(local_profiles: bool = False) -> str:
    """Where the demo's flamegraphs are, or how to get them."""
    if local_profiles:
        return (
            "Profiles: received in this process (no Pyroscope configured); each route's top self-time functions "
            "are in the report below. For flamegraphs, run Pyroscope (port 4040) and set "
            "OTELPERF_PYROSCOPE_ENDPOINT=http://localhost:4040."
        )
    settings = load_settings()
    service = os.environ.get("OTEL_SERVICE_NAME", "otelperf-demo")
    if settings.profiling_active and settings.pyroscope_endpoint:
        query = f'process_cpu:cpu:nanoseconds:cpu:nanoseconds{{service_name="{service}"}}'
        return (
            f"Flamegraphs: {settings.pyroscope_endpoint}/?query={query} (each request's samples carry "
            f"span_id and span_name labels, and a [GET /route] frame)"
        )
    return (
        "Flamegraphs: profiling is off. Run a Pyroscope server (it listens on port 4040) and set "
        "OTELPERF_PYROSCOPE_ENDPOINT=http://localhost:4040 to profile the demo."
    )
