"""Evaluates rules on the in-process metrics (``otelperf.local_metrics()``), without Prometheus.

The same measurement definitions as ``promql``, computed the way Prometheus computes them:
``histogram_quantile``'s interpolation inside the bucket, Apdex from the T and 4T buckets, shares
above a bucket bound, ratios of rates, gauges averaged over their samples, trends as a
least-squares slope (``deriv``). Counters and histograms are cumulative: with a ``baseline`` (a
copy of the points taken earlier: the first gauge sample's a few seconds after start, or the one
that opens a report's window) the rates cover the time since then, as Prometheus' ``rate()`` covers
the time since its first scrape; without one, the process's lifetime. Gauges cover the samples of
the window that ``GaugeHistory`` kept.
"""

from __future__ import annotations

import math
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from otelperf.pipeline.local import Snapshot
from otelperf.rules.model import Measure, Rule, Term

__all__ = ["LocalSource", "MeasureError", "bucket_quantile", "scored_value", "window_points"]

Group = tuple[str, ...]


class MeasureError(ValueError):
    """The measurement cannot be taken as defined (say, Apdex T is not a bucket bound)."""


class LocalSource:
    """Rule values from one process's metric points and gauge samples.

    ``snapshots``: earlier copies of the cumulative points (``GaugeHistory.cumulative_snapshots``),
    for ``series``. The window is the last ``window_s`` seconds, or ``since`` to ``until`` (unix
    seconds): gauge samples, exemplars and snapshots outside it are left out (the caller chooses
    ``points`` and ``baseline`` to match: ``window_points``).
    """

    def __init__(
        self,
        points: Sequence[dict[str, Any]],
        history: Sequence[Snapshot] = (),
        *,
        baseline: Sequence[dict[str, Any]] = (),
        window_s: float | None = None,
        snapshots: Sequence[tuple[float, Sequence[dict[str, Any]]]] = (),
        since: float | None = None,
        until: float | None = None,
        exemplar_points: Sequence[dict[str, Any]] | None = None,
    ) -> None:
        # Copies of the points keep no exemplars: those come from fresh points when given.
        self._exemplar_points = exemplar_points if exemplar_points is not None else points
        self.points = (
            [_since(point, baseline_by_key) for point in points]
            if (baseline_by_key := {_key(point): point for point in baseline})
            else list(points)
        )
        self.since = time.time() - window_s if since is None and window_s is not None else since
        self.until = until
        self.history = [sample for sample in history if self._inside(sample[0])]
        self.snapshots = [snapshot for snapshot in _opening(snapshots, self.since) if self._inside(snapshot[0], 1.0)]

    def _inside(self, at: float, slack_s: float = 0.0) -> bool:
        return (self.since is None or at >= self.since - slack_s) and (self.until is None or at <= self.until + slack_s)

    def describe(self) -> str:
        return "in-process metrics"

    def exemplar(self, metric: str, labels: dict[str, str]) -> dict[str, Any] | None:
        """The exemplar of the largest value among ``metric``'s series that carry ``labels``, in the
        window or since it ended (an exemplar is the latest of its bucket: one busy after the window,
        with requests of the same load still finishing, has forgotten the ones inside it)."""
        best: dict[str, Any] | None = None
        for point in self._exemplar_points:
            if point["name"] != metric or any(str(point["attributes"].get(k)) != v for k, v in labels.items()):
                continue
            for exemplar in point.get("exemplars", ()):
                if self.since is None or exemplar["time"] >= self.since:
                    best = _larger(best, exemplar)
        return dict(best) if best is not None else None

    def series(self, rule: Rule) -> list[tuple[float, float]]:
        """The value ``rule`` scores at each kept copy of the points, each over the stretch before it
        (a twentieth of the charted time, or the gap between copies if longer): the chart's line."""
        if len(self.snapshots) < 2 or rule.measure.kind == "promql":
            return []
        first, last = self.snapshots[0][0], self.snapshots[-1][0]
        stretch = (last - first) / 20
        line: list[tuple[float, float]] = []
        for index in range(1, len(self.snapshots)):
            at, points = self.snapshots[index]
            opening = max(
                (s for s in self.snapshots[:index] if s[0] <= at - stretch), default=self.snapshots[index - 1]
            )
            start = opening[0]
            source = LocalSource(
                points, [sample for sample in self.history if start < sample[0] <= at], baseline=opening[1]
            )
            value = scored_value(rule, source)
            if value is not None:
                line.append((at, value))
        return line

    def evaluate(self, rule: Rule, by: tuple[str, ...]) -> dict[Group, float]:
        measure = rule.measure
        if measure.kind == "promql":
            raise MeasureError("a raw PromQL rule can only be evaluated by Prometheus")
        if measure.kind == "quantile":
            return {
                group: value
                for group, (bounds, counts) in self._histograms(measure.metric, measure.where, by).items()
                if not math.isnan(value := bucket_quantile(measure.quantile, bounds, counts))
            }
        if measure.kind == "apdex":
            return self._apdex(measure, by)
        if measure.kind == "share_above":
            return self._share_above(measure, by)
        if measure.kind == "ratio":
            return self._ratio(rule, by)
        return self._trend(measure, by)

    def _matching(self, metric: str, where: tuple[tuple[str, str], ...]) -> Iterable[dict[str, Any]]:
        patterns = [(attribute, re.compile(pattern)) for attribute, pattern in where]
        for point in self.points:
            if point["name"] != metric:
                continue
            attributes = point["attributes"]
            if all(pattern.fullmatch(str(attributes.get(name, ""))) for name, pattern in patterns):
                yield point

    def _histograms(
        self, metric: str, where: tuple[tuple[str, str], ...], by: tuple[str, ...]
    ) -> dict[Group, tuple[list[float], list[int]]]:
        merged: dict[Group, tuple[list[float], list[int]]] = {}
        for point in self._matching(metric, where):
            group = _group(point["attributes"], by)
            bounds, counts = point["explicit_bounds"], point["bucket_counts"]
            if group not in merged:
                merged[group] = (list(bounds), list(counts))
            elif merged[group][0] == list(bounds):
                merged[group] = (bounds, [a + b for a, b in zip(merged[group][1], counts, strict=True)])
        return merged

    def _apdex(self, measure: Measure, by: tuple[str, ...]) -> dict[Group, float]:
        values: dict[Group, float] = {}
        for group, (bounds, counts) in self._histograms(measure.metric, measure.where, by).items():
            total = sum(counts)
            if not total:
                continue
            satisfied = _cumulative(bounds, counts, measure.apdex_t)
            tolerating = _cumulative(bounds, counts, 4 * measure.apdex_t)
            values[group] = (satisfied + tolerating) / 2 / total
        return values

    def _share_above(self, measure: Measure, by: tuple[str, ...]) -> dict[Group, float]:
        values: dict[Group, float] = {}
        sums = self._sums(measure.metric, measure.where, by) if measure.share_of == "time" else {}
        for group, (bounds, counts) in self._histograms(measure.metric, measure.where, by).items():
            total = sum(counts)
            above = total - _cumulative(bounds, counts, measure.bound)
            if measure.share_of == "time":
                if sums.get(group):
                    values[group] = min(1.0, time_over(measure.bound, bounds, counts, sums[group]) / sums[group])
            elif total:
                values[group] = above / total
        return values

    def _sums(self, metric: str, where: tuple[tuple[str, str], ...], by: tuple[str, ...]) -> dict[Group, float]:
        sums: dict[Group, float] = defaultdict(float)
        for point in self._matching(metric, where):
            sums[_group(point["attributes"], by)] += point["sum"]
        return sums

    def _ratio(self, rule: Rule, by: tuple[str, ...]) -> dict[Group, float]:
        measure = rule.measure
        assert measure.numerator is not None
        numerator = self._term(measure.numerator, by)
        if measure.denominator is None:
            return numerator
        # The positions in ``by`` the denominator is grouped by (all of them unless it has match_on).
        match_on = measure.denominator.match_on
        kept = [i for i, name in enumerate(by) if match_on is None or name in match_on or name not in rule.by]
        denominator = self._term(measure.denominator, tuple(by[i] for i in kept))
        values: dict[Group, float] = {}
        matched: set[Group] = set()
        for group, above in numerator.items():
            key = tuple(group[i] for i in kept)
            below = denominator.get(key)
            if below and not math.isnan(above):
                values[group] = above / below
                matched.add(key)
        if measure.missing_numerator_is_zero:
            for key, below in denominator.items():
                if below and key not in matched:
                    group = tuple(key[kept.index(i)] if i in kept else "" for i in range(len(by)))
                    values[group] = 0.0
        return values

    def _term(self, term: Term, by: tuple[str, ...]) -> dict[Group, float]:
        if term.field == "gauge":
            return self._gauge_mean(term, by)
        per_group: dict[Group, list[float]] = defaultdict(list)
        for point in self._matching(term.metric, term.where):
            elapsed = max(point["time"] - point["start"], 1e-9)
            total = point["count"] if term.field == "count" else point["sum"] if term.field == "sum" else point["value"]
            per_group[_group(point["attributes"], by)].append(total / elapsed)
        return {group: _aggregate(term.aggregation, rates) for group, rates in per_group.items()}

    def _gauge_mean(self, term: Term, by: tuple[str, ...]) -> dict[Group, float]:
        series = self._gauge_series(term.metric, term.where, by, term.aggregation)
        if not series:  # no sample yet: the current values
            current: dict[Group, list[float]] = defaultdict(list)
            for point in self._matching(term.metric, term.where):
                current[_group(point["attributes"], by)].append(float(point["value"]))
            return {group: _aggregate(term.aggregation, values) for group, values in current.items()}
        return {group: sum(v for _, v in samples) / len(samples) for group, samples in series.items()}

    def _gauge_series(
        self, metric: str, where: tuple[tuple[str, str], ...], by: tuple[str, ...], aggregation: str = "sum"
    ) -> dict[Group, list[tuple[float, float]]]:
        patterns = [(attribute, re.compile(pattern)) for attribute, pattern in where]
        series: dict[Group, list[tuple[float, float]]] = defaultdict(list)
        for at, values in self.history:
            per_group: dict[Group, list[float]] = defaultdict(list)
            for (name, attributes), value in values.items():
                attribute_map = dict(attributes)
                if name == metric and all(p.fullmatch(str(attribute_map.get(a, ""))) for a, p in patterns):
                    per_group[_group(attribute_map, by)].append(value)
            for group, group_values in per_group.items():
                series[group].append((at, _aggregate(aggregation, group_values)))
        return series

    def _trend(self, measure: Measure, by: tuple[str, ...]) -> dict[Group, float]:
        values: dict[Group, float] = {}
        for group, samples in self._gauge_series(measure.metric, measure.where, by).items():
            if len(samples) < 2 or samples[-1][0] - samples[0][0] < measure.min_history_s:
                continue
            slope = _slope(samples) * 3600
            if measure.relative:
                mean = sum(v for _, v in samples) / len(samples)
                if not mean:
                    continue
                slope /= mean
            values[group] = slope
        return values


