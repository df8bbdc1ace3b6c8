"""``DirectHistogram`` against the SDK's own ``Histogram.record``: the same points, exemplars and
overflow, and the public path wherever caching the SDK's aggregations would be wrong. Tests that
do not check the direct path itself run with the ``histograms`` fast path on and off alike."""

from __future__ import annotations

import math
from typing import Any

import pytest
from opentelemetry.context import set_value
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.metrics._internal import _ProxyMeterProvider
from opentelemetry.sdk.metrics import (
    AlwaysOffExemplarFilter,
    AlwaysOnExemplarFilter,
    Histogram,
    MeterProvider,
    TraceBasedExemplarFilter,
)
from opentelemetry.sdk.metrics._internal.instrument import _Histogram
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.metrics.view import View
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON
from opentelemetry.trace import INVALID_SPAN, get_current_span, set_span_in_context, use_span
from opentelemetry.trace.propagation import _SPAN_KEY

from otelperf.fastpaths import histograms as histograms_fastpath
from otelperf.metrics import direct
from otelperf.metrics.instruments import BoundedHistogram, set_series_limit
from otelperf.semconv import Instrument
from tests.sdk_points import read_points
from tests.unit.conftest import switched

BUCKETS = [0.001, 0.01, 0.1, 1.0]
DURATION = Instrument("t.duration", "histogram", "s", "d", buckets=tuple(BUCKETS))
MEASUREMENTS: list[tuple[float, dict[str, Any]]] = [
    (0.0005, {"db.operation.name": "GET", "otelperf.cache.result": "hit"}),
    (0.02, {"db.operation.name": "GET", "otelperf.cache.result": "miss"}),
    (0.5, {"db.operation.name": "SET"}),
    (3.0, {"http.response.status_code": 200, "error.type": "x", "ok": True}),
    (0.0, {}),
    (0.3, {"db.operation.name": "MGET", "shards": (1, 2)}),
    (0.02, {"otelperf.cache.result": "hit", "db.operation.name": "GET"}),  # same set, other order
]


def _summary(reader: InMemoryMetricReader, name: str) -> list[tuple[Any, ...]]:
    return sorted(
        (
            tuple(sorted(p.attributes.items())),
            p.point.count,
            round(p.point.sum, 9),
            p.point.min,
            p.point.max,
            tuple(p.point.bucket_counts),
            tuple(p.point.explicit_bounds),
            len(p.point.exemplars),
        )
        for p in read_points(reader, name)
    )


def _public_reference(measurements: list[tuple[float, dict[str, Any]]], **reader_options: Any) -> InMemoryMetricReader:
    reader = InMemoryMetricReader(**reader_options)
    provider = MeterProvider(metric_readers=[reader])
    histogram = provider.get_meter("t").create_histogram("t.duration", explicit_bucket_boundaries_advisory=BUCKETS)
    for value, attributes in measurements:
        histogram.record(value, attributes)
    return reader


@pytest.mark.fast_path("histograms")
def test_direct_path_exports_what_the_public_path_does(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _summary(_public_reference(MEASUREMENTS * 3), "t.duration")
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    histogram = BoundedHistogram(provider.get_meter("t"), DURATION)
    assert histogram._direct is not None
    monkeypatch.setattr(_Histogram, "record", lambda *a, **k: pytest.fail("the public Histogram.record was called"))
    for value, attributes in MEASUREMENTS * 3:
        histogram.record(value, attributes)
    assert _summary(reader, "t.duration") == expected
    assert len(expected) == 6  # the two orders of one set are one series
    # Every set went into its explicit-bucket aggregation in place (fastpaths.histograms.add).
    assert histogram._known and all(in_place for found in histogram._known.values() for _, in_place in found)


@pytest.mark.fast_path("histograms")
def test_other_aggregations_get_a_measurement_and_their_own_aggregate() -> None:
    reader = InMemoryMetricReader()
    histogram = BoundedHistogram(MeterProvider(metric_readers=[reader]).get_meter("t"), DURATION)
    histogram.record(0.5, {"a": "b"})
    ((aggregation, in_place),) = next(iter(histogram._known.values()))
    assert in_place
    histogram._known = {key: ((aggregation, False),) for key in histogram._known}  # as for another kind
    histogram.record(0.02, {"a": "b"})
    (point,) = [p.point for p in read_points(reader, DURATION.name)]
    assert (point.count, round(point.sum, 9), point.min, point.max) == (2, 0.52, 0.02, 0.5)


def test_unhashable_values_take_the_public_path_which_cleans_them() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    histogram = BoundedHistogram(provider.get_meter("t"), DURATION)
    histogram.record(0.5, {"shards": [1, 2]})
    assert [p.attributes for p in read_points(reader, "t.duration")] == [{"shards": (1, 2)}]


def test_every_reader_gets_each_measurement_even_one_added_later() -> None:
    first, second, late = InMemoryMetricReader(), InMemoryMetricReader(), InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[first, second])
    histogram = BoundedHistogram(provider.get_meter("t"), DURATION)
    histogram.record(0.5, {"a": "b"})
    provider.add_metric_reader(late)
    histogram.record(0.5, {"a": "b"})  # the public path, while the sets are looked up again
    histogram.record(0.5, {"a": "b"})
    assert [p.count for p in read_points(first, "t.duration")] == [3]
    assert [p.count for p in read_points(second, "t.duration")] == [3]
    assert [p.count for p in read_points(late, "t.duration")] == [2]
    assert (histogram._direct is not None) == histograms_fastpath.SWITCH.on  # direct again afterwards


