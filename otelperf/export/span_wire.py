"""OTLP span encoding that writes the protobuf wire format directly: the export path's hot loop.

The exporters' own ``encode_spans`` builds one protobuf object per span, attribute and value,
and hashes the ``Resource`` (a JSON dump) once per span. This module writes the same
``ExportTraceServiceRequest`` bytes with plain ``bytes`` joins, and keeps the encoded form of what
repeats from span to span: attribute key/value pairs (``http.request.method=GET``), the resource
and the instrumentation scopes. A ``ReadableSpan`` (what the SDK hands the export processor) is
read from the fields it stores: its properties copy the attributes into a mapping proxy and the
events and links into tuples on every read, and iterating a ``BoundedAttributes`` runs in Python.
``bench/micro.py`` times both encoders on the same spans (``docs/benchmarks.md``).

``grpc_span_exporter`` is the SDK's gRPC exporter (channel, retries, TLS, headers, compression)
with one change: its ``Export`` call takes those bytes as they are. The SDK's stub would need a
message, which costs a parse and a second serialization in the C runtime, a large fraction of the
encoding itself. The export thread holds the GIL while it encodes, so
the app's threads wait for it: every ``_SPANS_PER_TURN`` spans it lets them go first
(``os.sched_yield``, which releases the GIL), so a request is held up by a few spans' encoding
rather than a whole batch's.

``encode_request_bytes`` never raises: a batch holding anything this encoder does not know (or
that fails half-way) is handed to the upstream encoder, which is what would have run anyway.
Equivalence with the upstream encoder is property-tested (``tests/unit/test_span_wire.py``).
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import SpanKind, StatusCode

from otelperf.fastpaths.span_attributes import backing_dict
from otelperf.log import logger

__all__ = ["encode_request", "encode_request_bytes", "encode_spans_wire", "grpc_span_exporter"]

_KIND = {
    SpanKind.INTERNAL: b"\x30\x01",
    SpanKind.SERVER: b"\x30\x02",
    SpanKind.CLIENT: b"\x30\x03",
    SpanKind.PRODUCER: b"\x30\x04",
    SpanKind.CONSUMER: b"\x30\x05",
}
_STATUS_CODE = {code: b"\x18" + bytes((code.value,)) if code.value else b"" for code in StatusCode}  # field 3, enum
_FLAGS_LOCAL = b"\x85\x01" + struct.pack("<I", 0x100)  # field 16, fixed32: "is_remote" is known, false
_FLAGS_REMOTE = b"\x85\x01" + struct.pack("<I", 0x300)  # known, and the parent is remote
_PACK_U64 = struct.Struct("<Q").pack
_PACK_DOUBLE = struct.Struct("<d").pack
_MAX_CACHED = 4096  # encoded key/value pairs kept; cleared when full (high-cardinality values churn)
# Cached pair values: not floats, which repeat rarely and whose equal keys differ on the wire (0.0, -0.0).
# Exact classes: a subclass (an IntEnum, say) may hash equal to a value it does not encode as.
_CACHED_CLASSES = frozenset((str, bool, int))
_ONE_BYTE = [bytes((value,)) for value in range(0x80)]
_SPANS_PER_TURN = 16  # spans encoded between two releases of the GIL
_EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def _let_others_run() -> None:
    """Release the GIL and the CPU to a thread that is waiting for either."""
    if hasattr(os, "sched_yield"):
        os.sched_yield()
    else:  # pragma: no cover - Windows
        time.sleep(0)


def _varint(value: int) -> bytes:
    if 0 <= value < 0x80:  # (a negative value raises below: the batch falls back to upstream's encoder)
        return _ONE_BYTE[value]
    if 0 < value < 0x4000:  # most lengths
        return bytes(((value & 0x7F) | 0x80, value >> 7))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: ``tag``, the payload's length, the payload."""
    return tag + _varint(len(payload)) + payload


