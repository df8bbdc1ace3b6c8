"""A rule's measurement as PromQL, for one selector, window and grouping.

The Prometheus report renders each rule twice: grouped by nothing (the service-wide value) and by
the rule's ``by`` labels (the evidence: which route, table or pool). The exported recording rules
render it grouped by ``job`` over every service. Everything is aggregated with ``sum by`` before
dividing, as Prometheus' recording-rule guidance asks (numerators and denominators apart).
"""

from __future__ import annotations

from otelperf import semconv
from otelperf.rules._names import PROMETHEUS_NAMES, label
from otelperf.rules.model import Measure, Rule, Term

__all__ = ["le_value", "render", "render_overall"]


def render(rule: Rule, *, selector: str, window: str, group: tuple[str, ...]) -> str:
    """PromQL for ``rule`` over series matching ``selector``, grouped by the labels ``group``."""
    measure = rule.measure
    by = ", ".join(group)
    if measure.kind == "promql":
        return measure.promql.replace("$selector", selector).replace("$window", window).replace("$by", by)
    if measure.kind == "quantile":
        metric = _series(measure.metric, "_bucket", selector, measure.where)
        buckets = f"le, {by}" if by else "le"
        return f"histogram_quantile({measure.quantile}, sum by ({buckets}) (rate({metric}[{window}])))"
    if measure.kind == "apdex":
        return _apdex(measure, selector, window, by)
    if measure.kind == "share_above":
        return _share_above(measure, selector, window, by)
    if measure.kind == "ratio":
        assert measure.numerator is not None
        numerator = _term(measure.numerator, selector, window, _term_group(rule, measure.numerator, group))
        if measure.denominator is None:
            return numerator
        below = _term_group(rule, measure.denominator, group)
        denominator = _term(measure.denominator, selector, window, below)
        if measure.missing_numerator_is_zero:
            numerator = f"({numerator} or {denominator} * 0)"
        if below != by:  # the denominator has fewer labels: one of it serves many numerator groups
            return f"{numerator} / on ({below}) group_left {denominator}"
        return f"{numerator} / {denominator}"
    return _trend(measure, selector, window, by)


def _term_group(rule: Rule, term: Term, group: tuple[str, ...]) -> str:
    """The labels ``term`` is summed by: ``group``, less the rule's ``by`` labels it does not carry."""
    if term.match_on is None:
        return ", ".join(group)
    dropped = {label(attribute) for attribute in rule.by} - {label(attribute) for attribute in term.match_on}
    return ", ".join(name for name in group if name not in dropped)


def render_overall(rule: Rule, *, selector: str, window: str, group: tuple[str, ...]) -> str:
    """The value the rule scores: the aggregate, or the worst of its ``by`` groups."""
    if rule.score_on == "all":
        return render(rule, selector=selector, window=window, group=group)
    labels = tuple(label(attribute) for attribute in rule.by)
    inner = render(rule, selector=selector, window=window, group=(*group, *labels))
    worst = "min" if rule.thresholds.higher_is_better else "max"
    return f"{worst} by ({', '.join(group)}) ({inner})"


def le_value(bound: float) -> str:
    """A bucket bound as Prometheus 3 writes the ``le`` label (``0.1``, ``1.0``)."""
    return repr(float(bound))


def _apdex(measure: Measure, selector: str, window: str, by: str) -> str:
    satisfied = _series(measure.metric, "_bucket", selector, measure.where, le=le_value(measure.apdex_t))
    tolerating = _series(measure.metric, "_bucket", selector, measure.where, le=le_value(4 * measure.apdex_t))
    total = _series(measure.metric, "_count", selector, measure.where)
    return (
        f"(sum by ({by}) (rate({satisfied}[{window}])) + sum by ({by}) (rate({tolerating}[{window}]))) "
        f"/ 2 / sum by ({by}) (rate({total}[{window}]))"
    )


def _share_above(measure: Measure, selector: str, window: str, by: str) -> str:
    """Observations over the bound, as a share of all of them or (``of: time``) of their sum.

    The time over the bound is not in a histogram; ``local.time_over`` explains the lower bound
    used, the larger of two: the observations over the bound each counted at the bound, and the
    sum less the most the others can have taken (each at its bucket's upper bound)."""

    def rate(suffix: str, le: str = "") -> str:
        return f"sum by ({by}) (rate({_series(measure.metric, suffix, selector, measure.where, le=le)}[{window}]))"

    above = f"({rate('_count')} - {rate('_bucket', le_value(measure.bound))})"
    if measure.share_of == "count":
        return f"{above} / {rate('_count')}"
    spent = rate("_sum")
    counted = f"{above} * {measure.bound:g}"
    bounds = [b for b in semconv.INSTRUMENTS[measure.metric].buckets if b <= measure.bound * (1 + 1e-9)]
    if not bounds:
        return f"{counted} / {spent}"
    # The most the observations up to the bound can have taken: each at its bucket's upper bound,
    # from the cumulative buckets: u_k C_k - sum over b < k of (u_b+1 - u_b) C_b.
    most = f"{bounds[-1]:g} * {rate('_bucket', le_value(bounds[-1]))}"
    for lower, upper in zip(reversed(bounds[:-1]), reversed(bounds[1:]), strict=True):
        most += f" - {upper - lower:g} * {rate('_bucket', le_value(lower))}"
    rest = f"({spent} - ({most}))"
    return f"(({rest} >= {counted}) or {counted}) / {spent}"


def _trend(measure: Measure, selector: str, window: str, by: str) -> str:
    metric = _series(measure.metric, "", selector, measure.where)
    expression = f"sum by ({by}) (deriv({metric}[{window}])) * 3600"
    if measure.relative:
        expression = f"{expression} / sum by ({by}) (avg_over_time({metric}[{window}]))"
    if measure.min_history_s:
        # Only series that already existed min_history ago: a trend over a few minutes is noise.
        expression = f"({expression}) and on ({by}) sum by ({by}) ({metric} offset {int(measure.min_history_s)}s)"
    return expression


def _term(term: Term, selector: str, window: str, by: str) -> str:
    suffix = {"count": "_count", "sum": "_sum"}.get(term.field, "")
    series = _series(term.metric, suffix, selector, term.where)
    function = "avg_over_time" if term.field == "gauge" else "rate"
    return f"{term.aggregation} by ({by}) ({function}({series}[{window}]))"


def _series(metric: str, suffix: str, selector: str, where: tuple[tuple[str, str], ...], le: str = "") -> str:
    matchers = [selector] if selector else []
    matchers.extend(f'{label(attribute)}=~"{_escape(pattern)}"' for attribute, pattern in where)
    if le:
        matchers.append(f'le="{le}"')
    return f"{PROMETHEUS_NAMES[metric]}{suffix}{{{', '.join(matchers)}}}"


def _escape(pattern: str) -> str:
    return pattern.replace("\\", "\\\\").replace('"', '\\"')
