from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


# The demo's, dashboards' and tests' extras, as a plain `pip install otelperf` lacks them.
_EXTRAS = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "redis", "psycopg", "grafana_foundation_sdk")
_BLOCK = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {_EXTRAS!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Block())
"""


def _plain(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter where only the base install's packages can be imported."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "OTELPERF_"))}
    env.update(OTEL_TRACES_EXPORTER="none", OTEL_METRICS_EXPORTER="none", COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-c", _BLOCK + code, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_every_command_but_the_demo_runs_from_a_plain_install(tmp_path: Path) -> None:
    main = "import sys; from otelperf.cli import main; sys.argv = ['otelperf', *sys.argv[1:]]; main()"
    doctor = _plain(main, "doctor")
    assert doctor.returncode == 0, doctor.stderr
    assert "no backend configured to check" in doctor.stdout
    export = _plain(main, "rules", "export", "--out", str(tmp_path))
    assert export.returncode == 0, export.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["otelperf-alerts.yml", "otelperf-recording.yml"]
    unreachable = _plain(main, "report", "--prometheus", "http://127.0.0.1:9")
    assert unreachable.returncode == 2 and "does not answer" in unreachable.stderr, unreachable.stderr
    for help_of in (("report",), ("demo",), ("rules", "check")):
        shown = _plain(main, *help_of, "--help")
        assert shown.returncode == 0, shown.stderr
    demo = _plain(main, "demo", "--duration", "1")
    assert demo.returncode == 1
    assert "pip install 'otelperf[demo]'" in demo.stderr and "Traceback" not in demo.stderr


def test_the_rules_package_imports_no_http_client() -> None:
    code = """
import sys, time
import otelperf.rules, otelperf.rules.router, otelperf.rules.html
from otelperf.rules import build_report, load_rules
from otelperf.rules.local import LocalSource
from otelperf.rules.html import to_html
to_html(build_report(load_rules(), LocalSource([]), service="shop"))
print("httpx" in sys.modules)
"""
    # The router needs FastAPI: this one check runs with it.
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_the_demo_lists_its_problems_and_refuses_unknown_ones() -> None:
    shown = runner.invoke(app, ["demo", "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0
    text = " ".join(shown.output.split())
    for name in ("n_plus_one", "slow_query", "cold_cache", "saturated_pool", "blocking_coroutine", "--healthy"):
        assert name in text, name
    unknown = runner.invoke(app, ["demo", "--problems", "n_plus_one,slowness"])
    assert unknown.exit_code == 2
    assert "unknown problem(s) slowness" in unknown.output
    both = runner.invoke(app, ["demo", "--healthy", "--problems", "cold_cache"])
    assert both.exit_code == 2 and "--healthy plants no problem" in both.output


def test_report_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    for args, said in (
        (["--format", "pdf"], "use table, json, markdown or html"),
        (["--fail-on-regression"], "--fail-on-regression needs --baseline"),
        (["--window", "15 minutes"], "is not a duration"),
        (["--baseline", str(tmp_path / "missing.json")], "cannot read it"),
    ):
        result = runner.invoke(app, ["report", "--prometheus", "http://127.0.0.1:9", *args])
        assert result.exit_code == 2, (args, result.output)
        assert said in result.output, (args, result.output)
