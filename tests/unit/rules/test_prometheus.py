"""The Prometheus source: the rule rendered as PromQL, the answers read, and what it refuses
(no network: a mock transport)."""

from __future__ import annotations

import httpx
import pytest

from otelperf.rules import load_catalog
from otelperf.rules.model import Rule
from otelperf.rules.prometheus import PrometheusSource, SourceUnavailable


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


def test_prometheus_source_refuses_a_service_it_has_no_metrics_for() -> None:
    def jobs(request: httpx.Request) -> httpx.Response:
        result = [{"metric": {"job": "shop"}, "value": [0, "1"]}]
        return httpx.Response(200, json={"status": "success", "data": {"result": result}})

    client = httpx.Client(transport=httpx.MockTransport(jobs))
    with pytest.raises(SourceUnavailable, match=r"no otelperf metrics for job 'shpo' \(jobs: shop\)"):
        PrometheusSource("http://prom", service="shpo", client=client)
