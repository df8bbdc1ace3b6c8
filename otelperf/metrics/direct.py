"""otelperf's histograms recorded straight into the SDK's aggregations.

otelperf builds its attribute sets itself, from plain strings and numbers, and the same few sets
come back on every request. The public ``Histogram.record`` cleans, copies and hashes the
attributes of every measurement to find the set's aggregation; ``DirectHistogram`` finds a set's
aggregations once (``fastpaths.histograms.Streams``) and afterwards hands each measurement to them
directly (an explicit-bucket aggregation updated in place, without a ``Measurement``:
``fastpaths.histograms.add``). The default exemplar filter's question, is the span sampled, is
answered from the span given with the measurement, without building a context for a span that
is not sampled.
``bench/micro.py`` and ``bench/instructions.py`` measure the difference (``docs/benchmarks.md``).

Everything else stays the SDK's: the aggregation objects are the ones the SDK created for the set,
fed under their own locks; the SDK chose them, so the series limit and its overflow series apply as
usual; the exemplar filter and reservoirs see every measurement; collection and export are
untouched.

An instrument keeps the public ``record`` (one debug line says why) when the ``histograms`` fast
path is off (its probe, or ``OTELPERF_FAST_PATHS=false``), when it is not the SDK's (a no-op
instrument, or an API proxy whose meter provider is not set yet: ``metrics.instruments`` asks
again), when a view keeps only some attribute keys, when a reader wants delta temporality, and for
an attribute set whose lookup raises. A reader added or removed later is noticed on the next
measurement, and the sets are looked up again.

``tests/unit/metrics/test_direct.py`` records the same measurements through both paths and
compares the exported points, exemplars and overflow.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from time import time_ns
from typing import Any

from opentelemetry.context import Context, get_current
from opentelemetry.metrics import Histogram
from opentelemetry.sdk.metrics import TraceBasedExemplarFilter
from opentelemetry.trace import Span, get_current_span, set_span_in_context

from otelperf.fastpaths import context as context_fastpath
from otelperf.fastpaths import histograms
from otelperf.fastpaths.histograms import Aggregations, add, new_measurement
from otelperf.log import logger

__all__ = ["Aggregations", "DirectHistogram", "context_of", "span_sampled"]

_NO_CONTEXT = Context()  # a measurement no reservoir is offered: its context is never read


def span_sampled(context: Context | None, span: Span | None, key: str | None) -> bool:
    """Whether the span of the measurement (``span``, else the one in ``context``, else the
    current one) is sampled, as the trace-based exemplar filter decides. ``key`` is
    ``fastpaths.context.span_key()``."""
    found: Any = span
    if found is None:
        if context is None:
            context = get_current()
        found = context.get(key) if key is not None else get_current_span(context)
        if found is None:
            return False
    try:
        return bool(found.get_span_context().trace_flags.sampled)
    except AttributeError:  # not a span: get_current_span would take INVALID_SPAN, not sampled
        return False


def context_of(context: Context | None, span: Span | None) -> Context | None:
    """The context a measurement is recorded in: ``context``, else one holding ``span`` (if given)."""
    return set_span_in_context(span) if context is None and span is not None else context


class DirectHistogram(histograms.Streams):
    """The SDK aggregations of one histogram, per attribute set (``aggregations``, found through
    the ``Streams`` it extends), and a ``record`` that feeds them."""

    __slots__ = ("_span_key", "_trace_based")

    def __init__(self, histogram: Any) -> None:
        """``histogram`` must come from ``fastpaths.histograms.sdk_histogram``."""
        super().__init__(histogram)
        # The SDK's default filter asks only whether the measurement's span is sampled: answered
        # from the span itself, and no context is built for a span that is not sampled.
        self._trace_based = type(self.exemplar_filter) is TraceBasedExemplarFilter
        self._span_key = context_fastpath.span_key()

    @classmethod
    def of(cls, histogram: Histogram, name: str = "") -> DirectHistogram | None:
        """For an SDK histogram (or an API proxy now backed by one) whose views and readers allow
        it, with the ``histograms`` fast path on; else ``None``. Either is logged at debug level,
        under ``name`` (the instrument's)."""
        name = name or getattr(histogram, "name", "?")
        reason: str | None
        sdk = histograms.sdk_histogram(histogram)
        if sdk is None:
            if not histograms.SWITCH.on:
                reason = f"fast path {histograms.SWITCH.state()}"
            elif histograms.awaiting_provider(histogram):
                reason = "an API proxy whose meter provider is not set yet"
            else:
                reason = f"not the SDK's histogram ({type(histogram).__name__})"
        else:
            try:
                direct = cls(sdk)
                reason = direct.unsupported()
            except Exception as error:  # noqa: BLE001 - the public path still works
                reason = f"unexpected SDK internals ({error!r})"
            if reason is None:
                logger.debug("%s: recorded directly into the SDK's aggregations (pid %d)", name, os.getpid())
                return direct
        logger.debug("%s: recorded through the SDK's public Histogram.record: %s", name, reason)
        return None

    def record(
        self,
        aggregations: Aggregations,
        value: float,
        attributes: Mapping[str, Any] | None,
        context: Context | None,
        span: Span | None = None,
    ) -> None:
        """Record as ``Histogram.record(value, attributes, context)`` would; ``span``, when given
        (and ``context`` is not), stands for ``set_span_in_context(span)``, built only if needed."""
        if not 0.0 <= value < math.inf or not self.enabled():
            # A disabled meter, a negative or non-finite value: the SDK's own handling (and warning).
            self.histogram.record(value, attributes, context=context_of(context, span))
            return
        now = time_ns()
        if self._trace_based:  # TraceBasedExemplarFilter.should_sample, without the context
            sample = span_sampled(context, None if context is not None else span, self._span_key)
            if sample and context is None:  # the span given, else the current one: in the current context
                context = set_span_in_context(span) if span is not None else get_current()
        else:
            context = context_of(context, span)
            if context is None:
                context = get_current()
            sample = self.exemplar_filter.should_sample(value, now, attributes, context)
        # Not cleaned again: the set's aggregations were found with the cleaned attributes, and the
        # exemplar reservoir only keeps the keys a point lacks (none: no view drops keys here).
        measurement = None
        for aggregation, in_place in aggregations:
            if in_place:
                add(aggregation, value)
                if sample:  # the aggregation's _sample_exemplar, without a Measurement
                    aggregation._reservoir.offer(value, now, attributes, context or _NO_CONTEXT)
                continue
            if measurement is None:
                measurement = new_measurement(value, now, self.histogram, context or _NO_CONTEXT, attributes)
            aggregation.aggregate(measurement, sample)
