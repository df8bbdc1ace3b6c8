"""Fixtures for the real services of the end-to-end, reliability and security tests (started here,
stopped at the end); ``tests/conftest.py`` registers this module as a plugin."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from tests.e2e.demo_runs import DemoRun, run_demo
from tests.e2e.rig import REPO, App, Collector, collector_binary, free_port, wait_until

PG_BIN = Path("/usr/lib/postgresql/15/bin")


@pytest.fixture(scope="session")
def collector_bin() -> str:
    return collector_binary()


@pytest.fixture(scope="session")
def collector(collector_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    """One collector for the session; tests tell their data apart by a unique service.name."""
    instance = Collector(collector_bin, tmp_path_factory.mktemp("collector")).start()
    yield instance
    instance.stop()


@contextlib.contextmanager
def redis_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A throwaway redis-server on a loopback port: (URL, process)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run .ci/run (or apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    client = redis.Redis(port=port)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    try:
        wait_until(answers, 15, "redis-server")
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with redis_server() as (url, _):
        yield url


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class PostgresCluster:
    url: str
    data: Path

    def stop(self) -> None:
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data / "db"), "-m", "immediate", "stop"]),
            check=False,
            capture_output=True,
        )


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL 15 cluster on a loopback port (initdb + pg_ctl)."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail("PostgreSQL 15 is not installed: run .ci/run (or apt-get install postgresql)")
    data = Path(tempfile.mkdtemp(prefix="otelperf-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres([str(PG_BIN / "initdb"), "-D", str(data / "db"), "-A", "trust", "-U", "postgres"]),
        check=True,
        capture_output=True,
    )
    subprocess.run(
        _as_postgres(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data / "db"),
                "-l",
                str(data / "log"),
                "-w",
                "start",
                "-o",
                f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off",
            ]
        ),
        check=True,
        capture_output=True,
    )
    cluster = PostgresCluster(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", data)
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres_cluster() as cluster:
        yield cluster.url


@pytest.fixture
def launched_apps() -> Iterator[list[App]]:
    """Apps a test starts; whatever still runs at the end is killed."""
    apps: list[App] = []
    yield apps
    for app in apps:
        if app.process.poll() is None:
            app.process.kill()
            app.process.wait()


@pytest.fixture(scope="session")
def prometheus_stack(tmp_path_factory: pytest.TempPathFactory, collector_bin: str) -> Iterator[dict[str, str]]:
    """The production collector config (loopback ports) and a real Prometheus scraping it every
    second, with otelperf's committed recording and alerting rules evaluated every second."""
    tmp_path = tmp_path_factory.mktemp("prometheus-stack")
    rules = tmp_path / "rules"
    rules.mkdir()
    for rule_file in (REPO / "prometheus" / "rules").glob("*.yml"):
        shutil.copy(rule_file, rules / rule_file.name)
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.fail("prometheus is not installed: run .ci/run (apt-get install prometheus)")
    ports = {name: free_port() for name in ("grpc", "http", "health", "exporter", "self", "prometheus")}
    env = {
        **os.environ,
        "OTELCOL_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{ports['grpc']}",
        "OTELCOL_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{ports['http']}",
        "OTELCOL_HEALTH_ENDPOINT": f"127.0.0.1:{ports['health']}",
        "OTELCOL_PROMETHEUS_ENDPOINT": f"127.0.0.1:{ports['exporter']}",
        "OTELCOL_SELF_METRICS_HOST": "127.0.0.1",
        "OTELCOL_SELF_METRICS_PORT": str(ports["self"]),
        "TEMPO_OTLP_ENDPOINT": f"127.0.0.1:{free_port()}",  # no Tempo here: traces are dropped
    }
    processes = [
        subprocess.Popen(
            [collector_bin, "--config", str(REPO / "collector-config" / "otelcol.yaml")],
            env=env,
            stdout=(tmp_path / "collector.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
    ]
    config = tmp_path / "prometheus.yml"
    config.write_text(
        (REPO / "prometheus" / "prometheus.yml")
        .read_text()
        .replace("scrape_interval: 15s", "scrape_interval: 1s")
        .replace("evaluation_interval: 15s", "evaluation_interval: 1s")
        .replace("otel-collector:8889", f"127.0.0.1:{ports['exporter']}")
        .replace("otel-collector:8888", f"127.0.0.1:{ports['self']}")
        .replace("/etc/prometheus/rules/*.yml", str(tmp_path / "rules" / "*.yml"))
    )
    processes.append(
        subprocess.Popen(
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
                "--enable-feature=exemplar-storage",
            ],
            stdout=(tmp_path / "prometheus.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
    )

    def ready() -> bool:
        try:
            return (
                httpx.get(f"http://127.0.0.1:{ports['prometheus']}/-/ready", timeout=1).status_code == 200
                and httpx.get(f"http://127.0.0.1:{ports['health']}/", timeout=1).status_code == 200
            )
        except httpx.HTTPError:
            return False

    wait_until(ready, 30, "the collector and Prometheus")
    yield {"otlp": f"http://127.0.0.1:{ports['grpc']}", "prometheus": f"http://127.0.0.1:{ports['prometheus']}"}
    for process in processes:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="session")
def all_problems(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """``otelperf demo`` as a newcomer runs it: every problem planted (the scenario and browser tests)."""
    return run_demo(tmp_path_factory.mktemp("demo-all"))
