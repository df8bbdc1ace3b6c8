"""From a measured value to a score (0 to 100), and from scores to a grade.

A rule scores 100 at its ``good`` threshold or better, 75 at ``warn``, 25 at ``bad`` and 0 once
the value is as far past ``bad`` again as ``bad`` is from ``warn``; linear in between. The exported
recording rules compute the same piecewise line with ``clamp`` (``score_promql``), so Prometheus
and the report agree. Category and overall scores are weight-averaged over the rules that had data;
a category without data has no score ("insufficient data"), never 100. The overall score is also
capped at the worst rule's score plus ``WORST_RULE_MARGIN`` (60): one failing rule (score 0 to 25)
holds the grade at D to B however many others pass, so a cold cache cannot hide behind a dozen
healthy signals.
"""

from __future__ import annotations

from collections.abc import Iterable

from otelperf.rules.model import Thresholds

__all__ = ["GRADES", "WORST_RULE_MARGIN", "grade", "overall_score", "score", "score_promql", "status", "weighted_mean"]

WORST_RULE_MARGIN = 60.0

# (lowest score, grade), best first: the usual US letter-grade scale.
GRADES: tuple[tuple[float, str], ...] = (
    (97, "A+"),
    (93, "A"),
    (90, "A-"),
    (87, "B+"),
    (83, "B"),
    (80, "B-"),
    (77, "C+"),
    (73, "C"),
    (70, "C-"),
    (60, "D"),
    (0, "F"),
)


def _clamp01(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def score(value: float, thresholds: Thresholds) -> float:
    good, warn, bad = thresholds.good, thresholds.warn, thresholds.bad
    return (
        100.0
        - 25.0 * _clamp01((value - good) / (warn - good))
        - 50.0 * _clamp01((value - warn) / (bad - warn))
        - 25.0 * _clamp01((value - bad) / (bad - warn))
    )


def score_promql(value: str, thresholds: Thresholds) -> str:
    """``score`` as PromQL over the instant vector ``value``."""
    good, warn, bad = thresholds.good, thresholds.warn, thresholds.bad
    return (
        f"100 - 25 * clamp(({value} - {good:g}) / {warn - good:g}, 0, 1)"
        f" - 50 * clamp(({value} - {warn:g}) / {bad - warn:g}, 0, 1)"
        f" - 25 * clamp(({value} - {bad:g}) / {bad - warn:g}, 0, 1)"
    )


def status(value: float, thresholds: Thresholds) -> str:
    """``good`` until the value passes ``warn``, ``warn`` until it passes ``bad``, then ``bad``."""
    sign = -1.0 if thresholds.higher_is_better else 1.0
    if sign * value > sign * thresholds.bad:
        return "bad"
    if sign * value > sign * thresholds.warn:
        return "warn"
    return "good"


def grade(value: float) -> str:
    return next(letter for lowest, letter in GRADES if value >= lowest)


def overall_score(pairs: list[tuple[float, float]]) -> float | None:
    """The weighted mean of (score, weight) pairs, capped at the worst score + ``WORST_RULE_MARGIN``."""
    mean = weighted_mean(pairs)
    if mean is None:
        return None
    return min(mean, min(value for value, _ in pairs) + WORST_RULE_MARGIN)


def weighted_mean(pairs: Iterable[tuple[float, float]]) -> float | None:
    """Mean of (score, weight) pairs, ``None`` when there are none."""
    total = weight_sum = 0.0
    for value, weight in pairs:
        total += value * weight
        weight_sum += weight
    return total / weight_sum if weight_sum else None