def _any_value(value: Any) -> bytes:
    """The payload of an ``AnyValue`` (the SDK's attribute types, as the upstream encoder maps them)."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _field(b"\x0a", value.encode())
    if isinstance(value, int):
        return b"\x18" + _varint(value & 0xFFFFFFFFFFFFFFFF)  # int64: two's complement, 10 bytes if < 0
    if isinstance(value, float):
        return b"\x21" + _PACK_DOUBLE(value)
    if isinstance(value, bytes):
        return _field(b"\x3a", value)
    if isinstance(value, Sequence):
        return _field(b"\x2a", b"".join(_field(b"\x0a", _any_value(item)) for item in value))
    if isinstance(value, Mapping):
        return _field(b"\x32", b"".join(_field(b"\x0a", _key_value(str(k), v)) for k, v in value.items()))
    raise TypeError(f"attribute value of type {type(value).__name__}")


def _key_value(key: str, value: Any) -> bytes:
    encoded_key = _field(b"\x0a", key.encode()) if key else b""  # proto3: an empty string is not written
    return encoded_key + _field(b"\x12", _any_value(value))


class _Encoder:
    """Encoded forms of what repeats between spans, kept across batches (one export thread)."""

    def __init__(self) -> None:
        self._pairs: dict[tuple[bytes, str, type, Any], bytes] = {}
        self._owners: dict[int, tuple[Any, bytes]] = {}  # id -> (object kept alive, its encoding)

    def attributes(self, tag: bytes, attributes: Mapping[str, Any] | None) -> list[bytes]:
        plain = backing_dict(attributes)
        if not plain:
            return []
        pairs = self._pairs
        out = []
        for key, value in plain.items():
            cls = value.__class__
            if cls in _CACHED_CLASSES:
                cache_key = (tag, key, cls, value)  # the same pair under another field differs
                encoded = pairs.get(cache_key)
                if encoded is None:
                    if len(pairs) >= _MAX_CACHED:
                        pairs.clear()
                    encoded = pairs[cache_key] = _field(tag, _key_value(key, value))
                out.append(encoded)
            else:
                out.append(_field(tag, _key_value(key, value)))
        return out

    def _owned(self, owner: Any, encode: Any) -> bytes:
        entry = self._owners.get(id(owner))
        if entry is None or entry[0] is not owner:
            if len(self._owners) >= 64:
                self._owners.clear()
            entry = self._owners[id(owner)] = (owner, encode(owner))
        return entry[1]

    def resource(self, resource: Any) -> bytes:
        """A ``Resource`` message (field 1 of ``ResourceSpans``)."""

        def encode(resource: Any) -> bytes:
            return _field(b"\x0a", b"".join(self.attributes(b"\x0a", resource.attributes)))

        return self._owned(resource, encode)

    def scope(self, scope: Any) -> bytes:
        """An ``InstrumentationScope`` message (field 1 of ``ScopeSpans``)."""

        def encode(scope: Any) -> bytes:
            if scope is None:
                return b"\x0a\x00"
            parts = []
            if scope.name:
                parts.append(_field(b"\x0a", scope.name.encode()))
            if scope.version:
                parts.append(_field(b"\x12", scope.version.encode()))
            parts.extend(self.attributes(b"\x1a", scope.attributes))
            return _field(b"\x0a", b"".join(parts))

        return self._owned(scope, encode)

    def span(self, span: ReadableSpan) -> bytes:
        (
            context, parent, name, kind, start_time, end_time, attributes, dropped_attributes,
            events, dropped_events, links, dropped_links, status,
        ) = _read(span)  # fmt: skip
        parts = [b"\x0a\x10", context.trace_id.to_bytes(16, "big"), b"\x12\x08", context.span_id.to_bytes(8, "big")]
        trace_state = context.trace_state
        if trace_state:
            parts.append(_field(b"\x1a", ",".join(f"{k}={v}" for k, v in trace_state.items()).encode()))
        if parent is not None:
            parts.append(b"\x22\x08")
            parts.append(parent.span_id.to_bytes(8, "big"))
        if name:
            parts.append(_field(b"\x2a", name.encode()))
        parts.append(_KIND[kind])
        if start_time:
            parts.append(b"\x39" + _PACK_U64(start_time))
        if end_time:
            parts.append(b"\x41" + _PACK_U64(end_time))
        parts.extend(self.attributes(b"\x4a", attributes))
        if dropped_attributes:
            parts.append(b"\x50" + _varint(dropped_attributes))
        for event in events:
            event_parts = [b"\x09" + _PACK_U64(event.timestamp)] if event.timestamp else []
            if event.name:
                event_parts.append(_field(b"\x12", event.name.encode()))
            event_parts.extend(self.attributes(b"\x1a", event.attributes))
            if event.dropped_attributes:
                event_parts.append(b"\x20" + _varint(event.dropped_attributes))
            parts.append(_field(b"\x5a", b"".join(event_parts)))
        if dropped_events:
            parts.append(b"\x60" + _varint(dropped_events))
        for link in links:
            link_context = link.context
            link_parts = [
                b"\x0a\x10" + link_context.trace_id.to_bytes(16, "big"),
                b"\x12\x08" + link_context.span_id.to_bytes(8, "big"),
            ]
            link_parts.extend(self.attributes(b"\x22", link.attributes))
            if link.dropped_attributes:
                link_parts.append(b"\x28" + _varint(link.dropped_attributes))
            link_parts.append(b"\x35" + struct.pack("<I", 0x300 if link_context.is_remote else 0x100))
            parts.append(_field(b"\x6a", b"".join(link_parts)))
        if dropped_links:
            parts.append(b"\x70" + _varint(dropped_links))
        description = status.description
        described = _field(b"\x12", description.encode()) if description else b""
        parts.append(_field(b"\x7a", described + _STATUS_CODE[status.status_code]))
        parts.append(_FLAGS_REMOTE if parent is not None and parent.is_remote else _FLAGS_LOCAL)
        return b"".join(parts)

    def request(self, spans: Sequence[ReadableSpan], pause: Callable[[], None] | None = None) -> bytes:
        """``ExportTraceServiceRequest`` bytes: spans grouped by resource, then scope, in order.
        ``pause`` is called between every ``_SPANS_PER_TURN`` spans."""
        resources = _Groups()
        for index, span in enumerate(spans):
            if pause is not None and index and not index % _SPANS_PER_TURN:
                pause()
            scopes: _Groups = resources.get(span.resource, _Groups)
            scopes.get(span.instrumentation_scope, list).append(_field(b"\x12", self.span(span)))
        out = []
        for resource, scopes in resources.items():
            body = [self.resource(resource)]
            for scope, encoded_spans in scopes.items():
                scope_body = [self.scope(scope), *encoded_spans]
                if scope is not None and scope.schema_url:
                    scope_body.append(_field(b"\x1a", scope.schema_url.encode()))
                body.append(_field(b"\x12", b"".join(scope_body)))
            if resource.schema_url:
                body.append(_field(b"\x1a", resource.schema_url.encode()))
            out.append(_field(b"\x0a", b"".join(body)))
        return b"".join(out)


def _read(span: ReadableSpan) -> tuple[Any, ...]:
    """The span's fields in the order ``_Encoder.span`` writes them. A ``ReadableSpan`` (what the SDK
    ends spans into) is read as stored: its properties copy attributes, events and links on every
    read. A subclass is read through its properties, which it may compute."""
    if span.__class__ is ReadableSpan:
        attributes, events, links = span._attributes, span._events, span._links
        return (
            span._context, span._parent, span._name, span._kind, span._start_time, span._end_time,
            attributes, getattr(attributes, "dropped", 0),
            _items(events), getattr(events, "dropped", 0),
            _items(links), getattr(links, "dropped", 0),
            span._status,
        )  # fmt: skip
    return (
        span.context, span.parent, span.name, span.kind, span.start_time, span.end_time,
        span.attributes, span.dropped_attributes,
        span.events, span.dropped_events,
        span.links, span.dropped_links,
        span.status,
    )  # fmt: skip


def _items(sequence: Sequence[Any]) -> Sequence[Any]:
    """A ``BoundedList``'s deque (its own iteration copies it under a lock), or the sequence."""
    return sequence._dq if sequence.__class__ is BoundedList else sequence  # type: ignore[attr-defined]