def _exemplars(reader: InMemoryMetricReader) -> dict[str, list[tuple[int, int, float]]]:
    return {
        p.attributes["route"]: [(e.trace_id, e.span_id, e.value) for e in p.point.exemplars]
        for p in read_points(reader, "t.duration")
    }


@pytest.mark.parametrize(
    "exemplar_filter", [TraceBasedExemplarFilter(), AlwaysOnExemplarFilter(), AlwaysOffExemplarFilter()]
)
def test_exemplars_follow_the_sdk_filter(exemplar_filter: Any) -> None:
    """Each filter, each way of naming the span (a context, ``span=``, the current span): the
    exemplars the SDK's own ``record`` keeps for the same measurements in a context."""
    sampled = TracerProvider(sampler=ALWAYS_ON).get_tracer("t").start_span("sampled")
    dropped = TracerProvider(sampler=ALWAYS_OFF).get_tracer("t").start_span("dropped")
    readers = {"direct": InMemoryMetricReader(), "public": InMemoryMetricReader()}
    for path, reader in readers.items():
        provider = MeterProvider(metric_readers=[reader], exemplar_filter=exemplar_filter)
        meter = provider.get_meter("t")
        bounded = BoundedHistogram(meter, DURATION)
        assert (bounded._direct is not None) == histograms_fastpath.SWITCH.on
        sdk = meter.create_histogram("t.duration", explicit_bucket_boundaries_advisory=BUCKETS)
        for index, span in enumerate((sampled, dropped)):
            context = set_span_in_context(span)
            if path == "public":
                for way in ("context", "span", "current"):
                    sdk.record(0.01 * (index + 1), {"route": f"/{index}/{way}"}, context=context)
                continue
            bounded.record(0.01 * (index + 1), {"route": f"/{index}/context"}, context=context)
            bounded.record(0.01 * (index + 1), {"route": f"/{index}/span"}, span=span)
            with use_span(span):
                bounded.record(0.01 * (index + 1), {"route": f"/{index}/current"})
    expected = _exemplars(readers["public"])
    assert _exemplars(readers["direct"]) == expected
    kept = {route for route, exemplars in expected.items() if exemplars}
    if isinstance(exemplar_filter, TraceBasedExemplarFilter):
        assert kept == {"/0/context", "/0/span", "/0/current"}
        assert expected["/0/span"][0][:2] == (sampled.get_span_context().trace_id, sampled.get_span_context().span_id)
    elif isinstance(exemplar_filter, AlwaysOnExemplarFilter):
        assert len(kept) == 6  # the unsampled span's measurements too, with its ids
    else:
        assert kept == set()


@pytest.mark.parametrize("key", [_SPAN_KEY, None], ids=["context-fast-path", "get_current_span"])
def test_span_sampled_reads_the_span_as_get_current_span_would(key: str | None) -> None:
    sampled = TracerProvider(sampler=ALWAYS_ON).get_tracer("t").start_span("sampled")
    dropped = TracerProvider(sampler=ALWAYS_OFF).get_tracer("t").start_span("dropped")
    assert direct.span_sampled(set_span_in_context(sampled), None, key)
    assert not direct.span_sampled(set_span_in_context(dropped), None, key)
    assert direct.span_sampled(None, sampled, key)
    assert not direct.span_sampled(None, None, key)  # no current span
    with use_span(sampled):
        assert direct.span_sampled(None, None, key)
    not_a_span = set_value(_SPAN_KEY, "not a span")
    assert not direct.span_sampled(not_a_span, None, key)
    assert get_current_span(not_a_span) is INVALID_SPAN  # what the SDK's filter sees: not sampled


def test_invalid_values_are_refused_as_the_sdk_refuses_them(caplog: pytest.LogCaptureFixture) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    histogram = BoundedHistogram(provider.get_meter("t"), DURATION)
    histogram.record(0.5, {"a": "b"})
    for value in (-1.0, math.nan, math.inf):
        histogram.record(value, {"a": "b"})
    assert [p.count for p in read_points(reader, "t.duration")] == [1]
    assert "not finite" in caplog.text and "non-negative" in caplog.text


