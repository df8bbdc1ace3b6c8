"""An in-process copy of the metrics (``OTELPERF_LOCAL_METRICS=true``), flattened for reading.

The demo reads it to print what the server observed without a collector; the same snapshot is
the input for in-process reports. It is a second SDK reader, so it is off by default.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.metrics.export import HistogramDataPoint, NumberDataPoint

from otelperf._lifecycle import current_pipeline


def local_metrics() -> list[dict[str, Any]]:
    """One dict per data point: ``name``, ``unit``, ``attributes`` and ``value`` or ``count``/``sum``/
    ``bucket_counts``/``explicit_bounds`` for histograms. Empty when the local reader is off."""
    pipeline = current_pipeline()
    if pipeline is None or pipeline.local_reader is None:
        return []
    data = pipeline.local_reader.get_metrics_data()
    points: list[dict[str, Any]] = []
    if data is None:
        return points
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:
                    entry: dict[str, Any] = {
                        "name": metric.name,
                        "unit": metric.unit,
                        "attributes": dict(point.attributes or {}),
                    }
                    if isinstance(point, HistogramDataPoint):
                        entry.update(
                            count=point.count,
                            sum=point.sum,
                            bucket_counts=list(point.bucket_counts),
                            explicit_bounds=list(point.explicit_bounds),
                        )
                    elif isinstance(point, NumberDataPoint):
                        entry["value"] = point.value
                    points.append(entry)
    return points
