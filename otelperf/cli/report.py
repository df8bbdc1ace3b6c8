"""``otelperf report`` and ``otelperf rules``: the performance report from Prometheus, and the rules.

Plain functions the typer commands call (and tests call directly). Machine output (JSON,
Markdown, rule files) goes to stdout; problems go to stderr as one line each.
Exit codes: 0 fine; 1 a gate failed: the score is under ``--fail-under`` (or there is no score to
compare), or a rule got worse than in ``--baseline`` with ``--fail-on-regression``; 2 the report
could not be made (Prometheus unreachable, invalid rule file, unreadable baseline).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console

from otelperf.rules import load_rules
from otelperf.rules.compare import DEFAULT_TOLERANCE, compare, read_report
from otelperf.rules.export import SloTargets, write_rule_files
from otelperf.rules.model import RuleError
from otelperf.rules.prometheus import PrometheusSource, SourceUnavailable, window_seconds
from otelperf.rules.pyroscope import PyroscopeProfiles
from otelperf.rules.render import catalog_markdown, print_table, to_markdown
from otelperf.rules.report import Report, build_report

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
    baseline: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    fail_on_regression: bool = False,
    until: float | None = None,
) -> int:
    try:
        window_seconds(window)
        previous = read_report(baseline) if baseline else None
    except ValueError as exc:
        stderr.print(f"[red]otelperf report:[/red] {exc}", highlight=False)
        return 2
    try:
        rules = load_rules(rules_file)
        source = PrometheusSource(prometheus, service=service, window=window, until=until)
        profiles = PyroscopeProfiles(pyroscope, window=window) if pyroscope else None
        report = build_report(
            rules,
            source,
            service=source.service,
            profiles=profiles,
            grafana_url=grafana,
            pyroscope_url=pyroscope or "",
            charts=output_format == "html",
        )
    except RuleError as exc:
        stderr.print(f"[red]otelperf report: invalid rules[/red]\n{exc}", highlight=False)
        return 2
    except SourceUnavailable as exc:
        stderr.print(f"[red]otelperf report:[/red] {exc}", highlight=False)
        return 2
    regressions = compare(report, previous, tolerance) if previous is not None else []
    write_report(report, output_format)
    return gate(report, fail_under, regressions if fail_on_regression else [])


def write_report(report: Report, output_format: str) -> None:
    """``report`` on stdout as ``table`` (rich), ``json``, ``markdown`` or ``html``."""
    if output_format == "json":
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    elif output_format == "markdown":
        sys.stdout.write(to_markdown(report))
    elif output_format == "html":
        from otelperf.rules.html import to_html

        sys.stdout.write(to_html(report))
    else:
        print_table(report, Console())


def gate(report: Report, fail_under: float | None, regressions: list[str]) -> int:
    """1 (with one line on stderr per failed gate) when the score is under ``fail_under`` or
    ``regressions`` is not empty; else 0."""
    failed = False
    if fail_under is not None and report.score is None:
        stderr.print(f"[red]otelperf report:[/red] no score (insufficient data), so not >= {fail_under:g}")
        failed = True
    elif fail_under is not None and report.score is not None and report.score < fail_under:
        stderr.print(f"[red]otelperf report:[/red] score {report.score:.1f} is under --fail-under {fail_under:g}")
        failed = True
    if regressions:
        tolerance = report.baseline["tolerance"] if report.baseline else DEFAULT_TOLERANCE
        stderr.print(
            f"[red]otelperf report:[/red] {len(regressions)} rule(s) got worse than the baseline by more than "
            f"{tolerance:g} points: {', '.join(regressions)}",
            highlight=False,
        )
        failed = True
    return 1 if failed else 0


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
