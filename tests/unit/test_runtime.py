from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from otelperf.instrumentation.runtime import RuntimeInstrumentor, memory_limit_bytes
from otelperf.instrumentation.runtime._process import physical_memory_bytes
from tests.unit.conftest import Signals


@pytest.fixture
def instrumented(signals: Signals) -> Iterator[Signals]:
    RuntimeInstrumentor().instrument(meter_provider=signals.meter_provider, event_loop_lag_interval_s=0.05)
    yield signals
    RuntimeInstrumentor().uninstrument()


def test_blocking_coroutine_shows_as_event_loop_lag(instrumented: Signals) -> None:
    tasks_seen: list[int] = []

    async def main() -> None:
        await asyncio.sleep(0.15)
        time.sleep(0.3)  # blocks the loop: the probe's callback waits
        await asyncio.sleep(0.15)
        tasks_seen.extend(p.count for p in instrumented.points("otelperf.asyncio.tasks"))

    asyncio.run(main())
    (lag,) = instrumented.points("otelperf.asyncio.event_loop.lag")
    assert lag.count >= 3
    assert lag.point.max >= 0.2, lag.point
    assert tasks_seen == [1]  # main() itself
    assert instrumented.points("otelperf.asyncio.tasks") == []  # a closed loop is not observed


def test_gc_pauses_by_generation(instrumented: Signals) -> None:
    gc.collect()
    generations = {
        p.attributes["cpython.gc.generation"]: p.count for p in instrumented.points("otelperf.gc.pause.duration")
    }
    assert generations.get(2, 0) >= 1


def test_process_metrics(instrumented: Signals) -> None:
    names = {"process.cpu.utilization", "process.memory.usage", "process.thread.count", "otelperf.process.memory.limit"}
    values = {name: instrumented.points(name)[0].point.value for name in names}
    assert values["process.memory.usage"] > 10_000_000
    assert values["process.thread.count"] >= 1
    assert 0 <= values["process.cpu.utilization"] <= 1.5
    assert values["otelperf.process.memory.limit"] >= values["process.memory.usage"]


def test_memory_limit_prefers_cgroup_then_physical(tmp_path: Path) -> None:
    v2, v1 = tmp_path / "memory.max", tmp_path / "limit_in_bytes"
    v2.write_text("536870912\n")
    assert memory_limit_bytes(v2, v1) == 536870912
    v2.write_text("max\n")
    v1.write_text(str(1 << 62))
    assert memory_limit_bytes(v2, v1) == physical_memory_bytes()
    v1.write_text("1073741824")
    assert memory_limit_bytes(v2, v1) == 1073741824
