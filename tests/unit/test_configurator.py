"""The configurator: settings, then the process role, then the pipeline handed to the lifecycle; every
rejected setting reported; nothing started when otelperf or the SDK is disabled; never an exception
into the application. The lifecycle is replaced by a recorder: no provider is installed."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from importlib.metadata import entry_points
from typing import Any

import pytest

from otelperf import configurator, startup
from otelperf.fastpaths import contract
from otelperf.metrics import instruments
from otelperf.pipeline.providers import Pipeline
from otelperf.process import lifecycle
from otelperf.process.roles import ProcessRole, RoleDecision
from otelperf.settings import load_settings


def test_configure_never_raises_into_the_app(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(configurator, "detect_role", broken)
    otelperf_logger = logging.getLogger("otelperf")
    otelperf_logger.addHandler(caplog.handler)  # otelperf's logger does not propagate
    try:
        configurator.configure(load_settings({}))
    finally:
        otelperf_logger.removeHandler(caplog.handler)
    assert "setup failed (RuntimeError: boom); the application runs without telemetry" in caplog.text


def test_disabled_settings_start_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[object] = []
    monkeypatch.setattr(lifecycle, "begin", lambda *args, **kwargs: started.append(args))
    configurator.configure(load_settings({"OTEL_SDK_DISABLED": "true"}))
    assert started == []


@pytest.fixture
def otelperf_lines(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """otelperf's log records (its logger does not propagate), the series limit put back afterwards."""
    otelperf_logger = logging.getLogger("otelperf")
    otelperf_logger.addHandler(caplog.handler)
    limit = instruments.series_limit()
    yield caplog
    otelperf_logger.removeHandler(caplog.handler)
    instruments.set_series_limit(limit)


def test_configure_hands_the_settings_role_and_pipeline_to_the_lifecycle(
    serving: startup.StartupState, monkeypatch: pytest.MonkeyPatch, otelperf_lines: pytest.LogCaptureFixture
) -> None:
    decision = RoleDecision(ProcessRole.SERVER, "uvicorn", "serves requests")
    begun: list[tuple[Any, ...]] = []
    monkeypatch.setattr(configurator, "detect_role", lambda: decision)
    monkeypatch.setattr(lifecycle, "begin", lambda *args, **kwargs: begun.append((*args, kwargs)))
    settings = load_settings({"OTELPERF_METRIC_SERIES_LIMIT": "77", "OTELPERF_PROFILING_SAMPLE_RATE": "fast"})
    configurator.configure(settings)
    assert begun == [(settings, decision, Pipeline, {"on_start": startup.pipeline_started})]
    assert serving.settings is settings and serving.role is decision
    assert instruments.series_limit() == 77
    warnings = [r.getMessage() for r in otelperf_lines.records if r.levelno == logging.WARNING]
    assert warnings == [f"invalid setting: {problem}" for problem in settings.problems] and len(warnings) == 1


@pytest.mark.parametrize("fast_paths", [True, False])
def test_configure_forces_the_fast_paths_as_the_setting_says(
    serving: startup.StartupState, monkeypatch: pytest.MonkeyPatch, fast_paths: bool
) -> None:
    monkeypatch.setattr(lifecycle, "begin", lambda *args, **kwargs: None)
    configurator.configure(load_settings({"OTELPERF_FAST_PATHS": str(fast_paths).lower()}))
    assert contract.forced_off() is not fast_paths  # the conftest puts the run's own forcing back


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"OTELPERF_ENABLED": "false"}, "OTELPERF_ENABLED=false"),
        ({"OTEL_SDK_DISABLED": "true"}, "OTEL_SDK_DISABLED=true"),
    ],
)
def test_a_disabled_process_says_which_switch_and_starts_nothing(
    serving: startup.StartupState,
    monkeypatch: pytest.MonkeyPatch,
    otelperf_lines: pytest.LogCaptureFixture,
    environ: dict[str, str],
    variable: str,
) -> None:
    monkeypatch.setattr(lifecycle, "begin", lambda *args, **kwargs: pytest.fail("the pipeline was started"))
    monkeypatch.setattr(configurator, "detect_role", lambda: pytest.fail("the role was decided"))
    configurator.configure(load_settings({**environ, "OTELPERF_METRIC_SERIES_LIMIT": "77"}))
    assert f"disabled by {variable}; no telemetry from this process" in otelperf_lines.text
    assert instruments.series_limit() != 77 and serving.role.role is ProcessRole.SERVER  # left as they were


def test_the_sdk_finds_the_configurator_by_its_entry_point() -> None:
    (entry,) = [entry for entry in entry_points(group="opentelemetry_configurator") if entry.name == "otelperf"]
    assert entry.load() is configurator.OtelperfConfigurator
