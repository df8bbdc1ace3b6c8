"""The process lifecycle: the pipeline is flushed right after uvicorn's graceful shutdown, and a
process forked from one that runs the pipeline makes it its own (a real ``fork``, in a subprocess).

The parent records a measurement and a span, forks, and the child checks what it inherited after
``lifecycle``'s fork hook ran: its own pid and instance id on every provider, no metric stream of
the parent's, exporters and profiler renewed, and a startup line naming its parent.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest
import uvicorn.server

from otelperf.process import lifecycle

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from opentelemetry import metrics, trace
    from otelperf.process import lifecycle
    from otelperf.process.roles import ProcessRole, RoleDecision
    from otelperf.pipeline.providers import Pipeline, local_metrics
    from otelperf.settings import load_settings

    settings = load_settings({"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none",
                              "OTELPERF_LOCAL_METRICS": "true", "OTELPERF_GC_FREEZE": "false"})
    announced = []
    decision = RoleDecision(ProcessRole.SERVER, "app", "serves requests unless it starts workers", settled=False)
    lifecycle.begin(settings, decision, Pipeline, on_start=lambda pipeline, role: announced.append(role.reason))
    pipeline = lifecycle._state.pipeline
    counter = metrics.get_meter("test").create_counter("parent.work")
    counter.add(5)
    parent_instance = pipeline.resource.attributes["service.instance.id"]
    lifecycle._become_supervisor("test supervisor")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        counter.add(1)
        tracer_resource = trace.get_tracer_provider().resource.attributes
        meter_resource = metrics.get_meter_provider()._sdk_config.resource.attributes
        report = {
            "pid": os.getpid(),
            "tracer_pid": tracer_resource["process.pid"],
            "meter_pid": meter_resource["process.pid"],
            "instance": tracer_resource["service.instance.id"],
            "meter_instance": meter_resource["service.instance.id"],
            "work": [p["value"] for p in local_metrics() if p["name"] == "parent.work"],
            "paused": pipeline.paused, "standby": pipeline.standby,
            "announced": announced,
        }
        os.write(write, json.dumps(report).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    os.close(write)
    child = json.loads(os.read(read, 65536))
    print(json.dumps({"parent_pid": os.getpid(), "parent_instance": parent_instance,
                      "parent_paused": pipeline.paused, "child": child}))
    """
)


@pytest.fixture(scope="module")
def forked() -> dict[str, object]:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_the_child_carries_its_own_identity_on_every_provider(forked: dict[str, object]) -> None:
    child = forked["child"]
    assert isinstance(child, dict)
    assert child["pid"] != forked["parent_pid"]
    assert child["tracer_pid"] == child["meter_pid"] == child["pid"]
    assert child["instance"] == child["meter_instance"] != forked["parent_instance"]


def test_the_child_starts_with_empty_metric_streams(forked: dict[str, object]) -> None:
    child = forked["child"]
    assert isinstance(child, dict)
    assert child["work"] == [1], "the parent's 5 must not be counted again by the child"


def test_the_supervisor_pauses_and_its_worker_runs(forked: dict[str, object]) -> None:
    child = forked["child"]
    assert isinstance(child, dict)
    assert forked["parent_paused"] is True
    assert child["paused"] is False and child["standby"] is False
    assert child["announced"][-1] == f"worker forked from pid {forked['parent_pid']}"


class RecordingPipeline:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    def shutdown(self, reason: str) -> None:
        self.reasons.append(reason)


def test_flush_runs_right_after_uvicorn_graceful_shutdown(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    async def original_shutdown(self: Any, sockets: Any = None) -> None:
        calls.append("uvicorn shutdown")

    monkeypatch.setattr(uvicorn.server.Server, "shutdown", original_shutdown)
    pipeline = RecordingPipeline()
    monkeypatch.setattr(lifecycle._state, "pipeline", pipeline)
    lifecycle._flush_after_uvicorn_shutdown()
    lifecycle._flush_after_uvicorn_shutdown()  # idempotent: wrapped once
    asyncio.run(uvicorn.server.Server.shutdown(object()))  # type: ignore[arg-type]
    assert calls == ["uvicorn shutdown"]
    assert pipeline.reasons == ["server shutdown"]
