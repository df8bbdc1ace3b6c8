"""otelperf's histograms recorded straight into the SDK's aggregations, once their attribute set is known.

A traced request records several histogram measurements (HTTP duration and response size, SQL
statements and connection waits, Redis commands, pool tasks' wait and run). Most of the cost of the
SDK's ``Histogram.record`` is spent on the attributes, on every measurement: ``Measurement`` cleans
them (a recursive type check and a new dict), then each reader's view copies them and hashes them
(sorted, recursively) to find the attribute set's aggregation. otelperf builds these attribute sets
itself, from plain strings and numbers, and the same few sets come back on every request:
``DirectHistogram`` finds a set's aggregations once and afterwards hands each measurement to them
directly. ``bench/micro.py`` and ``bench/instructions.py`` measure the difference
(``docs/benchmarks.md``).

Two more things cost more than the aggregation itself and are done otherwise: the
``Measurement`` is built by writing its five fields (the frozen dataclass's ``__init__`` sets them
one ``object.__setattr__`` at a time), and the default exemplar filter's question, is the span
sampled, is answered from the span without ``get_current_span``'s ``isinstance`` check against the
``Span`` ABC. Should a release change ``Measurement``'s fields or give it slots, its constructor
builds it again.

Everything else stays the SDK's: the aggregation objects are the ones the SDK created for the set,
fed under their own locks; the SDK chose them, so the series limit and its overflow series apply as
usual; the exemplar filter and reservoirs see every measurement; collection and export are
untouched.

This reads SDK internals (``opentelemetry-sdk`` 1.45, which ``pyproject.toml`` pins to 1.45.x).
Where they are not what this expects, or where caching aggregations would be wrong, the
instrument keeps the public ``record`` and one debug line says why:

- the instrument is not the SDK's (the API's proxy or no-op instruments);
- a view keeps only some attribute keys;
- a reader wants delta temporality (the SDK then replaces the aggregations at each collection);
- a reader is added or removed later (the cache is rebuilt; checked on every measurement);
- anything raises while looking an attribute set up (that set keeps the public path).

``tests/unit/test_direct.py`` records the same measurements through both paths and compares the
exported points, exemplars and overflow, so an SDK change that breaks this fails CI, not users.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from time import time_ns
from typing import Any

from opentelemetry.context import Context, get_current
from opentelemetry.metrics import Histogram
from opentelemetry.trace import Span, set_span_in_context
from opentelemetry.trace.propagation import _SPAN_KEY

from otelperf.log import logger

try:
    from opentelemetry.attributes import _clean_attribute_value
    from opentelemetry.sdk.metrics import TraceBasedExemplarFilter
    from opentelemetry.sdk.metrics._internal._view_instrument_match import _hash_attributes
    from opentelemetry.sdk.metrics._internal.instrument import _Histogram
    from opentelemetry.sdk.metrics._internal.measurement import Measurement

    _SDK_HISTOGRAM: type[Any] | None = _Histogram
except ImportError:  # pragma: no cover - an SDK laid out otherwise: every histogram keeps the public path
    _SDK_HISTOGRAM = None

_set_field = object.__setattr__
_new_object = object.__new__
_NO_CONTEXT = Context()  # a measurement no reservoir is offered: its context is never read
Aggregations = tuple[Any, ...]
_MEASUREMENT_FIELDS = ("value", "time_unix_nano", "instrument", "context", "attributes")


def _measurement_fields_settable() -> bool:
    """Whether a ``Measurement``'s fields are the five this module sets, kept in its ``__dict__``."""
    if _SDK_HISTOGRAM is None:
        return False
    try:
        names = tuple(field.name for field in dataclasses.fields(Measurement))
        return names == _MEASUREMENT_FIELDS and "__slots__" not in vars(Measurement)
    except TypeError:  # not a dataclass
        return False


def _measurement(value: float, now: int, instrument: Any, context: Context, attributes: Any) -> Any:
    """``Measurement(value, now, instrument, context, attributes)`` without its ``__post_init__``:
    the attributes were cleaned when their set's aggregations were found."""
    measurement = Measurement(value, now, instrument, context, None)
    _set_field(measurement, "attributes", attributes)
    return measurement


def _measurement_by_fields(value: float, now: int, instrument: Any, context: Context, attributes: Any) -> Any:
    """The same ``Measurement``, its fields written to its ``__dict__``: the frozen dataclass's
    ``__init__`` sets them one ``object.__setattr__`` at a time, a large share of a direct record."""
    measurement = _new_object(Measurement)
    fields = measurement.__dict__
    fields["value"] = value
    fields["time_unix_nano"] = now
    fields["instrument"] = instrument
    fields["context"] = context
    fields["attributes"] = attributes
    return measurement


