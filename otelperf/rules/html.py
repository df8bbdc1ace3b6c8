"""The report as one self-contained HTML page: a score gauge, category scores, the ranked
recommendations with their evidence, links and charts, and each route's top functions.

Everything is in the file: styles inline, charts as inline SVG drawn here, no script, no font or
image to fetch, so the page renders the same from a CI artifact, an e-mail attachment or a
machine without network. Links (Grafana panels, Tempo traces, Pyroscope queries) are plain
anchors: nothing is requested until they are followed. Every text from the report is escaped.

A recommendation's chart is its rule's value over the window (``RuleResult.series``: Prometheus
range queries, or the in-process copies the app keeps) over three bands, good, warn and bad, cut
at the rule's thresholds, with the ``warn`` and ``bad`` lines labelled.
"""

from __future__ import annotations

import datetime
import math
from html import escape
from typing import Any

from otelperf.rules.report import Report, RuleResult, format_unit
from otelperf.version import __version__

__all__ = ["to_html"]

_STATUS_COLOUR = {"good": "#1a7f37", "warn": "#9a6700", "bad": "#cf222e", "insufficient_data": "#6e7781"}
_BAND = {"good": "#dafbe1", "warn": "#fff8c5", "bad": "#ffebe9"}
_CHART_W, _CHART_H, _PAD_L, _PAD_B, _PAD_T = 520, 150, 64, 22, 10

_CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
       margin: 0; background: #f6f8fa; }
main { max-width: 1060px; margin: 0 auto; padding: 24px; }
header.top { display: flex; gap: 32px; align-items: center; background: #fff; border: 1px solid #d0d7de;
             border-radius: 10px; padding: 20px 24px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 10px; }
