"""Micro-benchmarks of otelperf's hot paths: µs per span or per operation, otelperf vs baseline.

Every case is timed in the same process, interleaved with its baseline (A B A B ...), over
several repetitions; the table reports medians and the difference, which is what otelperf adds.

    python bench/micro.py                          # print the table
    python bench/micro.py --write docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _harness import publish
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, set_span_in_context

from otelperf.instrumentation.cache.memory import MeteredCache
from otelperf.instrumentation.cache.recorder import CacheRecorder
from otelperf.metrics.instruments import BoundedHistogram
from otelperf.processors import NPlusOneSpanProcessor, SanitizingSpanProcessor
from otelperf.redaction.sql import sanitize_sql
from otelperf.semconv import Instrument

REPEATS = 9

# As the distro sets it (only the stable HTTP and database conventions), before any instrumentation reads it.
os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http,database")

# otelperf's own counters (cache, overflow, N+1) use the global meter: make it a real SDK one.
metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))


class NullExporter(SpanExporter):
    def export(self, spans: object) -> SpanExportResult:
        return SpanExportResult.SUCCESS


@dataclass
class Case:
    name: str
    unit: str
    baseline_label: str
    baseline: Callable[[int], None]
    measured: Callable[[int], None]
    iterations: int


def per_op_us(run: Callable[[int], None], iterations: int) -> float:
    started = time.perf_counter()
    run(iterations)
    return (time.perf_counter() - started) / iterations * 1e6


def measure(case: Case) -> tuple[float, float]:
    base, measured = [], []
    per_op_us(case.baseline, case.iterations // 10)  # warm-up
    per_op_us(case.measured, case.iterations // 10)
    for _ in range(REPEATS):
        base.append(per_op_us(case.baseline, case.iterations))
        measured.append(per_op_us(case.measured, case.iterations))
    return statistics.median(base), statistics.median(measured)


def _tracer(*processors: object) -> object:
    provider = TracerProvider()
    for processor in processors:
        provider.add_span_processor(processor)  # type: ignore[arg-type]
    provider.add_span_processor(SimpleSpanProcessor(NullExporter()))
    return provider.get_tracer("bench")


def _request_spans() -> list[object]:
    """One finished request: a server span and 9 DB client spans (two statements)."""
    tracer = _tracer()
    root = tracer.start_span(
        "GET /items",
        kind=SpanKind.SERVER,  # type: ignore[attr-defined]
        attributes={"http.route": "/items"},
    )
    context = set_span_in_context(root)
    children = []
    for index in range(9):
        text = "SELECT * FROM items WHERE id = ?" if index % 3 else "SELECT * FROM prices WHERE id = ?"
        child = tracer.start_span(
            "SELECT items",
            context=context,  # type: ignore[attr-defined]
            attributes={"db.query.text": text, "db.operation.name": "SELECT"},
        )
        child.end()
        children.append(child)
    root.end()
    return [root, *children]


class NoopProcessor(SpanProcessor):
    def on_start(self, span: object, parent_context: object = None) -> None:
        return None

    def on_end(self, span: object) -> None:
        return None


def span_cases() -> list[Case]:
    spans = _request_spans()
    root, children = spans[0], spans[1:]

    def drive(processor: SpanProcessor) -> Callable[[int], None]:
        # The processor's own cost: on_start and on_end for every span of a request, in order.
        def run(iterations: int) -> None:
            for _ in range(iterations // 10):
                processor.on_start(root)  # type: ignore[arg-type]
                for child in children:
                    processor.on_start(child)  # type: ignore[arg-type]
                    processor.on_end(child)  # type: ignore[arg-type]
                processor.on_end(root)  # type: ignore[arg-type]

        return run

    noop = drive(NoopProcessor())
    return [
        Case(
            "SanitizingSpanProcessor on_start + on_end",
            "µs/span",
            "no-op processor",
            noop,
            drive(SanitizingSpanProcessor()),
            200_000,
        ),
        Case(
            "NPlusOneSpanProcessor on_start + on_end",
            "µs/span",
            "no-op processor",
            noop,
            drive(NPlusOneSpanProcessor()),
            200_000,
        ),
    ]


def export_cases() -> list[Case]:
    """A traced request's spans as the OTLP exporter encodes them: the SDK's encoder, then otelperf's."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from otelperf.export.span_wire import encode_request
    from otelperf.pipeline.resource import build_resource

    provider = TracerProvider(resource=build_resource("bench"))
    provider.add_span_processor(SimpleSpanProcessor(NullExporter()))
    tracer = provider.get_tracer("opentelemetry.instrumentation.asgi", "0.66b2")
    server = {
        "http.request.method": "GET", "url.scheme": "http", "server.address": "127.0.0.1", "server.port": 8000,
        "network.protocol.version": "1.1", "url.path": "/work/17", "client.address": "127.0.0.1",
        "client.port": 50412, "user_agent.original": "python-httpx/0.28.1", "http.route": "/work/{item_id}",
        "http.response.status_code": 200,
    }  # fmt: skip
    redis = {"db.system.name": "redis", "db.query.text": "GET ?", "server.address": "127.0.0.1", "server.port": 6379}
    sql = {"db.system.name": "sqlite", "db.namespace": "bench.db", "db.operation.name": "SELECT"}
    batch = []
    for index in range(128):  # 512 spans: the batch processor's export batch
        attributes = {**server, "url.path": f"/work/{index}"}
        root = tracer.start_span("GET /work/{item_id}", kind=SpanKind.SERVER, attributes=attributes)
        context = set_span_in_context(root)
        for name, child_attributes in (("GET", redis), ("SELECT bench_items", sql), ("SELECT bench_items", sql)):
            child = tracer.start_span(name, context=context, kind=SpanKind.CLIENT, attributes=child_attributes)
            child.end()
            batch.append(child._readable_span())  # what the SDK hands the export processor
        root.end()
        batch.append(root._readable_span())

    def sdk(iterations: int) -> None:
        for _ in range(iterations // len(batch)):
            encode_spans(batch)

    def direct(iterations: int) -> None:
        for _ in range(iterations // len(batch)):
            encode_request(batch)

    return [Case("OTLP span encoding (a request's 4 spans)", "µs/span", "exporter's encode_spans", sdk, direct, 5_120)]


def sql_cases() -> list[Case]:
    from sqlalchemy import create_engine, text

    from otelperf.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    statement = "SELECT * FROM items WHERE id = 42 AND name = 'x' AND price IN (1, 2, 3)"
    distinct = [statement.replace("42", str(i)) + f" /* {i} */ AND t{i}.x = 1" for i in range(5000)]

    def uncached(iterations: int) -> None:
        for i in range(iterations):
            sanitize_sql.__wrapped__(distinct[i % 5000])  # type: ignore[attr-defined]

    def cached(iterations: int) -> None:
        for _ in range(iterations):
            sanitize_sql(statement)

    def noop(iterations: int) -> None:
        for _ in range(iterations):
            pass

    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    engine = create_engine("sqlite://")
    tracer_provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.1)))
    tracer_provider.add_span_processor(SimpleSpanProcessor(NullExporter()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    query = text("SELECT 1")

    def execute(iterations: int) -> None:
        with engine.connect() as connection:
            for _ in range(iterations):
                connection.execute(query)

    def execute_instrumented(iterations: int) -> None:
        SQLAlchemyInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
        try:
            execute(iterations)
        finally:
            SQLAlchemyInstrumentor().uninstrument()

    return [
        Case("sanitize_sql, first sight of a statement", "µs/statement", "empty loop", noop, uncached, 5_000),
        Case("sanitize_sql, repeated statement (cached)", "µs/statement", "empty loop", noop, cached, 200_000),
        *(
            Case(
                f"SQLAlchemy statement (span + duration metric), {label}",
                "µs/statement",
                "SQLite `SELECT 1`, uninstrumented",
                _under_request(sampled)(execute),
                _under_request(sampled)(execute_instrumented),
                5_000,
            )
            for label, sampled in [("unsampled request", False), ("sampled request", True)]
        ),
    ]


def metric_cases() -> list[Case]:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("bench")
    raw = meter.create_histogram("raw")
    bounded = BoundedHistogram(meter, Instrument("bounded", "histogram", "s", "", buckets=(0.1, 1.0)))
    attributes = {
        "otelperf.cache.system": "redis",
        "otelperf.cache.name": "localhost:6379/0",
        "otelperf.cache.operation": "GET",
        "otelperf.cache.result": "hit",
    }
    recorder = CacheRecorder("redis")
    plain: dict[str, int] = {"k": 1}
    metered: MeteredCache[str, int] = MeteredCache({"k": 1}, name="bench")

    def record_raw(iterations: int) -> None:
        for _ in range(iterations):
            raw.record(0.001, attributes)

    def record_bounded(iterations: int) -> None:
        for _ in range(iterations):
            bounded.record(0.001, attributes)

    def redis_reply(iterations: int) -> None:
        for _ in range(iterations):
            recorder.command("localhost:6379/0", "GET", ("GET", "k"), b"v", 0.0001)

    def sdk_record(iterations: int) -> None:
        for _ in range(iterations):
            raw.record(0.0001, attributes)

    def dict_get(iterations: int) -> None:
        for _ in range(iterations):
            plain["k"]

    def metered_get(iterations: int) -> None:
        for _ in range(iterations):
            metered["k"]

    return [
        Case(
            "BoundedHistogram.record (series guard, direct to the aggregation)",
            "µs/measurement",
            "SDK Histogram.record",
            record_raw,
            record_bounded,
            100_000,
        ),
        Case(
            "Redis GET bookkeeping (hit/miss + measurement)",
            "µs/command",
            "SDK Histogram.record",
            sdk_record,
            redis_reply,
            50_000,
        ),
        Case("MeteredCache lookup", "µs/lookup", "dict lookup", dict_get, metered_get, 100_000),
    ]


def pool_cases() -> list[Case]:
    from otelperf.instrumentation.worker_pool import WorkerPoolInstrumentor

    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bench")

    def submit(iterations: int) -> None:
        for _ in range(iterations):
            pool.submit(int).result()

    def submit_instrumented(iterations: int) -> None:
        WorkerPoolInstrumentor().instrument(meter_provider=meter_provider)
        try:
            submit(iterations)
        finally:
            WorkerPoolInstrumentor().uninstrument()

    return [
        Case(
            "ThreadPoolExecutor task (submit + result)", "µs/task", "uninstrumented", submit, submit_instrumented, 5_000
        ),
    ]


def _under_request(sampled: bool) -> Callable[[Callable[[int], None]], Callable[[int], None]]:
    """Runs a case inside a request's span context, sampled or not (the 10 % sampler's nine in ten)."""
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    request = NonRecordingSpan(SpanContext(0x51, 0x52, is_remote=False, trace_flags=flags))

    def inside(run: Callable[[int], None]) -> Callable[[int], None]:
        def in_request(iterations: int) -> None:
            with trace.use_span(request):
                run(iterations)

        return in_request

    return inside


def redis_cases() -> list[Case]:
    """A Redis ``GET`` through contrib's instrumentation and through ``otelperf_redis``, on a client
    whose network round trip is replaced by a constant reply (what is left is the instrumentation)."""
    import redis
    from opentelemetry.instrumentation.redis import RedisInstrumentor as ContribRedisInstrumentor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    from otelperf.instrumentation.redis import RedisInstrumentor

    class NoNetworkRedis(redis.Redis):
        def _execute_command(self, *args: Any, **options: Any) -> Any:
            return b"value"

    client = NoNetworkRedis()
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.1)))
    provider.add_span_processor(SimpleSpanProcessor(NullExporter()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])

    def get(iterations: int) -> None:
        for _ in range(iterations):
            client.get("key")

    def instrumented(instrumentor: Any) -> Callable[[int], None]:
        def run(iterations: int) -> None:
            instrumentor.instrument(tracer_provider=provider, meter_provider=meter_provider)
            try:
                get(iterations)
            finally:
                instrumentor.uninstrument()

        return run

    cases = []
    for label, sampled in [("unsampled request", False), ("sampled request", True)]:
        inside = _under_request(sampled)
        for name, instrumentor in [
            ("contrib redis (span only)", ContribRedisInstrumentor()),
            ("otelperf_redis (span + cache measurement)", RedisInstrumentor()),
        ]:
            cases.append(
                Case(
                    f"Redis GET, {name}, {label}",
                    "µs/command",
                    "uninstrumented client",
                    inside(get),
                    inside(instrumented(instrumentor)),
                    10_000,
                )
            )
    return cases