class _Groups:
    """Values per key, keys compared by identity first and equality second (as the upstream dict
    keys are, without hashing a ``Resource``, a JSON dump, per span); in first-seen order."""

    def __init__(self) -> None:
        self._by_id: dict[int, Any] = {}
        self._keys: list[Any] = []
        self._values: list[Any] = []

    def get(self, key: Any, new: Any) -> Any:
        value = self._by_id.get(id(key))
        if value is None:
            for index, seen in enumerate(self._keys):
                if seen == key:
                    value = self._values[index]
                    break
            else:
                value = new()
                self._keys.append(key)
                self._values.append(value)
            self._by_id[id(key)] = value  # the key stays alive in the batch: its id is not reused
        return value

    def items(self) -> list[tuple[Any, Any]]:
        return list(zip(self._keys, self._values, strict=True))


_encoder = _Encoder()


def encode_spans_wire(spans: Sequence[ReadableSpan]) -> bytes:
    """The serialized ``ExportTraceServiceRequest`` for ``spans`` (may raise on unknown data)."""
    return _encoder.request(spans)


def encode_request_bytes(spans: Sequence[ReadableSpan], pause: Callable[[], None] | None = None) -> bytes:
    """What ``encode_spans(spans).SerializeToString()`` returns; never raises on odd data."""
    try:
        return _encoder.request(spans, pause)
    except Exception as exc:  # noqa: BLE001 - the upstream encoder is the fallback
        logger.debug("fast span encoding failed (%s: %s); using the SDK's encoder", type(exc).__name__, exc)
        serialized: bytes = encode_spans(spans).SerializeToString()
        return serialized


