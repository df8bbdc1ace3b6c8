"""Exporters that cannot hurt the app when the collector is away.

``ResilientSpanExporter`` and ``ResilientMetricExporter`` wrap the SDK's OTLP exporters:

- A circuit breaker: after a failed export, batches are dropped (and counted) without touching
  the network for a back-off that doubles up to 30 s; then one export is tried again. No CPU is
  burnt on retries and nothing accumulates: memory stays bounded by the batch processor's queue.
- One log line when the collector becomes unreachable (with the reason), at most one summary a
  minute while it stays away (with how much was dropped), one line when it is back. The wrapped
  exporters' own per-retry warnings are captured for the reason and silenced.
- Shutdown never waits on a dead collector: with the circuit open, what is left is dropped at
  once and the count is logged.

Exceptions from the wrapped exporter never propagate.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otelperf.fastpaths.metric_export import preferences
from otelperf.log import logger

_REPORT_INTERVAL_S = 60.0
_MAX_BACKOFF_S = 30.0
_NOISY_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.http._common",
)


class ExportHealth:
    """Circuit breaker and rate-limited reporting for one signal's exports."""

    def __init__(
        self,
        signal: str,
        destination: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        report_interval_s: float = _REPORT_INTERVAL_S,
    ) -> None:
        self.signal = signal
        self.destination = destination
        self._clock = clock
        self._report_interval_s = report_interval_s
        self.reset()

    def reset(self) -> None:
        """Forget the counts and the breaker's state (a forked child starts its own)."""
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until = 0.0
        self._last_report = float("-inf")
        self._dropped_since_report = 0
        self._dropped_this_outage = 0  # the "recovered" line's count, whatever was reported meanwhile
        self.dropped_total = 0
        self.exported_total = 0
        self.last_error: str | None = None
        self._announced = False
        self.queue_full_total = 0  # items the batch processor refused because its queue was full
        self._queue_full_since_report = 0
        self._last_queue_report = float("-inf")

    @property
    def is_open(self) -> bool:
        """True while exports are being skipped."""
        return self._failures > 0 and self._clock() < self._open_until

    def allow(self) -> bool:
        return not self.is_open

    def note_error(self, message: str) -> None:
        """Keep the wrapped exporter's reason; the first one is announced at once."""
        self.last_error = distill_reason(message)
        with self._lock:
            if self._announced:
                return
            self._announced = True
            self._last_report = self._clock()
        self._announce()

    def _announce(self) -> None:
        logger.warning(
            "cannot export %s to %s (%s); dropping them and retrying with back-off, "
            "the app is not affected; next report in %.0f s",
            self.signal,
            self.destination,
            _shorten(self.last_error or "export failed"),
            self._report_interval_s,
        )

    def success(self, items: int) -> None:
        with self._lock:
            self.exported_total += items
            if self._failures == 0 and not self._announced:
                return
            dropped, self._dropped_this_outage, self._dropped_since_report = self._dropped_this_outage, 0, 0
            self._failures = 0
            self._announced = False
        logger.info(
            "%s export to %s recovered; %d %s dropped while it was unreachable",
            self.signal,
            self.destination,
            dropped,
            self._unit(dropped),
        )

    def failure(self, items: int) -> None:
        with self._lock:
            self._failures += 1
            self._open_until = self._clock() + min(2.0**self._failures, _MAX_BACKOFF_S)
            announce = not self._announced
            self._announced = True
            if announce:
                self._last_report = self._clock()
        if announce:
            self._announce()
        self.drop(items)

    def drop(self, items: int) -> None:
        with self._lock:
            self._dropped_since_report += items
            self._dropped_this_outage += items
            self.dropped_total += items
            now = self._clock()
            if now - self._last_report < self._report_interval_s:
                return
            self._last_report = now
            dropped, self._dropped_since_report = self._dropped_since_report, 0
        reason = self.last_error or "export failed"
        logger.warning(
            "%s export to %s still failing (%s); %d %s dropped in the last %.0f s",
            self.signal,
            self.destination,
            _shorten(reason),
            dropped,
            self._unit(dropped),
            self._report_interval_s,
        )

    def queue_full(self) -> None:
        """One item refused by the batch processor's full queue; reported at most once a minute.

        The SDK logs "Queue full, dropping Span." (at most once per 20 s) with no count and no
        advice; ``silence_exporter_logs`` turns each refusal into this call instead.
        """
        with self._lock:
            self.queue_full_total += 1
            self._queue_full_since_report += 1
            now = self._clock()
            if now - self._last_queue_report < self._report_interval_s:
                return
            first = self._last_queue_report == float("-inf")
            self._last_queue_report = now
            count, self._queue_full_since_report = self._queue_full_since_report, 0
        if first:
            logger.warning(
                "the %s export queue is full (OTEL_BSP_MAX_QUEUE_SIZE): new %s are dropped until the "
                "exporter catches up, the app is not affected; next report in %.0f s",
                self.signal,
                self._unit(2),
                self._report_interval_s,
            )
        else:
            logger.warning(
                "the %s export queue was full: %d %s dropped in the last %.0f s",
                self.signal,
                count,
                self._unit(count),
                self._report_interval_s,
            )

    def _unit(self, count: int) -> str:
        noun = "span" if self.signal == "traces" else "metric batch"
        return noun if count == 1 else noun + ("es" if noun.endswith("batch") else "s")


_GRPC_CODE = re.compile(r"StatusCode\.(\w+)")


def distill_reason(message: str) -> str:
    """``UNAVAILABLE: Connection refused`` out of the exporters' long retry messages."""
    code = _GRPC_CODE.search(message)
    detail = message.rsplit(": ", 1)[-1].strip() if ": " in message else ""
    if code:
        return f"{code.group(1)}: {detail}" if detail else code.group(1)
    return _shorten(message)


