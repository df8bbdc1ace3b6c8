from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, TraceIdRatioBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from otelperf.fastpaths import sampling
from otelperf.instrumentation.sqlalchemy import SQLAlchemyInstrumentor, _execution
from tests.sdk_points import read_points


@pytest.fixture
def signals() -> Iterator[tuple[InMemorySpanExporter, InMemoryMetricReader]]:
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[reader])
    yield exporter, reader
    SQLAlchemyInstrumentor().uninstrument()
    meter_provider.shutdown()


@pytest.fixture(autouse=True, params=["execution", "events"])
def hook(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Every test runs with both statement hooks: the execution wrapper and the events fallback."""
    if request.param == "events":
        monkeypatch.setattr(_execution, "available", lambda: False)
    yield request.param
    if SQLAlchemyInstrumentor().is_instrumented_by_opentelemetry:
        SQLAlchemyInstrumentor().uninstrument()


def durations(reader: InMemoryMetricReader) -> list[Any]:
    return [p.point for p in read_points(reader, "db.client.operation.duration")]


Signals = tuple[InMemorySpanExporter, InMemoryMetricReader]


def test_every_engine_before_and_after_instrumentation(signals: Signals) -> None:
    exporter, _ = signals
    before = create_engine("sqlite://")
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[reader2 := InMemoryMetricReader()])
    SQLAlchemyInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    after = create_engine("sqlite://")
    for engine in (before, after):
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)"))
            connection.execute(text("INSERT INTO users VALUES (1, 'secret@example.com')"))
            connection.execute(text("SELECT email FROM users WHERE id = :id"), {"id": 1})
    spans = exporter.get_finished_spans()
    selects = [s for s in spans if s.name == "SELECT users"]
    assert len(selects) == 2
    span = selects[0]
    assert span.kind is SpanKind.CLIENT
    assert span.attributes["db.system.name"] == "sqlite"
    assert span.attributes["db.query.text"] == "SELECT email FROM users WHERE id = ?"
    assert span.attributes["db.operation.name"] == "SELECT"
    assert span.attributes["db.collection.name"] == "users"
    inserts = [s for s in spans if s.name == "INSERT users"]
    assert inserts and all("secret" not in s.attributes["db.query.text"] for s in inserts)
    points = durations(reader2)
    by_operation = {p.attributes["db.operation.name"]: p.count for p in points}
    assert by_operation == {"CREATE": 2, "INSERT": 2, "SELECT": 2}
    meter_provider.shutdown()


def test_errors_are_recorded_without_values(signals: tuple[InMemorySpanExporter, InMemoryMetricReader]) -> None:
    exporter, _ = signals
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[reader := InMemoryMetricReader()])
    SQLAlchemyInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    engine = create_engine("sqlite://")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE u (id INTEGER PRIMARY KEY)"))
        connection.execute(text("INSERT INTO u VALUES (7)"))
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(text("INSERT INTO u VALUES (:id)"), {"id": 7})
    failed = [s for s in exporter.get_finished_spans() if s.attributes.get("error.type")]
    (span,) = failed
    assert span.attributes["error.type"] == "IntegrityError"
    event = span.events[0]
    assert event.attributes["exception.message"] == "UNIQUE constraint failed: u.id"
    assert "(7,)" not in event.attributes["exception.stacktrace"]
    assert any(p.attributes.get("error.type") == "IntegrityError" for p in durations(reader))
    meter_provider.shutdown()


def test_async_engine_is_covered(signals: tuple[InMemorySpanExporter, InMemoryMetricReader]) -> None:
    pytest.importorskip("aiosqlite")
    from sqlalchemy.ext.asyncio import create_async_engine

    exporter, _ = signals
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    SQLAlchemyInstrumentor().instrument(tracer_provider=tracer_provider)

    async def run() -> None:
        engine = create_async_engine("sqlite+aiosqlite://")
        async with engine.begin() as connection:
            await connection.execute(text("SELECT 42"))
        await engine.dispose()

    asyncio.run(run())
    assert [s.attributes["db.query.text"] for s in exporter.get_finished_spans()] == ["SELECT ?"]


def test_uninstrument_removes_the_listeners(signals: tuple[InMemorySpanExporter, InMemoryMetricReader]) -> None:
    exporter, _ = signals
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    SQLAlchemyInstrumentor().instrument(tracer_provider=tracer_provider)
    SQLAlchemyInstrumentor().uninstrument()
    with create_engine("sqlite://").connect() as connection:
        connection.execute(text("SELECT 1"))
    assert exporter.get_finished_spans() == ()


def test_pool_usage_wait_and_timeouts(tmp_path: Any) -> None:
    from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader as Reader
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from tests.unit.conftest import read_points

    reader = Reader()
    meter_provider = SdkMeterProvider(metric_readers=[reader])
    SQLAlchemyInstrumentor().instrument(meter_provider=meter_provider, slow_query_threshold_s=1e-9)
    engine = create_engine(f"sqlite:///{tmp_path}/pool.db", pool_size=1, max_overflow=0, pool_timeout=0.2)
    held = engine.connect()
    held.execute(text("SELECT 1"))
    with pytest.raises(PoolTimeout):
        engine.connect()
    counts = {
        p.attributes["db.client.connection.state"]: p.count for p in read_points(reader, "db.client.connection.count")
    }
    assert counts == {"used": 1, "idle": 0}
    (maximum,) = read_points(reader, "db.client.connection.max")
    assert maximum.count == 1
    assert maximum.attributes == {"db.client.connection.pool.name": "sqlite:///pool.db"}
    (timeouts,) = read_points(reader, "db.client.connection.timeouts")
    assert timeouts.count == 1
    (wait,) = read_points(reader, "db.client.connection.wait_time")
    assert wait.count == 2 and wait.point.max >= 0.2
    held.close()
    meter_provider.shutdown()


def test_slow_statements_get_an_event(signals: tuple[InMemorySpanExporter, InMemoryMetricReader]) -> None:
    exporter, _ = signals
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    SQLAlchemyInstrumentor().instrument(tracer_provider=tracer_provider, slow_query_threshold_s=1e-9)
    with create_engine("sqlite://").connect() as connection:
        connection.execute(text("SELECT 1"))
    (span,) = exporter.get_finished_spans()
    (event,) = span.events
    assert event.name == "otelperf.db.slow_query"
    assert event.attributes["otelperf.db.slow_query.threshold"] == 1e-9


def _statements_under(parent_sampled: bool, sampler: Any) -> tuple[list[Any], list[Any], int]:
    """Three statements under a parent span; the exported DB spans, the duration points and how
    many spans the SDK was asked to start."""
    from unittest import mock

    from opentelemetry.sdk.trace import Tracer

    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider(sampler=sampler)
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[reader])
    SQLAlchemyInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    engine = create_engine("sqlite://")
    flags = TraceFlags(TraceFlags.SAMPLED if parent_sampled else TraceFlags.DEFAULT)
    parent = NonRecordingSpan(SpanContext(0x1234, 0x5678, is_remote=False, trace_flags=flags))
    original = Tracer.start_span
    with (
        mock.patch.object(Tracer, "start_span", autospec=True, side_effect=original) as start_span,
        trace.use_span(parent),
        engine.connect() as connection,
    ):
        for _ in range(3):
            connection.execute(text("SELECT 1"))
    points = durations(reader)
    SQLAlchemyInstrumentor().uninstrument()
    meter_provider.shutdown()
    return list(exporter.get_finished_spans()), points, start_span.call_count


def test_no_span_is_started_under_a_parent_the_sampler_dropped() -> None:
    spans, points, started = _statements_under(parent_sampled=False, sampler=ParentBased(TraceIdRatioBased(0.1)))
    # With the sampling fast path off, ParentBased's delegates are not read: every span is started
    # (and dropped by the SDK's sampler).
    assert (spans, started) == ([], 0 if sampling.SWITCH.on else 3)
    assert [p.count for p in points] == [3]  # the metric is exact all the same


def test_sampled_parents_and_other_samplers_still_get_their_spans() -> None:
    spans, points, _ = _statements_under(parent_sampled=True, sampler=ParentBased(TraceIdRatioBased(0.1)))
    assert [s.name for s in spans] == ["SELECT"] * 3
    assert [p.count for p in points] == [3]
    # The duration is recorded in the statement span's context: its exemplars (one per bucket the
    # three durations fell in) name those spans.
    exemplars = points[0].exemplars
    assert exemplars
    assert all(exemplar.span_id in {s.context.span_id for s in spans} for exemplar in exemplars)
    assert all(exemplar.trace_id == spans[0].context.trace_id for exemplar in exemplars)
    # A sampler that samples the children of unsampled parents is asked, and its answer kept.
    keeps_children = ParentBased(ALWAYS_OFF, local_parent_not_sampled=ALWAYS_ON)
    spans, points, started = _statements_under(parent_sampled=False, sampler=keeps_children)
    assert (len(spans), started) == (3, 3)
    assert [p.count for p in points] == [3]


def test_the_execution_hook_leaves_engines_without_events(
    hook: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The point of the execution hook: SQLAlchemy's per-connection event dispatch stays off."""
    from sqlalchemy.engine import Engine

    monkeypatch.setattr(Engine, "_has_events", False)  # a class-level listen sets it for good
    with caplog.at_level("INFO", logger="otelperf"):
        SQLAlchemyInstrumentor().instrument(tracer_provider=TracerProvider())
    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    fallback = [r.getMessage() for r in caplog.records if "timed through Engine events" in r.getMessage()]
    listeners = len(engine.dispatch.before_cursor_execute) + len(engine.dispatch.after_cursor_execute)
    if hook == "execution":
        assert (engine._has_events, listeners, fallback) == (False, 0, [])
    else:
        assert (engine._has_events, listeners, len(fallback)) == (True, 2, 1)


def test_bulk_inserts_are_recorded_without_values(signals: Signals, hook: str) -> None:
    from sqlalchemy import Column, Integer, MetaData, String, Table, insert

    exporter, _ = signals
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[reader := InMemoryMetricReader()])
    SQLAlchemyInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    engine = create_engine("sqlite://", insertmanyvalues_page_size=2)
    users = Table("users", MetaData(), Column("id", Integer, primary_key=True), Column("email", String))
    users.metadata.create_all(engine)
    rows = [{"email": f"user{n}@example.com"} for n in range(5)]
    with engine.begin() as connection:
        ids = connection.execute(insert(users).returning(users.c.id), rows).scalars().all()
    assert len(ids) == 5
    inserts = [s for s in exporter.get_finished_spans() if s.name == "INSERT users"]
    # One span for the bulk insert with the execution hook; one per page of 2 rows with the events.
    assert len(inserts) == (1 if hook == "execution" else 3)
    assert all("example.com" not in s.attributes["db.query.text"] for s in inserts)
    (point,) = [p for p in durations(reader) if p.attributes["db.operation.name"] == "INSERT"]
    assert point.count == len(inserts)
    meter_provider.shutdown()
