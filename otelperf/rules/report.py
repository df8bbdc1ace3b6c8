"""Evaluates every rule against a source and ranks what to fix first.

The report (JSON schema ``otelperf.report/v1``, documented in ``docs/rules.md``) holds the overall
score and grade, a score per category, every rule's value, status and evidence, and the ranked
recommendations. Ranking: the rule's priority first, so that a cause (an N+1 pattern, a blocked
event loop: priority 1) comes before the symptoms it produces (p95 latency: priority 3) whatever
their statuses; then ``bad`` before ``warn``; then the estimated gain in overall score if the rule
were fixed; then how far past ``bad`` the value is.

Evidence, besides the value: the worst group of the rule's ``by`` attributes (a route, a statement,
a cache, a pool), an exemplar (the trace of one slow observation there) where the source has one,
the route's top self-time functions where a profile source is given, and, with ``charts``, the
rule's value over the window for each recommendation.
"""

from __future__ import annotations

import datetime
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote

from otelperf.rules.local import MeasureError
from otelperf.rules.model import CATEGORIES, Rule
from otelperf.rules.prometheus import QueryError
from otelperf.rules.scoring import grade, overall_score, score, status, weighted_mean

__all__ = ["SCHEMA", "Report", "RuleResult", "Source", "build_report", "format_unit", "format_value"]

SCHEMA = "otelperf.report/v1"
_SEVERITY = {"bad": 2, "warn": 1}
_BREAKDOWN_ROWS = 5


class Source(Protocol):
    def describe(self) -> str: ...
    def evaluate(self, rule: Rule, by: tuple[str, ...]) -> dict[tuple[str, ...], float]: ...


@runtime_checkable
class EvidenceSource(Protocol):
    """What a source may offer beyond values: exemplars and the rule's value over time."""

    def exemplar(self, metric: str, labels: dict[str, str]) -> dict[str, Any] | None: ...
    def series(self, rule: Rule) -> list[tuple[float, float]]: ...


class ProfileLookup(Protocol):
    def top_functions(self, service: str, route: str | None) -> tuple[str, list[tuple[str, float]]]: ...


# The histogram whose exemplars stand for a rule's observations, when its measure is not one.
_REQUEST_METRIC = "http.server.request.duration"
_HISTOGRAM_KINDS = ("quantile", "apdex", "share_above")


@dataclass
class RuleResult:
    id: str
    category: str
    title: str
    status: str  # good | warn | bad | insufficient_data | error
    value: float | None
    value_text: str
    score: float | None
    weight: float
    priority: int
    thresholds: dict[str, float]
    unit: str
    breakdown: list[dict[str, Any]] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    recommendation: str | None = None
    estimated_gain: float = 0.0
    links: dict[str, str] = field(default_factory=dict)
    top_functions: list[dict[str, Any]] = field(default_factory=list)
    detail: str = ""
    series: list[list[float]] = field(default_factory=list)  # [[unix time, value], ...] with charts
    regression: dict[str, Any] | None = None  # with a baseline: {"score", "value", "delta", "regressed"}


@dataclass
class Report:
    service: str
    source: str
    generated_at: str
    score: float | None
    grade: str | None
    categories: dict[str, dict[str, Any]]
    rules: list[RuleResult]
    recommendations: list[str]
    # Each route's top self-time functions: {"source", "query", "routes": {route: [{function, self_share}]}}.
    profiles: dict[str, Any] = field(default_factory=dict)
    # Against a baseline report: {"generated_at", "score", "tolerance", "regressions": [rule ids]}.
    baseline: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """A report read back from its JSON form (what ``/performance/report`` serves)."""
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not an {SCHEMA} report (schema: {data.get('schema')!r})")
        fields = {key: value for key, value in data.items() if key != "schema"}
        fields["rules"] = [RuleResult(**rule) for rule in data["rules"]]
        return cls(**fields)

    def ranked(self) -> list[RuleResult]:
        by_id = {result.id: result for result in self.rules}
        return [by_id[rule_id] for rule_id in self.recommendations]