def encode_request(spans: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
    """What ``encode_spans`` returns, parsed from ``encode_request_bytes``."""
    request: ExportTraceServiceRequest = ExportTraceServiceRequest.FromString(encode_request_bytes(spans))
    return request


class _WireTraceServiceStub:
    """The trace service's ``Export``, taking the request already serialized."""

    def __init__(self, channel: Any) -> None:
        self.Export = channel.unary_unary(
            _EXPORT_METHOD,
            request_serializer=None,  # bytes go out as they are
            response_deserializer=ExportTraceServiceResponse.FromString,
            _registered_method=True,
        )


def grpc_span_exporter(endpoint: str, timeout_s: float) -> Any:
    """The SDK's gRPC ``OTLPSpanExporter`` (retries, TLS, headers, compression), sending
    ``encode_request_bytes``."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    class FastEncodingSpanExporter(OTLPSpanExporter):
        def __init__(self, **options: Any) -> None:
            super().__init__(**options)
            self._sends_bytes = False
            try:
                client = _WireTraceServiceStub(self._channel)
            except Exception as exc:  # noqa: BLE001 - another SDK version: send messages as it does
                logger.debug("span export sends protobuf messages (%s: %s)", type(exc).__name__, exc)
            else:  # the SDK rebuilds its client from ``_stub`` when it reconnects
                self._stub = _WireTraceServiceStub
                self._client = client  # type: ignore[assignment]
                self._sends_bytes = True

        def _translate_data(self, data: Sequence[ReadableSpan]) -> Any:
            if self._sends_bytes:
                return encode_request_bytes(data, _let_others_run)
            return encode_request(data)

    return FastEncodingSpanExporter(endpoint=endpoint, timeout=timeout_s)
