"""The end-to-end test rig: real collector, Redis and PostgreSQL on loopback, apps as subprocesses.

Services are started by the fixtures in ``conftest.py`` from binaries that ``.ci/run`` installs
(Debian's redis-server and PostgreSQL 15, the collector built from our builder manifest).
``Telemetry`` reads back what the collector's file exporter wrote (OTLP JSON, one export request
per line).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
APPS = Path(__file__).resolve().parent / "apps"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(predicate: Callable[[], Any], timeout_s: float, what: str, interval_s: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _attr_value(value: Mapping[str, Any]) -> Any:
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        return int(value["intValue"])
    if "arrayValue" in value:
        return [_attr_value(item) for item in value["arrayValue"].get("values", [])]
    return None


def attrs(items: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {item["key"]: _attr_value(item.get("value", {})) for item in items or []}


@dataclass
class Span:
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    events: list[dict[str, Any]]
    status: dict[str, Any]
    resource: dict[str, Any]
    scope: str = ""  # the instrumentation scope's name


@dataclass
class Point:
    metric: str
    kind: str
    attributes: dict[str, Any]
    data: dict[str, Any]
    resource: dict[str, Any]


@dataclass
class Telemetry:
    """Reads the collector's JSON-lines files incrementally: each poll parses only what is new.

    The files grow over the whole session; re-parsing them on every poll of ``wait_until``
    would starve the machine (and the collector) late in the run.
    """

    out_dir: Path
    _parsed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _offsets: dict[str, int] = field(default_factory=dict)

    def _lines(self, name: str) -> Iterator[dict[str, Any]]:
        path = self.out_dir / name
        if path.exists():
            parsed = self._parsed.setdefault(name, [])
            with path.open("rb") as handle:
                handle.seek(self._offsets.get(name, 0))
                chunk = handle.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits for the next poll
            self._offsets[name] = self._offsets.get(name, 0) + len(complete)
            parsed.extend(json.loads(line) for line in complete.splitlines() if line.strip())
        yield from self._parsed.get(name, [])

    def spans(self, service: str | None = None) -> list[Span]:
        found = []
        for request in self._lines("traces.jsonl"):
            for resource_spans in request.get("resourceSpans", []):
                resource = attrs(resource_spans.get("resource", {}).get("attributes"))
                if service and resource.get("service.name") != service:
                    continue
                for scope in resource_spans.get("scopeSpans", []):
                    for span in scope.get("spans", []):
                        found.append(
                            Span(
                                span["name"],
                                span.get("kind", 0),
                                span["traceId"],
                                span["spanId"],
                                span.get("parentSpanId", ""),
                                attrs(span.get("attributes")),
                                [{"name": e["name"], **attrs(e.get("attributes"))} for e in span.get("events", [])],
                                span.get("status", {}),
                                resource,
                                scope.get("scope", {}).get("name", ""),
                            )
                        )
        return found

    def points(self, service: str | None = None, metric: str | None = None) -> list[Point]:
        found = []
        for request in self._lines("metrics.jsonl"):
            for resource_metrics in request.get("resourceMetrics", []):
                resource = attrs(resource_metrics.get("resource", {}).get("attributes"))
                if service and resource.get("service.name") != service:
                    continue
                for scope in resource_metrics.get("scopeMetrics", []):
                    for entry in scope.get("metrics", []):
                        if metric and entry["name"] != metric:
                            continue
                        for kind in ("histogram", "sum", "gauge"):
                            if kind in entry:
                                for point in entry[kind].get("dataPoints", []):
                                    found.append(
                                        Point(entry["name"], kind, attrs(point.get("attributes")), point, resource)
                                    )
        return found

    def raw_text(self) -> str:
        return "\n".join(
            (self.out_dir / name).read_text()
            for name in ("traces.jsonl", "metrics.jsonl")
            if (self.out_dir / name).exists()
        )


def collector_binary() -> str:
    result = subprocess.run(
        ["bash", str(REPO / "collector-config" / "build.sh")], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"collector build failed:\n{result.stderr[-4000:]}")
    return result.stdout.strip().splitlines()[-1]


@dataclass
class Collector:
    binary: str
    out_dir: Path
    grpc_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    health_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    _telemetry: Telemetry | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    @property
    def telemetry(self) -> Telemetry:
        if self._telemetry is None:
            self._telemetry = Telemetry(self.out_dir)
        return self._telemetry

    def start(self) -> Collector:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "OTELPERF_TEST_GRPC_PORT": str(self.grpc_port),
            "OTELPERF_TEST_HTTP_PORT": str(self.http_port),
            "OTELPERF_TEST_HEALTH_PORT": str(self.health_port),
            "OTELPERF_TEST_OUT_DIR": str(self.out_dir),
        }
        log = (self.out_dir / "collector.log").open("ab")
        self.process = subprocess.Popen(
            [self.binary, "--config", str(REPO / "collector-config" / "e2e-file-export.yaml")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{self.health_port}/", timeout=0.5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, 30, "the collector's health check")
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@dataclass
class App:
    """An application launched under ``opentelemetry-instrument`` as a subprocess."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, timeout: float = 10, **kwargs: Any) -> httpx.Response:
        return self._hung_is_diagnosed("GET", path, timeout, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self._hung_is_diagnosed("POST", path, 10, **kwargs)

    def _hung_is_diagnosed(self, method: str, path: str, timeout: float, **kwargs: Any) -> httpx.Response:
        """A request that times out fails the test with every thread's stack of the app and its workers."""
        try:
            return httpx.request(method, self.base_url + path, timeout=timeout, **kwargs)
        except httpx.TimeoutException as exc:
            raise AssertionError(
                f"{method} {path} got no answer in {timeout} s ({exc!r}); the app's stacks:\n{self.dump_stacks()}"
            ) from None

    def wait_ready(self, timeout_s: float = 60) -> App:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"app exited with {self.process.returncode}:\n{self.log()}")
            try:
                return httpx.get(self.base_url + "/healthz", timeout=10).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_until(ready, timeout_s, "the app to serve /healthz", interval_s=0.2)
        except AssertionError as exc:
            stacks, log = self.dump_stacks(), self.log()[-5000:]
            raise AssertionError(f"{exc}; the app's stacks:\n{stacks}\nthe end of its log:\n{log}") from None
        return self

    def dump_stacks(self) -> str:
        """Every thread's stack in the app and its children (workers), read from outside by py-spy."""
        children = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        dumps = []
        for pid in [self.process.pid, *map(int, children)]:
            try:
                dump = subprocess.run(
                    [str(BIN / "py-spy"), "dump", "--pid", str(pid)],
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=False,
                )
                dumps.append(f"--- pid {pid}\n{dump.stdout}{dump.stderr}")
            except (OSError, subprocess.TimeoutExpired) as exc:
                dumps.append(f"--- pid {pid}: py-spy dump failed: {exc!r}")
        return "\n".join(dumps)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def otelperf_lines(self) -> list[str]:
        return [line for line in self.log().splitlines() if line.startswith("otelperf:")]

    def terminate(self, sig: int = signal.SIGTERM, timeout_s: float = 30) -> float:
        """Send ``sig`` and wait for the exit; returns the seconds it took."""
        started = time.monotonic()
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"app did not exit within {timeout_s} s of signal {sig}:\n{self.log()}") from None
        return time.monotonic() - started


