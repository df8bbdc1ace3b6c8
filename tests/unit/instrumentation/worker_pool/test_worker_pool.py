from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import anyio.to_thread
import pytest
from opentelemetry import trace

from otelperf.instrumentation.worker_pool import WorkerPoolInstrumentor
from otelperf.profiling import tags
from tests.unit.conftest import Signals


@pytest.fixture
def instrumented(signals: Signals) -> Iterator[Signals]:
    WorkerPoolInstrumentor().instrument(meter_provider=signals.meter_provider)
    yield signals
    WorkerPoolInstrumentor().uninstrument()


def of_pool(signals: Signals, metric: str, pool: str) -> list[object]:
    return [p for p in signals.points(metric) if p.attributes["otelperf.worker_pool.name"] == pool]


def test_saturated_thread_pool_shows_queue_wait_depth_and_outcomes(instrumented: Signals) -> None:
    gate = threading.Event()

    def work(fail: bool) -> None:
        gate.wait(2)
        time.sleep(0.02)
        if fail:
            raise ValueError("task failed")

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="crunch") as pool:
        futures = [pool.submit(work, index == 5) for index in range(6)]
        time.sleep(0.1)
        depth = {
            p.attributes["otelperf.worker_pool.name"]: p.count
            for p in instrumented.points("otelperf.worker_pool.queue.depth")
        }
        active = {
            p.attributes["otelperf.worker_pool.name"]: p.count
            for p in instrumented.points("otelperf.worker_pool.workers.active")
        }
        assert depth["crunch"] == 4 and active["crunch"] == 2  # saturation is visible while it lasts
        gate.set()
        for future in futures:
            future.exception()
    outcomes = {
        p.attributes["otelperf.worker_pool.outcome"]: p.count  # type: ignore[attr-defined]
        for p in of_pool(instrumented, "otelperf.worker_pool.task.duration", "crunch")
    }
    assert outcomes == {"ok": 5, "error": 1}
    (wait,) = of_pool(instrumented, "otelperf.worker_pool.queue.wait", "crunch")
    assert wait.count == 6 and wait.point.sum > 0.1  # type: ignore[attr-defined]
    (maximum,) = of_pool(instrumented, "otelperf.worker_pool.workers.max", "crunch")
    assert maximum.count == 2  # type: ignore[attr-defined]
    final_depth = of_pool(instrumented, "otelperf.worker_pool.queue.depth", "crunch")
    assert [p.count for p in final_depth] == [0]  # type: ignore[attr-defined]


def test_cancelled_task_is_counted_and_leaves_the_queue(instrumented: Signals) -> None:
    gate = threading.Event()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="single") as pool:
        pool.submit(gate.wait, 2)
        queued = pool.submit(time.sleep, 0)
        assert queued.cancel()
        gate.set()
    outcomes = {
        p.attributes["otelperf.worker_pool.outcome"]: p.count  # type: ignore[attr-defined]
        for p in of_pool(instrumented, "otelperf.worker_pool.task.duration", "single")
    }
    assert outcomes == {"ok": 1, "cancelled": 1}
    assert [p.count for p in of_pool(instrumented, "otelperf.worker_pool.queue.depth", "single")] == [0]  # type: ignore[attr-defined]


def test_trace_context_follows_the_task(instrumented: Signals) -> None:
    tracer = instrumented.tracer_provider.get_tracer("t")
    seen: list[object] = []
    with tracer.start_as_current_span("request") as span, ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(lambda: seen.append(trace.get_current_span())).result()
    assert seen == [span]


def test_asyncio_default_executor_and_anyio_threadpool(instrumented: Signals) -> None:
    anyio_max: list[int] = []

    async def main() -> None:
        await asyncio.to_thread(time.sleep, 0.001)
        await asyncio.get_running_loop().run_in_executor(None, time.sleep, 0.001)
        await anyio.to_thread.run_sync(time.sleep, 0.001)
        # The anyio limiter lives as long as its event loop: read it while the loop runs.
        anyio_max.extend(p.count for p in of_pool(instrumented, "otelperf.worker_pool.workers.max", "anyio"))  # type: ignore[attr-defined]

    asyncio.run(main())
    assert sum(p.count for p in of_pool(instrumented, "otelperf.worker_pool.task.duration", "asyncio")) == 2  # type: ignore[attr-defined]
    assert sum(p.count for p in of_pool(instrumented, "otelperf.worker_pool.task.duration", "anyio")) == 1  # type: ignore[attr-defined]
    assert anyio_max == [40]


