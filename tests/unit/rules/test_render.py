"""The catalog table of docs/rules.md is the one the catalog renders."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from otelperf.cli._app import app

REPO = Path(__file__).resolve().parents[3]


runner = CliRunner()


def test_docs_catalog_table_is_current() -> None:
    result = runner.invoke(app, ["rules", "check", "--markdown"])
    assert result.exit_code == 0
    docs = (REPO / "docs" / "rules.md").read_text()
    embedded = docs.split("<!-- rules:begin -->\n", 1)[1].split("<!-- rules:end -->", 1)[0]
    assert embedded == result.output, "run: otelperf rules check --markdown, and paste it into docs/rules.md"
