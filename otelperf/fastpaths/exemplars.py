"""Fast path ``exemplars``: otelperf's exemplar reservoir for explicit-bucket histograms, given to
the SDK through a view.

A view's ``exemplar_reservoir_factory`` is called with the class of the aggregation it builds
(public API); telling an explicit-bucket histogram's aggregation from the others, and handing the
others the SDK's default reservoir, needs the SDK's private ``_ExplicitBucketHistogramAggregation``
and ``_default_reservoir_factory``. With this fast path on, ``reservoir_factory(builder)`` is that
factory; off, it is ``None`` and the views keep the SDK's default reservoirs.

The probe builds a meter provider with such a view and checks that a histogram measurement
reaches the given reservoir (with the bucket boundaries) and a counter measurement the SDK's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.metrics import (
    AlignedHistogramBucketExemplarReservoir,
    AlwaysOnExemplarFilter,
    Exemplar,
    ExemplarReservoir,
    MeterProvider,
)
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.metrics.view import View
from opentelemetry.util.types import Attributes

from otelperf.fastpaths.contract import FastPath, Switch

__all__ = ["SWITCH", "ReservoirFactory", "probe", "reservoir_factory"]

NAME = "exemplars"
ReservoirBuilder = Callable[..., ExemplarReservoir]
ReservoirFactory = Callable[[type[Any]], ReservoirBuilder]

try:
    from opentelemetry.sdk.metrics._internal.aggregation import _ExplicitBucketHistogramAggregation
    from opentelemetry.sdk.metrics._internal.view import _default_reservoir_factory

    _IMPORT_ERROR: str | None = None
except ImportError as error:  # pragma: no cover - an SDK laid out otherwise: the SDK's reservoirs
    _IMPORT_ERROR = str(error)

_factories: dict[ReservoirBuilder, ReservoirFactory] = {}


def _factory(explicit_bucket: ReservoirBuilder) -> ReservoirFactory:
    factory = _factories.get(explicit_bucket)
    if factory is None:

        def exemplar_reservoir_factory(aggregation_type: type[Any]) -> ReservoirBuilder:
            if issubclass(aggregation_type, _ExplicitBucketHistogramAggregation):
                return explicit_bucket
            builder: ReservoirBuilder = _default_reservoir_factory(aggregation_type)
            return builder

        factory = _factories[explicit_bucket] = exemplar_reservoir_factory
    return factory


def reservoir_factory(explicit_bucket: ReservoirBuilder) -> ReservoirFactory | None:
    """A view's ``exemplar_reservoir_factory`` that gives explicit-bucket histograms
    ``explicit_bucket`` (called with ``boundaries=``) and every other aggregation the SDK's default;
    the same object for the same builder. ``None`` with the fast path off."""
    return _factory(explicit_bucket) if SWITCH.on else None


def probe() -> FastPath:
    if _IMPORT_ERROR is not None:
        return FastPath(NAME, False, f"opentelemetry-sdk's aggregation internals moved ({_IMPORT_ERROR})")
    default: Any = _default_reservoir_factory(_ExplicitBucketHistogramAggregation)
    if default is not AlignedHistogramBucketExemplarReservoir:
        return FastPath(NAME, False, "the SDK's default reservoir of explicit-bucket histograms changed")

    built: list[tuple[float, ...]] = []
    offered: list[float] = []

    class Recording(ExemplarReservoir):
        def __init__(self, boundaries: tuple[float, ...] = (), **_: Any) -> None:
            built.append(tuple(boundaries))

        def offer(self, value: float, time_unix_nano: int, attributes: Attributes, context: Context) -> None:
            offered.append(value)

        def collect(self, point_attributes: Attributes) -> list[Exemplar]:
            return []

    reader = InMemoryMetricReader()
    view = View(instrument_name="otelperf.probe.*", exemplar_reservoir_factory=_factory(Recording))
    provider = MeterProvider(
        metric_readers=[reader], views=[view], exemplar_filter=AlwaysOnExemplarFilter(), shutdown_on_exit=False
    )
    try:
        meter = provider.get_meter("otelperf.fastpaths")
        meter.create_histogram("otelperf.probe.histogram", explicit_bucket_boundaries_advisory=[1.0]).record(0.5)
        meter.create_counter("otelperf.probe.counter").add(2)
        data = reader.get_metrics_data()
    finally:
        provider.shutdown()
    if set(built) != {(1.0,)} or offered != [0.5]:
        return FastPath(NAME, False, "a view's factory does not build explicit-bucket histogram reservoirs")
    resource_metrics = data.resource_metrics if data is not None else []
    exported = {metric.name for rm in resource_metrics for sm in rm.scope_metrics for metric in sm.metrics}
    if exported != {"otelperf.probe.histogram", "otelperf.probe.counter"}:
        return FastPath(NAME, False, "the SDK's default reservoir did not serve another aggregation")
    return FastPath(
        NAME, True, "tells _ExplicitBucketHistogramAggregation apart, else the SDK's _default_reservoir_factory"
    )


SWITCH = Switch(NAME, probe)
