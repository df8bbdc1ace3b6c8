"""Fast path ``histograms``: a histogram's measurements handed straight to the aggregations the SDK
made for their attribute set.

The SDK's ``Histogram.record`` spends most of its time on the attributes: ``Measurement`` cleans
them (a recursive type check and a new dict), then each reader's view copies and hashes them to
find the attribute set's aggregation. ``Streams`` finds a set's aggregations once, as the SDK's
first measurement of the set would (cleaned attributes, one copy per view, the SDK's hash, under
the match's lock). An explicit-bucket histogram's aggregation (every histogram otelperf records) is
then updated in place by ``add``, as its ``aggregate`` updates it (sum, min, max and the bucket's
count, under the aggregation's own lock), and its exemplar reservoir is offered the measurement's
fields only when the exemplar filter samples it: no ``Measurement`` is built. Any other
aggregation gets the ``Measurement`` that ``new_measurement`` builds, and its own ``aggregate``.

It reads the SDK's private ``_Histogram``, its ``_measurement_consumer`` (``_reader_storages``,
``_sdk_config.exemplar_filter``), each storage's view-instrument matches
(``_get_or_init_view_instrument_match``, ``_view._attribute_keys``, ``_reset_on_collect``,
``_lock``, ``_get_or_create_aggregation``), ``_hash_attributes``, the API's
``_clean_attribute_value``, the test of ``Histogram._is_enabled`` (its ``_meter_config``),
``_ExplicitBucketHistogramAggregation``'s ``_lock``, ``_value``, ``_get_empty_bucket_counts``,
``_sum``, ``_min``, ``_max``, ``_record_min_max``, ``_boundaries`` and ``_reservoir``, the
API's ``_ProxyHistogram`` and its
``_real_instrument`` (the SDK histogram behind an instrument created before the meter provider
was set), and writes a ``Measurement``'s fields into its ``__dict__`` where the dataclass keeps
them there.

The probe records one measurement through these internals into a throwaway meter provider (in
place, and through ``aggregate``), including through a proxy resolved after the provider is set,
and checks the exported points.
Off, every histogram records through the public ``Histogram.record``.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_left
from collections.abc import Mapping
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otelperf.fastpaths.contract import FastPath, Switch

__all__ = [
    "SWITCH",
    "Aggregations",
    "Streams",
    "add",
    "awaiting_provider",
    "new_measurement",
    "probe",
    "sdk_histogram",
]

NAME = "histograms"
# Per reader: (the aggregation, whether ``add`` updates it in place).
Aggregations = tuple[tuple[Any, bool], ...]
# What ``_ExplicitBucketHistogramAggregation.aggregate`` reads and writes.
_BUCKET_FIELDS = ("_lock", "_value", "_sum", "_min", "_max", "_record_min_max", "_boundaries", "_reservoir")
_MEASUREMENT_FIELDS = ("value", "time_unix_nano", "instrument", "context", "attributes")
_set_field = object.__setattr__
_new_object = object.__new__

try:
    from opentelemetry.attributes import _clean_attribute_value
    from opentelemetry.metrics._internal import _ProxyMeter
    from opentelemetry.metrics._internal.instrument import _ProxyHistogram
    from opentelemetry.sdk.metrics._internal._view_instrument_match import _hash_attributes
    from opentelemetry.sdk.metrics._internal.aggregation import _ExplicitBucketHistogramAggregation
    from opentelemetry.sdk.metrics._internal.instrument import _Histogram
    from opentelemetry.sdk.metrics._internal.measurement import Measurement

    _IMPORT_ERROR: str | None = None
except ImportError as error:  # pragma: no cover - an SDK laid out otherwise: the public path
    _IMPORT_ERROR = str(error)


def _resolve(histogram: Any) -> Any | None:
    if isinstance(histogram, _Histogram):
        return histogram
    real = histogram._real_instrument if isinstance(histogram, _ProxyHistogram) else None
    return real if isinstance(real, _Histogram) else None


def sdk_histogram(histogram: Any) -> Any | None:
    """The SDK histogram that records for ``histogram``: itself, or the one an API proxy (created
    before the meter provider was set) now delegates to; ``None`` for anything else, and with the
    fast path off."""
    return _resolve(histogram) if SWITCH.on else None


def awaiting_provider(histogram: Any) -> bool:
    """Whether ``histogram`` is an API proxy whose meter provider is not set yet (it may become an
    SDK histogram later, so the caller should ask again); ``False`` with the fast path off."""
    return SWITCH.on and isinstance(histogram, _ProxyHistogram) and histogram._real_instrument is None


class Streams:
    """One SDK histogram's streams: per reader, the view matches that aggregate it. Subclass it to
    feed them (its methods are what a per-measurement caller uses)."""

    __slots__ = ("_consumer", "_storages", "exemplar_filter", "histogram")

    def __init__(self, histogram: Any) -> None:
        """``histogram`` must come from ``sdk_histogram``."""
        self.histogram = histogram
        self._consumer = histogram._measurement_consumer
        self.exemplar_filter: Any = self._consumer._sdk_config.exemplar_filter
        self._storages = self._consumer._reader_storages

    def enabled(self) -> bool:
        """Whether the histogram's meter is enabled: ``Histogram._is_enabled``'s test, written out so
        that a measurement costs one call here, not two (the probe compares them, meter enabled and
        disabled)."""
        config = self.histogram._meter_config
        return config is None or config.is_enabled

    def _matches(self) -> list[Any]:
        instrument = self.histogram
        return [
            match
            for storage in self._storages.values()
            for match in storage._get_or_init_view_instrument_match(instrument)
        ]

    def unsupported(self) -> str | None:
        """Why caching this histogram's aggregations would be wrong, if it would."""
        for match in self._matches():
            if match._view._attribute_keys is not None:
                return "a view keeps only some of its attribute keys"
            if match._reset_on_collect:
                return "a reader takes delta temporality (the SDK replaces the aggregations at each collection)"
        return None

    def current(self) -> bool:
        """Whether the readers are still the ones the streams were found for."""
        return self._consumer._reader_storages is self._storages

    def aggregations(self, attributes: Mapping[str, Any] | None) -> Aggregations:
        """Each reader's aggregation for ``attributes``, created as the SDK's first measurement of
        the set would create it."""
        clean = _clean_attribute_value(attributes, None) if attributes else {}
        found = []
        for match in self._matches():
            cleaned = dict(clean)  # one copy per view, as the SDK makes
            with match._lock:
                aggregation = match._get_or_create_aggregation(_hash_attributes(cleaned), cleaned)
            found.append((aggregation, _updatable_in_place(aggregation)))
        return tuple(found)


