"""What a rule is: the measurement it takes, how the value scores, and what to tell the user.

A rule describes its measurement structurally (``Measure``): a histogram quantile, an Apdex, the
share of a histogram's observations above a bucket bound, a ratio of rates or gauges, or a gauge's
trend. ``promql`` turns that into the PromQL the Prometheus
report and the exported recording rules evaluate; ``local`` evaluates the same definition on the
in-process metrics. One definition, two evaluators, so the two reports agree by construction.
A user rule may instead give raw PromQL (``kind: promql``); it is then Prometheus-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

CATEGORIES: tuple[str, ...] = (
    "latency",
    "errors",
    "saturation",
    "cache",
    "database",
    "worker_pools",
    "runtime",
)
MeasureKind = Literal["quantile", "apdex", "share_above", "ratio", "trend", "promql"]
TermField = Literal["count", "sum", "rate", "gauge"]
Aggregation = Literal["sum", "avg", "max"]
ScoreOn = Literal["all", "worst"]
Unit = Literal["s", "ratio", "per_request", "per_s", "per_hour", "score"]


class RuleError(ValueError):
    """A rule file is invalid; the message names the file, the rule and the field."""


@dataclass(frozen=True)
class Term:
    """One side of a ratio: a metric, which of its series, and how it is read over the window.

    ``count``/``sum``: a histogram's ``_count``/``_sum`` as a rate; ``rate``: a counter's rate;
    ``gauge``: a gauge's (or up-down counter's) average over the window. ``match_on``: when this
    term's metric carries only some of the rule's ``by`` attributes (a request count per route,
    under N+1 counts per route and statement), those it carries; each group of the other term is
    divided by the group of this one that has the same values for them.
    """

    metric: str
    field: TermField
    where: tuple[tuple[str, str], ...] = ()
    aggregation: Aggregation = "sum"
    match_on: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Measure:
    kind: MeasureKind
    metric: str = ""
    where: tuple[tuple[str, str], ...] = ()
    quantile: float = 0.95
    apdex_t: float = 0.1
    bound: float = 0.0  # share_above: the bucket bound (seconds) observations are counted above
    share_of: Literal["count", "time"] = "count"  # share_above: of the observations, or of their sum
    numerator: Term | None = None
    denominator: Term | None = None
    missing_numerator_is_zero: bool = False
    relative: bool = False
    min_history_s: float = 0.0
    promql: str = ""


@dataclass(frozen=True)
class Thresholds:
    """Where the value turns good, warn and bad; ``good > bad`` means higher is better."""

    good: float
    warn: float
    bad: float

    @property
    def higher_is_better(self) -> bool:
        return self.good > self.bad


@dataclass(frozen=True)
class Rule:
    """One rule. ``score_on: worst`` scores the worst group of ``by`` (the slowest pool, the
    coldest cache) instead of the service-wide aggregate."""

    id: str
    category: str
    title: str
    measure: Measure
    unit: Unit
    thresholds: Thresholds
    weight: float
    priority: int
    recommendation: str
    why: str
    by: tuple[str, ...] = ()
    score_on: ScoreOn = "all"
    dashboard: str = ""
    profile_link: bool = False
    source: str = field(default="", compare=False)
