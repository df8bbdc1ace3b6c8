"""The rule catalog, loader, scoring and in-process evaluation (no network)."""

from __future__ import annotations

import math
import time
from pathlib import Path

import httpx
import pytest

from otelperf.rules import build_report, load_catalog, load_rules
from otelperf.rules._names import PROMETHEUS_NAMES
from otelperf.rules.local import LocalSource, bucket_quantile, time_over
from otelperf.rules.model import CATEGORIES, Rule, RuleError, Thresholds
from otelperf.rules.prometheus import PrometheusSource, SourceUnavailable
from otelperf.rules.pyroscope import self_time_by_function
from otelperf.rules.report import Report, RuleResult
from otelperf.rules.scoring import grade, overall_score, score, status

HTTP = "http.server.request.duration"
BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0]


def histogram(name: str, counts_by_bound: dict[float, int], total: int, **attributes: object) -> dict[str, object]:
    """A cumulative histogram point whose bucket at each listed bound holds the given count (each
    observation at its bucket's upper bound, those past the last bound at twice it)."""
    counts = [counts_by_bound.get(bound, 0) for bound in BOUNDS]
    counts.append(total - sum(counts))
    observed = sum(count * bound for count, bound in zip(counts, [*BOUNDS, 2 * BOUNDS[-1]], strict=True))
    now = time.time()
    return {
        "name": name,
        "kind": "histogram",
        "attributes": attributes,
        "start": now - 100,
        "time": now,
        "count": total,
        "sum": observed,
        "bucket_counts": counts,
        "explicit_bounds": BOUNDS,
    }


def test_catalog_covers_every_category_and_names_only_known_metrics() -> None:
    rules = load_catalog()
    assert {rule.category for rule in rules.values()} == set(CATEGORIES)
    assert len(rules) >= 15
    measured = set()
    for rule in rules.values():
        measure = rule.measure
        terms = [term for term in (measure.numerator, measure.denominator) if term is not None]
        measured.update([measure.metric] if measure.metric else [term.metric for term in terms])
    assert measured and measured <= set(PROMETHEUS_NAMES), measured - set(PROMETHEUS_NAMES)


def test_a_broken_rule_file_reports_every_error_with_file_rule_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "mine.yaml"
    bad.write_text(
        """
rules:
  - id: my-latency
    category: latency
    title: x
    measure: {kind: quantile, metric: http.server.request.duration, quantile: 1.5}
    unit: s
    thresholds: {good: 0.5, warn: 0.1, bad: 1}
    weight: 1
    priority: 1
    why: x
    recommendation: "{value} then {nonsense}"
    colour: blue
  - id: http-latency-p95
    thresholds: {good: 0.1, warn: 0.2}
  - id: my-cache
    category: caching
    title: y
    measure: {kind: ratio, numerator: {metric: redis.hits, field: rate}}
    unit: ratio
    thresholds: {good: 1, warn: 0.5, bad: 0.1}
    weight: 0
    priority: 1
    why: y
    recommendation: y
"""
    )
    with pytest.raises(RuleError) as caught:
        load_rules(bad)
    message = str(caught.value)
    for expected in (
        f"{bad}: rule 'my-latency', field 'colour': unknown key",
        f"{bad}: rule 'my-latency', field 'thresholds': good, warn, bad must be strictly ordered",
        f"{bad}: rule 'my-latency', field 'measure.quantile': must be a number between 0 and 1",
        f"{bad}: rule 'my-latency', field 'recommendation': unknown template field(s) ['nonsense']",
        f"{bad}: rule 'http-latency-p95', field 'thresholds.bad': required",
        f"{bad}: rule 'my-cache', field 'category': 'caching' is not one of",
        f"{bad}: rule 'my-cache', field 'measure.numerator.metric': 'redis.hits' is not a metric otelperf knows",
        f"{bad}: rule 'my-cache', field 'weight': must be > 0",
    ):
        assert expected in message, f"missing {expected!r} in:\n{message}"


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("rules:\n  - id: x\n    title: [unclosed\n")
    with pytest.raises(RuleError, match=r"broken.yaml: not valid YAML at line \d+"):
        load_rules(bad)


