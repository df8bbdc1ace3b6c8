"""The committed Prometheus rule files: generated from the catalog, valid, and unit-tested."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from otelperf.cli._app import app

REPO = Path(__file__).resolve().parents[3]
runner = CliRunner()


def _promtool() -> str:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is not installed: run .ci/run (apt-get install prometheus)")
    return binary


def test_committed_rule_files_are_what_the_catalog_exports(tmp_path: Path) -> None:
    result = runner.invoke(app, ["rules", "export", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for generated in sorted(tmp_path.glob("*.yml")):
        committed = REPO / "prometheus" / "rules" / generated.name
        assert committed.read_text() == generated.read_text(), f"run `otelperf rules export` ({generated.name})"


def test_promtool_checks_the_rule_files() -> None:
    files = sorted(str(path) for path in (REPO / "prometheus" / "rules").glob("*.yml"))
    assert len(files) == 2
    result = subprocess.run([_promtool(), "check", "rules", *files], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == 2


def test_promtool_unit_tests_of_every_alert_and_score_pass() -> None:
    tests = sorted(str(path) for path in (REPO / "tests" / "promtool").glob("*.test.yml"))
    result = subprocess.run([_promtool(), "test", "rules", *tests], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    alerts = (REPO / "prometheus" / "rules" / "otelperf-alerts.yml").read_text()
    tested = "".join(Path(path).read_text() for path in tests)
    for line in alerts.splitlines():
        if line.strip().startswith("- alert: "):
            name = line.split(": ", 1)[1]
            assert f"alertname: {name}\n" in tested, f"no promtool test for {name}"


def test_export_refuses_a_latency_threshold_that_is_not_a_bucket(tmp_path: Path) -> None:
    result = runner.invoke(app, ["rules", "export", "--out", str(tmp_path), "--latency-threshold", "0.3"])
    assert result.exit_code == 2
    assert "--latency-threshold one of" in result.output
    assert not list(tmp_path.iterdir())


def test_rules_check_lists_rules_or_every_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["rules", "check"])
    assert result.exit_code == 0 and "http-latency-p95" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - id: http-apdex\n    weight: -1\n")
    result = runner.invoke(app, ["rules", "check", str(bad)])
    assert result.exit_code == 2
    assert "rule 'http-apdex', field 'weight': must be > 0" in result.output


def test_report_against_an_unreachable_prometheus_is_one_clear_line() -> None:
    result = runner.invoke(app, ["report", "--prometheus", "http://127.0.0.1:9", "--service", "shop"])
    assert result.exit_code == 2
    assert "Prometheus at http://127.0.0.1:9 does not answer" in result.output
    assert "Traceback" not in result.output


def test_docs_catalog_table_is_current() -> None:
    result = runner.invoke(app, ["rules", "check", "--markdown"])
    assert result.exit_code == 0
    docs = (REPO / "docs" / "rules.md").read_text()
    embedded = docs.split("<!-- rules:begin -->\n", 1)[1].split("<!-- rules:end -->", 1)[0]
    assert embedded == result.output, "run: otelperf rules check --markdown, and paste it into docs/rules.md"