def _shorten(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _CaptureReason(logging.Filter):
    """Routes the wrapped exporters' own warnings into ``ExportHealth.last_error``, silently."""

    def __init__(self) -> None:
        super().__init__()
        self.healths: list[ExportHealth] = []

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.levelno < logging.WARNING or "hutdown" in message:
            return False
        for health in self.healths:
            if health.signal in message or len(self.healths) == 1:
                health.note_error(message)
        return record.levelno >= logging.CRITICAL


_CAPTURE = _CaptureReason()


class _CountQueueFull(logging.Filter):
    """Turns the batch processor's per-item "Queue full, dropping Span." into ``queue_full()``."""

    def __init__(self) -> None:
        super().__init__()
        self.traces: ExportHealth | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if not (isinstance(record.msg, str) and record.msg.startswith("Queue full")):
            return True
        if record.args == ("Span",) and self.traces is not None:
            self.traces.queue_full()
            return False
        return True


_QUEUE_FULL = _CountQueueFull()
_BATCH_PROCESSOR_LOGGER = "opentelemetry.sdk._shared_internal"


def silence_exporter_logs(health: ExportHealth) -> None:
    """Install the capturing filters on the OTLP exporters' and batch processor's loggers (idempotent)."""
    if health not in _CAPTURE.healths:
        _CAPTURE.healths.append(health)
    for name in _NOISY_LOGGERS:
        log = logging.getLogger(name)
        if _CAPTURE not in log.filters:
            log.addFilter(_CAPTURE)
    if health.signal == "traces":
        _QUEUE_FULL.traces = health
        log = logging.getLogger(_BATCH_PROCESSOR_LOGGER)
        if _QUEUE_FULL not in log.filters:
            # Ahead of the SDK's own DuplicateFilter (one line per 20 s), so every refusal is counted.
            log.filters.insert(0, _QUEUE_FULL)


class _Renewable:
    """Pause and after-fork renewal, shared by both exporters: ``_renew`` builds the wrapped exporter
    anew in a forked child, on the export thread, the first time the child exports."""

    _inner: Any
    health: ExportHealth

    def _init_renewal(self, renew: Callable[[], Any] | None) -> None:
        self._renew = renew
        self._paused = False
        self._stale = False

    def pause(self) -> None:
        """Export nothing until ``resume``: batches are dropped uncounted (a supervisor's, or held)."""
        self._paused = True

    def resume(self) -> None:
        self._paused = False

    def renew_after_fork(self) -> None:
        """In a forked child: export again, through a new exporter (the parent's connection stays
        the parent's), with this process's own counts."""
        self._stale = self._renew is not None
        self._paused = False
        self.health.reset()

    def _ready(self) -> bool:
        """Whether to export now (not paused); builds the child's own exporter first if needed."""
        if self._paused:
            return False
        if self._stale and self._renew is not None:
            self._stale = False
            try:
                self._inner = self._renew()
            except Exception as exc:  # noqa: BLE001 - keep the inherited one rather than none
                logger.warning(
                    "could not build this process's exporter (%s: %s); using the inherited one",
                    type(exc).__name__,
                    exc,
                )
        return True


class ResilientSpanExporter(_Renewable, SpanExporter):
    """A span exporter that drops instead of retrying against an unreachable collector."""

    _inner: SpanExporter

    def __init__(
        self, inner: SpanExporter, health: ExportHealth, renew: Callable[[], SpanExporter] | None = None
    ) -> None:
        self._inner = inner
        self.health = health
        self._init_renewal(renew)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not self._ready():
            return SpanExportResult.SUCCESS
        if not self.health.allow():
            self.health.drop(len(spans))
            return SpanExportResult.FAILURE
        try:
            result = self._inner.export(spans)
        except Exception as exc:  # noqa: BLE001 - never propagate into the processor thread
            self.health.note_error(f"{type(exc).__name__}: {exc}")
            result = SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            self.health.success(len(spans))
        else:
            self.health.failure(len(spans))
        return result

    def shutdown(self) -> None:
        try:
            self._inner.shutdown()
        except Exception:  # noqa: BLE001
            logger.debug("span exporter shutdown failed", exc_info=True)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        try:
            return self._inner.force_flush(timeout_millis)
        except Exception:  # noqa: BLE001
            return False


class ResilientMetricExporter(_Renewable, MetricExporter):
    """A metric exporter that drops instead of retrying against an unreachable collector."""

    _inner: MetricExporter

    def __init__(
        self, inner: MetricExporter, health: ExportHealth, renew: Callable[[], MetricExporter] | None = None
    ) -> None:
        temporality, aggregation = preferences(inner)  # the reader asks this wrapper for them
        super().__init__(preferred_temporality=temporality, preferred_aggregation=aggregation)
        self._inner = inner
        self.health = health
        self._init_renewal(renew)

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        if not self._ready():
            return MetricExportResult.SUCCESS
        if not self.health.allow():
            self.health.drop(1)
            return MetricExportResult.FAILURE
        try:
            result = self._inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        except Exception as exc:  # noqa: BLE001
            self.health.note_error(f"{type(exc).__name__}: {exc}")
            result = MetricExportResult.FAILURE
        if result is MetricExportResult.SUCCESS:
            self.health.success(1)
        else:
            self.health.failure(1)
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        try:
            return self._inner.force_flush(timeout_millis)
        except Exception:  # noqa: BLE001
            return False

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        try:
            self._inner.shutdown(timeout_millis=timeout_millis, **kwargs)
        except Exception:  # noqa: BLE001
            logger.debug("metric exporter shutdown failed", exc_info=True)
