"""OpenTelemetry metric names as the collector's Prometheus exporter names them.

The exporter appends the unit (``_seconds``, ``_bytes``, ``_ratio``) and ``_total`` to counters;
attributes become labels with dots turned into underscores. The metric table of
``docs/signals.md`` lists the same pairs; ``tests/unit/test_rules.py`` checks the two agree.
"""

from __future__ import annotations

from otelperf import semconv

PROMETHEUS_NAMES: dict[str, str] = {
    "http.server.request.duration": "http_server_request_duration_seconds",
    semconv.DB_CLIENT_OPERATION_DURATION: "db_client_operation_duration_seconds",
    semconv.DB_CLIENT_CONNECTION_WAIT_TIME: "db_client_connection_wait_time_seconds",
    semconv.DB_CLIENT_CONNECTION_TIMEOUTS: "db_client_connection_timeouts_total",
    semconv.DB_CLIENT_CONNECTION_COUNT: "db_client_connection_count",
    semconv.DB_CLIENT_CONNECTION_MAX: "db_client_connection_max",
    semconv.CACHE_OPERATION_DURATION: "otelperf_cache_operation_duration_seconds",
    semconv.DB_N_PLUS_ONE: "otelperf_db_n_plus_one_total",
    semconv.WORKER_POOL_TASK_DURATION: "otelperf_worker_pool_task_duration_seconds",
    semconv.WORKER_POOL_QUEUE_WAIT: "otelperf_worker_pool_queue_wait_seconds",
    semconv.WORKER_POOL_WORKERS_MAX: "otelperf_worker_pool_workers_max",
    semconv.WORKER_POOL_WORKERS_ACTIVE: "otelperf_worker_pool_workers_active",
    semconv.ASYNCIO_EVENT_LOOP_LAG: "otelperf_asyncio_event_loop_lag_seconds",
    semconv.ASYNCIO_TASKS: "otelperf_asyncio_tasks",
    semconv.GC_PAUSE_DURATION: "otelperf_gc_pause_duration_seconds",
    semconv.PROCESS_CPU_UTILIZATION: "process_cpu_utilization_ratio",
    semconv.PROCESS_MEMORY_USAGE: "process_memory_usage_bytes",
    semconv.PROCESS_THREAD_COUNT: "process_thread_count",
    semconv.PROCESS_MEMORY_LIMIT: "otelperf_process_memory_limit_bytes",
    semconv.METRIC_OVERFLOW: "otelperf_metric_overflow_total",
}


def label(attribute: str) -> str:
    """The Prometheus label an attribute becomes."""
    return attribute.replace(".", "_")