def test_delta_readers_keep_the_public_path() -> None:
    reader = InMemoryMetricReader(preferred_temporality={Histogram: AggregationTemporality.DELTA})
    provider = MeterProvider(metric_readers=[reader])
    histogram = BoundedHistogram(provider.get_meter("t"), DURATION)
    assert histogram._direct is None  # the SDK replaces delta aggregations at each collection
    histogram.record(0.5, {"a": "b"})
    assert [p.count for p in read_points(reader, "t.duration")] == [1]
    histogram.record(0.5, {"a": "b"})
    histogram.record(0.5, {"a": "b"})
    assert [p.count for p in read_points(reader, "t.duration")] == [2]


def test_views_that_keep_some_attribute_keys_keep_the_public_path() -> None:
    reader = InMemoryMetricReader()
    view = View(instrument_name="t.duration", attribute_keys={"kept"})
    provider = MeterProvider(metric_readers=[reader], views=[view])
    histogram = BoundedHistogram(provider.get_meter("t"), DURATION)
    assert histogram._direct is None
    histogram.record(0.5, {"kept": "x", "dropped": "y"})
    assert [p.attributes for p in read_points(reader, "t.duration")] == [{"kept": "x"}]


def test_instruments_that_are_not_the_sdks_keep_the_public_path() -> None:
    histogram = BoundedHistogram(NoOpMeterProvider().get_meter("t"), DURATION)
    assert histogram._direct is None
    histogram.record(0.5, {"a": "b"})  # and never raises


def test_overflow_through_the_direct_path_matches_the_public_path() -> None:
    set_series_limit(3)
    try:
        measurements = [(0.5, {"key": f"value-{index % 6}"}) for index in range(30)]
        expected = _summary(_public_reference(measurements, cardinality_limits={Histogram: 3}), "t.duration")
        reader = InMemoryMetricReader(cardinality_limits={Histogram: 3})
        provider = MeterProvider(metric_readers=[reader])
        histogram = BoundedHistogram(provider.get_meter("t"), DURATION)
        for value, attributes in measurements:
            histogram.record(value, attributes)
    finally:
        set_series_limit(2000)
    assert _summary(reader, "t.duration") == expected
    assert [p.count for p in read_points(reader, "otelperf.metric.overflow")] == [15]


def _recorded_after_the_provider_is_set(monkeypatch: pytest.MonkeyPatch, direct_only: bool) -> InMemoryMetricReader:
    """A histogram made from a proxy meter (what ``metrics.get_meter`` returns before the meter
    provider is set: an instrumentor in a pre-fork master), recorded before and after it is set."""
    proxies = _ProxyMeterProvider()
    histogram = BoundedHistogram(proxies.get_meter("t"), DURATION)
    assert histogram._direct is None
    histogram.record(0.5, {"a": "b"})  # no provider yet: the proxy drops it, as the SDK's proxy does
    reader = InMemoryMetricReader()
    proxies.on_set_meter_provider(MeterProvider(metric_readers=[reader]))  # set_meter_provider, in the worker
    if direct_only:
        monkeypatch.setattr(_Histogram, "record", lambda *a, **k: pytest.fail("the public Histogram.record was called"))
    for value, attributes in MEASUREMENTS:
        histogram.record(value, attributes)
    return reader


@pytest.mark.fast_path("histograms")
def test_a_histogram_created_before_the_meter_provider_records_directly_once_it_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = _summary(_public_reference(MEASUREMENTS), "t.duration")
    reader = _recorded_after_the_provider_is_set(monkeypatch, direct_only=True)
    assert _summary(reader, "t.duration") == expected


def test_a_histogram_created_before_the_meter_provider_exports_what_it_records_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reader = _recorded_after_the_provider_is_set(monkeypatch, direct_only=False)
    assert _summary(reader, "t.duration") == _summary(_public_reference(MEASUREMENTS), "t.duration")


@pytest.mark.fast_path("histograms")
def test_an_attribute_set_seen_before_the_provider_is_looked_up_again_after() -> None:
    proxies = _ProxyMeterProvider()
    histogram = BoundedHistogram(proxies.get_meter("t"), DURATION)
    for _ in range(3):
        histogram.record(0.5, {"a": "b"})
    assert histogram._known == {}  # not remembered while the proxy has no instrument behind it
    proxies.on_set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    histogram.record(0.5, {"a": "b"})
    assert histogram._direct is not None and all(histogram._known.values())


def test_with_the_histograms_fast_path_off_every_histogram_records_publicly() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    with switched(histograms_fastpath.SWITCH, False):
        histogram = BoundedHistogram(provider.get_meter("t"), DURATION)
        for value, attributes in MEASUREMENTS:
            histogram.record(value, attributes)
    assert histogram._direct is None
    assert _summary(reader, "t.duration") == _summary(_public_reference(MEASUREMENTS), "t.duration")
