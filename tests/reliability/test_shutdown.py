"""Shutdown under load: nothing hangs, and the last work's telemetry arrives.

- SIGTERM to uvicorn while 4 clients hammer it: with exports scheduled a minute away, only the
  shutdown flush can deliver; every request that was answered must arrive as a span.
- Threads, asyncio tasks, a thread pool and a process pool busy together, then the interpreter
  exits, or gets SIGTERM, in the middle: the process ends within the shutdown budget, with spans
  from every kind of worker exported.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.rig import APPS, BIN, App, Collector, launch_demo, wait_until
from tests.reliability.load import Load


def test_sigterm_under_load_delivers_every_answered_request(
    tmp_path: Path, collector: Collector, launched_apps: list[App]
) -> None:
    service = "sigterm-under-load"
    app = launch_demo(
        tmp_path, service, collector.endpoint, OTEL_BSP_SCHEDULE_DELAY="60000", OTEL_METRIC_EXPORT_INTERVAL="60000"
    )
    launched_apps.append(app)
    load = Load(app.base_url).start()
    time.sleep(4)
    exit_s = app.terminate(signal.SIGTERM)
    load.stop()
    assert app.process.returncode == -signal.SIGTERM  # as it would end without otelperf
    served = load.answered

    def server_spans() -> set[str]:
        return {s.span_id for s in collector.telemetry.spans(service) if s.kind == 2 and s.name != "GET /healthz"}

    spans = wait_until(lambda: len(server_spans()) >= served and server_spans(), 20, f"{served} server spans")
    print(f"\n{served} requests answered before SIGTERM, {len(spans)} server spans flushed; exit took {exit_s:.2f} s")
    # Requests the clients gave up on while the server drained may have spans too, never fewer.
    assert served > 50 and len(spans) >= served
    assert exit_s < 10


@pytest.mark.parametrize("ending", ["exit", "sigterm"])
def test_threads_tasks_and_pools_together_never_hang_at_shutdown(
    ending: str, tmp_path: Path, collector: Collector
) -> None:
    service = f"concurrency-{ending}"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "OTELPERF_"))}
    env.update(
        OTEL_SERVICE_NAME=service,
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="60000",
        OTELPERF_SHUTDOWN_TIMEOUT="3",
        RUN_S="3" if ending == "exit" else "30",
    )
    log = tmp_path / "concurrency.log"
    with log.open("wb") as sink:  # a file, not a pipe: orphaned pool workers must not hold the test
        process = subprocess.Popen(
            [str(BIN / "opentelemetry-instrument"), str(BIN / "python"), "concurrency_script.py", f"{tmp_path}/c.db"],
            cwd=APPS,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_until(lambda: "busy" in log.read_text(), 30, "every worker busy")
    started = time.monotonic()
    if ending == "sigterm":
        time.sleep(2)
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"{ending}: the process hung at shutdown:\n{log.read_text()[-3000:]}") from None
    ended_s = time.monotonic() - started
    with contextlib.suppress(ProcessLookupError):  # pool workers a SIGTERM'd parent leaves behind
        os.killpg(process.pid, signal.SIGKILL)
    output = log.read_text()
    expected = 0 if ending == "exit" else -signal.SIGTERM
    assert process.returncode == expected, output
    assert "Traceback" not in output, output
    names = wait_until(lambda: {s.name.split("-")[0] for s in collector.telemetry.spans(service)}, 15, "spans")
    print(f"\n{ending}: ended {ended_s:.1f} s after the signal/start of shutdown; span kinds {sorted(names)}")
    assert {"thread", "task", "SELECT"} <= names, names
