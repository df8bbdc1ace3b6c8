"""otelperf_redis against a real redis-server: spans and cache measurements, sync and asyncio.

In-process, with the SDK's in-memory exporter and reader; the end-to-end path through the
collector is covered by ``test_distro.py`` and ``test_signals.py``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio, Sampler
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, StatusCode, TraceFlags

from otelperf.instrumentation.redis import RedisInstrumentor
from tests.sdk_points import read_points


class Signals:
    def __init__(self, sampler: Sampler | None = None) -> None:
        self.spans = InMemorySpanExporter()
        self.reader = InMemoryMetricReader()
        self.tracer_provider = TracerProvider(sampler=sampler) if sampler else TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def cache_points(self) -> list[Any]:
        return [p.point for p in read_points(self.reader, "otelperf.cache.operation.duration")]

    def counts(self, points: list[Any] | None = None) -> Counter[tuple[str, str | None, str | None]]:
        counts: Counter[tuple[str, str | None, str | None]] = Counter()
        for point in self.cache_points() if points is None else points:
            a = point.attributes
            key = (a["otelperf.cache.operation"], a.get("otelperf.cache.result"), a.get("error.type"))
            counts[key] += point.count
        return counts


@pytest.fixture
def instrumented() -> Iterator[Signals]:
    signals = Signals()
    RedisInstrumentor().instrument(tracer_provider=signals.tracer_provider, meter_provider=signals.meter_provider)
    yield signals
    RedisInstrumentor().uninstrument()
    signals.meter_provider.shutdown()


def test_commands_get_a_span_without_values_and_a_measurement_with_hit_or_miss(
    instrumented: Signals, redis_url: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    client.delete("otelperf:k")
    assert client.get("otelperf:k") is None
    client.set("otelperf:k", "secret-value", ex=30)
    assert client.get("otelperf:k") == b"secret-value"
    assert client.mget("otelperf:k", "otelperf:absent") == [b"secret-value", None]

    spans = [s for s in instrumented.finished() if s.name != "DEL"]
    assert [s.name for s in spans] == ["GET", "SET", "GET", "MGET"]
    get = spans[0]
    port = int(redis_url.rsplit(":", 1)[1].split("/", maxsplit=1)[0])
    assert get.kind is SpanKind.CLIENT
    assert dict(get.attributes or {}) == {
        "db.system.name": "redis",
        "db.operation.name": "GET",
        "db.query.text": "GET ?",
        "db.namespace": "0",
        "server.address": "127.0.0.1",
        "server.port": port,
        "network.transport": "tcp",
    }
    assert spans[1].attributes["db.query.text"] == "SET ? ? ? ?"
    assert all("secret" not in str(s.attributes) and "otelperf:k" not in str(s.attributes) for s in spans)

    points = instrumented.cache_points()  # one collection: each hands its exemplars over once
    counts = instrumented.counts(points)
    assert counts[("GET", "miss", None)] == 1 and counts[("GET", "hit", None)] == 1
    assert counts[("MGET", "hit", None)] == 1 and counts[("MGET", "miss", None)] == 1
    assert counts[("SET", None, None)] == 1
    assert {p.attributes["otelperf.cache.name"] for p in points} == {f"127.0.0.1:{port}/0"}
    # Measurements are recorded in their span's context: their exemplars point at it.
    exemplars = [e for p in points for e in p.exemplars]
    assert exemplars and {e.span_id for e in exemplars} <= {s.context.span_id for s in instrumented.finished()}


def test_a_failing_command_is_an_error_span_and_an_error_measurement(instrumented: Signals, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.set("otelperf:text", "not-a-number")
    with pytest.raises(redis.ResponseError):
        client.incr("otelperf:text")
    (span,) = [s for s in instrumented.finished() if s.name == "INCRBY"]
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ResponseError"
    assert span.events[0].name == "exception"
    assert instrumented.counts()[("INCRBY", None, "ResponseError")] == 1


def test_pipelines_are_one_batch_span_and_a_measurement_per_command(instrumented: Signals, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.set("otelperf:p1", "v")
    with client.pipeline() as pipe:
        pipe.get("otelperf:p1").get("otelperf:p-absent").set("otelperf:p2", "v")
        assert pipe.execute() == [b"v", None, True]
    with client.pipeline(transaction=False) as pipe:
        pipe.get("otelperf:p1").get("otelperf:p2")
        pipe.execute()
    batches = [s for s in instrumented.finished() if s.name.startswith("BATCH")]
    assert [s.name for s in batches] == ["BATCH", "BATCH GET"]
    assert batches[0].attributes["db.operation.batch.size"] == 3
    assert batches[0].attributes["db.query.text"] == "GET ?\nGET ?\nSET ? ?"
    counts = instrumented.counts()
    assert counts[("GET", "hit", None)] == 3 and counts[("GET", "miss", None)] == 1
    assert counts[("SET", None, None)] == 2  # the first SET, and the pipeline's


def test_a_watch_conflict_is_not_a_failed_span(instrumented: Signals, redis_url: str) -> None:
    client, other = redis.Redis.from_url(redis_url), redis.Redis.from_url(redis_url)
    client.set("otelperf:watched", "1")
    with client.pipeline() as pipe, pytest.raises(redis.WatchError):
        pipe.watch("otelperf:watched")
        other.set("otelperf:watched", "2")  # changed under the watch
        pipe.multi()
        pipe.set("otelperf:watched", "3")
        pipe.execute()
    watch = [s for s in instrumented.finished() if s.name == "WATCH"]
    assert watch, "immediate_execute_command (WATCH) is traced"
    (batch,) = [s for s in instrumented.finished() if s.name.startswith("BATCH")]
    assert batch.status.status_code is StatusCode.UNSET
    assert instrumented.counts()[("PIPELINE", None, "WatchError")] == 1


def test_asyncio_clients_and_pipelines(instrumented: Signals, redis_url: str) -> None:
    async def work() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        await client.set("otelperf:a", "v")
        assert await client.get("otelperf:a") == b"v"
        async with client.pipeline() as pipe:
            pipe.get("otelperf:a").get("otelperf:a-absent")
            await pipe.execute()
        await client.aclose()

    asyncio.run(work())
    assert [s.name for s in instrumented.finished()] == ["SET", "GET", "BATCH GET"]
    counts = instrumented.counts()
    assert counts[("GET", "hit", None)] == 2 and counts[("GET", "miss", None)] == 1


def test_under_an_unsampled_request_no_span_is_started_and_every_command_is_measured(redis_url: str) -> None:
    signals = Signals(ParentBasedTraceIdRatio(0.1))
    RedisInstrumentor().instrument(tracer_provider=signals.tracer_provider, meter_provider=signals.meter_provider)
    try:
        client = redis.Redis.from_url(redis_url)
        unsampled = NonRecordingSpan(SpanContext(1, 2, is_remote=False, trace_flags=TraceFlags(TraceFlags.DEFAULT)))
        with trace.use_span(unsampled):
            for _ in range(5):
                client.get("otelperf:nothing")
        assert signals.finished() == []
        assert signals.counts()[("GET", "miss", None)] == 5
    finally:
        RedisInstrumentor().uninstrument()
        signals.meter_provider.shutdown()


def test_uninstrument_restores_the_client(redis_url: str) -> None:
    signals = Signals()
    RedisInstrumentor().instrument(tracer_provider=signals.tracer_provider, meter_provider=signals.meter_provider)
    RedisInstrumentor().uninstrument()
    redis.Redis.from_url(redis_url).get("otelperf:after")
    assert signals.finished() == []
    assert not hasattr(redis.Redis.execute_command, "__wrapped__")
    signals.meter_provider.shutdown()
