"""Runs of ``otelperf demo`` for the end-to-end tests: the real command, its report read back."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from otelperf.rules.report import Report, RuleResult
from tests.e2e.rig import BIN, REPO

# Seconds of load per run: the problems are sized to be found within it (a duration, not a threshold).
LOAD_S = "12"


@dataclass
class DemoRun:
    output: str
    report: Report
    html: Path

    def ranking(self) -> str:
        return "; ".join(
            f"{r.id} ({r.status}, {r.value_text}, {r.evidence.get('worst')})" for r in self.report.ranked()
        )

    def recommendation(self, rule_id: str) -> RuleResult:
        found = [result for result in self.report.ranked() if result.id == rule_id]
        assert found, f"{rule_id} is not recommended: {self.ranking()}\n{self.output[-4000:]}"
        return found[0]


def run_demo(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> DemoRun:
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "OTELPERF_"))}
    clean.update(COLUMNS="200", OTEL_SERVICE_NAME="otelperf-demo", DATABASE_URL=f"sqlite:///{tmp_path}/shop.db")
    clean.update(env or {})
    html = tmp_path / "report.html"
    result = subprocess.run(
        [str(BIN / "otelperf"), "demo", "--duration", LOAD_S, "--out", str(html), *args],
        cwd=REPO,
        env=clean,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert f"HTML report: {html}" in " ".join(output.split()), output[-3000:]
    report = Report.from_dict(json.loads(html.with_suffix(".json").read_text()))
    return DemoRun(output, report, html)