new_measurement = _measurement_by_fields if _measurement_fields_settable() else _measurement


def span_sampled(context: Context | None, span: Span | None) -> bool:
    """Whether the span of the measurement (``span``, else the one in ``context``, else the
    current one) is sampled: ``get_current_span`` without its ``isinstance`` check against the
    ``Span`` ABC, which costs more than the rest of the answer."""
    found: Any = span if span is not None else (context if context is not None else get_current()).get(_SPAN_KEY)
    if found is None:
        return False
    try:
        return bool(found.get_span_context().trace_flags.sampled)
    except AttributeError:  # not a span: get_current_span would take INVALID_SPAN, not sampled
        return False


def context_of(context: Context | None, span: Span | None) -> Context | None:
    """The context a measurement is recorded in: ``context``, else one holding ``span`` (if given)."""
    return set_span_in_context(span) if context is None and span is not None else context


class DirectHistogram:
    """The SDK aggregations of one histogram, per attribute set, and a ``record`` that feeds them."""

    __slots__ = ("_consumer", "_filter", "_histogram", "_storages", "_trace_based")

    def __init__(self, histogram: Any) -> None:
        self._histogram = histogram
        self._consumer = histogram._measurement_consumer
        self._filter = self._consumer._sdk_config.exemplar_filter
        # The SDK's default filter asks only whether the measurement's span is sampled: answered
        # from the span itself, and no context is built for the spans that are not.
        self._trace_based = type(self._filter) is TraceBasedExemplarFilter
        self._storages = self._consumer._reader_storages

    @classmethod
    def of(cls, histogram: Histogram) -> DirectHistogram | None:
        """For an SDK histogram whose views and readers allow it, else ``None`` (logged)."""
        reason = _unsupported(histogram)
        if reason is None:
            try:
                direct = cls(histogram)
                reason = direct._unsupported_matches()
            except Exception as error:  # noqa: BLE001 - the public path still works
                reason = f"unexpected SDK internals ({error!r})"
            if reason is None:
                return direct
        name = getattr(histogram, "name", "?")
        logger.debug("%s: recorded through the SDK's public Histogram.record: %s", name, reason)
        return None

    def _matches(self) -> list[Any]:
        instrument = self._histogram
        return [
            match
            for storage in self._storages.values()
            for match in storage._get_or_init_view_instrument_match(instrument)
        ]

    def _unsupported_matches(self) -> str | None:
        for match in self._matches():
            if match._view._attribute_keys is not None:
                return "a view keeps only some of its attribute keys"
            if match._reset_on_collect:
                return "a reader takes delta temporality"
        return None

    def current(self) -> bool:
        """Whether the readers are the ones the aggregations were looked up for."""
        return self._consumer._reader_storages is self._storages

    def aggregations(self, attributes: Mapping[str, Any] | None) -> Aggregations:
        """Each reader's aggregation for ``attributes`` (created as the SDK's first measurement would)."""
        clean = _clean_attribute_value(attributes, None) if attributes else {}
        found = []
        for match in self._matches():
            cleaned = dict(clean)  # as the SDK's first measurement of the set: cleaned, one copy per view
            with match._lock:
                found.append(match._get_or_create_aggregation(_hash_attributes(cleaned), cleaned))
        return tuple(found)

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
        if not 0.0 <= value < math.inf or not self._histogram._is_enabled():
            # A disabled meter, a negative or non-finite value: the SDK's own handling (and warning).
            self._histogram.record(value, attributes, context=context_of(context, span))
            return
        now = time_ns()
        if self._trace_based:  # TraceBasedExemplarFilter.should_sample, without the context
            sample = span_sampled(context, None if context is not None else span)
            if sample and context is None:  # the span given, else the current one: in the current context
                context = set_span_in_context(span) if span is not None else get_current()
        else:
            context = context_of(context, span)
            if context is None:
                context = get_current()
            sample = self._filter.should_sample(value, now, attributes, context)
        # Not cleaned again: the set's aggregations were found with the cleaned attributes, and the
        # exemplar reservoir only keeps the keys a point lacks (none: no view drops keys here).
        measurement = new_measurement(value, now, self._histogram, context or _NO_CONTEXT, attributes)
        for aggregation in aggregations:
            aggregation.aggregate(measurement, sample)


def _unsupported(histogram: Histogram) -> str | None:
    if _SDK_HISTOGRAM is None:
        return "this opentelemetry-sdk's internals differ from 1.45's"
    if not isinstance(histogram, _SDK_HISTOGRAM):
        return f"not the SDK's histogram ({type(histogram).__name__})"
    return None