def test_a_user_file_changes_disables_and_adds_rules(tmp_path: Path) -> None:
    mine = tmp_path / "rules.yaml"
    mine.write_text(
        """
rules:
  - id: http-latency-p95
    thresholds: {good: 0.3, warn: 0.6, bad: 1.2}
  - id: cache-hit-ratio
    enabled: false
  - id: checkout-errors
    category: errors
    title: Checkout failures
    measure: {kind: promql, expr: 'sum by ($by) (rate(checkout_failures_total{$selector}[$window]))'}
    unit: per_s
    thresholds: {good: 0, warn: 0.1, bad: 1}
    weight: 2
    priority: 1
    why: Failed checkouts lose money.
    recommendation: "{value} checkouts fail."
"""
    )
    rules = {rule.id: rule for rule in load_rules(mine)}
    assert rules["http-latency-p95"].thresholds == Thresholds(0.3, 0.6, 1.2)
    assert rules["http-latency-p95"].measure == load_catalog()["http-latency-p95"].measure
    assert "cache-hit-ratio" not in rules
    assert rules["checkout-errors"].measure.kind == "promql"
    assert rules["checkout-errors"].source == str(mine)


def test_score_is_piecewise_between_thresholds_in_both_directions() -> None:
    lower = Thresholds(0.1, 0.2, 0.5)
    assert score(0.05, lower) == 100
    assert score(0.175, lower) == pytest.approx(81.25)
    assert score(0.2, lower) == pytest.approx(75)
    assert score(0.5, lower) == pytest.approx(25)
    assert score(0.8, lower) == 0
    higher = Thresholds(0.9, 0.8, 0.7)
    assert score(0.95, higher) == 100
    assert score(0.8, higher) == pytest.approx(75)
    assert score(0.5, higher) == 0
    assert [status(v, higher) for v in (0.85, 0.75, 0.6)] == ["good", "warn", "bad"]
    assert [grade(v) for v in (100, 97, 92.9, 85, 72, 59.9)] == ["A+", "A+", "A-", "B", "C-", "F"]


def test_overall_score_is_capped_by_the_worst_rule() -> None:
    assert overall_score([(100, 10), (0, 1)]) == 60
    assert overall_score([(100, 1), (80, 1)]) == 90
    assert overall_score([]) is None


def test_bucket_quantile_interpolates_like_prometheus() -> None:
    # 90 observations up to 0.1, 10 more up to 0.25: p95 sits halfway into the (0.1, 0.25] bucket.
    assert bucket_quantile(0.95, [0.1, 0.25], [90, 10, 0]) == pytest.approx(0.175)
    # Rank in the +Inf bucket: the highest finite bound.
    assert bucket_quantile(0.99, [0.1, 0.25], [50, 0, 50]) == 0.25
    assert math.isnan(bucket_quantile(0.5, [0.1], [0, 0]))


def test_in_process_values_match_the_promtool_scenario() -> None:
    """tests/promtool/scores.test.yml computes 0.175 s, 81.25, 88.75 and 94.375 in Prometheus from
    the same distribution; the in-process evaluation must give the same numbers."""
    points = [histogram(HTTP, {0.1: 90, 0.25: 10}, 100, **{"http.route": "/items/{id}"})]
    report = build_report(load_rules(), LocalSource(points), service="shop")
    results = {result.id: result for result in report.rules}
    assert results["http-latency-p95"].value == pytest.approx(0.175)
    assert results["http-latency-p95"].score == 81.2  # 81.25, rounded to one decimal in the report
    assert results["http-apdex"].value == pytest.approx(0.95)
    assert results["http-error-ratio"].value == 0 and results["db-n-plus-one"].value == 0
    assert report.categories["latency"]["score"] == pytest.approx(88.75, abs=0.06)
    assert report.score == pytest.approx(94.375, abs=0.06)
    # No data is "insufficient data", never a perfect score.
    assert results["cache-hit-ratio"].status == "insufficient_data" and results["cache-hit-ratio"].score is None
    assert report.categories["cache"] == {
        "score": None,
        "grade": None,
        "rules": ["cache-hit-ratio"],
        "insufficient_data": True,
    }


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