def window_points(
    current: Sequence[dict[str, Any]],
    snapshots: Sequence[tuple[float, Sequence[dict[str, Any]]]],
    first_baseline: Sequence[dict[str, Any]],
    since: float | None,
    until: float | None,
) -> tuple[Sequence[dict[str, Any]], Sequence[dict[str, Any]]]:
    """The cumulative points that close the window and those that open it: the first copy taken at
    or after ``until`` (else ``current``), and the last one taken at or before ``since`` (else the
    first baseline)."""
    if until is not None:
        after = [points for at, points in snapshots if at >= until]
        current = after[0] if after else current
    if since is not None:
        before = [points for at, points in snapshots if at <= since]
        first_baseline = before[-1] if before else first_baseline
    return current, first_baseline


def _larger(best: dict[str, Any] | None, exemplar: dict[str, Any]) -> dict[str, Any]:
    return exemplar if best is None or exemplar["value"] > best["value"] else best


def scored_value(rule: Rule, source: LocalSource) -> float | None:
    """The value ``rule`` scores on ``source``: the aggregate, or its worst group's (``score_on: worst``)."""
    if rule.score_on == "worst":
        values = [value for value in source.evaluate(rule, rule.by).values() if not math.isnan(value)]
        if not values:
            return None
        return min(values) if rule.thresholds.higher_is_better else max(values)
    value = source.evaluate(rule, ()).get((), math.nan)
    return None if math.isnan(value) else value


