"""Metric and attribute names, units and buckets shared by signals, rules and dashboards.

Semantic-convention names are used where one exists; otelperf's own live under ``otelperf.``.
"""

from __future__ import annotations

from typing import Final

DISTRO_NAME: Final = "otelperf"

# Resource
SERVICE_NAME: Final = "service.name"
SERVICE_INSTANCE_ID: Final = "service.instance.id"
PROCESS_PID: Final = "process.pid"
TELEMETRY_DISTRO_NAME: Final = "telemetry.distro.name"
TELEMETRY_DISTRO_VERSION: Final = "telemetry.distro.version"

# Database client (stable semantic conventions)
DB_SYSTEM_NAME: Final = "db.system.name"
DB_NAMESPACE: Final = "db.namespace"
DB_QUERY_TEXT: Final = "db.query.text"
DB_OPERATION_NAME: Final = "db.operation.name"
DB_COLLECTION_NAME: Final = "db.collection.name"
DB_OPERATION_BATCH_SIZE: Final = "db.operation.batch.size"
DB_CLIENT_OPERATION_DURATION: Final = "db.client.operation.duration"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"

# Attributes whose values may hold statement text, in the conventions' old and new names.
STATEMENT_ATTRIBUTES: Final = ("db.query.text", "db.statement")

# Semantic-convention advisory buckets for db.client.operation.duration (seconds).
DB_DURATION_BUCKETS_S: Final = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)

# Database client connection pools (semantic conventions)
DB_CLIENT_CONNECTION_COUNT: Final = "db.client.connection.count"
DB_CLIENT_CONNECTION_MAX: Final = "db.client.connection.max"
DB_CLIENT_CONNECTION_WAIT_TIME: Final = "db.client.connection.wait_time"
DB_CLIENT_CONNECTION_TIMEOUTS: Final = "db.client.connection.timeouts"
DB_CLIENT_CONNECTION_POOL_NAME: Final = "db.client.connection.pool.name"
DB_CLIENT_CONNECTION_STATE: Final = "db.client.connection.state"

# otelperf's own metrics and attributes
CACHE_OPERATION_DURATION: Final = "otelperf.cache.operation.duration"
CACHE_SYSTEM: Final = "otelperf.cache.system"
CACHE_NAME: Final = "otelperf.cache.name"
CACHE_OPERATION: Final = "otelperf.cache.operation"
CACHE_RESULT: Final = "otelperf.cache.result"
DB_N_PLUS_ONE: Final = "otelperf.db.n_plus_one"
DB_N_PLUS_ONE_EVENT: Final = "otelperf.db.n_plus_one"
DB_SLOW_QUERY_EVENT: Final = "otelperf.db.slow_query"
DB_QUERY_FINGERPRINT: Final = "otelperf.db.query.fingerprint"
WORKER_POOL_TASK_DURATION: Final = "otelperf.worker_pool.task.duration"
WORKER_POOL_QUEUE_WAIT: Final = "otelperf.worker_pool.queue.wait"
WORKER_POOL_QUEUE_DEPTH: Final = "otelperf.worker_pool.queue.depth"
WORKER_POOL_WORKERS_ACTIVE: Final = "otelperf.worker_pool.workers.active"
WORKER_POOL_WORKERS_MAX: Final = "otelperf.worker_pool.workers.max"
WORKER_POOL_NAME: Final = "otelperf.worker_pool.name"
WORKER_POOL_KIND: Final = "otelperf.worker_pool.kind"
WORKER_POOL_OUTCOME: Final = "otelperf.worker_pool.outcome"
ASYNCIO_EVENT_LOOP_LAG: Final = "otelperf.asyncio.event_loop.lag"
ASYNCIO_TASKS: Final = "otelperf.asyncio.tasks"
GC_PAUSE_DURATION: Final = "otelperf.gc.pause.duration"
CPYTHON_GC_COLLECTIONS: Final = "cpython.gc.collections"
CPYTHON_GC_GENERATION: Final = "cpython.gc.generation"
PROCESS_CPU_UTILIZATION: Final = "process.cpu.utilization"
PROCESS_MEMORY_USAGE: Final = "process.memory.usage"
PROCESS_THREAD_COUNT: Final = "process.thread.count"
PROCESS_MEMORY_LIMIT: Final = "otelperf.process.memory.limit"
METRIC_OVERFLOW: Final = "otelperf.metric.overflow"
METRIC_NAME: Final = "otelperf.metric.name"
OTEL_METRIC_OVERFLOW: Final = "otel.metric.overflow"
SELF_DURATION: Final = "otelperf.self.duration"
COMPONENT: Final = "otelperf.component"
HTTP_ROUTE: Final = "http.route"
HTTP_REQUEST_METHOD: Final = "http.request.method"
HTTP_REQUEST_METHOD_ORIGINAL: Final = "http.request.method_original"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
URL_SCHEME: Final = "url.scheme"
URL_PATH: Final = "url.path"
URL_QUERY: Final = "url.query"
NETWORK_PROTOCOL_NAME: Final = "network.protocol.name"
NETWORK_TRANSPORT: Final = "network.transport"
NETWORK_PROTOCOL_VERSION: Final = "network.protocol.version"
USER_AGENT_ORIGINAL: Final = "user_agent.original"
CLIENT_ADDRESS: Final = "client.address"
CLIENT_PORT: Final = "client.port"
HTTP_SERVER_ACTIVE_REQUESTS: Final = "http.server.active_requests"
HTTP_SERVER_REQUEST_BODY_SIZE: Final = "http.server.request.body.size"
HTTP_SERVER_RESPONSE_BODY_SIZE: Final = "http.server.response.body.size"

# Buckets (seconds) for short in-process operations: cache calls, queue waits, loop lag, GC pauses.
FAST_DURATION_BUCKETS_S: Final = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
# Buckets (seconds) for http.server.request.duration: the semantic conventions' advisory buckets
# plus 0.4 s, so that Apdex with T = 100 ms (tolerating up to 4T) is exact in PromQL.
HTTP_DURATION_BUCKETS_S: Final = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
HTTP_SERVER_REQUEST_DURATION: Final = "http.server.request.duration"
# Buckets (seconds) for tasks run in worker pools.
TASK_DURATION_BUCKETS_S: Final = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
# Buckets (seconds) for otelperf's own cost per span or measurement.
SELF_DURATION_BUCKETS_S: Final = (1e-7, 2.5e-7, 5e-7, 1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 1e-3)


def exception_type(error: BaseException) -> str:
    """``exception.type`` as the conventions spell it: the fully-qualified class name (builtins bare)."""
    kind = type(error)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


# Grafana dashboards by topic: their uids, which rules link to and the dashboards catalog builds.
DASHBOARD_UIDS: Final = {
    "overview": "otelperf-overview",
    "http": "otelperf-http",
    "cache": "otelperf-cache",
    "database": "otelperf-database",
    "worker-pools": "otelperf-worker-pools",
    "runtime": "otelperf-runtime",
    "profiles": "otelperf-profiles",
}