def test_trends_need_their_minimum_history() -> None:
    start = time.time() - 900
    rising = [(start + i * 60, {("process.thread.count", ()): 10.0 + i}) for i in range(16)]  # +1 per minute
    rule = load_catalog()["thread-growth"]
    assert LocalSource([], rising).evaluate(rule, ()) == {(): pytest.approx(60.0)}
    assert LocalSource([], rising[-5:]).evaluate(rule, ()) == {}  # 4 minutes < 10 minutes


def test_prometheus_source_renders_the_rule_and_reads_vectors() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params["query"])
        result = [
            {"metric": {"http_route": "/a", "job": "shop"}, "value": [0, "0.3"]},
            {"metric": {}, "value": [0, "NaN"]},
        ]
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": result}})

    client = httpx.Client(transport=httpx.MockTransport(answer))
    source = PrometheusSource("http://prom", service="shop", window="5m", client=client)
    rule: Rule = load_catalog()["http-latency-p95"]
    assert source.evaluate(rule, ("http.route",)) == {("/a",): 0.3}  # NaN dropped
    assert seen[-1] == (
        "histogram_quantile(0.95, sum by (le, http_route) "
        '(rate(http_server_request_duration_seconds_bucket{job="shop"}[5m])))'
    )


def test_prometheus_source_says_when_it_cannot_ask() -> None:
    with pytest.raises(SourceUnavailable, match=r"Prometheus at http://127.0.0.1:9 does not answer"):
        PrometheusSource("http://127.0.0.1:9", service="shop", timeout_s=1).evaluate(load_catalog()["http-apdex"], ())

    def several(request: httpx.Request) -> httpx.Response:
        result = [{"metric": {"job": "a"}, "value": [0, "1"]}, {"metric": {"job": "b"}, "value": [0, "1"]}]
        return httpx.Response(200, json={"status": "success", "data": {"result": result}})

    with pytest.raises(SourceUnavailable, match="choose one with --service: a, b"):
        PrometheusSource("http://prom", client=httpx.Client(transport=httpx.MockTransport(several)))


def test_self_time_is_summed_per_function_from_a_flamebearer() -> None:
    names = ["total", "main", "[GET /x]", "work", "parse"]
    # total(10) -> main(10) -> [GET /x](10) -> work(7, self 6) -> parse(1, self 1); route frame self 3
    levels = [[0, 10, 0, 0], [0, 10, 0, 1], [0, 10, 3, 2], [0, 7, 6, 3], [0, 1, 1, 4]]
    assert self_time_by_function(names, levels) == [("work", 0.6), ("parse", 0.1)]


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


def test_prometheus_source_refuses_a_service_it_has_no_metrics_for() -> None:
    def jobs(request: httpx.Request) -> httpx.Response:
        result = [{"metric": {"job": "shop"}, "value": [0, "1"]}]
        return httpx.Response(200, json={"status": "success", "data": {"result": result}})

    client = httpx.Client(transport=httpx.MockTransport(jobs))
    with pytest.raises(SourceUnavailable, match=r"no otelperf metrics for job 'shpo' \(jobs: shop\)"):
        PrometheusSource("http://prom", service="shpo", client=client)


def counter(name: str, value: float, **attributes: object) -> dict[str, object]:
    now = time.time()
    return {"name": name, "kind": "counter", "attributes": attributes, "start": now - 100, "time": now, "value": value}


DB = "db.client.operation.duration"
DB_BOUNDS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0]


def db_histogram(counts: list[int], observed_s: float, **attributes: object) -> dict[str, object]:
    now = time.time()
    return {
        "name": DB,
        "kind": "histogram",
        "attributes": attributes,
        "start": now - 100,
        "time": now,
        "count": sum(counts),
        "sum": observed_s,
        "bucket_counts": counts,
        "explicit_bounds": DB_BOUNDS,
    }


