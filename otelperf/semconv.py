"""The instrument catalog: every metric otelperf records or relies on, declared once.

``INSTRUMENTS`` holds one ``Instrument`` per metric: name, kind, unit, description, bucket boundaries,
attributes and who records it. Everything else is derived from it: the instruments the
instrumentors create (``metrics.instruments``), the pipeline's views (``pipeline.providers``), the
Prometheus names rules and dashboards query (``Instrument.prometheus_name``, the collector's naming
rules) and the metrics table of ``docs/signals.md`` (``metrics_table``, ``otelperf metrics
--markdown``). The attribute names, units and buckets here are shared by signals, rules and
dashboards; semantic-convention names are used where one exists, otelperf's own live under
``otelperf.``.

This is the lowest layer of the package: it imports nothing but the standard library.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

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
# Buckets (seconds) for the wait for a pooled database connection.
DB_CONNECTION_WAIT_BUCKETS_S: Final = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0)
# Buckets (bytes) for HTTP request and response bodies.
HTTP_BODY_SIZE_BUCKETS_BY: Final = (0, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000)


# The instrument catalog.

InstrumentKind = Literal[
    "counter",
    "up_down_counter",
    "histogram",
    "observable_counter",
    "observable_up_down_counter",
    "observable_gauge",
]
"""The API call that creates the instrument (``Meter.create_<kind>``)."""

_KIND_TEXT: Final[Mapping[str, str]] = {
    "counter": "counter",
    "up_down_counter": "up-down counter",
    "histogram": "histogram",
    "observable_counter": "counter (observed)",
    "observable_up_down_counter": "up-down counter (observed)",
    "observable_gauge": "gauge (observed)",
}


@dataclass(frozen=True)
class Instrument:
    """One metric, declared once.

    ``name``, ``kind``, ``unit`` and ``description`` are what goes on the wire; ``buckets`` are a
    histogram's explicit boundaries, which otelperf passes as the advisory boundaries when it
    creates the instrument. ``enforce_buckets``: the pipeline's view imposes ``buckets`` on the
    instrument whoever records it (contrib's instrumentation passes other boundaries or none), for
    bounds that rules and dashboards query (``le``). ``attributes`` are the attribute keys its
    points may carry (the Prometheus labels, dots as underscores); ``recorded_by`` names what records
    it, ``note`` is documentation only.
    """

    name: str
    kind: InstrumentKind
    unit: str
    description: str
    attributes: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()
    enforce_buckets: bool = False
    recorded_by: str = "otelperf"
    note: str = ""

    @property
    def prometheus_name(self) -> str:
        """The name the collector's ``prometheus`` exporter gives this metric (``prometheus_name``)."""
        return prometheus_name(self.name, self.unit, self.kind)

    @property
    def prometheus_series(self) -> tuple[str, ...]:
        """The series names in Prometheus: a histogram's ``_bucket``, ``_sum`` and ``_count``."""
        name = self.prometheus_name
        if self.kind == "histogram":
            return (f"{name}_bucket", f"{name}_sum", f"{name}_count")
        return (name,)

    @property
    def prometheus_labels(self) -> tuple[str, ...]:
        """The labels its series may carry, besides ``job``, ``instance`` (and a histogram's ``le``)."""
        return tuple(prometheus_label(attribute) for attribute in self.attributes)


# The collector's prometheus exporter (collector-contrib's prometheusexporter, whose defaults the
# configurations in collector-config/ keep: suffixes added, names escaped to underscores) names
# metrics with github.com/prometheus/otlptranslator; these tables and the two functions below
# follow its MetricNamer (WithMetricSuffixes, no UTF-8) and LabelNamer.
_PROMETHEUS_UNITS: Final[Mapping[str, str]] = {
    "d": "days",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "GiBy": "gibibytes",
    "TiBy": "tibibytes",
    "KBy": "kilobytes",
    "MBy": "megabytes",
    "GBy": "gigabytes",
    "TBy": "terabytes",
    "m": "meters",
    "V": "volts",
    "A": "amperes",
    "J": "joules",
    "W": "watts",
    "g": "grams",
    "Cel": "celsius",
    "Hz": "hertz",
    "1": "",
    "%": "percent",
}
_PROMETHEUS_PER_UNITS: Final[Mapping[str, str]] = {
    "s": "second",
    "m": "minute",
    "h": "hour",
    "d": "day",
    "w": "week",
    "mo": "month",
    "y": "year",
}
_NOT_METRIC_CHARACTERS = re.compile(r"[^a-zA-Z0-9:]+")


def _unit_token(unit: str, names: Mapping[str, str]) -> str:
    """One side of ``main/per``: its Prometheus word, empty for an annotation like ``{request}``."""
    unit = unit.strip()
    if not unit or "{" in unit or "}" in unit:
        return ""
    return names.get(unit, unit)


def _clean_unit(suffix: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^a-zA-Z0-9:]", "_", suffix)).removeprefix("_")


def prometheus_name(name: str, unit: str, kind: InstrumentKind) -> str:
    """The collector's Prometheus name for a metric.

    The name's runs of characters other than letters, digits and ``:`` become one ``_``; the unit
    is appended as a word (``s`` -> ``_seconds``, ``By`` -> ``_bytes``, ``ms`` -> ``_milliseconds``,
    ``1`` and annotations such as ``{request}`` -> nothing, ``X/s`` -> ``_x_per_second``) unless
    the name already holds that word; counters (monotonic sums) end in ``_total``, gauges of unit
    ``1`` in ``_ratio``. Up-down counters are Prometheus gauges without either suffix.
    """
    tokens = [token for token in _NOT_METRIC_CHARACTERS.split(name) if token]
    main, slash, per = unit.partition("/")
    main_suffix = _clean_unit(_unit_token(main, _PROMETHEUS_UNITS))
    per_word = _unit_token(per, _PROMETHEUS_PER_UNITS) if slash and per else ""
    per_suffix = _clean_unit(f"per_{per_word}") if per_word else ""
    if main_suffix in tokens:
        main_suffix = ""
    per_suffix = "" if per_suffix == "per_" else per_suffix.removesuffix("_")
    if per_suffix in tokens:
        per_suffix = ""
    if per_suffix:
        main_suffix = main_suffix.removesuffix("_")
    tokens += [suffix for suffix in (main_suffix, per_suffix) if suffix]
    if kind in ("counter", "observable_counter"):
        tokens = [token for token in tokens if token != "total"] + ["total"]
    if unit == "1" and kind == "observable_gauge":
        tokens = [token for token in tokens if token != "ratio"] + ["ratio"]
    joined = "_".join(tokens)
    return f"_{joined}" if joined[:1].isdigit() else joined


def prometheus_label(attribute: str) -> str:
    """The Prometheus label an attribute becomes: every character other than a letter or a digit
    turns into ``_`` (runs kept), and a leading digit gets ``key_``."""
    label = re.sub(r"[^a-zA-Z0-9]", "_", attribute)
    return f"key_{label}" if label[:1].isdigit() else label


_HTTP_ATTRIBUTES: Final = (
    HTTP_REQUEST_METHOD,
    URL_SCHEME,
    NETWORK_PROTOCOL_VERSION,
    HTTP_ROUTE,
    HTTP_RESPONSE_STATUS_CODE,
    ERROR_TYPE,
)
_HTTP_RECORDER: Final = "`otelperf_fastapi` (contrib's `fastapi` when it is disabled)"
_POOL: Final = (DB_CLIENT_CONNECTION_POOL_NAME,)
_WORKER_POOL: Final = (WORKER_POOL_NAME, WORKER_POOL_KIND)

INSTRUMENTS: Final[Mapping[str, Instrument]] = {
    instrument.name: instrument
    for instrument in (
        Instrument(
            HTTP_SERVER_REQUEST_DURATION,
            "histogram",
            "s",
            "Duration of HTTP server requests.",
            _HTTP_ATTRIBUTES,
            HTTP_DURATION_BUCKETS_S,
            enforce_buckets=True,
            recorded_by=_HTTP_RECORDER,
            note="Recorded in the server span's context: exemplars link buckets to traces. The buckets hold "
            "0.1 s and 0.4 s, so Apdex with T = 100 ms is exact in PromQL.",
        ),
        Instrument(
            HTTP_SERVER_ACTIVE_REQUESTS,
            "observable_up_down_counter",
            "{request}",
            "Number of active HTTP server requests.",
            (HTTP_REQUEST_METHOD, URL_SCHEME),
            recorded_by=_HTTP_RECORDER,
        ),
        Instrument(
            HTTP_SERVER_REQUEST_BODY_SIZE,
            "histogram",
            "By",
            "Size of HTTP server request bodies.",
            _HTTP_ATTRIBUTES,
            HTTP_BODY_SIZE_BUCKETS_BY,
            recorded_by=_HTTP_RECORDER,
            note="When the request's `content-length` gives it.",
        ),
        Instrument(
            HTTP_SERVER_RESPONSE_BODY_SIZE,
            "histogram",
            "By",
            "Size of HTTP server response bodies.",
            _HTTP_ATTRIBUTES,
            HTTP_BODY_SIZE_BUCKETS_BY,
            recorded_by=_HTTP_RECORDER,
            note="When the response's `content-length` gives it.",
        ),
        Instrument(
            DB_CLIENT_OPERATION_DURATION,
            "histogram",
            "s",
            "Duration of database client operations.",
            (
                DB_SYSTEM_NAME,
                DB_NAMESPACE,
                DB_OPERATION_NAME,
                DB_COLLECTION_NAME,
                SERVER_ADDRESS,
                SERVER_PORT,
                ERROR_TYPE,
            ),
            DB_DURATION_BUCKETS_S,
            recorded_by="`otelperf_sqlalchemy`",
            note="Recorded in the statement span's context: exemplars link buckets to traces.",
        ),
        Instrument(
            DB_CLIENT_CONNECTION_COUNT,
            "observable_up_down_counter",
            "{connection}",
            "Connections in the pool, by state (idle or used).",
            (DB_CLIENT_CONNECTION_POOL_NAME, DB_CLIENT_CONNECTION_STATE),
            recorded_by="`otelperf_sqlalchemy`",
        ),
        Instrument(
            DB_CLIENT_CONNECTION_MAX,
            "observable_up_down_counter",
            "{connection}",
            "The most connections the pool may open (pool_size + max_overflow).",
            _POOL,
            recorded_by="`otelperf_sqlalchemy`",
        ),
        Instrument(
            DB_CLIENT_CONNECTION_WAIT_TIME,
            "histogram",
            "s",
            "Time to obtain a connection from the pool.",
            _POOL,
            DB_CONNECTION_WAIT_BUCKETS_S,
            recorded_by="`otelperf_sqlalchemy`",
        ),
        Instrument(
            DB_CLIENT_CONNECTION_TIMEOUTS,
            "counter",
            "{timeout}",
            "Checkouts that timed out waiting for a connection.",
            _POOL,
            recorded_by="`otelperf_sqlalchemy`",
        ),
        Instrument(
            CACHE_OPERATION_DURATION,
            "histogram",
            "s",
            "Duration of cache operations; reads carry hit or miss.",
            (CACHE_SYSTEM, CACHE_NAME, CACHE_OPERATION, CACHE_RESULT, ERROR_TYPE),
            FAST_DURATION_BUCKETS_S,
            recorded_by="`otelperf_redis`, otelperf's in-process caches",
            note="`otelperf.cache.system` is `redis` or `memory`; `otelperf.cache.result` (`hit`/`miss`) is on "
            "reads only.",
        ),
        Instrument(
            DB_N_PLUS_ONE,
            "counter",
            "{occurrence}",
            "Requests that ran one statement N times under one parent (N+1 queries).",
            (HTTP_ROUTE, DB_OPERATION_NAME, DB_COLLECTION_NAME, DB_QUERY_FINGERPRINT),
            recorded_by="otelperf's N+1 span processor",
        ),
        Instrument(
            WORKER_POOL_TASK_DURATION,
            "histogram",
            "s",
            "Time a task ran in a worker.",
            (*_WORKER_POOL, WORKER_POOL_OUTCOME),
            TASK_DURATION_BUCKETS_S,
            recorded_by="`otelperf_worker_pool`",
            note="`otelperf.worker_pool.kind` is `thread` or `process`; `otelperf.worker_pool.outcome` is `ok`, "
            "`error` or `cancelled`.",
        ),
        Instrument(
            WORKER_POOL_QUEUE_WAIT,
            "histogram",
            "s",
            "Time a task waited for a free worker.",
            _WORKER_POOL,
            FAST_DURATION_BUCKETS_S,
            recorded_by="`otelperf_worker_pool`",
        ),
        Instrument(
            WORKER_POOL_QUEUE_DEPTH,
            "observable_up_down_counter",
            "{task}",
            "Tasks submitted and not yet started.",
            _WORKER_POOL,
            recorded_by="`otelperf_worker_pool`",
        ),
        Instrument(
            WORKER_POOL_WORKERS_ACTIVE,
            "observable_up_down_counter",
            "{worker}",
            "Workers running a task.",
            _WORKER_POOL,
            recorded_by="`otelperf_worker_pool`",
        ),
        Instrument(
            WORKER_POOL_WORKERS_MAX,
            "observable_gauge",
            "{worker}",
            "The most workers the pool runs at once.",
            _WORKER_POOL,
            recorded_by="`otelperf_worker_pool`",
        ),
        Instrument(
            ASYNCIO_EVENT_LOOP_LAG,
            "histogram",
            "s",
            "Delay between scheduling a callback on the event loop and the loop running it.",
            buckets=FAST_DURATION_BUCKETS_S,
            recorded_by="`otelperf_runtime`",
        ),
        Instrument(
            ASYNCIO_TASKS,
            "observable_gauge",
            "{task}",
            "Tasks alive on the event loop(s).",
            recorded_by="`otelperf_runtime`",
        ),
        Instrument(
            GC_PAUSE_DURATION,
            "histogram",
            "s",
            "Stop-the-world time of one CPython garbage collection.",
            (CPYTHON_GC_GENERATION,),
            FAST_DURATION_BUCKETS_S,
            recorded_by="`otelperf_runtime`",
        ),
        Instrument(
            CPYTHON_GC_COLLECTIONS,
            "observable_counter",
            "{collection}",
            "The number of times a generation was collected since interpreter start.",
            (CPYTHON_GC_GENERATION,),
            recorded_by="`otelperf_runtime`",
        ),
        Instrument(
            PROCESS_CPU_UTILIZATION,
            "observable_gauge",
            "1",
            "CPU time used since the last collection over elapsed time and CPUs available.",
            recorded_by="`otelperf_runtime`",
        ),
        Instrument(
            PROCESS_MEMORY_USAGE,
            "observable_up_down_counter",
            "By",
            "Resident memory of the process.",
            recorded_by="`otelperf_runtime`",
        ),
        Instrument(
            PROCESS_THREAD_COUNT,
            "observable_up_down_counter",
            "{thread}",
            "OS threads of the process.",
            recorded_by="`otelperf_runtime`",
        ),
        Instrument(
            PROCESS_MEMORY_LIMIT,
            "observable_gauge",
            "By",
            "Memory the process may use: its cgroup limit, else physical memory.",
            recorded_by="`otelperf_runtime`",
        ),
        Instrument(
            METRIC_OVERFLOW,
            "counter",
            "{measurement}",
            "Measurements sent to the otel.metric.overflow series because a metric reached its series limit.",
            (METRIC_NAME,),
            recorded_by="otelperf, for each of its instruments",
            note="Counted per metric past `OTELPERF_METRIC_SERIES_LIMIT` attribute sets.",
        ),
        Instrument(
            SELF_DURATION,
            "histogram",
            "s",
            "Time otelperf spends in its own code per span or measurement (sampled 1 in 256).",
            (COMPONENT,),
            SELF_DURATION_BUCKETS_S,
            recorded_by="otelperf's processors and instrumentors",
        ),
    )
}
"""Every metric otelperf records, or records and relies on when contrib records it, by name."""


def _number(value: float) -> str:
    return f"{value:.10f}".rstrip("0").rstrip(".")


def metrics_table() -> str:
    """The metrics table of ``docs/signals.md``, generated from ``INSTRUMENTS``."""
    lines = [
        "| metric | kind, unit | attributes | Prometheus name | recorded by | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for instrument in INSTRUMENTS.values():
        attributes = ", ".join(f"`{attribute}`" for attribute in instrument.attributes) or "none"
        meaning = " ".join(filter(None, (instrument.description, instrument.note)))
        if instrument.buckets:
            meaning += f" Buckets ({instrument.unit}): {', '.join(_number(bound) for bound in instrument.buckets)}."
        lines.append(
            f"| `{instrument.name}` | {_KIND_TEXT[instrument.kind]}, `{instrument.unit}` | {attributes} "
            f"| `{instrument.prometheus_name}` | {instrument.recorded_by} | {meaning} |"
        )
    return "\n".join(lines)
