"""Scores between thresholds, grades, and the overall score."""

from __future__ import annotations

import pytest

from otelperf.rules.model import Thresholds
from otelperf.rules.scoring import grade, overall_score, score, status


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
