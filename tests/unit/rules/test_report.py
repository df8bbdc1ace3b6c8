"""The report built from a source: recommendations ranked by priority, then by how far past bad."""

from __future__ import annotations

import time

from otelperf.rules import build_report, load_rules
from otelperf.rules.local import LocalSource
from otelperf.rules.report import Report, RuleResult
from tests.unit.rules.conftest import HTTP, histogram


def test_recommendations_rank_causes_before_symptoms_whatever_their_status() -> None:
    now = time.time()
    points = [
        # p95 1 s on /slow (bad symptom, priority 3); 60 % hit ratio (bad cause, priority 1);
        # 1.5 % errors (warn).
        histogram(HTTP, {0.1: 100}, 100, **{"http.route": "/fast"}),
        histogram(HTTP, {1.0: 100}, 100, **{"http.route": "/slow", "http.response.status_code": 200}),
        histogram(HTTP, {0.1: 3}, 3, **{"http.route": "/slow", "http.response.status_code": 503}),
        {**histogram("otelperf.cache.operation.duration", {}, 60, **{"otelperf.cache.result": "hit"}), "time": now},
        {**histogram("otelperf.cache.operation.duration", {}, 40, **{"otelperf.cache.result": "miss"}), "time": now},
    ]
    report = build_report(load_rules(), LocalSource(points), service="shop")
    ranked = report.ranked()
    # The cache (priority 1), then the errors (2, only warn), then the latency it all produces (3, bad).
    order = [r.id for r in ranked]
    assert order == ["cache-hit-ratio", "http-error-ratio", "http-latency-p95", "http-apdex"], order
    assert ranked[1].status == "warn" and ranked[2].status == "bad"
    latency = ranked[2]
    assert latency.evidence["worst"] == "/slow"
    assert latency.recommendation is not None and "/slow" in latency.recommendation
    assert latency.estimated_gain > 0
    assert report.grade is not None and report.score is not None and report.score <= 60
    assert Report.from_dict(report.to_dict()).to_dict() == report.to_dict()


def test_rules_that_both_bottomed_out_rank_by_how_far_past_bad_they_are() -> None:
    """A cache at 57 % (1.3 warn-to-bad steps past bad) and statements all over 500 ms, half their
    time counted over it (4.4 steps): both score 0 with the same weight and priority, so the
    statements rank first."""
    now = time.time()
    points = [
        histogram(HTTP, {0.05: 100}, 100, **{"http.route": "/x"}),
        histogram("db.client.operation.duration", {1.0: 100}, 100, **{"db.operation.name": "SELECT"}),
        {**histogram("otelperf.cache.operation.duration", {}, 57, **{"otelperf.cache.result": "hit"}), "time": now},
        {**histogram("otelperf.cache.operation.duration", {}, 43, **{"otelperf.cache.result": "miss"}), "time": now},
    ]
    report = build_report(load_rules(), LocalSource(points), service="shop")
    ranked = report.ranked()
    assert [r.id for r in ranked[:2]] == ["db-slow-queries", "cache-hit-ratio"], ranking_text(ranked)
    assert ranked[0].score == ranked[1].score == 0 and ranked[0].estimated_gain == ranked[1].estimated_gain


def ranking_text(ranked: list[RuleResult]) -> str:
    return "; ".join(f"{r.id} {r.value_text} {r.score}" for r in ranked)