def _fastapi_app() -> object:
    from fastapi import FastAPI

    try:  # FastAPI 0.165+ traces and measures on its own once a provider is set: not in a baseline
        app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})  # type: ignore[call-arg]
    except TypeError:
        app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    return app


def _asgi_requests(app: object) -> Callable[[int], None]:
    """``iterations`` GET requests of a keep-alive HTTP client, sent straight to the ASGI app."""
    headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"python-httpx/0.28"), (b"accept", b"*/*")]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "root_path": "",
        "query_string": b"",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "headers": headers,
    }

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: object) -> None:
        return None

    async def requests(iterations: int) -> None:
        for index in range(iterations):
            path = f"/items/{index % 50}"
            await app({**scope, "path": path, "raw_path": path.encode()}, receive, send)  # type: ignore[operator]

    return lambda iterations: asyncio.run(requests(iterations))


def http_cases() -> list[Case]:
    """A FastAPI request through contrib's ASGI instrumentation and through otelperf's
    (``ServerTelemetry.serve``, what ``otelperf_fastapi`` runs), against the same app uninstrumented."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    from otelperf.instrumentation.fastapi import ServerMiddleware, ServerTelemetry

    cases = []
    for label, sampler in [("unsampled (10 % sampler)", ParentBased(TraceIdRatioBased(0.1))), ("100 % sampled", None)]:
        for instrumentation in ("contrib ASGI instrumentation", "otelperf_fastapi"):
            provider = TracerProvider(sampler=sampler)
            provider.add_span_processor(SimpleSpanProcessor(NullExporter()))
            meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
            app: Any = _fastapi_app()
            if instrumentation == "otelperf_fastapi":
                telemetry = ServerTelemetry(provider.get_tracer("bench"), meter_provider.get_meter("bench"))
                app = ServerMiddleware(app, telemetry, app.router.routes)
            else:
                FastAPIInstrumentor.instrument_app(
                    app, tracer_provider=provider, meter_provider=meter_provider, exclude_spans=["receive", "send"]
                )
            cases.append(
                Case(
                    f"FastAPI request, {instrumentation}, {label}",
                    "µs/request",
                    "uninstrumented app",
                    _asgi_requests(_fastapi_app()),
                    _asgi_requests(app),
                    2_000,
                )
            )
    return cases


def run() -> tuple[list[tuple[Case, float, float]], str]:
    results = []
    cases = [*span_cases(), *export_cases(), *sql_cases(), *metric_cases(), *pool_cases(), *redis_cases()]
    for case in [*cases, *http_cases()]:
        base, measured = measure(case)
        results.append((case, base, measured))
        print(f"{case.name}: {base:.2f} -> {measured:.2f} {case.unit}", file=sys.stderr)
    lines = [
        "| what | unit | baseline | baseline µs | with otelperf µs | otelperf adds µs |",
        "|---|---|---|---:|---:|---:|",
    ]
    for case, base, measured in results:
        lines.append(
            f"| {case.name} | {case.unit} | {case.baseline_label} | {base:.2f} | {measured:.2f} | "
            f"{measured - base:+.2f} |"
        )
    return results, "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", type=Path, help="replace the micro-benchmark table in this Markdown file")
    args = parser.parse_args()
    _, table = run()
    header = (
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {sys.implementation.name} "
        f"{platform.python_version()}, {REPEATS} interleaved repetitions, medians."
    )
    publish(header, table, args.write, "micro")


if __name__ == "__main__":
    main()
