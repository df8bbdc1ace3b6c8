"""An in-process copy of the metrics (``OTELPERF_LOCAL_METRICS=true``), flattened for reading.

The demo reads it to print what the server observed without a collector; the same snapshot is
the input of the in-process performance report (``otelperf.rules``). It is a second SDK reader, so
it is off by default. Counters and histograms are cumulative, so a snapshot is enough for rates;
gauges are only a current value, so ``GaugeHistory`` samples them every few seconds (bounded: an
hour of samples, a capped number of series) for averages and trends. Its first sample also keeps
the cumulative points as a baseline, so that in-process rates cover the steady state after
start-up (imports, warm-up), as Prometheus' ``rate()`` does from its first scrape.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from opentelemetry.sdk.metrics.export import Gauge, HistogramDataPoint, MetricReader, NumberDataPoint, Sum

from otelperf.log import logger

__all__ = ["GaugeHistory", "Snapshot", "read_points"]


# One gauge sample set: (unix time, {(metric name, sorted attribute items): value}).
Snapshot = tuple[float, dict[tuple[str, tuple[tuple[str, Any], ...]], float]]


def read_points(reader: MetricReader) -> list[dict[str, Any]]:
    data = reader.get_metrics_data() if hasattr(reader, "get_metrics_data") else None
    points: list[dict[str, Any]] = []
    if data is None:
        return points
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = "gauge"
                if isinstance(metric.data, Sum) and metric.data.is_monotonic:
                    kind = "counter"
                elif not isinstance(metric.data, (Sum, Gauge)):
                    kind = "histogram"
                for point in metric.data.data_points:
                    entry: dict[str, Any] = {
                        "name": metric.name,
                        "unit": metric.unit,
                        "kind": kind,
                        "attributes": dict(point.attributes or {}),
                        "start": (getattr(point, "start_time_unix_nano", 0) or point.time_unix_nano) / 1e9,
                        "time": point.time_unix_nano / 1e9,
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


class GaugeHistory:
    """Samples the local reader's gauges every ``interval_s`` seconds in a daemon thread."""

    def __init__(
        self, reader: MetricReader, *, interval_s: float = 5.0, max_samples: int = 720, max_series: int = 2000
    ) -> None:
        self._reader = reader
        self._interval_s = interval_s
        self._max_series = max_series
        self._samples: deque[Snapshot] = deque(maxlen=max_samples)
        self.baseline: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="otelperf-gauge-history", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def restart(self) -> None:
        """In a forked child: the parent's samples are not this process's, and its thread is gone."""
        self._samples.clear()
        self.baseline = []
        self._stop = threading.Event()
        self.start()

    def sample(self) -> None:
        values: dict[tuple[str, tuple[tuple[str, Any], ...]], float] = {}
        points = read_points(self._reader)
        if not self.baseline:
            self.baseline = [point for point in points if point["kind"] != "gauge"][: self._max_series]
        for point in points:
            if point["kind"] == "gauge" and len(values) < self._max_series:
                values[(point["name"], tuple(sorted(point["attributes"].items())))] = float(point["value"])
        self._samples.append((time.time(), values))

    def snapshots(self) -> list[Snapshot]:
        return list(self._samples)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.sample()
            except Exception:  # noqa: BLE001 - a failed sample is skipped, the thread goes on
                logger.debug("gauge history sample failed", exc_info=True)
