"""The exemplar reservoir of explicit-bucket histograms: the SDK's "last measurement per bucket", cheaper.

An exemplar is what links a latency bucket in Grafana to a trace. For explicit-bucket histograms the
SDK's ``AlignedHistogramBucketExemplarReservoir`` keeps, per bucket, the last measurement offered
with its span: it finds the bucket with a Python loop over the boundaries, keeps each bucket in an
object whose six name-mangled fields it sets one by one, looks the objects up in a
``defaultdict``, and finds the span through ``get_current_span``'s ``isinstance`` check against
the ``Span`` ABC. ``LastInBucketReservoir`` keeps the same thing, per bucket one tuple in a list,
the bucket found with ``bisect`` as the aggregation finds it, the span read through
``fastpaths.context``, so an offer does a fraction of that work (figures in ``docs/benchmarks.md``).

One difference, on purpose: a measurement offered without a span (an exemplar filter other than
the default, trace-based one) gives an exemplar without a trace. The SDK's bucket keeps the
trace and span of the measurement before it in that bucket: a link to the wrong trace.

``exemplar_reservoir_factory()`` is what otelperf's views pass to the SDK: this reservoir for
explicit-bucket histograms, the SDK's default for everything else (``fastpaths.exemplars``). With
that fast path off it is ``None`` and the views keep the SDK's reservoirs.
``tests/unit/metrics/test_exemplars.py`` offers the same measurements to both and compares what
they collect.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from threading import Lock
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.metrics import Exemplar, ExemplarReservoir
from opentelemetry.trace import SpanContext, get_current_span
from opentelemetry.util.types import Attributes

from otelperf.fastpaths import exemplars as exemplars_fastpath
from otelperf.fastpaths.context import span_key
from otelperf.fastpaths.exemplars import ReservoirFactory

# One bucket's last measurement: its value, time, attributes and the span it was recorded in.
_Offered = tuple[float, int, Attributes, SpanContext | None]


class LastInBucketReservoir(ExemplarReservoir):
    """Per bucket of an explicit-bucket histogram, the last measurement offered since the last collection."""

    def __init__(self, boundaries: Sequence[float], **_: Any) -> None:
        self._boundaries = tuple(boundaries)
        self._last: list[_Offered | None] = [None] * (len(self._boundaries) + 1)
        self._lock = Lock()
        self._span_key = span_key()

    def offer(self, value: float, time_unix_nano: int, attributes: Attributes, context: Context) -> None:
        span_context = _span_context(context, self._span_key)
        with self._lock:
            self._last[bisect_left(self._boundaries, value)] = (value, time_unix_nano, attributes, span_context)

    def collect(self, point_attributes: Attributes) -> list[Exemplar]:
        with self._lock:
            last, self._last = self._last, [None] * len(self._last)
        point = point_attributes or {}
        return [
            Exemplar(
                # Only the keys the data point lacks, as the SDK's reservoirs keep them.
                {key: item for key, item in attributes.items() if key not in point} if attributes else None,
                value,
                time_unix_nano,
                span_context.span_id if span_context is not None else None,
                span_context.trace_id if span_context is not None else None,
            )
            for value, time_unix_nano, attributes, span_context in filter(None, last)
        ]


def _span_context(context: Context | None, key: str | None) -> SpanContext | None:
    """The valid span context of the span in ``context``, if there is one (read as
    ``fastpaths.context.span_in`` reads it)."""
    span: Any = (context.get(key) if key is not None else get_current_span(context)) if context is not None else None
    try:
        span_context: SpanContext = span.get_span_context()
    except AttributeError:  # no span, or not a span
        return None
    return span_context if span_context.is_valid else None


def exemplar_reservoir_factory() -> ReservoirFactory | None:
    """The views' ``exemplar_reservoir_factory`` (the same object on every call), or ``None`` with
    the ``exemplars`` fast path off."""
    return exemplars_fastpath.reservoir_factory(LastInBucketReservoir)
