"""Builds the SDK's providers from ``Settings``: resource, sampler, processors, exporters, readers.

Nothing here runs at import. ``Pipeline.start()`` is called once per serving process (see
``process.roles``); it installs the global tracer and meter providers, which also brings to life the
proxy tracers and instruments that instrumentors created before it.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    MeterProvider,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    CardinalityLimits,
    ConsoleMetricExporter,
    InMemoryMetricReader,
    MetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)

from otelperf import semconv
from otelperf.export.resilient import (
    ExportHealth,
    ResilientMetricExporter,
    ResilientSpanExporter,
    silence_exporter_logs,
)
from otelperf.export.span_wire import grpc_span_exporter
from otelperf.fastpaths import fork
from otelperf.log import logger
from otelperf.metrics.exemplars import exemplar_reservoir_factory
from otelperf.pipeline.local import GaugeHistory, Snapshot, read_points
from otelperf.pipeline.resource import build_resource, process_identity
from otelperf.process import loops
from otelperf.process.heap import freeze_after_startup
from otelperf.processors import NPlusOneSpanProcessor, SanitizingSpanProcessor
from otelperf.profiling import Profiler, ProfileSpanProcessor, start_profiler
from otelperf.profiling.tasks import frame_asgi_apps, install_task_factory
from otelperf.settings import Settings

# Instrument kinds whose series the limit applies to (the SDK does not export its synchronous Gauge
# class publicly, and no otelperf or configured instrumentation creates one).
_INSTRUMENT_KINDS = (Counter, UpDownCounter, Histogram, ObservableCounter, ObservableUpDownCounter, ObservableGauge)


# Export batches of 64 spans every 200 ms, where the SDK sends 512 every 5 s: the export thread
# encodes a batch holding the GIL, and a 512-span batch stops the event loop long enough to show
# in the fixed-rate p99 (docs/benchmarks.md); smaller batches cost a few more gRPC calls a second.
# OTEL_BSP_MAX_EXPORT_BATCH_SIZE / OTEL_BSP_SCHEDULE_DELAY win.
EXPORT_BATCH_DEFAULTS = {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": 64, "OTEL_BSP_SCHEDULE_DELAY": 200}


def _batch_options() -> tuple[int | None, int | None]:
    """Batch size and delay for the batch processor: otelperf's where the environment sets none
    (``None``: the SDK reads and validates the variable itself)."""
    size = None
    if not os.environ.get("OTEL_BSP_MAX_EXPORT_BATCH_SIZE"):
        size = EXPORT_BATCH_DEFAULTS["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"]
        queue = os.environ.get("OTEL_BSP_MAX_QUEUE_SIZE", "").strip()
        if queue.isdigit() and int(queue) > 0:
            size = min(size, int(queue))  # a batch may not exceed the queue
    delay = None if os.environ.get("OTEL_BSP_SCHEDULE_DELAY") else EXPORT_BATCH_DEFAULTS["OTEL_BSP_SCHEDULE_DELAY"]
    return size, delay


def build_sampler(settings: Settings) -> Sampler:
    """The head sampler named by ``OTEL_TRACES_SAMPLER`` (validated in settings)."""
    name = settings.sampler
    root: Sampler
    if name.endswith("always_off"):
        root = ALWAYS_OFF
    elif name.endswith("traceidratio"):
        root = TraceIdRatioBased(settings.sampler_ratio)
    else:
        root = ALWAYS_ON
    return ParentBased(root) if name.startswith("parentbased_") else root


def _views() -> list[View]:
    """One view per histogram of the instrument catalog (``semconv.INSTRUMENTS``), by exact name, so
    that no two views match one instrument (it would be exported twice): the cheaper exemplar
    reservoir (``metrics.exemplars``) for each, and the declared buckets, whoever records the
    instrument, where the declaration enforces them (http.server.request.duration: exact Apdex at
    T = 100 ms under contrib's FastAPI instrumentation too). Other instruments keep the default view."""
    reservoirs = exemplar_reservoir_factory()  # None: the SDK's own
    views = []
    for instrument in semconv.INSTRUMENTS.values():
        if instrument.kind != "histogram":
            continue
        if instrument.enforce_buckets:
            buckets = ExplicitBucketHistogramAggregation(instrument.buckets)
            views.append(
                View(instrument_name=instrument.name, aggregation=buckets, exemplar_reservoir_factory=reservoirs)
            )
        elif reservoirs is not None:
            views.append(View(instrument_name=instrument.name, exemplar_reservoir_factory=reservoirs))
    return views


def _otlp_span_exporter(settings: Settings) -> SpanExporter:
    endpoint = settings.endpoint_for("traces")
    if settings.otlp_protocol == "grpc":
        span_exporter: SpanExporter = grpc_span_exporter(endpoint, settings.export_timeout_s)
        return span_exporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter

    return HttpSpanExporter(endpoint=endpoint, timeout=settings.export_timeout_s)


def _otlp_metric_exporter(settings: Settings) -> MetricExporter:
    endpoint = settings.endpoint_for("metrics")
    if settings.otlp_protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        return OTLPMetricExporter(endpoint=endpoint, timeout=settings.export_timeout_s)
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpMetricExporter,
    )

    return HttpMetricExporter(endpoint=endpoint, timeout=settings.export_timeout_s)


