"""The HTML report: one self-contained page with the gauge, the recommendations in rank order, their
evidence, charts and links, and each route's top functions."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser

from otelperf.rules import build_report, load_rules
from otelperf.rules.compare import compare
from otelperf.rules.html import to_html
from otelperf.rules.local import LocalSource
from otelperf.rules.report import Report
from tests.unit.rules.conftest import BOUNDS, HTTP

HOSTILE = "/x/<script>alert(1)</script>"


class Page(HTMLParser):
    """Every start tag with its attributes, and the text, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str, **wanted: str) -> list[dict[str, str]]:
        return [
            attrs
            for name, attrs in self.tags
            if name == tag and all(wanted[key] in attrs.get(key.rstrip("_"), "").split() for key in wanted)
        ]


def requests_on(route: str, slow: int, fast: int, at: float) -> dict[str, object]:
    counts = [0] * (len(BOUNDS) + 1)
    counts[BOUNDS.index(0.01)] = fast
    counts[BOUNDS.index(1.0)] = slow
    return {
        "name": HTTP,
        "kind": "histogram",
        "attributes": {"http.route": route, "http.response.status_code": 200},
        "start": at - 100,
        "time": at,
        "count": slow + fast,
        "sum": slow * 1.0 + fast * 0.01,
        "bucket_counts": counts,
        "explicit_bounds": BOUNDS,
    }


class Profiles:
    def top_functions(self, service: str, route: str | None) -> tuple[str, list[tuple[str, float]]]:
        return f'cpu{{service_name="{service}", route="{route}"}}', [("render_invoice", 0.6), ("json.dumps", 0.1)]


def slow_report() -> Report:
    """A service whose routes got slow over the last 20 s, with copies of its points every 5 s."""
    now = time.time()
    snapshots = [
        (
            now - 20 + 5 * i,
            [requests_on("/a", 30 * i, 100 * i, now - 20 + 5 * i), requests_on(HOSTILE, i, i, now - 20 + 5 * i)],
        )
        for i in range(5)
    ]
    current = snapshots[-1][1]
    current[1]["exemplars"] = [{"value": 0.93, "time": now - 2, "trace_id": "ab" * 16, "span_id": "cd" * 8}]
    source = LocalSource(current, baseline=snapshots[0][1], snapshots=snapshots)
    return build_report(
        load_rules(), source, service="shop", profiles=Profiles(), grafana_url="http://grafana:3000", charts=True
    )


def parsed(report: Report) -> tuple[str, Page]:
    page = to_html(report)
    parser = Page()
    parser.feed(page)
    return page, parser


def test_the_page_has_the_gauge_and_each_recommendation_in_rank_order_with_its_chart() -> None:
    report = slow_report()
    ranked = report.ranked()
    assert [r.id for r in ranked] == ["http-latency-p95", "http-apdex"], [r.id for r in ranked]
    page, parser = parsed(report)
    (gauge,) = parser.find("svg", id="gauge")
    assert f"score {report.score:.1f}, grade {report.grade}" == gauge["aria-label"]
    sections = parser.find("section", class_="recommendation")
    assert [section["data-rule"] for section in sections] == [r.id for r in ranked]
    charts = parser.find("svg", class_="chart")
    assert [chart["data-rule"] for chart in charts] == [r.id for r in ranked]
    for result in ranked:
        assert len(result.series) >= 3, result.series
    # Each chart: one line with a point per value, and the bands cut at the rule's thresholds.
    points = [attrs["points"].split() for name, attrs in parser.tags if name == "polyline"]
    assert [len(line) for line in points] == [len(result.series) for result in ranked]
    assert len(parser.find("line", class_="threshold-bad")) == 2
    assert {attrs["class"] for name, attrs in parser.tags if name == "rect"} >= {"band-good", "band-warn", "band-bad"}
    # Evidence and links: the slowest route, the exemplar's trace (to Grafana's Tempo), the top functions.
    first = page[page.index('data-rule="http-latency-p95"') :]
    assert "ab" * 16 in first and 'href="http://grafana:3000/explore?' in first
    assert "render_invoice" in first and "60%" in first
    assert 'href="http://grafana:3000/d/otelperf-http?var-service=shop"' in page
    assert parser.find("div", class_="profile")


def test_the_page_fetches_nothing_and_escapes_what_it_shows() -> None:
    page, parser = parsed(slow_report())
    assert not parser.find("script") and not parser.find("link") and not parser.find("img")
    assert not re.search(r"\bsrc=|url\(|@import", page)
    assert HOSTILE not in page and "/x/&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert all(attrs.get("href", "").startswith("http://grafana:3000/") for attrs in parser.find("a"))


def test_a_healthy_report_says_so_and_a_baseline_names_the_regressions() -> None:
    now = time.time()
    healthy = build_report(load_rules(), LocalSource([requests_on("/a", 0, 100, now)]), service="shop")
    _, parser = parsed(healthy)
    assert parser.find("p", id="no-recommendations") and not parser.find("svg", class_="chart")
    worse = slow_report()
    assert compare(worse, healthy) == ["http-latency-p95", "http-apdex"]
    page, parser = parsed(worse)
    assert parser.find("div", id="baseline")
    assert "2 rule(s) got worse" in page and "100.0 → 0.0 (-100.0)" in page