def test_a_pool_thread_keeps_its_tasks_tags_until_the_next_task(instrumented: Signals) -> None:
    """The agent resolves a sample's tags after taking its stack: a thread untagged the moment its
    task returns would lose the labels of the task's last samples (measured: about a fifth of the
    final millisecond). The next task re-tags the thread, with its own root or with none."""
    calls: list[tuple[str, str, str]] = []

    class Native:
        def add_thread_tag(self, key: str, value: str) -> None:
            calls.append(("add", key, value))

        def remove_thread_tag(self, key: str, value: str) -> None:
            calls.append(("remove", key, value))

    alpha, beta = tags.Root(0xA, "GET /alpha"), tags.Root(0xB, "GET /beta")

    def submit_under(pool: ThreadPoolExecutor, root: tags.Root | None) -> tags.Root | None:
        token = tags.current_root.set(root)
        try:
            return pool.submit(tags.tagged_root).result(timeout=10)
        finally:
            tags.current_root.reset(token)

    tags.enable(Native())
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            assert submit_under(pool, alpha) is alpha
            after_alpha = list(calls)
            assert [call[0] for call in after_alpha] == ["add", "add"]  # finished, still tagged
            assert submit_under(pool, alpha) is alpha and calls == after_alpha  # same root: no native call
            assert submit_under(pool, beta) is beta
            assert submit_under(pool, None) is None
    finally:
        tags.disable()
    a, b = format(0xA, "016x"), format(0xB, "016x")
    assert calls == [
        ("add", "span_id", a),
        ("add", "span_name", "GET /alpha"),
        ("remove", "span_id", a),
        ("remove", "span_name", "GET /alpha"),
        ("add", "span_id", b),
        ("add", "span_name", "GET /beta"),
        ("remove", "span_id", b),
        ("remove", "span_name", "GET /beta"),
    ]


def test_a_broken_pool_counts_its_tasks_as_errors_and_empties_its_queue(instrumented: Signals) -> None:
    """An initializer that raises breaks the pool: its queued futures fail without running."""
    gate = threading.Event()

    def initializer() -> None:
        gate.wait(2)
        raise RuntimeError("no worker")

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="broken", initializer=initializer)
    futures = [pool.submit(time.sleep, 0) for _ in range(3)]
    gate.set()
    for future in futures:
        assert future.exception(timeout=5) is not None
    pool.shutdown()
    outcomes = {
        p.attributes["otelperf.worker_pool.outcome"]: p.count  # type: ignore[attr-defined]
        for p in of_pool(instrumented, "otelperf.worker_pool.task.duration", "broken")
    }
    assert outcomes == {"error": 3}
    assert [p.count for p in of_pool(instrumented, "otelperf.worker_pool.queue.depth", "broken")] == [0]  # type: ignore[attr-defined]


def test_short_lived_pools_are_forgotten_when_they_are_gone(instrumented: Signals) -> None:
    """A pool per request (a common pattern): each is known while it lives, none is kept after."""
    import gc

    from otelperf.instrumentation.worker_pool import _state

    for _ in range(50):
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="per-request") as pool:
            pool.submit(int).result()
    sizes = [p.count for p in of_pool(instrumented, "otelperf.worker_pool.workers.max", "per-request")]  # type: ignore[attr-defined]
    assert sizes == [3]  # the last pool, alive
    del pool
    gc.collect()
    assert of_pool(instrumented, "otelperf.worker_pool.workers.max", "per-request") == []
    assert not _state["recorder"]._pools  # pruned at the collection
    durations = of_pool(instrumented, "otelperf.worker_pool.task.duration", "per-request")
    assert [p.count for p in durations] == [50]  # type: ignore[attr-defined]


def test_a_failing_pool_lookup_leaves_the_task_to_run_unmeasured(
    instrumented: Signals, monkeypatch: pytest.MonkeyPatch
) -> None:
    from otelperf.instrumentation.worker_pool._recorder import PoolRecorder

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("lookup failed")

    monkeypatch.setattr(PoolRecorder, "pool", broken)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="unmeasured") as pool:
        assert pool.submit(sum, [1, 2]).result(timeout=5) == 3
    assert of_pool(instrumented, "otelperf.worker_pool.task.duration", "unmeasured") == []