@dataclass
class Pipeline:
    """The providers of one process and how to flush them within a time budget."""

    settings: Settings
    resource: Resource | None = None
    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    local_reader: InMemoryMetricReader | None = None
    gauge_history: GaugeHistory | None = None
    profiler: Profiler | None = None
    healths: list[ExportHealth] = field(default_factory=list)
    _exporters: list[ResilientSpanExporter | ResilientMetricExporter] = field(default_factory=list)
    standby: bool = False  # profiler and metric exports held until activate()
    paused: bool = False  # a supervisor's: nothing exported, no profiler
    _shutdown_done: bool = False
    _providers_flushed: bool = False

    def start(self, *, standby: bool = False) -> None:
        """Build and install the providers (global, so instrumentors' proxies resolve).

        ``standby``: a process that may still turn out to supervise holds back its profiler and its
        metric exports (cumulative: nothing is lost) until ``activate()``; spans flow at once."""
        settings = self.settings
        self.resource = build_resource(settings.service_name)
        self.standby = standby
        if not standby:
            self._start_profiler()
        if settings.gc_freeze:
            freeze_after_startup()
        self.tracer_provider = self._build_tracer_provider()
        self.meter_provider = self._build_meter_provider()
        trace.set_tracer_provider(self.tracer_provider)
        metrics.set_meter_provider(self.meter_provider)
        if self.local_reader is not None:
            self.gauge_history = GaugeHistory(self.local_reader, interval_s=settings.local_history_interval_s)
            self.gauge_history.start()
        if standby:
            for exporter in self._exporters:
                if isinstance(exporter, ResilientMetricExporter):
                    exporter.pause()
        set_current_pipeline(self)

    def activate(self) -> None:
        """End the standby: this process serves (or has shown no sign of supervising)."""
        if not self.standby or self.paused:
            return
        self.standby = False
        for exporter in self._exporters:
            exporter.resume()
        self._start_profiler()

    def _start_profiler(self) -> None:
        settings = self.settings
        if not settings.profiling_active or self.resource is None:
            return
        attributes = self.resource.attributes
        self.profiler = start_profiler(settings, str(attributes.get("service.name")), attributes)
        if self.profiler is not None and settings.profiling_span_attribution:
            loops.subscribe(install_task_factory)
            frame_asgi_apps()

    def pause(self) -> None:
        """Stop exporting and profiling in this process (a supervisor's), keeping every provider
        alive: the workers it forks inherit them and ``renew_after_fork`` makes them theirs."""
        self.paused = True
        for exporter in self._exporters:
            exporter.pause()
        profiler, self.profiler = self.profiler, None
        if profiler is not None:
            # The agent's last upload may wait on Pyroscope: bounded, and finished before any fork.
            stop = threading.Thread(target=profiler.shutdown, name="otelperf-profiler-stop", daemon=True)
            stop.start()
            stop.join(self.settings.shutdown_timeout_s)

    def renew_after_fork(self) -> list[str]:
        """In a forked child, make the inherited pipeline this process's own: its ``process.pid``
        and ``service.instance.id``, empty metric streams, new exporter connections, its own
        profiler. The SDK's own fork hooks, which ran first, restarted its threads. Returns what
        could not be renewed on this SDK."""
        problems = []
        identity = process_identity()
        providers = [provider for provider in (self.tracer_provider, self.meter_provider) if provider is not None]
        reason = fork.update_resource(providers, identity)
        if reason is not None:
            problems.append(f"the resource keeps the parent's process.pid and service.instance.id ({reason})")
        if self.resource is not None:
            self.resource = self.resource.merge(identity)
        if self.meter_provider is not None:
            reason = fork.fresh_metric_state(self.meter_provider)
            if reason is not None:
                problems.append(f"the metrics include what the parent measured before the fork ({reason})")
        for exporter in self._exporters:
            exporter.renew_after_fork()
        if self.gauge_history is not None:
            self.gauge_history.restart()
        self.profiler = None  # the parent's agent: not running here, and not to be stopped from here
        self.standby = self.paused = False
        self._start_profiler()
        self._shutdown_done = self._providers_flushed = False
        return problems

    def _health(self, signal: str) -> ExportHealth:
        """The export health of ``signal`` (reported at shutdown), its exporter's logs captured."""
        health = ExportHealth(signal, self.settings.endpoint_for(signal))
        silence_exporter_logs(health)
        self.healths.append(health)
        return health

    def _build_tracer_provider(self) -> TracerProvider:
        settings = self.settings
        provider = TracerProvider(resource=self.resource, sampler=build_sampler(settings), shutdown_on_exit=False)
        on_standby = self.standby and settings.profiling_active
        if settings.profiling_span_attribution and (self.profiler is not None or on_standby):
            # On standby the agent starts later: the stack sampler applies no thread tags.
            labels = self.profiler.labels if self.profiler is not None else settings.profiling_sampler != "stack"
            provider.add_span_processor(ProfileSpanProcessor(link_spans=labels))
        provider.add_span_processor(SanitizingSpanProcessor())
        provider.add_span_processor(
            NPlusOneSpanProcessor(
                settings.n_plus_one_min_count,
                settings.n_plus_one_min_duration_s,
                min_share=settings.n_plus_one_min_share,
            )
        )
        if settings.traces_exporter == "otlp":
            resilient = ResilientSpanExporter(
                _otlp_span_exporter(settings), self._health("traces"), renew=lambda: _otlp_span_exporter(settings)
            )
            self._exporters.append(resilient)
            exporter: SpanExporter = resilient
            batch_size, delay_ms = _batch_options()
            provider.add_span_processor(
                BatchSpanProcessor(exporter, schedule_delay_millis=delay_ms, max_export_batch_size=batch_size)
            )
        elif settings.traces_exporter == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        return provider

    def _build_meter_provider(self) -> MeterProvider:
        settings = self.settings
        readers: list[MetricReader] = []
        interval = settings.metric_export_interval_ms
        # The SDK's per-stream series limit, for every instrument (contrib's too).
        limits: CardinalityLimits = {kind: settings.metric_series_limit for kind in _INSTRUMENT_KINDS}
        if settings.metrics_exporter == "otlp":
            exporter = ResilientMetricExporter(
                _otlp_metric_exporter(settings), self._health("metrics"), renew=lambda: _otlp_metric_exporter(settings)
            )
            self._exporters.append(exporter)
            readers.append(
                PeriodicExportingMetricReader(exporter, export_interval_millis=interval, cardinality_limits=limits)
            )
        elif settings.metrics_exporter == "console":
            readers.append(
                PeriodicExportingMetricReader(
                    ConsoleMetricExporter(), export_interval_millis=interval, cardinality_limits=limits
                )
            )
        if settings.local_metrics:
            self.local_reader = InMemoryMetricReader(cardinality_limits=limits)
            readers.append(self.local_reader)
        return MeterProvider(resource=self.resource, metric_readers=readers, views=_views(), shutdown_on_exit=False)

    def shutdown(self, reason: str) -> None:
        """Flush and stop every provider, giving up after ``OTELPERF_SHUTDOWN_TIMEOUT`` seconds.

        Runs in a daemon thread so that a hung export can never hold the process; on timeout the
        exporters are told to abort their retries and what was abandoned is logged.
        """
        if self._shutdown_done:
            return
        self._shutdown_done = True
        if self.standby and not self.paused:  # it never supervised: what it measured is its own
            for exporter in self._exporters:
                exporter.resume()
        if self.gauge_history is not None:
            self.gauge_history.stop()
        budget = self.settings.shutdown_timeout_s
        started = time.monotonic()
        worker = threading.Thread(target=self._shutdown_providers, name="otelperf-shutdown", daemon=True)
        worker.start()
        worker.join(budget)
        elapsed = time.monotonic() - started
        dropped = {health.signal: health.dropped_total for health in self.healths if health.dropped_total}
        refused = sum(health.queue_full_total for health in self.healths)
        if worker.is_alive() and self._providers_flushed and self.profiler is not None:
            logger.warning(
                "shutdown (%s): traces and metrics flushed; the last profile upload to Pyroscope at %s did not "
                "finish within %.1f s (OTELPERF_SHUTDOWN_TIMEOUT) and is dropped",
                reason,
                self.profiler.endpoint,
                budget,
            )
        elif worker.is_alive():
            troubled = [f"{h.signal} to {h.destination}: {h.last_error}" for h in self.healths if h.last_error]
            logger.warning(
                "shutdown (%s): flushing did not finish within %.1f s (OTELPERF_SHUTDOWN_TIMEOUT)%s; "
                "the telemetry still queued is dropped%s",
                reason,
                budget,
                f" ({'; '.join(troubled)[:300]})" if troubled else "",
                _dropped_text(dropped, refused),
            )
        elif dropped or refused:
            logger.info("shutdown (%s) in %.2f s%s", reason, elapsed, _dropped_text(dropped, refused))
        else:
            logger.debug("shutdown (%s): flushed in %.2f s", reason, elapsed)

    def _shutdown_providers(self) -> None:
        # The agent's last upload waits on Pyroscope, which may never answer: it runs beside the
        # trace and metric flushes, not before them.
        profiler_stop = None
        if self.profiler is not None:
            profiler_stop = threading.Thread(target=self.profiler.shutdown, name="otelperf-profiler-stop", daemon=True)
            profiler_stop.start()
        for provider in (self.tracer_provider, self.meter_provider):
            if provider is None:
                continue
            try:
                provider.shutdown()
            except Exception:  # noqa: BLE001
                logger.debug("provider shutdown failed", exc_info=True)
        self._providers_flushed = True
        if profiler_stop is not None:
            profiler_stop.join()


