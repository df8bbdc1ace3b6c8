"""Evaluates every rule against a source and ranks what to fix first.

The report (JSON schema ``otelperf.report/v1``, documented in ``docs/rules.md``) holds the overall
score and grade, a score per category, every rule's value, status and evidence, and the ranked
recommendations. Ranking: ``bad`` before ``warn``; then the rule's priority (causes such as an
N+1 pattern or a blocked event loop come before symptoms such as p95 latency); then the estimated
gain in overall score if the rule were fixed; then how far past ``bad`` the value is.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from otelperf.rules.local import MeasureError
from otelperf.rules.model import CATEGORIES, Rule
from otelperf.rules.prometheus import QueryError
from otelperf.rules.scoring import grade, overall_score, score, status, weighted_mean

__all__ = ["SCHEMA", "Report", "RuleResult", "Source", "build_report", "format_value"]

SCHEMA = "otelperf.report/v1"
_SEVERITY = {"bad": 2, "warn": 1}
_BREAKDOWN_ROWS = 5


class Source(Protocol):
    def describe(self) -> str: ...
    def evaluate(self, rule: Rule, by: tuple[str, ...]) -> dict[tuple[str, ...], float]: ...


class ProfileLookup(Protocol):
    def top_functions(self, service: str, route: str | None) -> tuple[str, list[tuple[str, float]]]: ...


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
) -> Report:
    results = [_evaluate(rule, source, service, grafana_url) for rule in rules]
    scored = [(result.score, result.weight) for result in results if result.score is not None]
    overall = overall_score(scored)
    total_weight = sum(weight for _, weight in scored)
    for result in results:
        if result.score is not None and total_weight:
            result.estimated_gain = round((100.0 - result.score) * result.weight / total_weight, 1)
    ranked = sorted(
        (result for result in results if result.status in _SEVERITY),
        key=lambda r: (-_SEVERITY[r.status], r.priority, -r.estimated_gain, -_overshoot(r), r.id),
    )
    if profiles is not None:
        for result, rule in ((result, next(r for r in rules if r.id == result.id)) for result in ranked):
            if rule.profile_link:
                _attach_profile(result, rule, service, profiles)
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
    )


def _evaluate(rule: Rule, source: Source, service: str, grafana_url: str) -> RuleResult:
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
    result.evidence = {"value": result.value, "worst": worst_text or "(unlabelled)", "worst_value": worst_value}
    if result.status in _SEVERITY:
        result.recommendation = rule.recommendation.format(
            value=result.value_text,
            worst=result.evidence["worst"],
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


def _attach_profile(result: RuleResult, rule: Rule, service: str, profiles: ProfileLookup) -> None:
    route = result.evidence.get("worst") if "http.route" in rule.by else None
    try:
        query, functions = profiles.top_functions(service, route)
    except Exception as exc:  # noqa: BLE001 - a profile lookup never spoils the report
        result.detail = f"Pyroscope lookup failed: {exc}"
        return
    result.links["profile_query"] = query
    result.top_functions = [{"function": name, "self_share": round(share, 4)} for name, share in functions]
    if functions and result.recommendation:
        named = ", ".join(f"{name} ({share:.0%} of self time)" for name, share in functions[:3])
        result.recommendation += f" Top self-time functions there: {named}."


def _links(rule: Rule, service: str, grafana_url: str) -> dict[str, str]:
    if not rule.dashboard:
        return {}
    return {"dashboard": f"{grafana_url.rstrip('/')}/d/{rule.dashboard}?var-service={service}"}


def format_value(rule: Rule, value: float) -> str:
    unit = rule.unit
    if unit == "s":
        return f"{value * 1000:.0f} ms" if abs(value) < 1 else f"{value:.2f} s"
    if unit == "ratio":
        return f"{value * 100:.1f} %" if abs(value) >= 0.001 or value == 0 else f"{value * 100:.3f} %"
    if unit == "per_hour":
        return (
            f"{value * 100:+.1f} %/h" if rule.measure.kind == "trend" and rule.measure.relative else f"{value:+.1f}/h"
        )
    if unit == "per_s":
        return f"{value:.2f}/s"
    return f"{value:.2f}" if unit == "score" else f"{value:.3f}"


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)
