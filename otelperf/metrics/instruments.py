"""otelperf's own instruments: bounded series, counted overflow, and a meter of otelperf's cost.

Each instrument is created from its declaration in the instrument catalog
(``semconv.INSTRUMENTS``: name, kind, unit, description, buckets): ``BoundedHistogram``,
``BoundedCounter`` and ``ObservedUpDownCounter`` take the declaration, ``observe`` creates the
declared asynchronous instruments, and each refuses a declaration of another kind.

The SDK (1.45) caps each metric stream at a number of attribute sets and sends the rest to one
``otel.metric.overflow=true`` series; otelperf sets that cap for every instrument from
``OTELPERF_METRIC_SERIES_LIMIT``. What the SDK does not do is say how much overflowed: the
``Bounded*`` wrappers keep the same count of attribute sets per instrument and add every
measurement that lands in the overflow series to ``otelperf.metric.overflow``
(``otelperf.metric.name`` = the instrument). The guard costs one ``frozenset`` per measurement,
and ``BoundedHistogram`` reuses it as the key to the attribute set's SDK aggregations, which it
feeds directly (``metrics.direct``), skipping the public path's per-measurement attribute work.

``SelfCost`` measures the time otelperf spends per span or measurement in its own code, one call
in 256, into ``otelperf.self.duration`` (``otelperf.component``): recording a measurement costs
more than most of what it measures, so it is sampled sparsely.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opentelemetry import metrics
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Counter, Histogram, Meter, Observation
from opentelemetry.trace import Span

from otelperf import semconv
from otelperf.fastpaths.histograms import awaiting_provider
from otelperf.log import logger
from otelperf.metrics.direct import Aggregations, DirectHistogram, context_of
from otelperf.version import __version__

_limit = {"series": 2000}
_lock = threading.Lock()
_shared: dict[str, Any] = {}
_NO_ATTRIBUTES: frozenset[tuple[str, Any]] = frozenset()


def set_series_limit(limit: int) -> None:
    """Called once by the configurator; guards created afterwards use it."""
    _limit["series"] = limit


def series_limit() -> int:
    return _limit["series"]


def _own_meter() -> Meter:
    return metrics.get_meter("otelperf", __version__)


def _histogram(meter: Meter, instrument: semconv.Instrument) -> Histogram:
    """The SDK histogram of a declared instrument, its buckets passed as the advisory boundaries."""
    return meter.create_histogram(
        instrument.name,
        unit=instrument.unit,
        description=instrument.description,
        explicit_bucket_boundaries_advisory=list(instrument.buckets) if instrument.buckets else None,
    )


def _overflow_counter(meter: Meter) -> Counter:
    """One ``otelperf.metric.overflow`` counter per meter (kept with the meter it belongs to)."""
    key = f"overflow-{id(meter)}"
    entry = _shared.get(key)
    if entry is None:
        with _lock:
            entry = _shared.get(key)
            if entry is None:
                declared = semconv.INSTRUMENTS[semconv.METRIC_OVERFLOW]
                counter = meter.create_counter(declared.name, unit=declared.unit, description=declared.description)
                entry = _shared[key] = (meter, counter)
    return entry[1]


def _declared(instrument: semconv.Instrument, *kinds: semconv.InstrumentKind) -> semconv.Instrument:
    """``instrument``, checked to be of a kind the caller creates (a wrong pairing is a bug)."""
    if instrument.kind not in kinds:
        raise ValueError(f"{instrument.name} is declared as {instrument.kind}, not {' or '.join(kinds)}")
    return instrument


def observe(
    meter: Meter, instrument: semconv.Instrument, callback: Callable[[CallbackOptions], Iterable[Observation]]
) -> None:
    """Create the declared asynchronous instrument ``instrument``, observed by ``callback``."""
    kind = _declared(instrument, "observable_counter", "observable_up_down_counter", "observable_gauge").kind
    create = {
        "observable_counter": meter.create_observable_counter,
        "observable_up_down_counter": meter.create_observable_up_down_counter,
        "observable_gauge": meter.create_observable_gauge,
    }[kind]
    create(instrument.name, callbacks=[callback], unit=instrument.unit, description=instrument.description)


class SeriesGuard:
    """Tracks the attribute sets of one instrument up to the limit; counts the overflow."""

    __slots__ = ("_attributes", "_limit", "_lock", "_meter", "_seen")

    def __init__(self, name: str, meter: Meter) -> None:
        self._meter = meter
        self._seen: set[frozenset[tuple[str, Any]]] = set()
        self._limit = series_limit()
        self._attributes = {semconv.METRIC_NAME: name}
        self._lock = threading.Lock()

    def admit(self, attributes: Mapping[str, Any] | None) -> None:
        self.admit_key(frozenset(attributes.items()) if attributes else _NO_ATTRIBUTES)

    def admit_key(self, key: frozenset[tuple[str, Any]]) -> bool:
        """Whether the attribute set ``key`` is within the limit; counts it in the overflow if not."""
        if key in self._seen:
            return True
        with self._lock:
            if key in self._seen:
                return True
            if len(self._seen) < self._limit:
                self._seen.add(key)
                return True
        _overflow_counter(self._meter).add(1, self._attributes)
        return False


class BoundedHistogram:
    """The declared histogram ``instrument`` behind the series guard, recorded through
    ``DirectHistogram`` where it can be: the guard's key for an attribute set also finds that set's
    SDK aggregations.

    A histogram created before the meter provider is set (by an instrumentor in a pre-fork
    master, say) is the API's proxy: until the provider is set, each new attribute set asks again
    whether the proxy is backed by an SDK histogram now, without remembering the set, so the first
    measurement of a set after the provider is set (in a forked worker too) switches to the direct
    path."""

    __slots__ = ("_awaiting", "_direct", "_guard", "_histogram", "_known", "_name")

    def __init__(self, meter: Meter, instrument: semconv.Instrument) -> None:
        self._histogram: Histogram = _histogram(meter, _declared(instrument, "histogram"))
        self._guard = SeriesGuard(instrument.name, meter)
        self._name = instrument.name
        self._direct = DirectHistogram.of(self._histogram, self._name)
        self._awaiting = self._direct is None and awaiting_provider(self._histogram)
        # Attribute sets within the series limit -> their aggregations (empty: the public path).
        self._known: dict[frozenset[tuple[str, Any]], Aggregations] = {}

    def record(
        self, value: float, attributes: Mapping[str, Any], context: Context | None = None, span: Span | None = None
    ) -> None:
        """``Histogram.record``; ``span`` may stand for ``context=set_span_in_context(span)``, which
        the direct path builds only when the exemplar filter needs it."""
        try:
            key = frozenset(attributes.items()) if attributes else _NO_ATTRIBUTES
        except TypeError:  # an unhashable value (a list): the SDK's path, which makes it a tuple
            self._public_record(value, attributes, context, span)
            return
        aggregations = self._known.get(key)
        if aggregations is None:
            aggregations = self._learn(key, attributes)
        direct = self._direct
        if aggregations and direct is not None:
            if direct.current():
                direct.record(aggregations, value, attributes, context, span)
                return
            self._readers_changed()
        self._public_record(value, attributes, context, span)

    def _public_record(
        self, value: float, attributes: Mapping[str, Any], context: Context | None, span: Span | None
    ) -> None:
        self._histogram.record(value, attributes, context=context_of(context, span))

    def _readers_changed(self) -> None:
        """A reader was added or removed: this measurement takes the public path, the next ones
        look their attribute sets up again (if the new readers still allow it)."""
        self._known = {}
        self._direct = DirectHistogram.of(self._histogram, self._name)

    def _learn(self, key: frozenset[tuple[str, Any]], attributes: Mapping[str, Any]) -> Aggregations:
        """A new attribute set: admitted by the guard (counted if it overflows), then looked up."""
        if not self._guard.admit_key(key):
            return ()
        if self._awaiting:
            self._awaiting = awaiting_provider(self._histogram)
            if self._awaiting:
                return ()  # not remembered: the next measurement of the set asks again
            self._readers_changed()
        aggregations: Aggregations = ()
        if self._direct is not None:
            try:
                aggregations = self._direct.aggregations(attributes)
            except Exception:  # noqa: BLE001 - this set keeps the public path
                logger.debug("direct recording lookup failed", exc_info=True)
        self._known[key] = aggregations
        return aggregations


class BoundedCounter:
    """The declared counter ``instrument`` behind the series guard."""

    __slots__ = ("_counter", "_guard")

    def __init__(self, meter: Meter, instrument: semconv.Instrument) -> None:
        declared = _declared(instrument, "counter")
        self._counter: Counter = meter.create_counter(
            declared.name, unit=declared.unit, description=declared.description
        )
        self._guard = SeriesGuard(declared.name, meter)

    def add(self, value: int, attributes: Mapping[str, Any]) -> None:
        self._guard.admit(attributes)
        self._counter.add(value, attributes)


class Count:
    """One attribute set's count in an ``ObservedUpDownCounter``: ``up()`` and ``down()`` are
    ``next`` on two ``itertools.count`` objects, which the GIL makes atomic, so changing the count
    takes no lock and builds no key (the set was found once, when the count was handed out)."""

    __slots__ = ("_downs", "_ups", "attributes", "down", "up")

    def __init__(self, attributes: Mapping[str, Any]) -> None:
        self.attributes = attributes
        self._ups, self._downs = itertools.count(), itertools.count()
        self.up: Callable[[], object] = self._ups.__next__
        self.down: Callable[[], object] = self._downs.__next__

    def value(self) -> int:
        # Downs first: a change between the two reads can only make the value larger, never negative.
        downs = _count_value(self._downs)
        return _count_value(self._ups) - downs


def _count_value(counter: itertools.count[int]) -> int:
    """The next value of ``counter`` without taking it: ``repr`` gives ``count(<n>)``."""
    return int(repr(counter)[6:-1])


def _uncounted() -> None:
    return None


_UNCOUNTED = Count({})  # what an attribute set past the series limit gets: changes are not counted
_UNCOUNTED.up = _UNCOUNTED.down = _uncounted


class ObservedUpDownCounter:
    """The declared observable up-down counter ``instrument``, kept as plain counts per attribute
    set and observed at each collection: changing a count costs a C call instead of an SDK
    measurement, for counts that move twice per unit of work (requests in flight, tasks queued).
    Callers ask once for an attribute set's ``Count`` and move it; sets past the series limit are
    not counted."""

    __slots__ = ("_counts", "_lock")

    def __init__(self, meter: Meter, instrument: semconv.Instrument) -> None:
        self._counts: dict[tuple[tuple[str, Any], ...], Count] = {}
        self._lock = threading.Lock()
        observe(meter, _declared(instrument, "observable_up_down_counter"), self._observe)

    def count(self, attributes: Mapping[str, Any]) -> Count:
        """The count of ``attributes`` (the same object for equal sets given in the same order)."""
        key = tuple(attributes.items())
        count = self._counts.get(key)
        if count is None:
            with self._lock:
                count = self._counts.get(key)
                if count is None:
                    if len(self._counts) >= series_limit():
                        return _UNCOUNTED
                    count = self._counts[key] = Count(attributes)
        return count

    def _observe(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            counts = list(self._counts.values())
        for count in counts:
            yield Observation(count.value(), count.attributes)


class SelfCost:
    """Samples otelperf's own time per call (1 in 256) for one component."""

    __slots__ = ("_attributes", "_calls")

    def __init__(self, component: str) -> None:
        self._calls = 0
        self._attributes = {semconv.COMPONENT: component}

    def sampled(self) -> bool:
        self._calls += 1
        return self._calls & 255 == 1  # the first call, then one in 256

    def record(self, started: float) -> None:
        histogram = _shared.get("self")
        if histogram is None:
            histogram = _shared["self"] = _histogram(_own_meter(), semconv.INSTRUMENTS[semconv.SELF_DURATION])
        histogram.record(time.perf_counter() - started, self._attributes)