def _dropped_text(dropped: dict[str, int], refused: int = 0) -> str:
    text = ""
    if dropped:
        parts = [f"{count} {'spans' if signal == 'traces' else 'metric batches'}" for signal, count in dropped.items()]
        text += "; dropped while the collector was unreachable: " + ", ".join(parts)
    if refused:
        text += f"; {refused} spans refused by the full export queue (OTEL_BSP_MAX_QUEUE_SIZE)"
    return text


# The running pipeline: one at most per process (a list, so that no ``global`` statement is needed).
_current: list[Pipeline] = []


def set_current_pipeline(pipeline: Pipeline | None) -> None:
    """Called by ``Pipeline.start()`` once the providers are installed."""
    _current[:] = [pipeline] if pipeline is not None else []


def current_pipeline() -> Pipeline | None:
    """The pipeline running in this process, if any (registered by ``Pipeline.start()``)."""
    return _current[0] if _current else None


def local_metrics() -> list[dict[str, Any]]:
    """One dict per data point: ``name``, ``unit``, ``kind`` (``histogram``, ``counter`` or ``gauge``),
    ``attributes``, ``start``/``time`` (unix seconds) and ``value`` or ``count``/``sum``/
    ``bucket_counts``/``explicit_bounds`` for histograms, with ``exemplars`` (``value``, ``time``,
    ``trace_id``, ``span_id`` as hex) where a measurement was recorded in a sampled span.
    Empty when the local reader is off."""
    pipeline = current_pipeline()
    if pipeline is None or pipeline.local_reader is None:
        return []
    points = read_points(pipeline.local_reader)
    if pipeline.gauge_history is not None:
        pipeline.gauge_history.with_exemplars(points)
    return points


def local_snapshots() -> list[tuple[float, list[dict[str, Any]]]]:
    """The kept copies of the cumulative points, oldest first (empty when the local reader is off)."""
    pipeline = current_pipeline()
    if pipeline is None or pipeline.gauge_history is None:
        return []
    return pipeline.gauge_history.cumulative_snapshots()


def local_gauge_history() -> list[Snapshot]:
    """The gauge samples kept so far, oldest first (empty when the local reader is off)."""
    pipeline = current_pipeline()
    if pipeline is None or pipeline.gauge_history is None:
        return []
    return pipeline.gauge_history.snapshots()


def local_baseline() -> list[dict[str, Any]]:
    """The cumulative points of the first gauge sample (empty until it is taken)."""
    pipeline = current_pipeline()
    if pipeline is None or pipeline.gauge_history is None:
        return []
    return pipeline.gauge_history.baseline
