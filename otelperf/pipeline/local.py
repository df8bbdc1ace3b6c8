"""An in-process copy of the metrics (``OTELPERF_LOCAL_METRICS=true``), flattened for reading.

The demo reads it to print what the server observed without a collector; the same snapshot is
the input of the in-process performance report (``otelperf.rules``). It is a second SDK reader, so
it is off by default. Counters and histograms are cumulative, so a snapshot is enough for rates;
gauges are only a current value, so ``GaugeHistory`` samples them every
``OTELPERF_LOCAL_HISTORY_INTERVAL`` seconds (bounded: 720 samples, a capped number of series) for
averages and trends. Its first sample also keeps the cumulative points as a baseline, so that
in-process rates cover the steady state after start-up (imports, warm-up), as Prometheus'
``rate()`` does from its first scrape.

For reports over a recent window and for charts, it also keeps copies of the cumulative points
(``snapshots``): at most ``max_snapshots`` of them, thinned as the process ages (when full, every
other copy is dropped and copies are taken half as often), so the whole lifetime is covered at a
resolution that halves as it grows, in bounded memory. Exemplars are kept too: a histogram's
reservoir holds the measurements since its last collection only, so each sample keeps, per series
and bucket, the latest exemplar seen (``with_exemplars`` adds them to fresh points).
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections import deque
from typing import Any

from opentelemetry.sdk.metrics import Exemplar
from opentelemetry.sdk.metrics.export import Gauge, HistogramDataPoint, MetricReader, NumberDataPoint, Sum

from otelperf.log import logger

__all__ = ["GaugeHistory", "SeriesKey", "Snapshot", "read_points", "series_key"]


# One gauge sample set: (unix time, {(metric name, sorted attribute items): value}).
Snapshot = tuple[float, dict[tuple[str, tuple[tuple[str, Any], ...]], float]]
SeriesKey = tuple[str, tuple[tuple[str, Any], ...]]


def series_key(point: dict[str, Any]) -> SeriesKey:
    """A point's series: its metric name and sorted attributes."""
    return point["name"], tuple(sorted(point["attributes"].items()))


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
                        exemplars = [_exemplar(exemplar) for exemplar in point.exemplars if exemplar.trace_id]
                        if exemplars:
                            entry["exemplars"] = exemplars
                    elif isinstance(point, NumberDataPoint):
                        entry["value"] = point.value
                    points.append(entry)
    return points


def _exemplar(exemplar: Exemplar) -> dict[str, Any]:
    return {
        "value": exemplar.value,
        "time": exemplar.time_unix_nano / 1e9,
        "trace_id": f"{exemplar.trace_id:032x}",
        "span_id": f"{exemplar.span_id or 0:016x}",
    }


class GaugeHistory:
    """Samples the local reader every ``interval_s`` seconds in a daemon thread: gauge values, thinned
    copies of the cumulative points, and the latest exemplar per series and bucket."""

    def __init__(
        self,
        reader: MetricReader,
        *,
        interval_s: float = 5.0,
        max_samples: int = 720,
        max_series: int = 2000,
        max_snapshots: int = 32,
    ) -> None:
        self._reader = reader
        self._interval_s = interval_s
        self._max_series = max_series
        self._samples: deque[Snapshot] = deque(maxlen=max_samples)
        self.baseline: list[dict[str, Any]] = []
        self._snapshots: list[tuple[float, list[dict[str, Any]]]] = []
        self._max_snapshots = max(2, max_snapshots)
        self._stride = 1  # a copy every ``_stride`` samples; doubles each time the copies are thinned
        self._ticks = 0
        self._exemplars: dict[SeriesKey, dict[int, dict[str, Any]]] = {}
        self._lock = threading.Lock()
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
        values: dict[SeriesKey, float] = {}
        points = read_points(self._reader)
        cumulative = [point for point in points if point["kind"] != "gauge"][: self._max_series]
        self._keep_exemplars(cumulative)
        for point in cumulative:
            point.pop("exemplars", None)
        if not self.baseline:
            self.baseline = cumulative
        for point in points:
            if point["kind"] == "gauge" and len(values) < self._max_series:
                values[series_key(point)] = float(point["value"])
        now = time.time()
        self._samples.append((now, values))
        with self._lock:
            if self._ticks % self._stride == 0:
                self._snapshots.append((now, cumulative))
                if len(self._snapshots) >= self._max_snapshots:
                    # Every other copy goes, keeping the newest; copies are taken half as often.
                    self._snapshots = self._snapshots[len(self._snapshots) % 2 :: 2]
                    self._stride *= 2
            self._ticks += 1

    def snapshots(self) -> list[Snapshot]:
        return list(self._samples)

    def cumulative_snapshots(self) -> list[tuple[float, list[dict[str, Any]]]]:
        with self._lock:
            return list(self._snapshots)

    def with_exemplars(self, points: list[dict[str, Any]]) -> None:
        """Adds the kept exemplars to fresh histogram ``points``, where a bucket has none of its own."""
        with self._lock:
            for point in points:
                kept = self._exemplars.get(series_key(point)) if point["kind"] == "histogram" else None
                if not kept:
                    continue
                fresh = {_bucket(point, exemplar["value"]) for exemplar in point.get("exemplars", ())}
                extra = [exemplar for bucket, exemplar in kept.items() if bucket not in fresh]
                if extra:
                    point["exemplars"] = sorted([*point.get("exemplars", ()), *extra], key=lambda e: e["value"])

    def _keep_exemplars(self, points: list[dict[str, Any]]) -> None:
        with self._lock:
            for point in points:
                for exemplar in point.get("exemplars", ()):
                    key = series_key(point)
                    if key not in self._exemplars and len(self._exemplars) >= self._max_series:
                        break
                    self._exemplars.setdefault(key, {})[_bucket(point, exemplar["value"])] = exemplar

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.sample()
            except Exception:  # noqa: BLE001 - a failed sample is skipped, the thread goes on
                logger.debug("gauge history sample failed", exc_info=True)


def _bucket(point: dict[str, Any], value: float) -> int:
    """The index of the bucket of ``point`` that holds ``value`` (upper bounds inclusive)."""
    return bisect_left(point["explicit_bounds"], value)
