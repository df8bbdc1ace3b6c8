"""Freezing the start-up heap: once per process, and full collections get much shorter for it."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator

import pytest

from otelperf.process import heap


@pytest.fixture
def fresh_heap_state() -> Iterator[None]:
    saved = dict(heap._state)
    heap._state["frozen"] = False
    try:
        yield
    finally:
        gc.unfreeze()
        heap._state.update(saved)


def _full_collection_ms() -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        gc.collect(2)
        best = min(best, (time.perf_counter() - started) * 1000)
    return best


def test_freeze_hides_the_startup_heap_from_full_collections(
    fresh_heap_state: None, caplog: pytest.LogCaptureFixture
) -> None:
    startup_heap = [[index] for index in range(400_000)]  # tracked, long-lived: like an app's modules
    before = _full_collection_ms()
    with caplog.at_level(logging.INFO, logger="otelperf"):
        frozen = heap.freeze_startup_heap()
    after = _full_collection_ms()
    assert frozen is not None and frozen >= len(startup_heap)
    assert after < before / 3, f"full collection {before:.1f} ms before the freeze, {after:.1f} ms after"
    assert heap.freeze_startup_heap() is None  # once per process
    assert sum("start-up heap frozen" in r.getMessage() for r in caplog.records) == 1
    print(f"full collection: {before:.1f} ms before freezing, {after:.1f} ms after")
    del startup_heap


def test_a_failed_uvicorn_startup_does_not_freeze(fresh_heap_state: None) -> None:
    import asyncio

    class Server:
        should_exit = True

    async def startup() -> None:
        return None

    asyncio.run(heap._after_uvicorn_startup(startup, Server(), (), {}))
    assert not heap._state["frozen"] and gc.get_freeze_count() == 0
