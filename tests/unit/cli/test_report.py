"""The report and rules check commands: what they print, and one clear line for what they cannot do."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from otelperf.cli._app import app

runner = CliRunner()


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
