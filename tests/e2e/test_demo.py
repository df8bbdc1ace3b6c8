"""`otelperf demo` end to end, with the shipped default settings: every planted problem is found,
alone and all together, named with its evidence and ranked above the symptoms it causes; the
healthy shop grades A with no recommendation; telemetry reaches a collector when one answers.

Each run is the real command (``otelperf demo --problems ... --duration ...``) with its own SQLite
file; the report is read from the JSON it writes beside the HTML page. The load is short (the
duration is not a threshold: the problems are sized to be found within it).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from otelperf.rules.report import RuleResult
from tests.e2e.demo_runs import DemoRun, run_demo
from tests.e2e.rig import Collector

# problem -> (its rule, the evidence its recommendation must name)
PLANTED: dict[str, tuple[str, tuple[str, ...]]] = {
    "n_plus_one": ("db-n-plus-one", ("/categories/{category}", "FROM items WHERE items.id = ?")),
    "slow_query": ("db-slow-queries", ("SELECT items",)),
    "cold_cache": ("cache-hit-ratio", ("memory items",)),
    "saturated_pool": ("worker-pool-utilization", ("demo-cpu",)),
    "blocking_coroutine": ("event-loop-lag", ("render_invoice",)),
}
# What the problems produce: latency, and queues behind a saturated pool or a blocked loop.
SYMPTOMS = {"http-latency-p95", "http-apdex", "worker-pool-queue-wait"}


def assert_found(run: DemoRun, problem: str) -> RuleResult:
    rule_id, evidence = PLANTED[problem]
    result = run.recommendation(rule_id)
    assert result.status in ("warn", "bad"), run.ranking()
    assert result.recommendation is not None
    for text in evidence:
        shown = result.recommendation + " " + " ".join(str(v) for v in result.evidence.get("labels", {}).values())
        assert text in shown, f"{problem}: {text!r} not in {result.recommendation!r} / {result.evidence}"
    if problem in ("n_plus_one", "slow_query", "saturated_pool"):
        # A trace of one observation there: for the N+1 a request of its route, else the slow statement or task.
        assert len(result.evidence.get("exemplar", {}).get("trace_id", "")) == 32, result.evidence
    if problem == "blocking_coroutine":
        functions = [entry["function"] for entry in result.top_functions]
        assert "render_invoice" in functions[:3], result.top_functions
        assert any(entry.get("route") == "/orders" for entry in result.top_functions), result.top_functions
    return result


@pytest.mark.parametrize("problem", list(PLANTED))
def test_each_problem_alone_is_found_first_with_its_evidence(problem: str, tmp_path: Path) -> None:
    run = run_demo(tmp_path, "--problems", problem)
    print(f"\n{problem}: {run.report.score} ({run.report.grade}); ranked: {run.ranking()}")
    assert_found(run, problem)
    assert run.report.ranked()[0].id == PLANTED[problem][0], run.ranking()
    assert run.report.grade is not None and not run.report.grade.startswith("A"), run.ranking()


def test_all_problems_together_are_each_found_causes_first(all_problems: DemoRun) -> None:
    run = all_problems
    print(f"\nall: {run.report.score} ({run.report.grade}); ranked: {run.ranking()}")
    ranked = [result.id for result in run.report.ranked()]
    for problem in PLANTED:
        assert_found(run, problem)
    causes = [ranked.index(rule_id) for rule_id, _ in PLANTED.values()]
    symptoms = [ranked.index(rule_id) for rule_id in SYMPTOMS if rule_id in ranked]
    assert symptoms, f"no symptom at all: {run.ranking()}"
    assert max(causes) < min(symptoms), run.ranking()
    assert run.report.grade is not None and not run.report.grade.startswith(("A", "B")), run.ranking()
    # Each route's top functions, from the profiles the demo received itself.
    routes = run.report.profiles.get("routes", {})
    assert {"/orders", "/report/{category}", "/items/{item_id}"} <= set(routes), run.report.profiles
    assert "Profiles: received in this process" in run.output


def test_the_healthy_shop_grades_a_with_no_recommendation(tmp_path: Path) -> None:
    run = run_demo(tmp_path, "--healthy")
    print(f"\nhealthy: {run.report.score} ({run.report.grade}); ranked: {run.ranking() or 'none'}")
    assert run.report.recommendations == [], run.ranking()
    assert run.report.grade in ("A+", "A"), run.report.grade
    assert "No recommendations" in run.output
    assert "planted problems: none (--healthy)" in run.output


def test_demo_exports_to_a_collector_when_one_answers(collector: Collector, tmp_path: Path) -> None:
    run = run_demo(
        tmp_path,
        "--healthy",
        env={"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint, "OTEL_SERVICE_NAME": "demo-under-test"},
    )
    assert "What the clients saw" in run.output
    assert "GET /items/{item_id}" in run.output
    assert "http.server.request.duration" in run.output and "db.client.operation.duration" in run.output
    assert f"exported to {collector.endpoint}" in run.output
    assert "otelperf: INFO otelperf" in run.output  # the service's startup line is shown
    routes = {s.attributes.get("http.route") for s in collector.telemetry.spans("demo-under-test")}
    assert {"/items/{item_id}", "/categories/{category}", "/report/{category}", "/orders"} <= routes