def build_report(
    rules: list[Rule],
    source: Source,
    *,
    service: str,
    profiles: ProfileLookup | None = None,
    grafana_url: str = "",
    pyroscope_url: str = "",
    charts: bool = False,
) -> Report:
    """Evaluate ``rules`` on ``source``. ``profiles``: where top functions come from;
    ``grafana_url`` / ``pyroscope_url``: bases of the links; ``charts``: each recommendation's
    value over the window (a query per point for Prometheus, the kept copies in-process)."""
    routes: set[str] = set()
    results = [_evaluate(rule, source, service, grafana_url, routes) for rule in rules]
    scored = [(result.score, result.weight) for result in results if result.score is not None]
    overall = overall_score(scored)
    total_weight = sum(weight for _, weight in scored)
    for result in results:
        if result.score is not None and total_weight:
            result.estimated_gain = round((100.0 - result.score) * result.weight / total_weight, 1)
    ranked = sorted(
        (result for result in results if result.status in _SEVERITY),
        key=lambda r: (r.priority, -_SEVERITY[r.status], -r.estimated_gain, -_overshoot(r), r.id),
    )
    by_id = {rule.id: rule for rule in rules}
    if isinstance(source, EvidenceSource):
        for result in ranked:
            _attach_exemplar(result, by_id[result.id], source, grafana_url)
            if charts:
                _attach_series(result, by_id[result.id], source)
    profile_section: dict[str, Any] = {}
    if profiles is not None:
        profile_section = _route_profiles(service, sorted(routes), profiles, grafana_url, pyroscope_url)
        for result in ranked:
            if by_id[result.id].profile_link:
                _attach_profile(
                    result,
                    by_id[result.id],
                    service,
                    profiles,
                    section=profile_section,
                    grafana_url=grafana_url,
                    pyroscope_url=pyroscope_url,
                )
    categories: dict[str, dict[str, Any]] = {}
    for category in CATEGORIES:
        members = [result for result in results if result.category == category]
        if not members:
            continue
        category_score = weighted_mean((r.score, r.weight) for r in members if r.score is not None)
        categories[category] = {
            "score": _round(category_score),
            "grade": grade(category_score) if category_score is not None else None,
            "rules": [r.id for r in members],
            "insufficient_data": category_score is None,
        }
    return Report(
        service=service,
        source=source.describe(),
        generated_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        score=_round(overall),
        grade=grade(overall) if overall is not None else None,
        categories=categories,
        rules=results,
        recommendations=[result.id for result in ranked],
        profiles=profile_section,
    )


def _evaluate(rule: Rule, source: Source, service: str, grafana_url: str, routes: set[str]) -> RuleResult:
    result = RuleResult(
        id=rule.id,
        category=rule.category,
        title=rule.title,
        status="insufficient_data",
        value=None,
        value_text="insufficient data",
        score=None,
        weight=rule.weight,
        priority=rule.priority,
        thresholds={"good": rule.thresholds.good, "warn": rule.thresholds.warn, "bad": rule.thresholds.bad},
        unit=rule.unit,
        links=_links(rule, service, grafana_url),
    )
    try:
        overall = source.evaluate(rule, ())
        groups = source.evaluate(rule, rule.by) if rule.by else {}
    except (MeasureError, QueryError) as exc:
        result.status, result.value_text, result.detail = "error", "error", str(exc)
        return result
    if "http.route" in rule.by:
        position = rule.by.index("http.route")
        routes.update(group[position] for group in groups if group[position])
    worse_first = sorted(groups.items(), key=lambda item: item[1], reverse=not rule.thresholds.higher_is_better)
    result.breakdown = [
        {
            "labels": dict(zip(rule.by, group, strict=True)),
            "value": _round(value, 6),
            "value_text": format_value(rule, value),
        }
        for group, value in worse_first[:_BREAKDOWN_ROWS]
    ]
    value = worse_first[0][1] if rule.score_on == "worst" and worse_first else overall.get((), math.nan)
    if math.isnan(value):
        result.detail = "no samples in the window" if rule.measure.kind != "trend" else "not enough history"
        return result
    result.value = _round(value, 6)
    result.value_text = format_value(rule, value)
    result.score = _round(score(value, rule.thresholds))
    result.status = status(value, rule.thresholds)
    worst_text = " ".join(part for part in worse_first[0][0] if part) if worse_first else "the service"
    worst_value = format_value(rule, worse_first[0][1]) if worse_first else result.value_text
    labels = dict(zip(rule.by, worse_first[0][0], strict=True)) if worse_first else {}
    result.evidence = {
        "value": result.value,
        "worst": worst_text or "(unlabelled)",
        "worst_value": worst_value,
        "labels": labels,
    }
    if result.status in _SEVERITY:
        result.recommendation = rule.recommendation.format(
            value=result.value_text,
            worst=result.evidence["worst"],
            worst_labels={attribute: value or "(none)" for attribute, value in labels.items()},
            worst_value=worst_value,
            good=format_value(rule, rule.thresholds.good),
            warn=format_value(rule, rule.thresholds.warn),
            bad=format_value(rule, rule.thresholds.bad),
            title=rule.title,
        )
    return result