def _opening(
    snapshots: Sequence[tuple[float, Sequence[dict[str, Any]]]], since: float | None
) -> list[tuple[float, Sequence[dict[str, Any]]]]:
    """The copies taken since ``since``, with the last one taken before it (it opens the window)."""
    if since is None:
        return list(snapshots)
    before = [snapshot for snapshot in snapshots if snapshot[0] <= since]
    return before[-1:] + [snapshot for snapshot in snapshots if snapshot[0] > since]


def bucket_quantile(q: float, bounds: Sequence[float], counts: Sequence[float]) -> float:
    """Prometheus' ``histogram_quantile`` for one classic histogram (``counts`` per bucket, the
    last one for +Inf): linear interpolation inside the bucket holding the rank."""
    cumulative: list[float] = []
    running = 0.0
    for count in counts:
        running += count
        cumulative.append(running)
    if len(cumulative) < 2 or not cumulative[-1]:
        return math.nan
    rank = q * cumulative[-1]
    index = next(i for i, total in enumerate(cumulative) if total >= rank)
    if index == len(cumulative) - 1:
        return float(bounds[-1])
    if index == 0 and bounds[0] <= 0:
        return float(bounds[0])
    start, end, in_bucket = 0.0, float(bounds[index]), cumulative[index]
    if index > 0:
        start = float(bounds[index - 1])
        in_bucket -= cumulative[index - 1]
        rank -= cumulative[index - 1]
    return start + (end - start) * (rank / in_bucket)


