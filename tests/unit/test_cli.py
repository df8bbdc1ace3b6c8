from __future__ import annotations

import pytest
from typer.testing import CliRunner

from otelperf.cli._app import app
from otelperf.settings import settings_table

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


def test_settings_markdown_is_the_generated_table() -> None:
    result = runner.invoke(app, ["settings", "--markdown"])
    assert result.exit_code == 0
    assert result.output.strip() == settings_table()
