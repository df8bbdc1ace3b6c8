"""Measurements built as the SDK builds them, and the SDK histogram found behind an instrument (proxy,
no-op or real). These tests set the switches themselves, so they run the same whether the run forces
the fast paths off or not."""

from __future__ import annotations

from typing import Any

from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.metrics._internal import _ProxyMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics._internal.measurement import Measurement
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import set_span_in_context

from otelperf.fastpaths import histograms
from tests.unit.conftest import switched


def test_measurements_are_built_as_the_sdk_builds_them() -> None:
    # The pinned SDK's Measurement takes the fast construction; if a release changes its fields,
    # this fails and the constructor (the fallback) is what runs.
    assert histograms.new_measurement is histograms._measurement_by_fields
    histogram = MeterProvider().get_meter("t").create_histogram("t.duration")
    span_context = set_span_in_context(TracerProvider().get_tracer("t").start_span("s"))
    expected = Measurement(0.5, 7, histogram, span_context, {"a": "b"})
    for build in (histograms._measurement_by_fields, histograms._measurement):
        built = build(0.5, 7, histogram, span_context, {"a": "b"})
        assert type(built) is Measurement
        assert built == expected


def test_the_sdk_histogram_behind_an_instrument() -> None:
    sdk = MeterProvider(metric_readers=[InMemoryMetricReader()]).get_meter("t").create_histogram("h")
    proxies = _ProxyMeterProvider()
    proxy = proxies.get_meter("t").create_histogram("h")
    noop = NoOpMeterProvider().get_meter("t").create_histogram("h")
    with switched(histograms.SWITCH, True):
        assert histograms.sdk_histogram(sdk) is sdk
        assert histograms.sdk_histogram(proxy) is None and histograms.awaiting_provider(proxy)
        assert histograms.sdk_histogram(noop) is None and not histograms.awaiting_provider(noop)
        proxies.on_set_meter_provider(MeterProvider())
        real: Any = histograms.sdk_histogram(proxy)
        assert real is not None and real.name == "h" and not histograms.awaiting_provider(proxy)
    with switched(histograms.SWITCH, False):
        assert histograms.sdk_histogram(sdk) is None and not histograms.awaiting_provider(proxy)
