"""``LastInBucketReservoir`` against the SDK's ``AlignedHistogramBucketExemplarReservoir``: the same
exemplars for the same measurements, and the factory that otelperf's views hand to the SDK."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.context import Context, set_value
from opentelemetry.sdk.metrics import (
    AlignedHistogramBucketExemplarReservoir,
    AlwaysOnExemplarFilter,
    MeterProvider,
    SimpleFixedSizeExemplarReservoir,
)
from opentelemetry.sdk.metrics._internal.aggregation import (
    _ExplicitBucketHistogramAggregation,
    _SumAggregation,
)
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.metrics.view import View
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context
from opentelemetry.trace.propagation import _SPAN_KEY

from otelperf.fastpaths import context as context_fastpath
from otelperf.fastpaths import exemplars as exemplars_fastpath
from otelperf.metrics.exemplars import LastInBucketReservoir, exemplar_reservoir_factory
from otelperf.pipeline.providers import _views
from tests.sdk_points import read_points
from tests.unit.conftest import switched

BOUNDARIES = (0.001, 0.01, 0.1, 1.0)


def _in_span(trace_id: int, span_id: int) -> Context:
    span_context = SpanContext(trace_id, span_id, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    return set_span_in_context(NonRecordingSpan(span_context))


# Values on, between and beyond the boundaries; attributes the data point has or lacks.
values = st.one_of(st.sampled_from([0.0, *BOUNDARIES, 5.0]), st.floats(0, 10, allow_nan=False))
offers = st.lists(
    st.tuples(
        values,
        st.integers(1, 2**40),
        st.dictionaries(st.sampled_from(["route", "user", "shard"]), st.text(max_size=3), max_size=3),
        st.integers(1, 2**128 - 1),
        st.integers(1, 2**64 - 1),
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(periods=st.lists(offers, min_size=1, max_size=3), point=st.sampled_from([{}, {"route": "/a"}]))
def test_it_keeps_what_the_sdk_reservoir_keeps(periods: list[list[Any]], point: dict[str, str]) -> None:
    ours, sdks = LastInBucketReservoir(boundaries=BOUNDARIES), AlignedHistogramBucketExemplarReservoir(BOUNDARIES)
    for period in periods:
        for value, time_unix_nano, attributes, trace_id, span_id in period:
            for reservoir in (ours, sdks):
                reservoir.offer(value, time_unix_nano, attributes, _in_span(trace_id, span_id))
        assert ours.collect(point) == sdks.collect(point)


def test_a_measurement_without_a_span_gives_an_exemplar_without_a_trace() -> None:
    # The SDK's bucket would keep the first measurement's trace here: a link to the wrong trace.
    reservoir = LastInBucketReservoir(boundaries=BOUNDARIES)
    reservoir.offer(0.05, 1, {"user": "a"}, _in_span(7, 8))
    reservoir.offer(0.06, 2, {"user": "b"}, Context())
    reservoir.offer(0.5, 3, None, set_span_in_context(NonRecordingSpan(SpanContext(0, 0, is_remote=False))))
    reservoir.offer(5.0, 4, None, set_value(_SPAN_KEY, "not a span"))
    exemplars = reservoir.collect({})
    assert [(e.value, e.trace_id, e.span_id, e.filtered_attributes) for e in exemplars] == [
        (0.06, None, None, {"user": "b"}),
        (0.5, None, None, None),
        (5.0, None, None, None),
    ]
    assert reservoir.collect({}) == []  # a collection empties the reservoir


def test_collections_racing_offers_lose_no_bucket_and_raise_nothing() -> None:
    reservoir = LastInBucketReservoir(boundaries=BOUNDARIES)
    context = _in_span(1, 2)
    stop = threading.Event()

    def offer() -> None:
        while not stop.is_set():
            for value in (0.0005, 0.005, 0.05, 0.5, 5.0):
                reservoir.offer(value, 1, None, context)

    threads = [threading.Thread(target=offer) for _ in range(3)]
    for thread in threads:
        thread.start()
    collected = [reservoir.collect({}) for _ in range(2000)]
    stop.set()
    for thread in threads:
        thread.join()
    assert all(len(exemplars) <= len(BOUNDARIES) + 1 for exemplars in collected)
    assert max(len(exemplars) for exemplars in collected) == len(BOUNDARIES) + 1


@pytest.mark.fast_path("exemplars")
def test_the_factory_gives_this_reservoir_to_explicit_bucket_histograms_only() -> None:
    factory = exemplar_reservoir_factory()
    assert factory is not None and factory is exemplar_reservoir_factory()
    assert factory(_ExplicitBucketHistogramAggregation) is LastInBucketReservoir
    assert factory(_SumAggregation) is SimpleFixedSizeExemplarReservoir


def test_with_the_exemplars_fast_path_off_there_is_no_factory() -> None:
    with switched(exemplars_fastpath.SWITCH, False):
        assert exemplar_reservoir_factory() is None
        [view] = _views()  # http.server.request.duration's buckets only, with the SDK's reservoirs
    assert (
        view._exemplar_reservoir_factory(_ExplicitBucketHistogramAggregation) is AlignedHistogramBucketExemplarReservoir
    )


@pytest.mark.parametrize("span_fast_path", [True, False], ids=["context-fast-path", "get_current_span"])
def test_the_span_is_found_with_the_context_fast_path_on_and_off(span_fast_path: bool) -> None:
    with switched(context_fastpath.SWITCH, span_fast_path):
        reservoir = LastInBucketReservoir(boundaries=BOUNDARIES)
    reservoir.offer(0.05, 1, None, _in_span(7, 8))
    reservoir.offer(0.5, 2, None, Context())
    reservoir.offer(5.0, 3, None, set_value(_SPAN_KEY, "not a span"))
    assert [(e.value, e.trace_id, e.span_id) for e in reservoir.collect({})] == [
        (0.05, 7, 8),
        (0.5, None, None),
        (5.0, None, None),
    ]


@pytest.mark.fast_path("exemplars")
def test_a_view_with_the_factory_links_histogram_buckets_to_the_recording_spans() -> None:
    reader = InMemoryMetricReader()
    view = View(instrument_name="otelperf.*", exemplar_reservoir_factory=exemplar_reservoir_factory())
    meter = MeterProvider(metric_readers=[reader], views=[view], exemplar_filter=AlwaysOnExemplarFilter()).get_meter(
        "t"
    )
    histogram = meter.create_histogram("otelperf.test.duration", explicit_bucket_boundaries_advisory=list(BOUNDARIES))
    tracer = TracerProvider().get_tracer("t")
    spans = {}
    for value in (0.0005, 0.05, 0.07):
        with tracer.start_as_current_span(f"s{value}") as span:
            histogram.record(value, {"route": "/a"})
            spans[value] = span.get_span_context()
    [point] = read_points(reader, "otelperf.test.duration")
    assert list(point.point.explicit_bounds) == list(BOUNDARIES)  # the advisory buckets still apply
    assert [(e.value, e.trace_id, e.span_id) for e in point.point.exemplars] == [
        (value, spans[value].trace_id, spans[value].span_id) for value in (0.0005, 0.07)
    ]
