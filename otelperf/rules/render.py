"""The report for people: a rich table on the terminal, or Markdown for a CI summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

from otelperf.rules.model import CATEGORIES, Rule
from otelperf.rules.report import Report, RuleResult, format_value

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["catalog_markdown", "print_table", "to_markdown"]

_STYLE = {"good": "green", "warn": "yellow", "bad": "red", "insufficient_data": "dim", "error": "magenta"}


def _headline(report: Report) -> str:
    if report.score is None:
        return f"{report.service}: insufficient data for a score ({report.source})"
    return f"{report.service}: score {report.score:.1f}/100, grade {report.grade} ({report.source})"


def print_table(report: Report, console: Console) -> None:
    from rich.table import Table  # the CLI extra; the in-process router needs only Markdown

    console.print(f"[bold]{_headline(report)}[/bold]")
    categories = Table(title="Categories", title_justify="left")
    for column in ("category", "score", "grade"):
        categories.add_column(column)
    for name, entry in report.categories.items():
        categories.add_row(
            name, "insufficient data" if entry["score"] is None else f"{entry['score']:.1f}", entry["grade"] or "-"
        )
    console.print(categories)
    rules = Table(title="Rules", title_justify="left")
    for column in ("rule", "value", "score", "status", *(("vs baseline",) if report.baseline else ())):
        rules.add_column(column)
    for result in report.rules:
        style = _STYLE.get(result.status, "")
        shown = "-" if result.score is None else f"{result.score:.0f}"
        row = [result.id, result.value_text, shown, f"[{style}]{result.status}[/{style}]"]
        rules.add_row(*row, *((_versus(result),) if report.baseline else ()))
    console.print(rules)
    if report.baseline:
        console.print(_baseline_line(report))
    ranked = report.ranked()
    if not ranked:
        console.print("[green]No recommendations: every rule with data is within its targets.[/green]")
        return
    recommendations = Table(title="Recommendations, most important first", title_justify="left", show_lines=True)
    for column in ("#", "rule", "gain", "recommendation"):
        recommendations.add_column(column, overflow="fold")
    for rank, result in enumerate(ranked, 1):
        style = _STYLE[result.status]
        recommendations.add_row(
            str(rank),
            f"[{style}]{result.id}[/{style}]",
            f"+{result.estimated_gain:.1f}",
            _with_evidence(result),
        )
    console.print(recommendations)


def _with_evidence(result: RuleResult) -> str:
    """The recommendation, and the exemplar trace that shows one case of it."""
    text = result.recommendation or ""
    exemplar = result.evidence.get("exemplar")
    if exemplar:
        value = float(exemplar.get("value", 0.0))
        metric = str(exemplar.get("metric", ""))
        seen = f"{value:g}"
        if metric.endswith(("duration", "wait", "lag")):
            seen = f"{value * 1e6:.0f} µs" if value < 0.001 else f"{value * 1000:.1f} ms"
        text += f" Exemplar trace: {exemplar['trace_id']} ({metric} {seen})."
    return text


def _versus(result: RuleResult) -> str:
    regression = result.regression
    if not regression:
        return ""
    mark = " REGRESSED" if regression["regressed"] else ""
    return f"{regression['before']:.0f} -> {regression['after']:.0f} ({regression['delta']:+.1f}){mark}"


def _baseline_line(report: Report) -> str:
    baseline = report.baseline or {}
    regressions = baseline.get("regressions", [])
    against = f"against the baseline of {baseline.get('generated_at')} (score {baseline.get('score')})"
    if not regressions:
        return f"No rule got worse {against} by more than {baseline.get('tolerance'):g} points."
    return (
        f"{len(regressions)} rule(s) got worse {against} by more than {baseline.get('tolerance'):g} points: "
        + ", ".join(regressions)
    )


def to_markdown(report: Report) -> str:
    lines = [f"## {_headline(report)}", "", "| category | score | grade |", "|---|---:|---|"]
    for name, entry in report.categories.items():
        shown = "insufficient data" if entry["score"] is None else f"{entry['score']:.1f}"
        lines.append(f"| {name} | {shown} | {entry['grade'] or '-'} |")
    versus = bool(report.baseline)
    lines += [
        "",
        "| rule | value | score | status |" + (" vs baseline |" if versus else ""),
        "|---|---:|---:|---|" + ("---|" if versus else ""),
    ]
    for result in report.rules:
        shown = "-" if result.score is None else f"{result.score:.0f}"
        extra = f" {_versus(result)} |" if versus else ""
        lines.append(f"| `{result.id}` | {result.value_text} | {shown} | {result.status} |{extra}")
    if versus:
        lines += ["", _baseline_line(report)]
    lines += ["", "### Recommendations", ""]
    ranked = report.ranked()
    lines += [
        f"{rank}. **{result.id}** ({result.status}, +{result.estimated_gain:.1f} points): {_with_evidence(result)}"
        for rank, result in enumerate(ranked, 1)
    ] or ["None: every rule with data is within its targets."]
    return "\n".join(lines) + "\n"


def catalog_markdown(rules: list[Rule]) -> str:
    """The rule catalog as a Markdown table (``docs/rules.md`` embeds it; a test keeps it current)."""
    lines = [
        "| rule | category | measures | good / warn / bad | weight | priority |",
        "|---|---|---|---|---:|---:|",
    ]
    for rule in sorted(rules, key=lambda r: CATEGORIES.index(r.category)):
        t = rule.thresholds
        levels = " / ".join(_threshold_text(rule, value) for value in (t.good, t.warn, t.bad))
        lines.append(
            f"| `{rule.id}` | {rule.category} | {rule.title}: {' '.join(rule.why.split())} | {levels} "
            f"| {rule.weight:g} | {rule.priority} |"
        )
    return "\n".join(lines) + "\n"


def _threshold_text(rule: Rule, value: float) -> str:
    return format_value(rule, value)
