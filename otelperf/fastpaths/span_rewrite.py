"""SDK contract ``span_rewrite``: changing a span after it ended, before it is exported.

The sanitizing processor replaces statement text, URLs, credential headers, exception messages
and the status description of ended spans; the N+1 processor adds an event to an ended root. The
SDK hands ``on_end`` a ``ReadableSpan`` whose public interface is read-only, and every processor
after it (the export processor among them) receives that same object, so the only way to change
what is exported is to replace its stored ``_attributes``, ``_events`` items and ``_status``.

There is no public equivalent, so ``OTELPERF_FAST_PATHS=false`` does not turn this off and the
functions below always write. The probe says whether those writes still reach what the span's
properties (and so the exporters) read; when it fails, the startup line says so as a warning:
scrubbing of ended spans does not work with the installed SDK.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import SpanContext, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from otelperf.fastpaths.contract import FastPath, Switch

__all__ = ["SWITCH", "append_event", "probe", "replace_attributes", "replace_status", "rewrite_events"]

NAME = "span_rewrite"


def replace_attributes(span: ReadableSpan, replacements: Mapping[str, AttributeValue]) -> None:
    """Give the ended span its attributes with ``replacements`` applied (same order, dropped count kept)."""
    attributes = span._attributes
    merged = dict(attributes or {})
    merged.update(replacements)
    clean = BoundedAttributes(attributes=merged, immutable=True)
    clean.dropped = getattr(attributes, "dropped", 0)
    span._attributes = clean


def rewrite_events(span: ReadableSpan, rewrite: Callable[[Event], Event]) -> None:
    """Replace each event ``rewrite`` returns another object for (a ``BoundedList`` is changed in
    place, keeping its dropped count)."""
    events = span._events
    if not events:
        return
    items = getattr(events, "_dq", None)
    for index, event in enumerate(tuple(events)):
        clean = rewrite(event)
        if clean is not event:
            if items is not None:
                items[index] = clean
            else:
                span._events = tuple(rewrite(e) for e in events)
                return


def replace_status(span: ReadableSpan, status: Status) -> None:
    span._status = status


def append_event(span: ReadableSpan, event: Event) -> None:
    """Add an event to the ended span (its own ``add_event`` refuses once it has ended)."""
    events: Any = span._events
    if hasattr(events, "append"):
        events.append(event)
    else:
        span._events = (*events, event)


def probe() -> FastPath:
    """Whether each rewrite of an ended ``ReadableSpan`` shows in its public properties."""
    events: BoundedList[Event] = BoundedList(4)
    events.append(Event("exception", {"exception.message": "raw"}))
    attributes = BoundedAttributes(attributes={"a": "raw", "b": 1}, immutable=True)
    attributes.dropped = 1
    span = ReadableSpan(
        "probe",
        SpanContext(1, 2, is_remote=False),
        attributes=attributes,
        events=events,
        status=Status(StatusCode.ERROR, "raw"),
    )
    replace_attributes(span, {"a": "clean"})
    rewrite_events(span, lambda event: Event(event.name, {"exception.message": "clean"}, event.timestamp))
    replace_status(span, Status(StatusCode.ERROR, "clean"))
    append_event(span, Event("added"))
    reason = None
    if dict(span.attributes or {}) != {"a": "clean", "b": 1} or span.dropped_attributes != 1:
        reason = "ReadableSpan.attributes does not show attributes replaced in _attributes"
    elif [(e.name, dict(e.attributes or {})) for e in span.events] != [
        ("exception", {"exception.message": "clean"}),
        ("added", {}),
    ]:
        reason = "ReadableSpan.events does not show events rewritten in _events"
    elif span.status.description != "clean":
        reason = "ReadableSpan.status does not show a status replaced in _status"
    if reason is not None:
        return FastPath(NAME, False, f"{reason}: ended spans are exported as recorded (no scrubbing, no N+1 event)")
    return FastPath(NAME, True, "replaces ReadableSpan._attributes, _events items and _status")


SWITCH = Switch(NAME, probe, forcible=False)
