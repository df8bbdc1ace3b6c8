"""The command line's own commands and argument checks (settings, metrics, demo, rules export)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from otelperf.cli._app import app
from otelperf.semconv import INSTRUMENTS
from otelperf.settings import settings_table

runner = CliRunner()


def test_export_refuses_a_latency_threshold_that_is_not_a_bucket(tmp_path: Path) -> None:
    result = runner.invoke(app, ["rules", "export", "--out", str(tmp_path), "--latency-threshold", "0.3"])
    assert result.exit_code == 2
    assert "--latency-threshold one of" in result.output
    assert not list(tmp_path.iterdir())


def test_settings_markdown_is_the_generated_table() -> None:
    result = runner.invoke(app, ["settings", "--markdown"])
    assert result.exit_code == 0
    assert result.output.strip() == settings_table()


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


def test_the_metrics_command_lists_every_instrument() -> None:
    result = CliRunner().invoke(app, ["metrics"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    for instrument in INSTRUMENTS.values():
        assert any(instrument.name in line and instrument.prometheus_name in line for line in lines), instrument.name
