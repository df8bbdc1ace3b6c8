"""One global SDK meter provider for the unit tests (otelperf's own counters use the global meter),
and helpers to read what was recorded. Metrics are cumulative: tests use unique names to tell
their points apart."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otelperf import startup
from otelperf.process.roles import ProcessRole, RoleDecision
from otelperf.settings import load_settings
from tests.sdk_points import Point, read_points

__all__ = ["Point", "Signals", "read_points"]

_READER = InMemoryMetricReader()
_PROVIDER = MeterProvider(metric_readers=[_READER])
metrics.set_meter_provider(_PROVIDER)


@pytest.fixture
def global_points() -> Any:
    """Read points recorded through the global meter provider."""
    return lambda name: read_points(_READER, name)


@dataclass
class Signals:
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader

    def points(self, name: str) -> list[Point]:
        return read_points(self.reader, name)


@pytest.fixture
def signals() -> Iterator[Signals]:
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    meter_provider = MeterProvider(metric_readers=[reader])
    yield Signals(tracer_provider, meter_provider, spans, reader)
    meter_provider.shutdown()


@pytest.fixture
def serving() -> Iterator[startup.StartupState]:
    """The startup state of a serving process with default settings, in place of the global one."""
    saved = startup.STATE
    startup.STATE = startup.StartupState(
        settings=load_settings({}), role=RoleDecision(ProcessRole.SERVER, "uvicorn", "serves requests")
    )
    yield startup.STATE
    startup.STATE = saved
