from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otelperf.metrics import instruments
from otelperf.metrics.instruments import BoundedHistogram, set_series_limit
from otelperf.semconv import Instrument
from tests.unit.conftest import read_points


@pytest.fixture
def limit_of_three() -> Iterator[None]:
    set_series_limit(3)
    yield
    set_series_limit(2000)


def test_series_beyond_the_limit_go_to_overflow_and_are_counted(limit_of_three: None) -> None:
    reader = InMemoryMetricReader(cardinality_limits={Histogram: 3})
    provider = MeterProvider(metric_readers=[reader])
    histogram = BoundedHistogram(
        provider.get_meter("t"), Instrument("test.duration", "histogram", "s", "d", buckets=(0.1, 1.0))
    )
    for index in range(10):
        histogram.record(0.5, {"key": f"value-{index}"})
    histogram.record(0.5, {"key": "value-0"})  # a known series stays itself
    points = read_points(reader, "test.duration")
    regular = [p for p in points if "otel.metric.overflow" not in p.attributes]
    overflow = [p for p in points if p.attributes.get("otel.metric.overflow") is True]
    assert len(regular) == 3 and len(overflow) == 1
    assert overflow[0].count == 7
    (counted,) = read_points(reader, "otelperf.metric.overflow")
    assert counted.attributes == {"otelperf.metric.name": "test.duration"}
    assert counted.count == 7
    provider.shutdown()


def test_one_hundred_thousand_distinct_series_stay_bounded() -> None:
    reader = InMemoryMetricReader()  # SDK default limit: 2000, same as otelperf's
    provider = MeterProvider(metric_readers=[reader])
    histogram = BoundedHistogram(
        provider.get_meter("t"), Instrument("bomb.duration", "histogram", "s", "d", buckets=(1.0,))
    )
    for index in range(100_000):
        histogram.record(0.1, {"db.collection.name": f"table_{index}"})
    points = read_points(reader, "bomb.duration")
    assert len(points) == 2001
    (counted,) = read_points(reader, "otelperf.metric.overflow")
    assert counted.count == 98_000
    provider.shutdown()


def test_self_cost_samples_the_first_call_then_one_in_256() -> None:
    from otelperf.metrics.instruments import SelfCost

    cost = SelfCost("unit")
    sampled = [index for index in range(1, 1025) if cost.sampled()]
    assert sampled == [1, 257, 513, 769]


def test_observed_counts_move_without_locks_and_stay_exact_across_threads() -> None:
    import threading

    from otelperf.metrics.instruments import ObservedUpDownCounter

    reader = InMemoryMetricReader()
    counter = ObservedUpDownCounter(
        MeterProvider(metric_readers=[reader]).get_meter("t"),
        Instrument("t.active", "observable_up_down_counter", "{x}", "d"),
    )
    count = counter.count({"pool": "a"})
    assert counter.count({"pool": "a"}) is count  # one count per attribute set

    def churn() -> None:
        for _ in range(20_000):
            count.up()
            count.down()
        for _ in range(1_000):
            count.up()

    threads = [threading.Thread(target=churn) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert count.value() == 8_000
    assert [(p.attributes, p.count) for p in read_points(reader, "t.active")] == [({"pool": "a"}, 8_000)]


def test_observed_counts_past_the_series_limit_are_not_counted(limit_of_three: None) -> None:
    from otelperf.metrics.instruments import ObservedUpDownCounter

    reader = InMemoryMetricReader()
    counter = ObservedUpDownCounter(
        MeterProvider(metric_readers=[reader]).get_meter("t"),
        Instrument("t.active", "observable_up_down_counter", "{x}", "d"),
    )
    for index in range(5):
        counter.count({"index": index}).up()
    assert sorted(p.attributes["index"] for p in read_points(reader, "t.active")) == [0, 1, 2]


def test_an_instrument_refuses_a_declaration_of_another_kind() -> None:
    meter = MeterProvider().get_meter("t")
    with pytest.raises(ValueError, match="declared as counter, not histogram"):
        instruments.BoundedHistogram(meter, Instrument("t.count", "counter", "{x}", "d."))
    with pytest.raises(ValueError, match="declared as histogram"):
        instruments.observe(meter, Instrument("t.d", "histogram", "s", "d.", buckets=(1.0,)), lambda options: [])