def _updatable_in_place(aggregation: Any) -> bool:
    """Whether ``add`` updates ``aggregation``: an explicit-bucket histogram's, with its fields."""
    return (
        type(aggregation) is _ExplicitBucketHistogramAggregation
        and all(hasattr(aggregation, name) for name in _BUCKET_FIELDS)
        and callable(getattr(aggregation, "_get_empty_bucket_counts", None))
    )


def add(aggregation: Any, value: float) -> None:
    """``_ExplicitBucketHistogramAggregation.aggregate``'s update of the point, for a finite value
    (the exemplar is the caller's: ``aggregation._reservoir.offer``, when sampled)."""
    with aggregation._lock:
        counts = aggregation._value
        if counts is None:
            counts = aggregation._value = aggregation._get_empty_bucket_counts()
        aggregation._sum += value
        if aggregation._record_min_max:  # comparisons, not min()/max(): no call, no store when unchanged
            if value < aggregation._min:  # noqa: PLR1730
                aggregation._min = value
            if value > aggregation._max:  # noqa: PLR1730
                aggregation._max = value
        counts[bisect_left(aggregation._boundaries, value)] += 1


def _measurement_fields_settable() -> bool:
    """Whether a ``Measurement``'s fields are the five written here, kept in its ``__dict__``."""
    try:
        names = tuple(field.name for field in dataclasses.fields(Measurement))
        return names == _MEASUREMENT_FIELDS and "__slots__" not in vars(Measurement)
    except (TypeError, NameError):  # not a dataclass, or not importable
        return False


