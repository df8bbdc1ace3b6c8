"""One global SDK meter provider for the unit tests (otelperf's own counters use the global meter),
and helpers to read what was recorded. Metrics are cumulative: tests use unique names to tell
their points apart.

The suite runs twice in CI, the second time with ``OTELPERF_FAST_PATHS=false``. A test that checks
what a fast path does is marked ``@pytest.mark.fast_path("<name>")`` and is skipped, with the
reason, where that fast path is off; ``switched`` sets a fast path on or off for a block."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otelperf import fastpaths, startup
from otelperf.fastpaths import contract
from otelperf.fastpaths.contract import FastPath, Switch
from otelperf.process.roles import ProcessRole, RoleDecision
from otelperf.settings import load_settings
from tests.sdk_points import Point, read_points

__all__ = ["Point", "Signals", "read_points", "switched"]

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


_SWITCHES = {switch.name: switch for switch in (*fastpaths.FAST_PATHS, *fastpaths.CONTRACTS)}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fast_path(name): checks what the named fast path does; skipped where it is off")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers("fast_path"):
        state = _SWITCHES[marker.args[0]].state()
        if not state.on:
            pytest.skip(f"fast path {state.name} is off in this run: {state.reason}")


@pytest.fixture(autouse=True)
def _fast_paths_stay_as_the_run_set_them() -> Iterator[None]:
    """A test that runs the configurator (which forces the fast paths on or off from its settings)
    must not change them for the tests after it."""
    forced = contract.forced_off()
    yield
    if contract.forced_off() != forced:
        contract.force_off(forced)


@contextmanager
def switched(switch: Switch, on: bool) -> Iterator[None]:
    """``switch`` decided ``on`` (or off) inside the block, as it was afterwards."""
    saved = switch.decided()
    switch._state, switch.decision = FastPath(switch.name, on, "set by the test"), on
    try:
        yield
    finally:
        switch._state, switch.decision = saved, None if saved is None else saved.on
