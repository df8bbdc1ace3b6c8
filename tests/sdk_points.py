"""Reading what an in-memory SDK reader holds: points by metric name (no global state touched)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader


@dataclass
class Point:
    name: str
    attributes: dict[str, Any]
    point: Any

    @property
    def count(self) -> int:
        return int(self.point.count) if isinstance(self.point, HistogramDataPoint) else int(self.point.value)


def read_points(reader: InMemoryMetricReader, name: str) -> list[Point]:
    data = reader.get_metrics_data()
    if data is None:
        return []
    return [
        Point(metric.name, dict(point.attributes or {}), point)
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]