def time_over(bound: float, bounds: Sequence[float], counts: Sequence[int], spent: float) -> float:
    """A lower bound of the time the observations over ``bound`` (a bucket bound) took, of ``spent``
    in all: the larger of their count times ``bound``, and ``spent`` less the most the others can
    have taken (each at its bucket's upper bound). The first holds when the others are many and
    slow-ish, the second when they are fast and the slow ones far over the bound (a 5 s statement
    counts 5 s, not 0.5 s)."""
    above = sum(counts) - _cumulative(bounds, counts, bound)
    most = sum(count * upper for upper, count in zip(bounds, counts, strict=False) if upper <= bound * (1 + 1e-9))
    return max(above * bound, spent - most, 0.0)


def _cumulative(bounds: Sequence[float], counts: Sequence[int], le: float) -> int:
    if not any(math.isclose(bound, le, rel_tol=1e-9) for bound in bounds):
        raise MeasureError(f"{le:g} s is not a bucket bound of the histogram ({', '.join(f'{b:g}' for b in bounds)})")
    return sum(count for bound, count in zip(bounds, counts, strict=False) if bound <= le * (1 + 1e-9))


def _slope(samples: Sequence[tuple[float, float]]) -> float:
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    spread = sum((t - mean_t) ** 2 for t, _ in samples)
    return sum((t - mean_t) * (v - mean_v) for t, v in samples) / spread if spread else 0.0


def _key(point: dict[str, Any]) -> tuple[str, tuple[tuple[str, Any], ...]]:
    return point["name"], tuple(sorted(point["attributes"].items()))


def _since(
    point: dict[str, Any], baseline: dict[tuple[str, tuple[tuple[str, Any], ...]], dict[str, Any]]
) -> dict[str, Any]:
    """A cumulative point minus its baseline copy: what happened since the baseline was taken."""
    before = baseline.get(_key(point))
    if before is None or point["kind"] == "gauge" or before["time"] >= point["time"]:
        return point
    after = dict(point, start=before["time"])
    if point["kind"] == "histogram":
        if before["explicit_bounds"] != point["explicit_bounds"]:
            return point
        after.update(
            count=point["count"] - before["count"],
            sum=point["sum"] - before["sum"],
            bucket_counts=[a - b for a, b in zip(point["bucket_counts"], before["bucket_counts"], strict=True)],
        )
    else:
        after["value"] = point["value"] - before["value"]
    return after


def _group(attributes: dict[str, Any], by: tuple[str, ...]) -> Group:
    return tuple(str(attributes.get(attribute, "")) for attribute in by)


def _aggregate(aggregation: str, values: Sequence[float]) -> float:
    if aggregation == "avg":
        return sum(values) / len(values)
    if aggregation == "max":
        return max(values)
    return sum(values)