def _overshoot(result: RuleResult) -> float:
    """How far past ``bad`` the value is, in units of the warn-to-bad distance: orders rules whose
    scores (and so gains) have both bottomed out at 0."""
    if result.value is None:
        return 0.0
    warn, bad = result.thresholds["warn"], result.thresholds["bad"]
    return (result.value - bad) / (bad - warn)


def _attach_profile(
    result: RuleResult,
    rule: Rule,
    service: str,
    profiles: ProfileLookup,
    *,
    section: dict[str, Any],
    grafana_url: str,
    pyroscope_url: str,
) -> None:
    route = result.evidence.get("labels", {}).get("http.route") if "http.route" in rule.by else None
    try:
        query, functions = profiles.top_functions(service, route)
    except Exception as exc:  # noqa: BLE001 - a profile lookup never spoils the report
        result.detail = f"profile lookup failed: {type(exc).__name__}: {exc}"
        return
    result.links.update(_profile_links(query, grafana_url, pyroscope_url))
    routes = section.get("routes", {})
    result.top_functions = [
        {"function": name, "self_share": round(share, 4), "route": _busiest_route(name, routes)}
        for name, share in functions
    ]
    if functions and result.recommendation:
        named = ", ".join(_function_text(entry, with_route=route is None) for entry in result.top_functions[:3])
        result.recommendation += f" Top self-time functions there: {named}."


def _function_text(entry: dict[str, Any], *, with_route: bool) -> str:
    where = f", in {entry['route']}" if with_route and entry.get("route") else ""
    return f"{entry['function']} ({entry['self_share']:.0%} of self time{where})"


def _route_profiles(
    service: str, routes: list[str], profiles: ProfileLookup, grafana_url: str, pyroscope_url: str
) -> dict[str, Any]:
    """Each route's top self-time functions; a failed lookup leaves the route out (and says why)."""
    section: dict[str, Any] = {"routes": {}, "queries": {}, "links": {}}
    for route in routes:
        try:
            query, functions = profiles.top_functions(service, route)
        except Exception as exc:  # noqa: BLE001 - a profile lookup never spoils the report
            section["error"] = f"{type(exc).__name__}: {exc}"
            continue
        section["queries"][route] = query
        section["links"][route] = _profile_links(query, grafana_url, pyroscope_url)
        if functions:
            section["routes"][route] = [{"function": name, "self_share": round(share, 4)} for name, share in functions]
    return section


def _busiest_route(function: str, routes: dict[str, list[dict[str, Any]]]) -> str:
    """The route in whose profile ``function`` has the largest self-time share ("" if none has it)."""
    shares = [
        (entry["self_share"], route)
        for route, entries in routes.items()
        for entry in entries
        if entry["function"] == function
    ]
    return max(shares)[1] if shares else ""


