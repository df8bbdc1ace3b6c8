"""Rules rendered as PromQL: the expressions the Prometheus source and the exported recording rules run."""

from __future__ import annotations

from otelperf.rules import load_catalog
from otelperf.rules.promql import render


def test_slow_statements_time_in_promql_keeps_the_larger_of_the_same_two_bounds() -> None:
    """As PromQL: the same two bounds as the in-process ``time_over``, the larger kept, over the time spent."""
    promql = render(load_catalog()["db-slow-queries"], selector='job="shop"', window="5m", group=())
    assert promql.startswith('(((sum by () (rate(db_client_operation_duration_seconds_sum{job="shop"}[5m])) - (0.5 * ')
    assert (
        ' - 0.004 * sum by () (rate(db_client_operation_duration_seconds_bucket{job="shop", le="0.001"}[5m])))) >= '
        in promql
    )
    assert promql.endswith(' * 0.5) / sum by () (rate(db_client_operation_duration_seconds_sum{job="shop"}[5m]))')


def test_n_plus_one_in_promql_is_per_request_of_its_route() -> None:
    """As PromQL: occurrences per route and statement over the route's requests, a route without any
    counted as zero."""
    rule = load_catalog()["db-n-plus-one"]
    assert render(rule, selector="", window="5m", group=("http_route", "otelperf_db_query_fingerprint")) == (
        "(sum by (http_route, otelperf_db_query_fingerprint) (rate(otelperf_db_n_plus_one_total{}[5m])) or "
        "sum by (http_route) (rate(http_server_request_duration_seconds_count{}[5m])) * 0) / on (http_route) "
        "group_left sum by (http_route) (rate(http_server_request_duration_seconds_count{}[5m]))"
    )
