"""otelperf doctor: the settings it refuses, the backends it checks (secrets masked), and the state of
each fast path; its exit codes."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from otelperf import fastpaths
from otelperf.cli._app import app
from otelperf.fastpaths import contract
from otelperf.fastpaths.contract import FORCED

runner = CliRunner()


def _env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for key in list(__import__("os").environ):
        if key.startswith(("OTEL_", "OTELPERF_")) or key in ("REDIS_URL", "DATABASE_URL"):
            monkeypatch.delenv(key, raising=False)
    for key, value in values.items():
        monkeypatch.setenv(key, value)


def test_doctor_fails_on_an_invalid_setting_and_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, OTELPERF_PROFILING_SAMPLE_RATE="fast", OTEL_TRACES_EXPORTER="none", OTEL_METRICS_EXPORTER="none")
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "OTELPERF_PROFILING_SAMPLE_RATE='fast' is not a whole number" in result.output
    assert "using 19 instead" in result.output


def test_doctor_reports_an_unreachable_collector_and_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(
        monkeypatch,
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9",
        OTEL_EXPORTER_OTLP_HEADERS="authorization=s3cr3t",
        DATABASE_URL="sqlite://",
    )
    result = runner.invoke(app, ["doctor", "--timeout", "0.5"], env={"COLUMNS": "250"})
    assert result.exit_code == 2, result.output
    assert "FAIL otlp traces at 127.0.0.1:9" in result.output
    assert "ok database at sqlite://: SELECT 1 answered" in result.output
    assert "s3cr3t" not in result.output


def test_doctor_passes_when_nothing_needs_checking(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, OTEL_TRACES_EXPORTER="none", OTEL_METRICS_EXPORTER="none")
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "no backend configured to check" in result.output


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
