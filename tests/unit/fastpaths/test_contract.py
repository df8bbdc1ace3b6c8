"""The SDK contract: each fast path's probe accepts the pinned SDK, the setting forces them off,
the public path each one falls back to gives what the fast path gives, and the startup line and
``otelperf doctor`` say which are on and why one is off. These tests set the switches themselves,
so they run the same whether the run forces the fast paths off or not."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.context import Context, set_value
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.metrics._internal import _ProxyMeterProvider
from opentelemetry.sdk.metrics import Counter, MeterProvider
from opentelemetry.sdk.metrics._internal.measurement import Measurement
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import INVALID_SPAN, Link, SpanContext, Status, StatusCode, set_span_in_context
from opentelemetry.trace.propagation import _SPAN_KEY
from typer.testing import CliRunner

from otelperf import fastpaths, startup
from otelperf.cli._app import app
from otelperf.fastpaths import context, contract, histograms, metric_export, span_rewrite, spans
from otelperf.fastpaths.contract import FORCED, FastPath, Switch
from otelperf.pipeline.providers import Pipeline
from otelperf.process.roles import ProcessRole, RoleDecision
from otelperf.settings import Settings, load_settings
from tests.unit.conftest import switched

ALL = (*fastpaths.FAST_PATHS, *fastpaths.CONTRACTS)


@pytest.mark.parametrize("switch", ALL, ids=lambda switch: switch.name)
def test_every_probe_accepts_the_installed_sdk(switch: Switch) -> None:
    """``pyproject.toml`` pins the SDK these fast paths were written for: an SDK release that breaks
    one fails here, and in a user's process that fast path is off with this reason."""
    state = switch._probe()
    assert state == FastPath(switch.name, True, state.reason), state


def test_the_setting_forces_every_fast_path_off_but_no_contract() -> None:
    for switch in fastpaths.FAST_PATHS:
        assert switch.would_be(True) == FastPath(switch.name, False, FORCED)
        assert switch.would_be(False) == switch.probed()
    for switch in fastpaths.CONTRACTS:
        assert switch.would_be(True).on


@pytest.fixture
def unconfigured() -> Iterator[None]:
    """The forcing as read from the environment (no configurator ran), restored afterwards."""
    saved = contract._forcing.off
    contract.force_off(False)
    contract._forcing.off = None
    yield
    contract.force_off(bool(saved))
    contract._forcing.off = saved


@pytest.mark.parametrize(("value", "forced"), [("false", True), ("0", True), ("true", False), ("maybe", False)])
def test_without_the_configurator_the_environment_decides(
    unconfigured: None, monkeypatch: pytest.MonkeyPatch, value: str, forced: bool
) -> None:
    monkeypatch.setenv("OTELPERF_FAST_PATHS", value)
    assert contract.forced_off() is forced
    assert histograms.SWITCH.state().on is not forced


def test_a_bad_value_is_reported_and_keeps_the_fast_paths_on() -> None:
    settings = load_settings({"OTELPERF_FAST_PATHS": "maybe"})
    assert settings.fast_paths is True
    assert [str(problem) for problem in settings.problems] == [
        "OTELPERF_FAST_PATHS='maybe' is not a boolean (expected true or false); using True instead"
    ]


def test_forcing_decides_every_switch_again(unconfigured: None) -> None:
    contract.force_off(False)
    assert spans.SWITCH.state().on
    contract.force_off(True)
    assert spans.SWITCH.decided() is None  # decided again at the next use
    assert spans.SWITCH.state() == FastPath("spans", False, FORCED) and spans.SWITCH.decision is False
    contract.force_off(False)
    assert spans.SWITCH.state().on and spans.SWITCH.decision is True


def test_a_probe_that_raises_turns_its_fast_path_off() -> None:
    def broken() -> FastPath:
        raise KeyError("moved")

    switch = Switch("broken", broken)
    contract._switches.remove(switch)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(contract._forcing, "off", False)
        assert switch.state() == FastPath("broken", False, "probe failed (KeyError: 'moved')")