def test_slow_statements_are_a_share_of_their_kinds_time_that_an_n_plus_one_does_not_drown() -> None:
    """One 0.8 s statement among 99 lookups of 1 ms on the same table: 1 % of the executions (p95
    and p99 see nothing), but nearly all of the kind's time."""
    select = {"db.operation.name": "SELECT", "db.collection.name": "items"}
    points = [db_histogram([99, 0, 0, 0, 0, 0, 1, 0, 0, 0], 0.099 + 0.8, **select)]
    rule = load_catalog()["db-slow-queries"]
    source = LocalSource(points)
    # The 99 lookups took at most 99 ms (their bucket's bound), so the slow one at least 0.8 s.
    assert source.evaluate(rule, ()) == {(): pytest.approx(0.8 / 0.899)}
    report = build_report([rule], source, service="shop")
    (result,) = report.rules
    assert result.status == "bad" and result.evidence["worst"] == "SELECT items"
    assert result.recommendation is not None and "SELECT items" in result.recommendation


def test_slow_statements_time_is_bounded_from_below_both_ways() -> None:
    """Statements just under the bound leave the sum little to prove: then the slow ones count at
    the bound. Far-over statements among fast ones count for what they took."""
    # 100 statements at 0.4 s and 2 over 0.5 s (1.2 s in all): the others may have taken 50 s.
    assert time_over(0.5, DB_BOUNDS, [0, 0, 0, 0, 0, 100, 2, 0, 0, 0], 40 + 1.2) == pytest.approx(1.0)
    # 50 statements of 1 ms and one of 5 s: 5 s, not 0.5 s.
    assert time_over(0.5, DB_BOUNDS, [50, 0, 0, 0, 0, 0, 0, 1, 0, 0], 0.05 + 5.0) == pytest.approx(5.0)
    # As PromQL: the same two bounds, the larger kept, over the time spent.
    from otelperf.rules.promql import render

    promql = render(load_catalog()["db-slow-queries"], selector='job="shop"', window="5m", group=())
    assert promql.startswith('(((sum by () (rate(db_client_operation_duration_seconds_sum{job="shop"}[5m])) - (0.5 * ')
    assert (
        ' - 0.004 * sum by () (rate(db_client_operation_duration_seconds_bucket{job="shop", le="0.001"}[5m])))) >= '
        in promql
    )
    assert promql.endswith(' * 0.5) / sum by () (rate(db_client_operation_duration_seconds_sum{job="shop"}[5m]))')


def test_n_plus_one_is_per_request_of_its_route_and_names_the_statement() -> None:
    """Every request of /orders/recent runs the lookup once per row; /items is fifty times busier."""
    statement = "SELECT items.name FROM items WHERE items.id = ?"
    points = [
        histogram(HTTP, {0.01: 1000}, 1000, **{"http.route": "/items/{id}"}),
        histogram(HTTP, {0.05: 20}, 20, **{"http.route": "/orders/recent"}),
        counter(
            "otelperf.db.n_plus_one", 20, **{"http.route": "/orders/recent", "otelperf.db.query.fingerprint": statement}
        ),
    ]
    rule = load_catalog()["db-n-plus-one"]
    source = LocalSource(points)
    grouped = source.evaluate(rule, rule.by)
    assert grouped[("/orders/recent", statement)] == pytest.approx(1.0)
    assert grouped[("/items/{id}", "")] == 0.0  # a route without N+1 counts as zero
    (result,) = build_report([rule], source, service="shop").rules
    assert result.status == "bad" and result.value == pytest.approx(1.0)
    assert result.evidence["labels"] == {"http.route": "/orders/recent", "otelperf.db.query.fingerprint": statement}
    assert result.recommendation is not None
    assert "/orders/recent" in result.recommendation and f"`{statement}`" in result.recommendation
    from otelperf.rules.promql import render

    assert render(rule, selector="", window="5m", group=("http_route", "otelperf_db_query_fingerprint")) == (
        "(sum by (http_route, otelperf_db_query_fingerprint) (rate(otelperf_db_n_plus_one_total{}[5m])) or "
        "sum by (http_route) (rate(http_server_request_duration_seconds_count{}[5m])) * 0) / on (http_route) "
        "group_left sum by (http_route) (rate(http_server_request_duration_seconds_count{}[5m]))"
    )


