"""The rule loader: the built-in catalog, user rule files over it, and every error with its file, rule and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from otelperf.rules import load_catalog, load_rules
from otelperf.rules._names import PROMETHEUS_NAMES
from otelperf.rules.model import CATEGORIES, RuleError, Thresholds


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