def test_states_and_their_one_line_description() -> None:
    on = [FastPath("histograms", True, "r"), FastPath("spans", True, "r")]
    assert fastpaths.describe(on) == "fast paths on: histograms, spans"
    one_off = [on[0], FastPath("spans", False, "ReadableSpan changed")]
    assert fastpaths.describe(one_off) == "fast paths on: histograms; off: spans (ReadableSpan changed)"
    forced = [FastPath("histograms", False, FORCED), FastPath("grpc_export", False, fastpaths.NOT_USED)]
    assert fastpaths.describe(forced) == "fast paths off (OTELPERF_FAST_PATHS=false)"
    unused = [on[0], FastPath("grpc_export", False, fastpaths.NOT_USED)]
    assert fastpaths.describe(unused) == "fast paths on: histograms"
    doctor = fastpaths.states(frozenset({"grpc_export"}), forced_off=True)
    assert [state.name for state in doctor] == [switch.name for switch in fastpaths.FAST_PATHS]
    assert all(state.reason == FORCED for state in doctor if state.name != "grpc_export")


def _spans() -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "t"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    parent = SpanContext(1, 2, is_remote=True)
    with tracer.start_as_current_span(
        "root", set_span_in_context(INVALID_SPAN.__class__(parent)), links=[Link(parent, {"l": 1})]
    ) as root:
        root.set_attribute("a", "b")
        root.add_event("e", {"k": 1})
        root.set_status(Status(StatusCode.ERROR, "bad"))
        with tracer.start_as_current_span("child"):
            pass
    return list(exporter.get_finished_spans())


def test_span_fields_read_as_stored_are_the_properties() -> None:
    for span in _spans():
        with switched(spans.SWITCH, True):
            stored = spans.export_fields(span)
            stored_identity = spans.getter("context", "parent")(span)
            stored_attributes = dict(spans.attribute_dict(span))
        with switched(spans.SWITCH, False):
            public = spans.export_fields(span)
            public_identity = spans.getter("context", "parent")(span)
            public_attributes = dict(spans.attribute_dict(span))
        assert [tuple(x) if i in (8, 10) else x for i, x in enumerate(stored)][:6] == list(public[:6])
        assert dict(stored[6]) == dict(public[6]) and stored[7] == public[7]
        assert tuple(stored[8]) == tuple(public[8]) and tuple(stored[10]) == tuple(public[10])
        assert (stored[9], stored[11], stored[12]) == (public[9], public[11], public[12])
        assert stored_identity == public_identity == (span.context, span.parent)
        assert stored_attributes == public_attributes == dict(span.attributes or {})
    assert spans.backing_dict(None) == {}


@pytest.mark.parametrize("fast_path", [True, False])
def test_the_span_in_a_context_is_found_either_way(fast_path: bool) -> None:
    sampled = TracerProvider(sampler=ALWAYS_ON).get_tracer("t").start_span("s")
    with switched(context.SWITCH, fast_path):
        key = context.span_key()
    assert (key is not None) is fast_path
    assert context.span_in(set_span_in_context(sampled), key) is sampled
    for empty in (Context(), set_value(_SPAN_KEY, None)):
        assert context.span_in(empty, key) in (None, INVALID_SPAN)


def test_an_ended_span_is_rewritten_whatever_holds_its_events() -> None:
    for events in ([Event("exception", {"exception.message": "raw"})], (Event("exception"),)):
        span = ReadableSpan("s", SpanContext(1, 2, is_remote=False), attributes={"a": "raw"}, events=events)
        span_rewrite.replace_attributes(span, {"a": "clean"})
        span_rewrite.rewrite_events(span, lambda event: Event("clean", None, event.timestamp))
        span_rewrite.append_event(span, Event("added"))
        span_rewrite.replace_status(span, Status(StatusCode.ERROR, "clean"))
        assert dict(span.attributes or {}) == {"a": "clean"}
        assert [event.name for event in span.events] == ["clean", "added"]
        assert span.status.description == "clean"


def test_metric_exporter_preferences_or_the_sdk_defaults() -> None:
    exporter = metric_export._Exporter(preferred_temporality={Counter: AggregationTemporality.DELTA})
    temporality, _ = metric_export.preferences(exporter)
    assert temporality[Counter] is AggregationTemporality.DELTA
    with switched(metric_export.SWITCH, False):
        assert metric_export.preferences(exporter) == (None, None)


