"""What a forked child changes in the SDK providers it inherited: its identity and its metric state.

After ``fork`` the SDK re-arms its own threads and locks (its ``os.register_at_fork`` hooks) and
merges the process-dependent resource detectors into its providers' resources. Two things of the
parent's remain, and a child that serves must not keep them:

- the resource attributes otelperf sets per process (``process.pid``, ``service.instance.id``):
  ``update_resource`` merges new ones through the providers' ``_update_resource``, which the SDK's
  own fork hook uses (the tracer provider passes it on to every tracer it made);
- the metric streams' aggregations, which hold what the parent measured before the fork:
  ``fresh_metric_state`` gives the meter provider's measurement consumer new, empty reader
  storages, built as its constructor builds them. The consumer replaces that mapping (never
  mutates it) when a reader is added, so instruments and otelperf's direct histogram path
  (``metrics.direct``, which checks the mapping's identity) pick up the new one.

Each function returns ``None`` when done, or why it could not be done on this SDK (then the
child keeps the parent's value, and the caller says so). There is no public equivalent, so this
SDK contract is not a fast path ``OTELPERF_FAST_PATHS=false`` turns off; its probe renews a
throwaway tracer and meter provider and checks that spans and metrics carry the merged resource
and that the metric streams start empty.
"""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from otelperf.fastpaths.contract import FastPath, Switch

__all__ = ["SWITCH", "fresh_metric_state", "probe", "update_resource"]

NAME = "fork"


def update_resource(providers: list[Any], resource: Resource) -> str | None:
    """Merge ``resource`` into each provider's resource (and its tracers')."""
    missing = [type(provider).__name__ for provider in providers if not hasattr(provider, "_update_resource")]
    if missing:
        return f"{', '.join(missing)} has no _update_resource"
    for provider in providers:
        provider._update_resource(resource)
    return None


def fresh_metric_state(meter_provider: Any) -> str | None:
    """Empty every metric stream of ``meter_provider``: new reader storages, a new consumer lock."""
    try:
        from opentelemetry.sdk.metrics._internal.metric_reader_storage import MetricReaderStorage

        consumer = meter_provider._measurement_consumer
        config = consumer._sdk_config
        storages = {
            reader: MetricReaderStorage(
                config,
                reader._instrument_class_temporality,
                reader._instrument_class_aggregation,
                reader._instrument_class_cardinality_limit,
            )
            for reader in consumer._reader_storages
        }
    except Exception as exc:  # noqa: BLE001 - another SDK layout: the child keeps the parent's streams
        return f"unexpected SDK internals ({type(exc).__name__}: {exc})"
    consumer._lock = threading.Lock()  # a collection may have held it in the parent at the fork
    consumer._reader_storages = storages
    return None


def _counts(reader: InMemoryMetricReader) -> list[tuple[Any, Any]]:
    data = reader.get_metrics_data()
    return [
        (rm.resource.attributes.get("probe.identity"), getattr(point, "value", None))
        for rm in (data.resource_metrics if data is not None else [])
        for sm in rm.scope_metrics
        for metric in sm.metrics
        for point in metric.data.data_points
    ]


def probe() -> FastPath:
    resource = Resource({"service.name": "otelperf-probe", "probe.identity": "parent"})
    tracer_provider = TracerProvider(sampler=ALWAYS_ON, resource=resource, shutdown_on_exit=False)
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader], resource=resource, shutdown_on_exit=False)
    try:
        tracer = tracer_provider.get_tracer("otelperf.fastpaths")
        counter = meter_provider.get_meter("otelperf.fastpaths").create_counter("otelperf.probe.count")
        counter.add(5)
        reason = update_resource([tracer_provider, meter_provider], Resource({"probe.identity": "child"}))
        if reason is None:
            reason = fresh_metric_state(meter_provider)
        if reason is None:
            counter.add(1)
            span = tracer.start_span("probe")
            span.end()
            if span.resource.attributes.get("probe.identity") != "child":  # type: ignore[attr-defined]
                reason = "a tracer made before _update_resource does not take the merged resource"
            elif _counts(reader) != [("child", 1)]:
                reason = f"the metrics after renewal are {_counts(reader)!r}, not one new count on the new resource"
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()
    if reason is not None:
        return FastPath(NAME, False, f"{reason}: forked workers keep their parent's identity or metrics")
    return FastPath(NAME, True, "providers' _update_resource, new MetricReaderStorage per reader")


SWITCH = Switch(NAME, probe, forcible=False)