.muted { color: #656d76; font-size: 13px; }
.categories { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; flex: 1; }
.category { background: #f6f8fa; border-radius: 8px; padding: 8px 10px; }
.category .name { font-size: 13px; color: #656d76; }
.category .score { font-size: 20px; font-weight: 600; }
.meter { height: 6px; background: #d0d7de; border-radius: 3px; overflow: hidden; }
.meter span { display: block; height: 100%; }
.recommendation { background: #fff; border: 1px solid #d0d7de; border-left: 6px solid; border-radius: 10px;
                  padding: 14px 18px; margin: 12px 0; }
.recommendation header { display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; }
.rank { font-weight: 700; font-size: 18px; }
.badge { border-radius: 10px; padding: 1px 8px; font-size: 12px; font-weight: 600; color: #fff; }
.rec-body { display: grid; grid-template-columns: minmax(0, 1fr) 540px; gap: 16px; margin-top: 8px; }
@media (max-width: 980px) { .rec-body { grid-template-columns: 1fr; } }
table { border-collapse: collapse; font-size: 13px; }
td, th { padding: 3px 10px 3px 0; text-align: left; vertical-align: top; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; background: #f6f8fa; padding: 1px 4px;
       border-radius: 4px; word-break: break-all; }
.links a { margin-right: 12px; font-size: 13px; }
.bars { font-size: 13px; }
.bar { display: grid; grid-template-columns: minmax(0, 1fr) 160px 48px; gap: 8px; align-items: center; margin: 2px 0; }
.bar .fill { height: 10px; background: #8250df; border-radius: 2px; }
.routes { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); gap: 12px; }
.route { background: #fff; border: 1px solid #d0d7de; border-radius: 10px; padding: 10px 14px; }
.rules td:nth-child(2), .rules td:nth-child(3) { text-align: right; }
.none { background: #dafbe1; border: 1px solid #4ac26b; border-radius: 10px; padding: 14px 18px; }
footer { margin-top: 28px; }
"""


def to_html(report: Report) -> str:
    """The whole page for ``report``."""
    ranked = report.ranked()
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(_title(report))}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        _header(report),
        _baseline(report),
        f"<h2>Recommendations, most important first ({len(ranked)})</h2>",
    ]
    if ranked:
        parts += [_recommendation(rank, result) for rank, result in enumerate(ranked, 1)]
    else:
        parts.append(
            '<p class="none" id="no-recommendations">'
            "No recommendations: every rule with data is within its targets.</p>"
        )
    parts += [_profiles(report), _rules_table(report)]
    parts.append(
        f'<footer class="muted">otelperf {escape(__version__)} · schema otelperf.report/v1 · '
        f"generated {escape(report.generated_at)} · ranking: causes (priority 1) before what they produce, "
        "then bad before warn, then estimated gain</footer>"
    )
    parts.append("</main></body></html>")
    return "\n".join(part for part in parts if part) + "\n"


def _title(report: Report) -> str:
    shown = "no score" if report.score is None else f"{report.score:.1f}/100 {report.grade}"
    return f"{report.service}: {shown} (otelperf report)"


def _grade_colour(score: float | None) -> str:
    if score is None:
        return _STATUS_COLOUR["insufficient_data"]
    if score >= 90:
        return _STATUS_COLOUR["good"]
    if score >= 70:
        return "#bf8700"
    if score >= 60:
        return "#bc4c00"
    return _STATUS_COLOUR["bad"]


def _header(report: Report) -> str:
    categories = []
    for name, entry in report.categories.items():
        score = entry["score"]
        shown = "no data" if score is None else f"{score:.0f}"
        width = 0 if score is None else max(0.0, min(100.0, score))
        categories.append(
            f'<div class="category" data-category="{escape(name)}">'
            f'<div class="name">{escape(name.replace("_", " "))}</div>'
            f'<div class="score" style="color:{_grade_colour(score)}">{shown}'
            f' <span class="muted">{escape(entry["grade"] or "")}</span></div>'
            f'<div class="meter"><span style="width:{width:.0f}%;background:{_grade_colour(score)}">'
            "</span></div></div>"
        )
    return (
        '<header class="top">'
        + _gauge(report.score, report.grade)
        + f'<div style="flex:1"><h1>{escape(report.service)}</h1>'
        + f'<div class="muted">{escape(report.source)} · {escape(_when(report.generated_at))}</div>'
        + f'<h2 style="margin-top:14px">Categories</h2><div class="categories">{"".join(categories)}</div></div>'
        + "</header>"
    )


def _when(generated_at: str) -> str:
    try:
        return datetime.datetime.fromisoformat(generated_at).strftime("%Y-%m-%d %H:%M:%S %Z")
    except ValueError:
        return generated_at


def _gauge(score: float | None, grade: str | None) -> str:
    """A half-circle gauge, 0 on the left and 100 on the right, the score's arc in its grade's colour."""
    radius, cx, cy = 80.0, 100.0, 100.0
    colour = _grade_colour(score)

    def point(value: float) -> tuple[float, float]:
        angle = math.pi * (1 - value / 100)
        return cx + radius * math.cos(angle), cy - radius * math.sin(angle)

    start, end = point(0), point(100)
    track = f"M {start[0]:.1f} {start[1]:.1f} A {radius} {radius} 0 0 1 {end[0]:.1f} {end[1]:.1f}"
    arc = ""
    if score is not None and score > 0:
        tip = point(max(0.0, min(100.0, score)))
        arc = (
            f'<path d="M {start[0]:.1f} {start[1]:.1f} A {radius} {radius} 0 0 1 {tip[0]:.1f} {tip[1]:.1f}" '
            f'stroke="{colour}" stroke-width="18" fill="none" stroke-linecap="round"/>'
        )
    shown = "-" if score is None else f"{score:.1f}"
    label = grade or "no data"
    return (
        f'<svg id="gauge" class="gauge" role="img" aria-label="score {escape(shown)}, grade {escape(label)}" '
        f'width="200" height="130" viewBox="0 0 200 130">'
        f'<path d="{track}" stroke="#d0d7de" stroke-width="18" fill="none" stroke-linecap="round"/>{arc}'
        f'<text x="100" y="88" text-anchor="middle" font-size="30" font-weight="700" fill="#1f2328">'
        f"{escape(shown)}</text>"
        f'<text x="100" y="120" text-anchor="middle" font-size="22" font-weight="700" fill="{colour}" '
        f'class="grade">{escape(label)}</text></svg>'
    )


def _baseline(report: Report) -> str:
    if not report.baseline:
        return ""
    baseline = report.baseline
    regressions = baseline.get("regressions", [])
    by_id = {result.id: result for result in report.rules}
    items = "".join(
        f"<li><b>{escape(rule_id)}</b>: score {_delta_text(by_id[rule_id].regression)}</li>"
        for rule_id in regressions
        if rule_id in by_id
    )
    before = baseline.get("score")
    headline = (
        f"Against the baseline of {escape(str(baseline.get('generated_at', '?')))} "
        f"(score {before if before is not None else 'none'}; a rule regresses when its score drops by more than "
        f"{baseline.get('tolerance')} points): "
    )
    if not regressions:
        return f'<h2>Baseline</h2><p id="baseline">{headline}no rule got worse.</p>'
    return (
        f'<h2>Baseline</h2><div id="baseline"><p>{headline}{len(regressions)} rule(s) got worse.</p>'
        f"<ul>{items}</ul></div>"
    )


def _delta_text(regression: dict[str, Any] | None) -> str:
    if not regression:
        return ""
    return f"{regression.get('before')} → {regression.get('after')} ({regression.get('delta'):+})"


def _recommendation(rank: int, result: RuleResult) -> str:
    colour = _STATUS_COLOUR.get(result.status, "#6e7781")
    return (
        f'<section class="recommendation" data-rule="{escape(result.id)}" style="border-left-color:{colour}">'
        f'<header><span class="rank">{rank}.</span><b>{escape(result.title)}</b>'
        f"<code>{escape(result.id)}</code>"
        f'<span class="badge" style="background:{colour}">{escape(result.status)}</span>'
        f'<span class="muted">{escape(result.value_text)} · score {_score_text(result.score)} · '
        f"+{result.estimated_gain:.1f} points if fixed · {escape(result.category.replace('_', ' '))}</span></header>"
        f'<div class="rec-body"><div><p>{_prose(result.recommendation or "")}</p>'
        f"{_evidence(result)}{_links(result)}</div>"
        f"<div>{_chart(result)}</div></div></section>"
    )


def _prose(text: str) -> str:
    """Escaped ``text`` with its `quoted` parts (statements, calls) as code."""
    parts = escape(text).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: leave the text as it is
        return escape(text)
    return "".join(f"<code>{part}</code>" if index % 2 else part for index, part in enumerate(parts))


def _score_text(score: float | None) -> str:
    return "-" if score is None else f"{score:.0f}"


def _evidence(result: RuleResult) -> str:
    rows = []
    labels: dict[str, str] = result.evidence.get("labels") or {}
    for attribute, value in labels.items():
        if value:
            rows.append((attribute, f"<code>{escape(value)}</code>"))
    if result.evidence.get("worst_value") and labels:
        rows.append(("there", escape(str(result.evidence["worst_value"]))))
    exemplar = result.evidence.get("exemplar")
    if exemplar:
        trace = f'<code class="trace-id">{escape(exemplar["trace_id"])}</code>'
        if "trace" in result.links:
            trace = f'<a href="{escape(result.links["trace"])}">{trace}</a>'
        value = exemplar.get("value")
        seen = f" ({escape(_exemplar_value(exemplar))})" if isinstance(value, (int, float)) else ""
        rows.append(("exemplar trace", trace + seen))
    body = "".join(f"<tr><th>{escape(name)}</th><td>{cell}</td></tr>" for name, cell in rows)
    table = f'<table class="evidence">{body}</table>' if body else ""
    functions = ""
    if result.top_functions:
        functions = '<div class="muted" style="margin-top:6px">Top self-time functions</div>' + _bars(
            result.top_functions, show_route=not labels.get("http.route")
        )
    return table + functions


def _exemplar_value(exemplar: dict[str, Any]) -> str:
    metric = str(exemplar.get("metric", ""))
    value = float(exemplar["value"])
    if not ("duration" in metric or "wait" in metric or "lag" in metric):
        return f"{value:g}"
    if value < 0.001:
        return f"{value * 1e6:.0f} µs"
    return f"{value * 1000:.1f} ms" if value < 1 else format_unit("s", value)


def _links(result: RuleResult) -> str:
    names = {
        "dashboard": "Grafana dashboard",
        "trace": "Tempo trace",
        "profile": "Pyroscope",
        "profile_grafana": "Profile in Grafana",
    }
    anchors = [
        f'<a href="{escape(url)}">{escape(names[key])}</a>'
        for key, url in result.links.items()
        if key in names and url.startswith(("http://", "https://", "/"))
    ]
    query = result.links.get("profile_query")
    extra = f'<div class="muted">Pyroscope query: <code>{escape(query)}</code></div>' if query else ""
    return (f'<div class="links">{"".join(anchors)}</div>' if anchors else "") + extra


def _bars(functions: list[dict[str, Any]], *, show_route: bool = False) -> str:
    top = max((float(entry["self_share"]) for entry in functions), default=0.0) or 1.0
    rows = []
    for entry in functions:
        share = float(entry["self_share"])
        route = f' <span class="muted">{escape(entry["route"])}</span>' if show_route and entry.get("route") else ""
        rows.append(
            f'<div class="bar"><div><code title="{escape(entry["function"])}">{escape(entry["function"])}</code>'
            f"{route}</div>"
            f'<div class="meter" style="height:10px">'
            f'<span class="fill" style="width:{share / top * 100:.0f}%"></span></div>'
            f"<span>{share:.0%}</span></div>"
        )
    return f'<div class="bars">{"".join(rows)}</div>'


def _chart(result: RuleResult) -> str:
    """The rule's value over the window, on good / warn / bad bands cut at its thresholds."""
    points = [(float(at), float(value)) for at, value in result.series if math.isfinite(value)]
    if len(points) < 2:
        return '<div class="chart-missing muted">No chart: too few samples in the window.</div>'
    relative = result.value_text.endswith("%/h")
    good, warn, bad = (float(result.thresholds[key]) for key in ("good", "warn", "bad"))
    values = [value for _, value in points]
    low = min(0.0, *values, good, warn, bad)
    high = max(*values, bad + (bad - warn) * 0.5) if bad > good else max(*values, good + (good - warn) * 0.25)
    if high <= low:
        high = low + 1.0
    start, end = points[0][0], points[-1][0]
    width, height = _CHART_W - _PAD_L - 8, _CHART_H - _PAD_B - _PAD_T

    def x(at: float) -> float:
        return _PAD_L + (at - start) / ((end - start) or 1.0) * width

    def y(value: float) -> float:
        return _PAD_T + (1 - (value - low) / (high - low)) * height

    higher_is_better = good > bad
    # Bands from the bottom of the chart up: bad, warn, good when higher is better; the reverse otherwise.
    edges = [low, bad, warn, high] if higher_is_better else [low, warn, bad, high]
    names = ["bad", "warn", "good"] if higher_is_better else ["good", "warn", "bad"]
    bands = "".join(
        f'<rect class="band-{name}" x="{_PAD_L}" y="{y(top):.1f}" width="{width}" '
        f'height="{max(0.0, y(bottom) - y(top)):.1f}" fill="{_BAND[name]}"/>'
        for name, bottom, top in zip(names, edges, edges[1:], strict=False)
        if top > bottom
    )
    # The warn label at the left end of its line, the bad one at the right: close lines stay readable.
    lines = "".join(
        f'<line class="threshold-{name}" x1="{_PAD_L}" x2="{_PAD_L + width}" y1="{y(level):.1f}" y2="{y(level):.1f}" '
        f'stroke="{_STATUS_COLOUR[name]}" stroke-dasharray="4 3"/>'
        f'<text x="{_PAD_L + 4 if name == "warn" else _PAD_L + width - 4}" y="{y(level) - 3:.1f}" '
        f'text-anchor="{"start" if name == "warn" else "end"}" font-size="10" '
        f'fill="{_STATUS_COLOUR[name]}">{name} {escape(format_unit(result.unit, level, relative=relative))}</text>'
        for name, level in (("warn", warn), ("bad", bad))
        if low <= level <= high
    )
    path = " ".join(f"{x(at):.1f},{y(value):.1f}" for at, value in points)
    axis = (
        f'<text x="{_PAD_L - 6}" y="{y(high) + 4:.1f}" text-anchor="end" font-size="10" fill="#656d76">'
        f"{escape(format_unit(result.unit, high, relative=relative))}</text>"
        f'<text x="{_PAD_L - 6}" y="{y(low):.1f}" text-anchor="end" font-size="10" fill="#656d76">'
        f"{escape(format_unit(result.unit, low, relative=relative))}</text>"
        f'<text x="{_PAD_L}" y="{_CHART_H - 6}" font-size="10" fill="#656d76">0 s</text>'
        f'<text x="{_PAD_L + width}" y="{_CHART_H - 6}" text-anchor="end" font-size="10" fill="#656d76">'
        f"{end - start:.0f} s</text>"
    )
    return (
        f'<svg class="chart" data-rule="{escape(result.id)}" role="img" width="{_CHART_W}" height="{_CHART_H}" '
        f'viewBox="0 0 {_CHART_W} {_CHART_H}" aria-label="{escape(result.title)} over the window">'
        f"{bands}{lines}"
        f'<polyline points="{path}" fill="none" stroke="#0969da" stroke-width="2"/>{axis}</svg>'
        f'<div class="muted">{escape(result.title)} over the window, the value the rule scores</div>'
    )


def _profiles(report: Report) -> str:
    routes: dict[str, list[dict[str, Any]]] = report.profiles.get("routes", {}) if report.profiles else {}
    if not routes:
        note = report.profiles.get("error", "") if report.profiles else ""
        if not report.profiles:
            return ""
        return f'<h2>Profiles</h2><p class="muted">No profile samples in the window. {escape(note)}</p>'
    cards = []
    for route, functions in sorted(routes.items()):
        link = report.profiles.get("links", {}).get(route, {})
        query = link.get("profile_query") or report.profiles.get("queries", {}).get(route, "")
        anchor = ""
        for key, name in (("profile", "Pyroscope"), ("profile_grafana", "Grafana")):
            if key in link:
                anchor += f' <a href="{escape(link[key])}">{name}</a>'
        cards.append(
            f'<div class="route profile" data-route="{escape(route)}"><b>{escape(route)}</b>{anchor}'
            f"{_bars(functions)}"
            f'<div class="muted">query: <code>{escape(query)}</code></div></div>'
        )
    return (
        "<h2>Where each route spends its CPU (top self-time functions)</h2>"
        f'<div class="routes" id="profiles">{"".join(cards)}</div>'
    )


def _rules_table(report: Report) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(result.id)}</code></td><td>{escape(result.value_text)}</td>"
        f"<td>{_score_text(result.score)}</td>"
        f'<td style="color:{_STATUS_COLOUR.get(result.status, "#6e7781")}">'
        f"{escape(result.status.replace('_', ' '))}</td>"
        f"<td>{escape(result.title)}</td></tr>"
        for result in report.rules
    )
    return (
        '<h2>Every rule</h2><table class="rules"><tr><th>rule</th><th>value</th><th>score</th><th>status</th>'
        f"<th>measures</th></tr>{rows}</table>"
    )