def test_measurements_are_built_as_the_sdk_builds_them() -> None:
    # The pinned SDK's Measurement takes the fast construction; if a release changes its fields,
    # this fails and the constructor (the fallback) is what runs.
    assert histograms.new_measurement is histograms._measurement_by_fields
    histogram = MeterProvider().get_meter("t").create_histogram("t.duration")
    span_context = set_span_in_context(TracerProvider().get_tracer("t").start_span("s"))
    expected = Measurement(0.5, 7, histogram, span_context, {"a": "b"})
    for build in (histograms._measurement_by_fields, histograms._measurement):
        built = build(0.5, 7, histogram, span_context, {"a": "b"})
        assert type(built) is Measurement
        assert built == expected


def test_the_sdk_histogram_behind_an_instrument() -> None:
    sdk = MeterProvider(metric_readers=[InMemoryMetricReader()]).get_meter("t").create_histogram("h")
    proxies = _ProxyMeterProvider()
    proxy = proxies.get_meter("t").create_histogram("h")
    noop = NoOpMeterProvider().get_meter("t").create_histogram("h")
    with switched(histograms.SWITCH, True):
        assert histograms.sdk_histogram(sdk) is sdk
        assert histograms.sdk_histogram(proxy) is None and histograms.awaiting_provider(proxy)
        assert histograms.sdk_histogram(noop) is None and not histograms.awaiting_provider(noop)
        proxies.on_set_meter_provider(MeterProvider())
        real: Any = histograms.sdk_histogram(proxy)
        assert real is not None and real.name == "h" and not histograms.awaiting_provider(proxy)
    with switched(histograms.SWITCH, False):
        assert histograms.sdk_histogram(sdk) is None and not histograms.awaiting_provider(proxy)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _startup_lines(settings: Settings) -> list[str]:
    saved = startup.STATE
    startup.STATE = startup.StartupState(
        settings=settings,
        role=RoleDecision(ProcessRole.SERVER, "uvicorn", "uvicorn server"),
        instrumented=True,
        pipeline=Pipeline(settings),
    )
    otelperf_logger, handler = logging.getLogger("otelperf"), _Lines()
    otelperf_logger.addHandler(handler)
    level = otelperf_logger.level
    otelperf_logger.setLevel(logging.INFO)
    try:
        startup._report()
    finally:
        otelperf_logger.removeHandler(handler)
        otelperf_logger.setLevel(level)
        startup.STATE = saved
    return handler.lines


def test_the_startup_line_says_which_fast_paths_are_on_and_why_one_is_off() -> None:
    settings = Settings(traces_exporter="none", metrics_exporter="none")
    with pytest.MonkeyPatch.context() as patch:
        for switch in fastpaths.FAST_PATHS:
            state = FastPath(switch.name, True, "set by the test") if switch.name != "grpc_export" else None
            patch.setattr(switch, "_state", state)  # grpc_export undecided: this process does not use it
        patch.setattr(fastpaths.sampling.SWITCH, "_state", FastPath("sampling", False, "ParentBased changed"))
        [line] = _startup_lines(settings)
    assert line.endswith("; off: sampling (ParentBased changed)"), line
    assert "fast paths on: histograms," in line and "grpc_export" not in line  # not used: no OTLP gRPC


def test_the_startup_line_warns_of_a_broken_contract() -> None:
    broken = FastPath("span_rewrite", False, "ReadableSpan changed: ended spans are exported as recorded")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(span_rewrite.SWITCH, "_state", broken)
        lines = _startup_lines(Settings(traces_exporter="none", metrics_exporter="none"))
    assert lines[1] == f"SDK contract span_rewrite is broken with this opentelemetry-sdk: {broken.reason}"


@pytest.mark.parametrize(("value", "expected"), [("true", "on fast path spans: reads"), ("false", FORCED)])
def test_doctor_lists_the_fast_paths(monkeypatch: pytest.MonkeyPatch, value: str, expected: str) -> None:
    for name in ("OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_ENDPOINT", "REDIS_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    monkeypatch.setenv("OTELPERF_FAST_PATHS", value)
    forced_before = contract.forced_off()
    result = CliRunner().invoke(app, ["doctor"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if " fast path " in line]
    assert [line.split()[3].rstrip(":") for line in lines] == [s.name for s in fastpaths.FAST_PATHS]
    assert "off fast path grpc_export: not used in this process" in result.output
    assert sum(expected in line for line in lines) == (1 if value == "true" else len(lines) - 1)
    assert contract.forced_off() is forced_before  # the doctor decides nothing for the process
