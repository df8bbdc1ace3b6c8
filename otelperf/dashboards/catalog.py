"""The dashboards, as data: every panel's title, unit, description, thresholds and queries.

Queries filter on ``job="$service"`` and ``instance=~"$instance"``: the collector's prometheus
exporter turns ``service.name`` into ``job`` and ``service.instance.id`` into ``instance``. Metric
names come from the instrument catalog (``semconv.INSTRUMENTS``), as the exporter names them.
``tests/e2e/test_prometheus.py`` runs every PromQL query here against a real Prometheus fed by
the demo, so a typo or a renamed metric fails the build.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from otelperf import semconv
from otelperf.semconv import DASHBOARD_UIDS

S = 'job="$service", instance=~"$instance"'
RATE = "$__rate_interval"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class PanelSpec:
    title: str
    description: str
    unit: str
    queries: tuple[Query, ...]
    kind: str = "timeseries"  # timeseries | stat | flamegraph
    thresholds: tuple[tuple[float, str], ...] = ()
    width: int = 12
    exemplars: bool = False


@dataclass(frozen=True)
class DashboardSpec:
    uid: str
    title: str
    description: str
    panels: tuple[PanelSpec, ...]
    tags: tuple[str, ...] = field(default=("otelperf",))


def _q(expr: str, legend: str = "") -> Query:
    return Query(expr, legend)


def p95(metric: str, by: str = "", selector: str = S) -> str:
    group = f"le, {by}" if by else "le"
    return f"histogram_quantile(0.95, sum by ({group}) (rate({metric}_bucket{{{selector}}}[{RATE}])))"


def _metric(name: str) -> str:
    """The Prometheus name of the declared instrument ``name``."""
    return semconv.INSTRUMENTS[name].prometheus_name


HTTP = _metric(semconv.HTTP_SERVER_REQUEST_DURATION)
HTTP_ACTIVE = _metric(semconv.HTTP_SERVER_ACTIVE_REQUESTS)
HTTP_RESPONSE_SIZE = _metric(semconv.HTTP_SERVER_RESPONSE_BODY_SIZE)
DB = _metric(semconv.DB_CLIENT_OPERATION_DURATION)
DB_N_PLUS_ONE = _metric(semconv.DB_N_PLUS_ONE)
DB_POOL_COUNT = _metric(semconv.DB_CLIENT_CONNECTION_COUNT)
DB_POOL_MAX = _metric(semconv.DB_CLIENT_CONNECTION_MAX)
DB_POOL_WAIT = _metric(semconv.DB_CLIENT_CONNECTION_WAIT_TIME)
DB_POOL_TIMEOUTS = _metric(semconv.DB_CLIENT_CONNECTION_TIMEOUTS)
CACHE = _metric(semconv.CACHE_OPERATION_DURATION)
POOL_TASK = _metric(semconv.WORKER_POOL_TASK_DURATION)
POOL_WAIT = _metric(semconv.WORKER_POOL_QUEUE_WAIT)
POOL_DEPTH = _metric(semconv.WORKER_POOL_QUEUE_DEPTH)
POOL_ACTIVE = _metric(semconv.WORKER_POOL_WORKERS_ACTIVE)
POOL_MAX = _metric(semconv.WORKER_POOL_WORKERS_MAX)
CPU = _metric(semconv.PROCESS_CPU_UTILIZATION)
MEMORY = _metric(semconv.PROCESS_MEMORY_USAGE)
MEMORY_LIMIT = _metric(semconv.PROCESS_MEMORY_LIMIT)
GC_PAUSE = _metric(semconv.GC_PAUSE_DURATION)
LOOP_LAG = _metric(semconv.ASYNCIO_EVENT_LOOP_LAG)
THREADS = _metric(semconv.PROCESS_THREAD_COUNT)
TASKS = _metric(semconv.ASYNCIO_TASKS)
REQUESTS = f"sum(rate({HTTP}_count{{{S}}}[{RATE}]))"
ERRORS = f'sum(rate({HTTP}_count{{{S}, http_response_status_code=~"5.."}}[{RATE}]))'
GREEN, YELLOW, RED = "green", "#EAB839", "red"

OVERVIEW = DashboardSpec(
    DASHBOARD_UIDS["overview"],
    "otelperf / Overview",
    "Rate, errors and duration of the service, Apdex, and the busiest routes.",
    (
        PanelSpec(
            "Requests per second",
            "All HTTP requests served.",
            "reqps",
            (_q(REQUESTS, "requests/s"),),
            kind="stat",
            width=6,
        ),
        PanelSpec(
            "Error ratio",
            "Share of requests answered with a 5xx status (warn 1 %, bad 5 %).",
            "percentunit",
            (_q(f"({ERRORS} or vector(0)) / {REQUESTS}", "errors"),),
            kind="stat",
            width=6,
            thresholds=((0, GREEN), (0.01, YELLOW), (0.05, RED)),
        ),
        PanelSpec(
            "p95 latency",
            "95th percentile of request duration (target < 100 ms).",
            "s",
            (_q(p95(HTTP), "p95"),),
            kind="stat",
            width=6,
            thresholds=((0, GREEN), (0.1, YELLOW), (0.2, RED)),
        ),
        PanelSpec(
            "Apdex (T = 100 ms)",
            "Satisfied (≤ 100 ms) plus half the tolerating (≤ 400 ms) over all requests; otelperf adds 0.4 s "
            "to the HTTP histogram's buckets so both are exact. ≥ 0.94 excellent, ≥ 0.85 good, ≥ 0.70 fair.",
            "none",
            (
                _q(
                    f'(sum(rate({HTTP}_bucket{{{S}, le="0.1"}}[{RATE}])) + '
                    f'sum(rate({HTTP}_bucket{{{S}, le="0.4"}}[{RATE}]))) / 2 / {REQUESTS}',
                    "apdex",
                ),
            ),
            kind="stat",
            width=6,
            thresholds=((0, RED), (0.7, YELLOW), (0.85, GREEN)),
        ),
        PanelSpec(
            "Performance score",
            "otelperf's overall score (0 to 100) from the recording rules `otelperf rules export` writes: the "
            "weighted rule scores of the last 5 minutes. A+ from 97, A from 93, B from 83, C from 73, D from 60. "
            "`otelperf report` lists the ranked recommendations behind it.",
            "none",
            (_q('job:otelperf_score:capped_mean{job="$service"}', "score"),),
            kind="stat",
            width=6,
            thresholds=((0, RED), (70, YELLOW), (90, GREEN)),
        ),
        PanelSpec(
            "Score by category",
            "Category scores over time (latency, errors, saturation, cache, database, worker pools, runtime); a "
            "category without data in the window has no line.",
            "none",
            (_q('job_category:otelperf_score:weighted_mean{job="$service"}', "{{category}}"),),
            width=18,
        ),
        PanelSpec(
            "Requests by route",
            "Request rate per templated route.",
            "reqps",
            (_q(f"sum by (http_route) (rate({HTTP}_count{{{S}}}[{RATE}]))", "{{http_route}}"),),
        ),
        PanelSpec(
            "p95 latency by route",
            "95th percentile per route; exemplars link to traces.",
            "s",
            (_q(p95(HTTP, "http_route"), "{{http_route}}"),),
            exemplars=True,
        ),
    ),
)

HTTP_DASHBOARD = DashboardSpec(
    DASHBOARD_UIDS["http"],
    "otelperf / HTTP",
    "Server-side HTTP: RED per route and method, in-flight requests, sizes.",
    (
        PanelSpec(
            "Requests by route and status",
            "Request rate per route and status code.",
            "reqps",
            (
                _q(
                    f"sum by (http_route, http_response_status_code) (rate({HTTP}_count{{{S}}}[{RATE}]))",
                    "{{http_route}} {{http_response_status_code}}",
                ),
            ),
        ),
        PanelSpec(
            "Latency percentiles",
            "p50, p95 and p99 of request duration; exemplars link to traces.",
            "s",
            tuple(
                _q(f"histogram_quantile({q}, sum by (le) (rate({HTTP}_bucket{{{S}}}[{RATE}])))", f"p{int(q * 100)}")
                for q in (0.5, 0.95, 0.99)
            ),
            exemplars=True,
        ),
        PanelSpec(
            "Mean latency by route",
            "Mean request duration per route (alert above 200 ms).",
            "s",
            (
                _q(
                    f"sum by (http_route) (rate({HTTP}_sum{{{S}}}[{RATE}])) / "
                    f"sum by (http_route) (rate({HTTP}_count{{{S}}}[{RATE}]))",
                    "{{http_route}}",
                ),
            ),
            thresholds=((0, GREEN), (0.2, RED)),
        ),
        PanelSpec(
            "Requests in flight",
            "Requests being served right now.",
            "short",
            (_q(f"sum({HTTP_ACTIVE}{{{S}}})", "active"),),
        ),
        PanelSpec(
            "Response size p95",
            "95th percentile of response body size.",
            "bytes",
            (_q(p95(HTTP_RESPONSE_SIZE), "p95"),),
        ),
    ),
)

CACHE_DASHBOARD = DashboardSpec(
    DASHBOARD_UIDS["cache"],
    "otelperf / Cache",
    "Redis and in-process caches: hit ratio, operations, latency.",
    (
        PanelSpec(
            "Hit ratio by cache",
            "Hits over hits + misses, per cache system and name (target > 80 %).",
            "percentunit",
            (
                _q(
                    f"sum by (otelperf_cache_system, otelperf_cache_name) (rate({CACHE}_count{{{S}, "
                    f'otelperf_cache_result="hit"}}[{RATE}])) / sum by (otelperf_cache_system, otelperf_cache_name) '
                    f'(rate({CACHE}_count{{{S}, otelperf_cache_result=~"hit|miss"}}[{RATE}]))',
                    "{{otelperf_cache_system}} {{otelperf_cache_name}}",
                ),
            ),
            thresholds=((0, RED), (0.7, YELLOW), (0.8, GREEN)),
        ),
        PanelSpec(
            "Operations by command",
            "Cache operations per second, per system and command.",
            "ops",
            (
                _q(
                    f"sum by (otelperf_cache_system, otelperf_cache_operation) (rate({CACHE}_count{{{S}}}[{RATE}]))",
                    "{{otelperf_cache_system}} {{otelperf_cache_operation}}",
                ),
            ),
        ),
        PanelSpec(
            "Latency p95 by system",
            "95th percentile of cache operation duration.",
            "s",
            (_q(p95(CACHE, "otelperf_cache_system"), "{{otelperf_cache_system}}"),),
        ),
    ),
)

DATABASE_DASHBOARD = DashboardSpec(
    DASHBOARD_UIDS["database"],
    "otelperf / Database",
    "Statements by operation and table, slow statements, N+1 queries, connection pools.",
    (
        PanelSpec(
            "Statement latency p95",
            "95th percentile per operation and table.",
            "s",
            (_q(p95(DB, "db_operation_name, db_collection_name"), "{{db_operation_name}} {{db_collection_name}}"),),
            exemplars=True,
        ),
        PanelSpec(
            "Statements per second",
            "Statements per operation and table.",
            "ops",
            (
                _q(
                    f"sum by (db_operation_name, db_collection_name) (rate({DB}_count{{{S}}}[{RATE}]))",
                    "{{db_operation_name}} {{db_collection_name}}",
                ),
            ),
        ),
        PanelSpec(
            "Slow statements (> 500 ms)",
            "Statements slower than 500 ms per second, per table.",
            "ops",
            (
                _q(
                    f"sum by (db_collection_name) (rate({DB}_count{{{S}}}[{RATE}])) - "
                    f'sum by (db_collection_name) (rate({DB}_bucket{{{S}, le="0.5"}}[{RATE}]))',
                    "{{db_collection_name}}",
                ),
            ),
        ),
        PanelSpec(
            "N+1 queries",
            "Requests that ran one statement 5+ times under one parent, per route.",
            "short",
            (
                _q(
                    f"sum by (http_route, db_collection_name) (increase({DB_N_PLUS_ONE}{{{S}}}[{RATE}]))",
                    "{{http_route}} {{db_collection_name}}",
                ),
            ),
        ),
        PanelSpec(
            "Pool usage",
            "Connections in use and the pool's maximum.",
            "short",
            (
                _q(
                    f"sum by (db_client_connection_pool_name) ({DB_POOL_COUNT}{{{S}, "
                    f'db_client_connection_state="used"}})',
                    "used {{db_client_connection_pool_name}}",
                ),
                _q(
                    f"sum by (db_client_connection_pool_name) ({DB_POOL_MAX}{{{S}}})",
                    "max {{db_client_connection_pool_name}}",
                ),
            ),
        ),
        PanelSpec(
            "Pool wait p95 and timeouts",
            "Time to get a connection, and checkouts that timed out.",
            "s",
            (
                _q(p95(DB_POOL_WAIT), "wait p95"),
                _q(f"sum(rate({DB_POOL_TIMEOUTS}{{{S}}}[{RATE}])) or vector(0)", "timeouts/s"),
            ),
        ),
    ),
)

WORKER_POOLS_DASHBOARD = DashboardSpec(
    DASHBOARD_UIDS["worker-pools"],
    "otelperf / Worker pools",
    "Thread and process pools, asyncio's executor and Starlette's threadpool: saturation and throughput.",
    (
        PanelSpec(
            "Utilization",
            "Active workers over the pool's maximum (alert above 85 %).",
            "percentunit",
            (
                _q(
                    f"sum by (otelperf_worker_pool_name) ({POOL_ACTIVE}{{{S}}}) / "
                    f"sum by (otelperf_worker_pool_name) ({POOL_MAX}{{{S}}})",
                    "{{otelperf_worker_pool_name}}",
                ),
            ),
            thresholds=((0, GREEN), (0.85, RED)),
        ),
        PanelSpec(
            "Queue depth",
            "Tasks submitted and not started.",
            "short",
            (
                _q(
                    f"sum by (otelperf_worker_pool_name) ({POOL_DEPTH}{{{S}}})",
                    "{{otelperf_worker_pool_name}}",
                ),
            ),
        ),
        PanelSpec(
            "Queue wait p95",
            "How long tasks waited for a worker.",
            "s",
            (_q(p95(POOL_WAIT, "otelperf_worker_pool_name"), "{{otelperf_worker_pool_name}}"),),
        ),
        PanelSpec(
            "Throughput by outcome",
            "Tasks finished per second: ok, error, cancelled.",
            "ops",
            (
                _q(
                    f"sum by (otelperf_worker_pool_name, otelperf_worker_pool_outcome) "
                    f"(rate({POOL_TASK}_count{{{S}}}[{RATE}]))",
                    "{{otelperf_worker_pool_name}} {{otelperf_worker_pool_outcome}}",
                ),
            ),
        ),
    ),
)

RUNTIME_DASHBOARD = DashboardSpec(
    DASHBOARD_UIDS["runtime"],
    "otelperf / Runtime",
    "CPU, memory against its limit, GC pauses, threads, tasks, event loop.",
    (
        PanelSpec(
            "CPU utilization",
            "Process CPU over elapsed time and CPUs (alert above 80 %).",
            "percentunit",
            (_q(f"{CPU}{{{S}}}", "{{instance}}"),),
            thresholds=((0, GREEN), (0.8, RED)),
        ),
        PanelSpec(
            "Memory against the limit",
            "Resident memory over the cgroup limit (alert above 85 %).",
            "percentunit",
            (
                _q(
                    f"{MEMORY}{{{S}}} / on (job, instance) {MEMORY_LIMIT}{{{S}}}",
                    "{{instance}}",
                ),
            ),
            thresholds=((0, GREEN), (0.85, RED)),
        ),
        PanelSpec(
            "GC pause time share",
            "Seconds per second spent in garbage collection, by generation.",
            "percentunit",
            (
                _q(
                    f"sum by (cpython_gc_generation) (rate({GC_PAUSE}_sum{{{S}}}[{RATE}]))",
                    "gen {{cpython_gc_generation}}",
                ),
            ),
        ),
        PanelSpec(
            "Event-loop lag p99",
            "Delay before the loop runs a ready callback.",
            "s",
            (
                _q(
                    f"histogram_quantile(0.99, sum by (le) (rate({LOOP_LAG}_bucket{{{S}}}[{RATE}])))",
                    "p99",
                ),
            ),
            thresholds=((0, GREEN), (0.1, RED)),
        ),
        PanelSpec(
            "Threads and tasks",
            "OS threads and asyncio tasks.",
            "short",
            (_q(f"sum({THREADS}{{{S}}})", "threads"), _q(f"sum({TASKS}{{{S}}})", "tasks")),
        ),
    ),
)

PROFILES_DASHBOARD = DashboardSpec(
    DASHBOARD_UIDS["profiles"],
    "otelperf / Profiles",
    "CPU flamegraphs from Pyroscope for the service, and for one route (span_name).",
    (
        PanelSpec(
            "CPU flamegraph: service",
            "All CPU samples of the service.",
            "ns",
            (_q('{service_name="$service"}'),),
            kind="flamegraph",
            width=24,
        ),
        PanelSpec(
            "CPU flamegraph: route",
            "Samples taken while a request of the route ran (span_name label).",
            "ns",
            (_q('{service_name="$service", span_name="$route"}'),),
            kind="flamegraph",
            width=24,
        ),
    ),
)

DASHBOARDS = (
    OVERVIEW,
    HTTP_DASHBOARD,
    CACHE_DASHBOARD,
    DATABASE_DASHBOARD,
    WORKER_POOLS_DASHBOARD,
    RUNTIME_DASHBOARD,
    PROFILES_DASHBOARD,
)
