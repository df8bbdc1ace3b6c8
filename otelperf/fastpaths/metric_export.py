"""SDK contract ``metric_export``: a metric exporter's temporality and aggregation preferences.

``export.resilient`` wraps the OTLP metric exporter; the reader asks the wrapper for its
preferences, which must be the wrapped exporter's (``OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE``
and the histogram aggregation preference are applied when the OTLP exporter is built). The SDK's
``MetricExporter`` keeps them in private fields and has no public accessor. ``preferences``
reads them; where they are not there it returns ``None`` for both, which the wrapper's own
constructor turns into the SDK's defaults (cumulative temporality, default aggregations).

No public path gives the same answer, so ``OTELPERF_FAST_PATHS=false`` leaves this on; the probe
checks that an exporter built with preferences keeps them in the fields read.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.metrics import Counter, Histogram
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation

from otelperf.fastpaths.contract import FastPath, Switch

__all__ = ["SWITCH", "preferences", "probe"]

NAME = "metric_export"
_DEFAULTS = "metrics are exported with the SDK's default temporality and aggregations"


def preferences(exporter: MetricExporter) -> tuple[Any, Any]:
    """``exporter``'s preferred temporality and aggregation per instrument class, as given to
    ``MetricExporter.__init__`` (``None`` each where the SDK does not keep them as expected)."""
    if not SWITCH.on:
        return None, None
    return getattr(exporter, "_preferred_temporality", None), getattr(exporter, "_preferred_aggregation", None)


class _Exporter(MetricExporter):
    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        return None


def probe() -> FastPath:
    aggregation = ExponentialBucketHistogramAggregation()
    exporter = _Exporter(
        preferred_temporality={Counter: AggregationTemporality.DELTA},
        preferred_aggregation={Histogram: aggregation},
    )
    temporality, aggregations = (
        getattr(exporter, "_preferred_temporality", None),
        getattr(exporter, "_preferred_aggregation", None),
    )
    if not isinstance(temporality, dict) or temporality.get(Counter) is not AggregationTemporality.DELTA:
        return FastPath(NAME, False, f"MetricExporter keeps no _preferred_temporality: {_DEFAULTS}")
    if not isinstance(aggregations, dict) or aggregations.get(Histogram) is not aggregation:
        return FastPath(NAME, False, f"MetricExporter keeps no _preferred_aggregation: {_DEFAULTS}")
    return FastPath(NAME, True, "reads MetricExporter._preferred_temporality/_preferred_aggregation")


SWITCH = Switch(NAME, probe, forcible=False)