def _measurement(value: float, now: int, instrument: Any, context: Context, attributes: Any) -> Any:
    """``Measurement(value, now, instrument, context, attributes)`` without cleaning the
    attributes again (their set's aggregations were found with the cleaned attributes)."""
    measurement = Measurement(value, now, instrument, context, None)
    _set_field(measurement, "attributes", attributes)
    return measurement


def _measurement_by_fields(value: float, now: int, instrument: Any, context: Context, attributes: Any) -> Any:
    """The same ``Measurement``, its fields written to its ``__dict__`` (the frozen dataclass's
    ``__init__`` sets them one ``object.__setattr__`` at a time)."""
    measurement = _new_object(Measurement)
    fields = measurement.__dict__
    fields["value"] = value
    fields["time_unix_nano"] = now
    fields["instrument"] = instrument
    fields["context"] = context
    fields["attributes"] = attributes
    return measurement


new_measurement = _measurement_by_fields if _measurement_fields_settable() else _measurement


def _check_point(reader: InMemoryMetricReader, name: str) -> str | None:
    data = reader.get_metrics_data()
    points: list[Any] = [
        point
        for rm in (data.resource_metrics if data is not None else [])
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]
    recorded = [({"a": "b"}, 2, 0.52, 0.02, 0.5, 2)]
    if [(dict(p.attributes or {}), p.count, round(p.sum, 9), p.min, p.max, sum(p.bucket_counts)) for p in points] != (
        recorded
    ):
        return f"measurements fed to the aggregation were not exported as recorded ({points!r})"
    return None


def _record_directly(histogram: Any) -> str | None:
    real = _resolve(histogram)
    if real is None:
        return f"{type(histogram).__name__} is not resolved to the SDK's _Histogram"
    streams = Streams(real)
    reason = streams.unsupported()
    if reason is not None or not streams.enabled() or streams.enabled() != real._is_enabled():
        return f"a default view and reader look unsupported ({reason or 'meter disabled'})"
    measurement = new_measurement(0.02, 1, real, Context(), {"a": "b"})
    for aggregation, in_place in streams.aggregations({"a": "b"}):
        if not in_place:
            return f"the default aggregation ({type(aggregation).__name__}) cannot be updated in place"
        aggregation.aggregate(measurement, False)
        add(aggregation, 0.5)
    return None


def _disabled_meter_agrees(provider: MeterProvider, histogram: Any) -> str | None:
    """``Streams.enabled`` says what ``_is_enabled`` says once the meter is disabled."""
    from opentelemetry.sdk.metrics._internal import _disable_meter_configurator

    provider._set_meter_configurator(meter_configurator=_disable_meter_configurator)
    if Streams(histogram).enabled() or histogram._is_enabled():
        return "Histogram._is_enabled does not follow its meter's configuration as Streams.enabled reads it"
    return None


def probe() -> FastPath:
    if _IMPORT_ERROR is not None:
        return FastPath(NAME, False, f"opentelemetry-sdk's metrics internals moved ({_IMPORT_ERROR})")
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    try:
        histogram = provider.get_meter("otelperf.fastpaths").create_histogram("otelperf.probe.direct")
        reason = _record_directly(histogram) or _check_point(reader, "otelperf.probe.direct")
        if reason is None:
            proxy_meter = _ProxyMeter("otelperf.fastpaths")
            proxy = proxy_meter.create_histogram("otelperf.probe.proxy")
            if _resolve(proxy) is not None or getattr(proxy, "_real_instrument", 0) is not None:
                reason = "an API proxy histogram has an instrument before a meter provider is set"
            else:
                proxy_meter.on_set_meter_provider(provider)
                reason = _record_directly(proxy) or _check_point(reader, "otelperf.probe.proxy")
        if reason is None:
            reason = _disabled_meter_agrees(provider, histogram)
    finally:
        provider.shutdown()
    if reason is not None:
        return FastPath(NAME, False, reason)
    construction = "fields written" if new_measurement is _measurement_by_fields else "constructor"
    return FastPath(NAME, True, f"feeds the SDK's per-attribute-set aggregations (Measurement: {construction})")


SWITCH = Switch(NAME, probe)
