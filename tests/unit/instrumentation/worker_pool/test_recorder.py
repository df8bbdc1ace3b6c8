"""The pool recorder: one entry per pool, its size known and followed, owners that cannot be referenced
weakly sharing one series."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor


def test_the_pool_size_is_known_to_each_recorder_and_follows_changes() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from otelperf.instrumentation.worker_pool._recorder import PoolRecorder
    from tests.sdk_points import read_points

    pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="sized")
    attributes = {"otelperf.worker_pool.name": "sized", "otelperf.worker_pool.kind": "thread"}
    sizes = []
    for max_workers in (3, 3, 5):  # the same recorder twice, then a new recorder with a new size
        reader = InMemoryMetricReader()
        recorder = PoolRecorder(MeterProvider(metric_readers=[reader]))
        first = recorder.pool(pool, "thread", max_workers, attributes)
        assert recorder.pool(pool, "thread", max_workers, attributes) is first  # known: no second entry
        sizes.append([p.count for p in read_points(reader, "otelperf.worker_pool.workers.max")])
    assert sizes == [[3], [3], [5]]
    pool.shutdown()


def test_an_owner_that_takes_no_attribute_nor_weak_reference_shares_its_counts() -> None:
    from opentelemetry.sdk.metrics import MeterProvider

    from otelperf.instrumentation.worker_pool._recorder import PoolRecorder

    class Slotted:
        __slots__ = ()

    recorder = PoolRecorder(MeterProvider())
    attributes = {"otelperf.worker_pool.name": "slotted", "otelperf.worker_pool.kind": "thread"}
    owner = Slotted()
    first, second = (recorder.pool(owner, "thread", 4, attributes) for _ in range(2))
    assert first.queued is second.queued and first.active is second.active  # one series
    assert first.owner() is None  # not kept alive by the recorder