def launch(
    command: list[str],
    *,
    tmp_path: Path,
    env: Mapping[str, str],
    port: int,
    instrument: bool = True,
) -> App:
    full_env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "OTELPERF_"))}
    full_env.update({"PYTHONUNBUFFERED": "1", **env})
    argv = [str(BIN / "opentelemetry-instrument"), *command] if instrument else command
    log_path = tmp_path / f"app-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, cwd=APPS, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    return App(process, port, log_path)


def uvicorn(*args: str) -> list[str]:
    return [str(BIN / "uvicorn"), *args]


def launch_demo(tmp_path: Path, service: str, endpoint: str, **env: str) -> App:
    """The demo service (``otelperf.demo.app``) under otelperf, on its own SQLite file, ready."""
    port = free_port()
    return launch(
        uvicorn("otelperf.demo.app:app", "--port", str(port), "--no-access-log"),
        tmp_path=tmp_path,
        port=port,
        env={
            "OTEL_SERVICE_NAME": service,
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "DATABASE_URL": f"sqlite:///{tmp_path}/{service}.db",
            **env,
        },
    ).wait_ready()


def exporting_pids(
    telemetry: Telemetry, service: str, workers: set[int], timeout_s: float
) -> tuple[set[int], set[int]]:
    """The ``process.pid``s that exported spans and metrics for ``service``, once every worker has."""

    def pids(kind: str) -> set[int]:
        items = telemetry.spans(service) if kind == "spans" else telemetry.points(service)
        return {item.resource["process.pid"] for item in items}

    spans = wait_until(lambda: pids("spans") >= workers and pids("spans"), timeout_s, "spans from every worker")
    metrics = wait_until(lambda: pids("metrics") >= workers and pids("metrics"), timeout_s, "metrics from every worker")
    return spans, metrics