def _attach_exemplar(result: RuleResult, rule: Rule, source: EvidenceSource, grafana_url: str) -> None:
    """The trace of the slowest observation of the worst group, from the rule's histogram (or, for a
    rule by route on another metric, from the route's request durations)."""
    labels: dict[str, str] = result.evidence.get("labels", {})
    measure = rule.measure
    if measure.kind in _HISTOGRAM_KINDS:
        metric, wanted = measure.metric, labels
    elif measure.numerator is not None and measure.numerator.field in ("count", "sum"):
        metric, wanted = measure.numerator.metric, labels
    elif "http.route" in labels:
        metric, wanted = _REQUEST_METRIC, {"http.route": labels["http.route"]}
    else:
        return
    try:
        exemplar = source.exemplar(metric, {key: value for key, value in wanted.items() if value})
    except Exception as exc:  # noqa: BLE001 - evidence never spoils the report
        result.detail = result.detail or f"exemplar lookup failed: {type(exc).__name__}: {exc}"
        return
    if exemplar is None:
        return
    result.evidence["exemplar"] = {**exemplar, "metric": metric}
    if grafana_url:
        result.links["trace"] = _explore(
            grafana_url,
            {"refId": "A", "datasource": {"type": "tempo", "uid": "tempo"}, "queryType": "traceql"}
            | {"query": exemplar["trace_id"]},
        )


def _attach_series(result: RuleResult, rule: Rule, source: EvidenceSource) -> None:
    try:
        points = source.series(rule)
    except Exception as exc:  # noqa: BLE001 - a chart never spoils the report
        result.detail = result.detail or f"chart query failed: {type(exc).__name__}: {exc}"
        return
    result.series = [[round(at, 3), _round(value, 6) or 0.0] for at, value in points if math.isfinite(value)]


def _profile_links(query: str, grafana_url: str, pyroscope_url: str) -> dict[str, str]:
    links = {"profile_query": query}
    if pyroscope_url:
        links["profile"] = f"{pyroscope_url.rstrip('/')}/?query={quote(query)}"
    if grafana_url:
        selector = query[query.index("{") :] if "{" in query else "{}"
        links["profile_grafana"] = _explore(
            grafana_url,
            {
                "refId": "A",
                "datasource": {"type": "grafana-pyroscope-datasource", "uid": "pyroscope"},
                "queryType": "profile",
                "profileTypeId": query.split("{", 1)[0],
                "labelSelector": selector,
            },
        )
    return links


def _explore(grafana_url: str, query: dict[str, Any]) -> str:
    """A Grafana Explore link running ``query`` over the last hour."""
    panes = {
        "otelperf": {
            "datasource": query["datasource"]["uid"],
            "queries": [query],
            "range": {"from": "now-1h", "to": "now"},
        }
    }
    return f"{grafana_url.rstrip('/')}/explore?schemaVersion=1&panes={quote(json.dumps(panes, separators=(',', ':')))}"


def _links(rule: Rule, service: str, grafana_url: str) -> dict[str, str]:
    if not rule.dashboard:
        return {}
    return {"dashboard": f"{grafana_url.rstrip('/')}/d/{rule.dashboard}?var-service={service}"}


def format_value(rule: Rule, value: float) -> str:
    return format_unit(rule.unit, value, relative=rule.measure.kind == "trend" and rule.measure.relative)


def format_unit(unit: str, value: float, *, relative: bool = False) -> str:
    """``value`` as the report writes a value of ``unit`` (``relative``: a per-hour trend in %)."""
    if unit == "s":
        return f"{value * 1000:.0f} ms" if abs(value) < 1 else f"{value:.2f} s"
    if unit == "ratio":
        return f"{value * 100:.1f} %" if abs(value) >= 0.001 or value == 0 else f"{value * 100:.3f} %"
    if unit == "per_hour":
        return f"{value * 100:+.1f} %/h" if relative else f"{value:+.1f}/h"
    if unit == "per_s":
        return f"{value:.2f}/s"
    return f"{value:.2f}" if unit == "score" else f"{value:.3f}"


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)
