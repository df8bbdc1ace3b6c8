"""Fast path ``spans``: a span's fields read as the SDK stores them, for code that runs per span
(the span processors, the span encoder).

A ``ReadableSpan``'s properties copy on every read: ``attributes`` wraps the stored
``BoundedAttributes`` in a mapping proxy, ``events`` and ``links`` copy their ``BoundedList`` into a
tuple (under its lock). A ``BoundedAttributes`` is a mapping written in Python: its ``get`` raises
and catches ``KeyError`` for a missing key and its ``items()`` runs through ``collections.abc``.
With this fast path on, callers read the stored fields (``_context``, ``_parent``, ``_attributes``,
``_events``, ...), the attributes' backing ``dict`` and a ``BoundedList``'s deque. Off, they read
the public properties and mappings, which hold the same values.

The probe ends a real SDK span carrying attributes, events and links, and checks that every stored
field holds what the matching property returns.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from operator import attrgetter
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, set_span_in_context

from otelperf.fastpaths.contract import FastPath, Switch

__all__ = ["SWITCH", "attribute_dict", "backing_dict", "export_fields", "getter", "probe"]

NAME = "spans"
_EMPTY: Mapping[str, Any] = {}
# Public property -> the field it reads (the same value, without the copy).
_STORED = {
    "context": "_context",
    "parent": "_parent",
    "name": "_name",
    "kind": "_kind",
    "start_time": "_start_time",
    "end_time": "_end_time",
    "attributes": "_attributes",
    "events": "_events",
    "links": "_links",
    "status": "_status",
}


def backing_dict(attributes: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """``attributes`` as a plain mapping: a ``BoundedAttributes``'s backing ``dict`` with the fast
    path on, the mapping itself otherwise."""
    if attributes is None:
        return _EMPTY
    on = SWITCH.decision
    if on is None:
        on = SWITCH.on
    if on:
        backing: Mapping[str, Any] | None = getattr(attributes, "_dict", None)
        if backing is not None:
            return backing
    return attributes


def attribute_dict(span: Any) -> Mapping[str, Any]:
    """The span's attributes as a plain mapping (read-only for the caller)."""
    on = SWITCH.decision
    if on is None:
        on = SWITCH.on
    return backing_dict(span._attributes) if on else span.attributes or _EMPTY


def getter(*properties: str) -> Callable[[Any], Any]:
    """``operator.attrgetter`` of the named span properties, reading the stored fields instead when
    the fast path is on. Take it once (when the caller is built), call it per span; a tuple when
    several properties are named, as ``attrgetter`` returns."""
    names = [_STORED[name] for name in properties] if SWITCH.on else list(properties)
    return attrgetter(*names)


def export_fields(span: ReadableSpan) -> tuple[Any, ...]:
    """What the OTLP encoder writes of ``span``: context, parent, name, kind, start and end time,
    attributes and their dropped count, events, dropped events, links, dropped links, status.

    A ``ReadableSpan`` itself is read as stored with the fast path on; a subclass is always read
    through its properties, which it may compute."""
    on = SWITCH.decision
    if on is None:
        on = SWITCH.on
    if on and span.__class__ is ReadableSpan:
        attributes, events, links = span._attributes, span._events, span._links
        return (
            span._context, span._parent, span._name, span._kind, span._start_time, span._end_time,
            attributes, getattr(attributes, "dropped", 0),
            events._dq if events.__class__ is BoundedList else events, getattr(events, "dropped", 0),  # type: ignore[attr-defined]
            links._dq if links.__class__ is BoundedList else links, getattr(links, "dropped", 0),  # type: ignore[attr-defined]
            span._status,
        )  # fmt: skip
    return (
        span.context, span.parent, span.name, span.kind, span.start_time, span.end_time,
        span.attributes, span.dropped_attributes,
        span.events, span.dropped_events,
        span.links, span.dropped_links,
        span.status,
    )  # fmt: skip


class _Capture(SpanProcessor):
    def __init__(self) -> None:
        self.started: Any = None
        self.ended: Any = None

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.started = span

    def on_end(self, span: ReadableSpan) -> None:
        self.ended = span


def _same_sequence(stored: Any, public: Sequence[Any]) -> bool:
    return isinstance(stored, BoundedList) and isinstance(stored._dq, deque) and tuple(stored._dq) == tuple(public)  # type: ignore[attr-defined]


def probe() -> FastPath:
    """Whether an SDK span, live and ended, stores what its properties return in the fields read here."""
    capture = _Capture()
    provider = TracerProvider(sampler=ALWAYS_ON, resource=Resource.get_empty(), shutdown_on_exit=False)
    provider.add_span_processor(capture)
    parent = SpanContext(0x1F, 0x2F, is_remote=True)
    link = Link(SpanContext(0x3F, 0x4F, is_remote=False), {"link.key": 1})
    span = provider.get_tracer("otelperf.fastpaths").start_span(
        "probe",
        context=set_span_in_context(NonRecordingSpan(parent)),
        kind=SpanKind.CLIENT,
        attributes={"key": "value"},
        links=[link],
    )
    span.add_event("event", {"event.key": True})
    span.set_status(Status(StatusCode.ERROR, "probe"))
    live = capture.started
    if live is None or (live._context, live._parent) != (live.context, live.parent):
        return FastPath(NAME, False, "a live SDK span does not keep its context and parent in _context/_parent")
    span.end()
    ended = capture.ended
    provider.shutdown()
    if ended is None or ended.__class__ is not ReadableSpan:
        return FastPath(NAME, False, "the SDK does not end spans into a ReadableSpan")
    for public, stored in _STORED.items():
        if public in ("attributes", "events", "links"):
            continue
        if getattr(ended, stored, None) != getattr(ended, public):
            return FastPath(NAME, False, f"ReadableSpan.{public} is not what ReadableSpan.{stored} holds")
    backing = getattr(ended._attributes, "_dict", None)
    if backing.__class__ is not dict or backing != dict(ended.attributes or {}):
        return FastPath(NAME, False, "BoundedAttributes does not keep its items in a _dict")
    if not _same_sequence(ended._events, ended.events) or not _same_sequence(ended._links, ended.links):
        return FastPath(NAME, False, "the span's events or links are not a BoundedList over a _dq deque")
    return FastPath(NAME, True, "reads ReadableSpan's stored fields, BoundedAttributes._dict, BoundedList._dq")


SWITCH = Switch(NAME, probe)
