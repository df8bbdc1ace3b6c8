"""The in-process source: rule values computed from the points otelperf keeps (histogram quantiles,
shares, ratios, trends, windows and exemplars), the same numbers Prometheus computes."""

from __future__ import annotations

import math
import time

import pytest

from otelperf.rules import build_report, load_catalog, load_rules
from otelperf.rules.local import LocalSource, bucket_quantile, time_over
from tests.unit.rules.conftest import HTTP, histogram, histogram_point


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


def test_trends_need_their_minimum_history() -> None:
    start = time.time() - 900
    rising = [(start + i * 60, {("process.thread.count", ()): 10.0 + i}) for i in range(16)]  # +1 per minute
    rule = load_catalog()["thread-growth"]
    assert LocalSource([], rising).evaluate(rule, ()) == {(): pytest.approx(60.0)}
    assert LocalSource([], rising[-5:]).evaluate(rule, ()) == {}  # 4 minutes < 10 minutes


def counter(name: str, value: float, **attributes: object) -> dict[str, object]:
    now = time.time()
    return {"name": name, "kind": "counter", "attributes": attributes, "start": now - 100, "time": now, "value": value}


DB = "db.client.operation.duration"
DB_BOUNDS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0]


def db_histogram(counts: list[int], observed_s: float, **attributes: object) -> dict[str, object]:
    return histogram_point(DB, DB_BOUNDS, counts, observed_s, **attributes)


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
