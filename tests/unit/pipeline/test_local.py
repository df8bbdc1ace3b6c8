"""The in-process copy's history: thinned copies of the cumulative points, and the exemplars kept
across collections."""

from __future__ import annotations

import itertools

from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

from otelperf.pipeline.local import GaugeHistory


def test_copies_are_thinned_in_bounded_memory_over_the_whole_lifetime() -> None:
    reader = InMemoryMetricReader()
    counter = MeterProvider(metric_readers=[reader]).get_meter("t").create_counter("t.requests")
    history = GaugeHistory(reader, max_snapshots=8)
    for _ in range(100):
        counter.add(1)
        history.sample()
        copies = history.cumulative_snapshots()
        assert len(copies) < 8
    values = [points[0]["value"] for _, points in copies]
    # The newest copy is always kept; the older ones get sparser, evenly.
    assert values[-1] >= 97 and values == sorted(values)
    gaps = {later - earlier for earlier, later in itertools.pairwise(values)}
    assert max(gaps) >= 16 and len(values) >= 4, values
    assert history.baseline[0]["value"] == 1  # the first sample stays the baseline


def test_exemplars_outlive_the_collection_that_saw_them() -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("t")
    latency = meter.create_histogram("t.duration", unit="s", explicit_bucket_boundaries_advisory=[0.01, 1.0])
    history = GaugeHistory(reader)
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("slow") as span:
        latency.record(2.0)
        slow_trace = f"{span.get_span_context().trace_id:032x}"
    history.sample()  # this collection takes the exemplar out of the SDK's reservoir
    with tracer.start_as_current_span("fast"):
        latency.record(0.001)
    history.sample()
    from otelperf.pipeline.local import read_points

    fresh = read_points(reader)
    assert [e["value"] for e in fresh[0].get("exemplars", [])] == []  # nothing new since the last sample
    history.with_exemplars(fresh)
    kept = {round(e["value"], 3): e["trace_id"] for e in fresh[0]["exemplars"]}
    assert kept[2.0] == slow_trace and 0.001 in kept
    assert trace.get_current_span() is trace.INVALID_SPAN
