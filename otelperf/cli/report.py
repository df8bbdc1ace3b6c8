"""``otelperf report`` and ``otelperf rules``: the performance report from Prometheus, and the rules.

Plain functions the typer commands call (and tests call directly). Machine output (JSON,
Markdown, rule files) goes to stdout; problems go to stderr as one line each.
Exit codes: 0 fine; 1 the score is under ``--fail-under`` (or there is no score to compare);
2 the report could not be made (Prometheus unreachable, invalid rule file).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console

from otelperf.rules import load_rules
from otelperf.rules.export import SloTargets, write_rule_files
from otelperf.rules.model import RuleError
from otelperf.rules.prometheus import PrometheusSource, SourceUnavailable
from otelperf.rules.pyroscope import PyroscopeProfiles
from otelperf.rules.render import catalog_markdown, print_table, to_markdown
from otelperf.rules.report import build_report

stderr = Console(stderr=True, soft_wrap=True)  # one error, one line: never wrapped


def run_report(
    *,
    prometheus: str,
    service: str | None = None,
    window: str = "15m",
    output_format: str = "table",
    fail_under: float | None = None,
    rules_file: str | None = None,
    pyroscope: str | None = None,
    grafana: str = "",
) -> int:
    try:
        rules = load_rules(rules_file)
        source = PrometheusSource(prometheus, service=service, window=window)
        profiles = PyroscopeProfiles(pyroscope, window=window) if pyroscope else None
        report = build_report(rules, source, service=source.service, profiles=profiles, grafana_url=grafana)
    except RuleError as exc:
        stderr.print(f"[red]otelperf report: invalid rules[/red]\n{exc}", highlight=False)
        return 2
    except SourceUnavailable as exc:
        stderr.print(f"[red]otelperf report:[/red] {exc}", highlight=False)
        return 2
    if output_format == "json":
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    elif output_format == "markdown":
        sys.stdout.write(to_markdown(report))
    else:
        print_table(report, Console())
    if fail_under is None:
        return 0
    if report.score is None:
        stderr.print(f"[red]otelperf report:[/red] no score (insufficient data), so not >= {fail_under:g}")
        return 1
    if report.score < fail_under:
        stderr.print(f"[red]otelperf report:[/red] score {report.score:.1f} is under --fail-under {fail_under:g}")
        return 1
    return 0


def run_export(out: Path, rules_file: str | None, slo: SloTargets) -> int:
    try:
        rules = load_rules(rules_file)
    except RuleError as exc:
        stderr.print(f"[red]otelperf rules export: invalid rules[/red]\n{exc}", highlight=False)
        return 2
    for path in write_rule_files(rules, out, slo):
        print(path)
    return 0


def run_check(rules_file: str | None, *, markdown: bool = False) -> int:
    try:
        rules = load_rules(rules_file)
    except RuleError as exc:
        stderr.print(f"[red]invalid rules[/red]\n{exc}", highlight=False)
        return 2
    if markdown:
        sys.stdout.write(catalog_markdown(rules))
        return 0
    for rule in rules:
        print(f"{rule.id:28} {rule.category:13} w={rule.weight:g} p={rule.priority}  {rule.title}  [{rule.source}]")
    return 0
