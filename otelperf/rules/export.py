"""Prometheus recording and alerting rules, generated from the rule catalog.

Recording rules (``level:metric:operations`` naming) give, per service (``job``): every rule's
value and score (``job_rule:otelperf_rule:value``/``:score``/``:weight``, labelled ``rule`` and
``category``), the category scores (``job_category:otelperf_score:weighted_mean``) and the overall
score (``job:otelperf_score:capped_mean``), which the Overview dashboard charts over time. They
use the same measurement and the same piecewise score as the report, over 5-minute windows (30
minutes for trends).

Alerting rules: the original design's alerts, plus multi-window, multi-burn-rate alerts (page at
14.4x over 5m and 1h or 6x over 30m and 6h; ticket at 3x over 2h and 1d or 1x over 6h and 3d) for
an availability SLO and a latency SLO, on SLI ratios recorded per window.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from otelperf import semconv
from otelperf.rules._names import PROMETHEUS_NAMES
from otelperf.rules.model import Rule
from otelperf.rules.promql import le_value, render_overall
from otelperf.rules.scoring import WORST_RULE_MARGIN, score_promql

__all__ = ["SloTargets", "alerting_rules", "recording_rules", "write_rule_files"]

RULE_VALUE = "job_rule:otelperf_rule:value"
RULE_SCORE = "job_rule:otelperf_rule:score"
RULE_WEIGHT = "job_rule:otelperf_rule:weight"
CATEGORY_SCORE = "job_category:otelperf_score:weighted_mean"
OVERALL_SCORE = "job:otelperf_score:capped_mean"
_HTTP = PROMETHEUS_NAMES[semconv.HTTP_SERVER_REQUEST_DURATION]
_CACHE = PROMETHEUS_NAMES[semconv.CACHE_OPERATION_DURATION]
_CPU = PROMETHEUS_NAMES[semconv.PROCESS_CPU_UTILIZATION]
_MEMORY = PROMETHEUS_NAMES[semconv.PROCESS_MEMORY_USAGE]
_MEMORY_LIMIT = PROMETHEUS_NAMES[semconv.PROCESS_MEMORY_LIMIT]
_BURN_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
# (severity, [(factor, short window, long window), ...]) as in the SRE workbook.
_BURN_ALERTS = (
    ("page", "Fast", ((14.4, "5m", "1h"), (6.0, "30m", "6h"))),
    ("ticket", "Slow", ((3.0, "2h", "1d"), (1.0, "6h", "3d"))),
)
_DASHBOARD = "/d/otelperf-overview?var-service={{ $labels.job }}"


@dataclass(frozen=True)
class SloTargets:
    availability: float = 0.999  # share of requests without a 5xx
    latency: float = 0.99  # share of requests within latency_threshold_s
    latency_threshold_s: float = 0.25  # a bucket bound of http.server.request.duration


def recording_rules(rules: list[Rule], slo: SloTargets) -> dict[str, Any]:
    score_rules: list[dict[str, Any]] = []
    for rule in rules:
        window = "30m" if rule.measure.kind == "trend" else "5m"
        value = render_overall(rule, selector="", window=window, group=("job",))
        labels = {"rule": rule.id, "category": rule.category}
        selected = f'{RULE_VALUE}{{rule="{rule.id}"}}'
        score_rules += [
            # ">= -Inf" drops NaN (no traffic in the window): no data, not a score.
            {"record": RULE_VALUE, "expr": f"({value}) >= -Inf", "labels": dict(labels)},
            {"record": RULE_SCORE, "expr": score_promql(selected, rule.thresholds), "labels": dict(labels)},
            {"record": RULE_WEIGHT, "expr": f"{selected} * 0 + {rule.weight:g}", "labels": dict(labels)},
        ]
    weighted = f"{RULE_SCORE} * on (job, rule, category) {RULE_WEIGHT}"
    cap = f"min by (job) ({RULE_SCORE}) + {WORST_RULE_MARGIN:g}"
    score_rules += [
        {
            "record": CATEGORY_SCORE,
            "expr": f"sum by (job, category) ({weighted}) / sum by (job, category) ({RULE_WEIGHT})",
        },
        {
            # The weighted mean, capped at the worst rule's score + WORST_RULE_MARGIN (see scoring.py).
            "record": OVERALL_SCORE,
            "expr": f"sum by (job) ({weighted}) / sum by (job) ({RULE_WEIGHT}) < {cap} or {cap}",
        },
    ]
    return {
        "groups": [
            {"name": "otelperf-score", "rules": score_rules},
            {"name": "otelperf-slo-sli", "rules": _sli_rules(slo)},
        ]
    }


def _sli_rules(slo: SloTargets) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    le = le_value(slo.latency_threshold_s)
    for window in _BURN_WINDOWS:
        total = f"sum by (job) (rate({_HTTP}_count[{window}]))"
        errors = f'sum by (job) (rate({_HTTP}_count{{http_response_status_code=~"5.."}}[{window}]))'
        fast = f'sum by (job) (rate({_HTTP}_bucket{{le="{le}"}}[{window}]))'
        out += [
            {"record": f"job:otelperf_sli_errors:ratio_rate{window}", "expr": f"({errors} or {total} * 0) / {total}"},
            {"record": f"job:otelperf_sli_slow_requests:ratio_rate{window}", "expr": f"1 - {fast} / {total}"},
        ]
    return out


def alerting_rules(slo: SloTargets) -> dict[str, Any]:
    requests = f"sum by (job) (rate({_HTTP}_count[{{w}}]))"
    alerts: list[dict[str, Any]] = [
        _alert(
            "OtelperfHighCpu",
            f"avg by (job) ({_CPU}) > 0.8",
            "2m",
            "warning",
            "{{ $labels.job }} uses {{ $value | humanizePercentage }} of the CPU (over 80 % for 2 minutes).",
        ),
        _alert(
            "OtelperfHighMemory",
            f"sum by (job) ({_MEMORY}) / sum by (job) ({_MEMORY_LIMIT}) > 0.85",
            "2m",
            "warning",
            "{{ $labels.job }} uses {{ $value | humanizePercentage }} of its memory limit (over 85 % for 2 minutes).",
        ),
        _alert(
            "OtelperfLowCacheHitRatio",
            f'sum by (job) (rate({_CACHE}_count{{otelperf_cache_result="hit"}}[5m])) / '
            f'sum by (job) (rate({_CACHE}_count{{otelperf_cache_result=~"hit|miss"}}[5m])) < 0.7',
            "5m",
            "warning",
            "{{ $labels.job }}'s caches answer {{ $value | humanizePercentage }} of reads (under 70 % for 5 minutes).",
        ),
        _alert(
            "OtelperfHighErrorRate",
            f'sum by (job) (rate({_HTTP}_count{{http_response_status_code=~"5.."}}[1m])) / '
            f"{requests.format(w='1m')} > 0.05",
            "1m",
            "critical",
            "{{ $value | humanizePercentage }} of {{ $labels.job }}'s requests fail with a 5xx "
            "(over 5 % for 1 minute).",
        ),
        _alert(
            "OtelperfHighMeanLatency",
            f"sum by (job) (rate({_HTTP}_sum[5m])) / {requests.format(w='5m')} > 0.2",
            "5m",
            "warning",
            "{{ $labels.job }}'s mean request duration is {{ $value | humanizeDuration }} (over 200 ms for 5 minutes).",
        ),
        _alert(
            "OtelperfLowScore",
            f"{OVERALL_SCORE} < 70",
            "15m",
            "ticket",
            '{{ $labels.job }}\'s performance score is {{ $value | printf "%.0f" }}/100 (grade D or F for 15 minutes); '
            "run `otelperf report` for the ranked recommendations.",
        ),
    ]
    for sli, objective, what in (
        ("errors", slo.availability, "availability"),
        ("slow_requests", slo.latency, f"latency ({slo.latency_threshold_s * 1000:g} ms)"),
    ):
        budget = round(1 - objective, 10)
        for severity, speed, pairs in _BURN_ALERTS:
            conditions = " or ".join(
                f"(job:otelperf_sli_{sli}:ratio_rate{short} > {factor:g} * {budget:g} and "
                f"job:otelperf_sli_{sli}:ratio_rate{long} > {factor:g} * {budget:g})"
                for factor, short, long in pairs
            )
            name = f"Otelperf{'Availability' if sli == 'errors' else 'Latency'}BurnRate{speed}"
            description = (
                f"{{{{ $labels.job }}}} burns its {what} error budget ({objective:.3%} SLO) too fast: "
                f"{'page' if severity == 'page' else 'open a ticket'}."
            )
            alerts.append(_alert(name, conditions, None, severity, description))
    return {"groups": [{"name": "otelperf-alerts", "rules": alerts}]}


def _alert(name: str, expr: str, for_: str | None, severity: str, description: str) -> dict[str, Any]:
    alert: dict[str, Any] = {"alert": name, "expr": expr}
    if for_:
        alert["for"] = for_
    alert["labels"] = {"severity": severity}
    alert["annotations"] = {"summary": description, "dashboard": _DASHBOARD}
    return alert


def write_rule_files(rules: list[Rule], out: Path, slo: SloTargets | None = None) -> list[Path]:
    slo = slo or SloTargets()
    out.mkdir(parents=True, exist_ok=True)
    header = "# Generated by `otelperf rules export`; do not edit (change the rule catalog and re-export).\n"
    written = []
    for name, document in (
        ("otelperf-recording.yml", recording_rules(rules, slo)),
        ("otelperf-alerts.yml", alerting_rules(slo)),
    ):
        path = out / name
        path.write_text(header + yaml.safe_dump(document, sort_keys=False, width=1000, allow_unicode=True))
        written.append(path)
    return written
