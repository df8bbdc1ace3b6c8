from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Iterator

import pytest

from otelperf.instrumentation.runtime import RuntimeInstrumentor
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


def test_gc_pauses_and_collections_by_generation(instrumented: Signals) -> None:
    gc.collect()
    collections = {
        p.attributes["cpython.gc.generation"]: p.count for p in instrumented.points("cpython.gc.collections")
    }
    assert collections.keys() == {0, 1, 2}
    assert 1 <= collections[2] <= gc.get_stats()[2]["collections"]
    pauses = {p.attributes["cpython.gc.generation"]: p.count for p in instrumented.points("otelperf.gc.pause.duration")}
    assert pauses.get(2, 0) >= 1  # recorded at collection time, from the pauses the callback queued


def test_process_metrics(instrumented: Signals) -> None:
    names = {"process.cpu.utilization", "process.memory.usage", "process.thread.count", "otelperf.process.memory.limit"}
    values = {name: instrumented.points(name)[0].point.value for name in names}
    assert values["process.memory.usage"] > 10_000_000
    assert values["process.thread.count"] >= 1
    assert 0 <= values["process.cpu.utilization"] <= 1.5
    assert values["otelperf.process.memory.limit"] >= values["process.memory.usage"]


def test_a_collection_inside_metric_collection_does_not_deadlock(instrumented: Signals) -> None:
    """A gc callback runs wherever a collection starts: here, inside the reader's collect of the very
    histogram that records GC pauses, with its lock held (a CI run once hung the demo so)."""
    done = threading.Event()

    def collect_under_gc_pressure() -> None:
        threshold = gc.get_threshold()
        gc.set_threshold(1)  # a generation-0 collection at almost every allocation
        try:
            for _ in range(5):
                instrumented.reader.get_metrics_data()
        finally:
            gc.set_threshold(*threshold)
        done.set()

    threading.Thread(target=collect_under_gc_pressure, daemon=True).start()
    assert done.wait(60), "metric collection deadlocked with the GC pause callback"
    pauses = sum(point.count for point in instrumented.points("otelperf.gc.pause.duration"))
    collections = sum(point.count for point in instrumented.points("cpython.gc.collections"))
    assert pauses > 0 and collections >= pauses
