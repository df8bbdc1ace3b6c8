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
