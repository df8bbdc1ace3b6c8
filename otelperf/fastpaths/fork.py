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
child keeps the parent's value, and the caller says so).
"""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry.sdk.resources import Resource

__all__ = ["fresh_metric_state", "update_resource"]


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
