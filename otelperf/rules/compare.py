"""A report against a baseline report: which rules got worse, for a CI budget.

A rule regresses when its score dropped by more than ``tolerance`` points since the baseline
(scores are on one 0-100 scale for every rule, so one tolerance fits all of them; the default, 5
points, is a tenth of the way from ``warn`` to ``bad``). A rule without a score on either side
(no data, a new rule, one switched off) is not compared. ``compare`` marks each compared rule
(``RuleResult.regression``) and the report (``Report.baseline``).
"""

from __future__ import annotations

import json
from pathlib import Path

from otelperf.rules.report import Report

__all__ = ["DEFAULT_TOLERANCE", "compare", "read_report"]

DEFAULT_TOLERANCE = 5.0


def read_report(path: str | Path) -> Report:
    """A report written by ``otelperf report --format json`` (or the demo); ``ValueError`` says why not."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from None
    try:
        return Report.from_dict(data)
    except (TypeError, KeyError) as exc:
        raise ValueError(f"{path}: not an otelperf report ({exc})") from None


def compare(report: Report, baseline: Report, tolerance: float = DEFAULT_TOLERANCE) -> list[str]:
    """Marks ``report``'s rules against ``baseline``'s; returns the ids of those that regressed."""
    before_by_id = {result.id: result for result in baseline.rules}
    regressions = []
    for result in report.rules:
        before = before_by_id.get(result.id)
        if before is None or before.score is None or result.score is None:
            continue
        delta = round(result.score - before.score, 1)
        regressed = delta < -tolerance
        result.regression = {
            "before": before.score,
            "after": result.score,
            "delta": delta,
            "value_before": before.value_text,
            "regressed": regressed,
        }
        if regressed:
            regressions.append(result.id)
    report.baseline = {
        "generated_at": baseline.generated_at,
        "score": baseline.score,
        "grade": baseline.grade,
        "tolerance": tolerance,
        "regressions": regressions,
    }
    return regressions