def test_rule_files_check_the_new_measure_keys_and_label_templates(tmp_path: Path) -> None:
    bad = tmp_path / "mine.yaml"
    bad.write_text(
        """
rules:
  - id: slow-share
    category: database
    title: t
    measure: {kind: share_above, metric: db.client.operation.duration, bound: -1, of: bytes}
    unit: ratio
    thresholds: {good: 0, warn: 0.1, bad: 0.2}
    weight: 1
    priority: 1
    why: w
    recommendation: "{worst_labels[http.route]}"
  - id: matched
    category: database
    title: t
    measure:
      kind: ratio
      numerator: {metric: otelperf.db.n_plus_one, field: rate}
      denominator: {metric: http.server.request.duration, field: count, match_on: [db.system.name]}
    by: [http.route]
    unit: ratio
    thresholds: {good: 0, warn: 0.1, bad: 0.2}
    weight: 1
    priority: 1
    why: w
    recommendation: "{worst_labels[http.route]} at {worst_value}"
"""
    )
    with pytest.raises(RuleError) as caught:
        load_rules(bad)
    message = str(caught.value)
    assert "rule 'slow-share', field 'measure.bound'" in message
    assert "rule 'slow-share', field 'measure.of'" in message
    assert "rule 'slow-share', field 'recommendation': {worst_labels[http.route]}" in message
    assert "rule 'matched', field 'measure.denominator.match_on'" in message
    assert "rule 'matched', field 'recommendation'" not in message


def test_a_windowed_source_keeps_only_its_window_and_charts_the_scored_value() -> None:
    """Three copies of the points 10 s apart: the cache hits 90 % of reads, then 10 %."""
    now = time.time()

    def cache(hits: int, misses: int, at: float) -> list[dict[str, object]]:
        def point(result: str, count: int) -> dict[str, object]:
            return {
                **histogram(
                    "otelperf.cache.operation.duration", {0.005: count}, count, **{"otelperf.cache.result": result}
                ),
                "start": now - 100,
                "time": at,
            }

        return [point("hit", hits), point("miss", misses)]

    snapshots = [(now - 20, cache(0, 0, now - 20)), (now - 10, cache(90, 10, now - 10)), (now, cache(91, 19, now))]
    rule = load_catalog()["cache-hit-ratio"]
    whole = LocalSource(snapshots[-1][1], baseline=snapshots[0][1], snapshots=snapshots)
    assert whole.evaluate(rule, ()) == {(): pytest.approx(91 / 110)}
    line = whole.series(rule)
    assert [round(value, 3) for _, value in line] == [0.9, 0.1]
    last = LocalSource(snapshots[-1][1], baseline=snapshots[1][1], snapshots=snapshots, since=now - 10)
    assert last.evaluate(rule, ()) == {(): pytest.approx(0.1)}
    assert [at for at, _ in last.series(rule)] == [now]


def test_the_exemplar_is_the_slowest_in_the_window() -> None:
    now = time.time()
    point = {
        **histogram(HTTP, {0.1: 1, 1.0: 1}, 2, **{"http.route": "/a"}),
        "exemplars": [
            {"value": 0.09, "time": now - 1, "trace_id": "a" * 32, "span_id": "1" * 16},
            {"value": 0.9, "time": now - 1, "trace_id": "b" * 32, "span_id": "2" * 16},
            {"value": 5.0, "time": now - 3600, "trace_id": "c" * 32, "span_id": "3" * 16},
        ],
    }
    source = LocalSource([point], window_s=60)
    assert source.exemplar(HTTP, {"http.route": "/a"})["trace_id"] == "b" * 32  # type: ignore[index]
    assert source.exemplar(HTTP, {"http.route": "/b"}) is None
    report = build_report(load_rules(), source, service="shop", grafana_url="http://grafana:3000")
    latency = next(result for result in report.rules if result.id == "http-latency-p95")
    assert latency.evidence["exemplar"]["trace_id"] == "b" * 32
    assert latency.links["trace"].startswith("http://grafana:3000/explore?schemaVersion=1&panes=")
    assert "b" * 32 in latency.links["trace"]
