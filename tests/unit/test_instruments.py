from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otelperf._instruments import BoundedHistogram, set_series_limit
from tests.unit.conftest import read_points


@pytest.fixture
def limit_of_three() -> Iterator[None]:
    set_series_limit(3)
    yield
    set_series_limit(2000)


def test_series_beyond_the_limit_go_to_overflow_and_are_counted(limit_of_three: None) -> None:
    reader = InMemoryMetricReader(cardinality_limits={Histogram: 3})
    provider = MeterProvider(metric_readers=[reader])
    histogram = BoundedHistogram(provider.get_meter("t"), "test.duration", "s", "d", [0.1, 1.0])
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
    histogram = BoundedHistogram(provider.get_meter("t"), "bomb.duration", "s", "d", [1.0])
    for index in range(100_000):
        histogram.record(0.1, {"db.collection.name": f"table_{index}"})
    points = read_points(reader, "bomb.duration")
    assert len(points) == 2001
    (counted,) = read_points(reader, "otelperf.metric.overflow")
    assert counted.count == 98_000
    provider.shutdown()


def test_pipeline_applies_the_series_limit_to_every_reader() -> None:
    from otelperf._pipeline import Pipeline
    from otelperf.settings import load_settings

    settings = load_settings(
        {
            "OTELPERF_METRIC_SERIES_LIMIT": "50",
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "none",
            "OTELPERF_LOCAL_METRICS": "true",
        }
    )
    pipeline = Pipeline(settings)
    pipeline.meter_provider = pipeline._build_meter_provider()  # without touching the global providers
    histogram = pipeline.meter_provider.get_meter("t").create_histogram("limited")
    for index in range(100):
        histogram.record(1.0, {"index": index})
    assert pipeline.local_reader is not None
    assert len(read_points(pipeline.local_reader, "limited")) == 51
    pipeline.meter_provider.shutdown()


def test_self_cost_samples_the_first_call_then_one_in_256() -> None:
    from otelperf._instruments import SelfCost

    cost = SelfCost("unit")
    sampled = [index for index in range(1, 1025) if cost.sampled()]
    assert sampled == [1, 257, 513, 769]
