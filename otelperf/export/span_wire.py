"""OTLP span encoding that writes the protobuf wire format directly: the export path's hot loop.

The exporters' own ``encode_spans`` builds one protobuf object per span, attribute and value,
and hashes the ``Resource`` (a JSON dump) once per span. This module writes the same
``ExportTraceServiceRequest`` bytes with plain ``bytes`` joins, field by field from the numbers
in ``export.otlp_fields``, and keeps the encoded form of what repeats from span to span:
attribute key/value pairs (``http.request.method=GET``), the resource and the instrumentation
scopes. Spans are read through ``fastpaths.spans``: with that fast path on, from the fields a
``ReadableSpan`` stores, not through its properties, which copy the attributes into a mapping
proxy and the events and links into tuples on every read. ``bench/micro.py`` times both encoders
on the same spans (``docs/benchmarks.md``).

``grpc_span_exporter`` is the SDK's gRPC exporter (channel, retries, TLS, headers, compression)
sending those bytes as they are (``fastpaths.grpc_export``): the SDK's stub would need a message,
which costs a parse and a second serialization in the C runtime. With that fast path off it is the
SDK's exporter with its own encoder. The export thread holds the GIL while it encodes, so the
app's threads wait for it: every ``_SPANS_PER_TURN`` spans it lets them go first
(``os.sched_yield``, which releases the GIL), so a request is held up by a few spans' encoding
rather than a whole batch's.

``encode_spans_wire`` raises on anything it cannot encode; ``encode_request_bytes``, what the
exporter calls, never raises: such a batch is handed to the upstream encoder, which is what
would have run anyway (one debug line). Equivalence with the upstream encoder is property-tested
through the raising encoder.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from otelperf.export.otlp_fields import (
    AnyValue,
    ArrayValue,
    Event,
    InstrumentationScope,
    KeyValue,
    KeyValueList,
    Link,
    Resource,
    ResourceSpans,
    ScopeSpans,
    Span,
    Status,
    WireType,
    tag,
)
from otelperf.export.otlp_fields import ExportTraceServiceRequest as Request
from otelperf.fastpaths import grpc_export
from otelperf.fastpaths.spans import backing_dict, export_fields
from otelperf.log import logger

__all__ = ["encode_request", "encode_request_bytes", "encode_spans_wire", "grpc_span_exporter"]

_VARINT, _I64, _LEN, _I32 = WireType.VARINT, WireType.I64, WireType.LEN, WireType.I32

# Keys of the fields written, by message (fixed-length fields carry their length too).
_REQUEST_RESOURCE_SPANS = tag(Request.RESOURCE_SPANS, _LEN)
_RESOURCE_SPANS_RESOURCE = tag(ResourceSpans.RESOURCE, _LEN)
_RESOURCE_SPANS_SCOPE_SPANS = tag(ResourceSpans.SCOPE_SPANS, _LEN)
_RESOURCE_SPANS_SCHEMA_URL = tag(ResourceSpans.SCHEMA_URL, _LEN)
_RESOURCE_ATTRIBUTES = tag(Resource.ATTRIBUTES, _LEN)
_SCOPE_SPANS_SCOPE = tag(ScopeSpans.SCOPE, _LEN)
_SCOPE_SPANS_SPANS = tag(ScopeSpans.SPANS, _LEN)
_SCOPE_SPANS_SCHEMA_URL = tag(ScopeSpans.SCHEMA_URL, _LEN)
_EMPTY_SCOPE = _SCOPE_SPANS_SCOPE + bytes((0,))  # an empty message
_SCOPE_NAME = tag(InstrumentationScope.NAME, _LEN)
_SCOPE_VERSION = tag(InstrumentationScope.VERSION, _LEN)
_SCOPE_ATTRIBUTES = tag(InstrumentationScope.ATTRIBUTES, _LEN)
_SPAN_TRACE_ID_16 = tag(Span.TRACE_ID, _LEN) + bytes((16,))
_SPAN_SPAN_ID_8 = tag(Span.SPAN_ID, _LEN) + bytes((8,))
_SPAN_TRACE_STATE = tag(Span.TRACE_STATE, _LEN)
_SPAN_PARENT_SPAN_ID_8 = tag(Span.PARENT_SPAN_ID, _LEN) + bytes((8,))
_SPAN_NAME = tag(Span.NAME, _LEN)
_SPAN_START_TIME = tag(Span.START_TIME_UNIX_NANO, _I64)
_SPAN_END_TIME = tag(Span.END_TIME_UNIX_NANO, _I64)
_SPAN_ATTRIBUTES = tag(Span.ATTRIBUTES, _LEN)
_SPAN_DROPPED_ATTRIBUTES = tag(Span.DROPPED_ATTRIBUTES_COUNT, _VARINT)
_SPAN_EVENTS = tag(Span.EVENTS, _LEN)
_SPAN_DROPPED_EVENTS = tag(Span.DROPPED_EVENTS_COUNT, _VARINT)
_SPAN_LINKS = tag(Span.LINKS, _LEN)
_SPAN_DROPPED_LINKS = tag(Span.DROPPED_LINKS_COUNT, _VARINT)
_SPAN_STATUS = tag(Span.STATUS, _LEN)
_EVENT_TIME = tag(Event.TIME_UNIX_NANO, _I64)
_EVENT_NAME = tag(Event.NAME, _LEN)
_EVENT_ATTRIBUTES = tag(Event.ATTRIBUTES, _LEN)
_EVENT_DROPPED_ATTRIBUTES = tag(Event.DROPPED_ATTRIBUTES_COUNT, _VARINT)
_LINK_TRACE_ID_16 = tag(Link.TRACE_ID, _LEN) + bytes((16,))
_LINK_SPAN_ID_8 = tag(Link.SPAN_ID, _LEN) + bytes((8,))
_LINK_ATTRIBUTES = tag(Link.ATTRIBUTES, _LEN)
_LINK_DROPPED_ATTRIBUTES = tag(Link.DROPPED_ATTRIBUTES_COUNT, _VARINT)
_STATUS_MESSAGE = tag(Status.MESSAGE, _LEN)
_KEY_VALUE_KEY = tag(KeyValue.KEY, _LEN)
_KEY_VALUE_VALUE = tag(KeyValue.VALUE, _LEN)
_ANY_STRING = tag(AnyValue.STRING_VALUE, _LEN)
_ANY_TRUE = tag(AnyValue.BOOL_VALUE, _VARINT) + bytes((1,))
_ANY_FALSE = tag(AnyValue.BOOL_VALUE, _VARINT) + bytes((0,))
_ANY_INT = tag(AnyValue.INT_VALUE, _VARINT)
_ANY_DOUBLE = tag(AnyValue.DOUBLE_VALUE, _I64)
_ANY_ARRAY = tag(AnyValue.ARRAY_VALUE, _LEN)
_ANY_KVLIST = tag(AnyValue.KVLIST_VALUE, _LEN)
_ANY_BYTES = tag(AnyValue.BYTES_VALUE, _LEN)
_ARRAY_VALUES = tag(ArrayValue.VALUES, _LEN)
_KVLIST_VALUES = tag(KeyValueList.VALUES, _LEN)


def _enum_field(key: bytes, number: int) -> bytes:
    """An enum field, key and value; proto3 leaves the zero value out."""
    return key + bytes((number,)) if number else b""


_KIND = {
    kind: _enum_field(tag(Span.KIND, _VARINT), trace_pb2.Span.SpanKind.Value(f"SPAN_KIND_{kind.name}"))
    for kind in SpanKind
}
_STATUS_CODE = {
    code: _enum_field(tag(Status.CODE, _VARINT), trace_pb2.Status.StatusCode.Value(f"STATUS_CODE_{code.name}"))
    for code in StatusCode
}
# Span and link flags (fixed32): "is_remote" is known, and whether the parent (the link) is remote.
_HAS_IS_REMOTE = trace_pb2.SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK
_IS_REMOTE = trace_pb2.SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
_FLAGS_LOCAL = tag(Span.FLAGS, _I32) + struct.pack("<I", _HAS_IS_REMOTE)
_FLAGS_REMOTE = tag(Span.FLAGS, _I32) + struct.pack("<I", _HAS_IS_REMOTE | _IS_REMOTE)
_LINK_FLAGS_LOCAL = tag(Link.FLAGS, _I32) + struct.pack("<I", _HAS_IS_REMOTE)
_LINK_FLAGS_REMOTE = tag(Link.FLAGS, _I32) + struct.pack("<I", _HAS_IS_REMOTE | _IS_REMOTE)
_PACK_U64 = struct.Struct("<Q").pack
_PACK_DOUBLE = struct.Struct("<d").pack
_MAX_CACHED = 4096  # encoded key/value pairs kept; cleared when full (high-cardinality values churn)
# Cached pair values: not floats, which repeat rarely and whose equal keys differ on the wire (0.0, -0.0).
# Exact classes: a subclass (an IntEnum, say) may hash equal to a value it does not encode as.
_CACHED_CLASSES = frozenset((str, bool, int))
_ONE_BYTE = [bytes((value,)) for value in range(0x80)]
_SPANS_PER_TURN = 16  # spans encoded between two releases of the GIL


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


def _field(key: bytes, payload: bytes) -> bytes:
    """A length-delimited field: its ``key``, the payload's length, the payload."""
    return key + _varint(len(payload)) + payload


def _any_value(value: Any) -> bytes:
    """The payload of an ``AnyValue`` (the SDK's attribute types, as the upstream encoder maps them)."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return _ANY_TRUE if value else _ANY_FALSE
    if isinstance(value, str):
        return _field(_ANY_STRING, value.encode())
    if isinstance(value, int):
        return _ANY_INT + _varint(value & 0xFFFFFFFFFFFFFFFF)  # int64: two's complement, 10 bytes if < 0
    if isinstance(value, float):
        return _ANY_DOUBLE + _PACK_DOUBLE(value)
    if isinstance(value, bytes):
        return _field(_ANY_BYTES, value)
    if isinstance(value, Sequence):
        return _field(_ANY_ARRAY, b"".join(_field(_ARRAY_VALUES, _any_value(item)) for item in value))
    if isinstance(value, Mapping):
        return _field(_ANY_KVLIST, b"".join(_field(_KVLIST_VALUES, _key_value(str(k), v)) for k, v in value.items()))
    raise TypeError(f"attribute value of type {type(value).__name__}")


def _key_value(key: str, value: Any) -> bytes:
    encoded_key = _field(_KEY_VALUE_KEY, key.encode()) if key else b""  # proto3: an empty string is not written
    return encoded_key + _field(_KEY_VALUE_VALUE, _any_value(value))


class _Encoder:
    """Encoded forms of what repeats between spans, kept across batches (one export thread)."""

    def __init__(self) -> None:
        self._pairs: dict[tuple[bytes, str, type, Any], bytes] = {}
        self._owners: dict[int, tuple[Any, bytes]] = {}  # id -> (object kept alive, its encoding)

    def attributes(self, field_key: bytes, attributes: Mapping[str, Any] | None) -> list[bytes]:
        """Each attribute as a ``KeyValue`` field under ``field_key``."""
        plain = backing_dict(attributes)
        if not plain:
            return []
        pairs = self._pairs
        out = []
        for key, value in plain.items():
            cls = value.__class__
            if cls in _CACHED_CLASSES:
                cache_key = (field_key, key, cls, value)  # the same pair under another field differs
                encoded = pairs.get(cache_key)
                if encoded is None:
                    if len(pairs) >= _MAX_CACHED:
                        pairs.clear()
                    encoded = pairs[cache_key] = _field(field_key, _key_value(key, value))
                out.append(encoded)
            else:
                out.append(_field(field_key, _key_value(key, value)))
        return out

    def _owned(self, owner: Any, encode: Any) -> bytes:
        entry = self._owners.get(id(owner))
        if entry is None or entry[0] is not owner:
            if len(self._owners) >= 64:
                self._owners.clear()
            entry = self._owners[id(owner)] = (owner, encode(owner))
        return entry[1]

    def resource(self, resource: Any) -> bytes:
        """``ResourceSpans.resource``."""

        def encode(resource: Any) -> bytes:
            return _field(
                _RESOURCE_SPANS_RESOURCE, b"".join(self.attributes(_RESOURCE_ATTRIBUTES, resource.attributes))
            )

        return self._owned(resource, encode)

    def scope(self, scope: Any) -> bytes:
        """``ScopeSpans.scope``."""

        def encode(scope: Any) -> bytes:
            if scope is None:
                return _EMPTY_SCOPE
            parts = []
            if scope.name:
                parts.append(_field(_SCOPE_NAME, scope.name.encode()))
            if scope.version:
                parts.append(_field(_SCOPE_VERSION, scope.version.encode()))
            parts.extend(self.attributes(_SCOPE_ATTRIBUTES, scope.attributes))
            return _field(_SCOPE_SPANS_SCOPE, b"".join(parts))

        return self._owned(scope, encode)

    def span(self, span: ReadableSpan) -> bytes:
        """A ``Span`` message's payload."""
        (
            context, parent, name, kind, start_time, end_time, attributes, dropped_attributes,
            events, dropped_events, links, dropped_links, status,
        ) = export_fields(span)  # fmt: skip
        parts = [
            _SPAN_TRACE_ID_16, context.trace_id.to_bytes(16, "big"),
            _SPAN_SPAN_ID_8, context.span_id.to_bytes(8, "big"),
        ]  # fmt: skip
        trace_state = context.trace_state
        if trace_state:
            parts.append(_field(_SPAN_TRACE_STATE, ",".join(f"{k}={v}" for k, v in trace_state.items()).encode()))
        if parent is not None:
            parts.append(_SPAN_PARENT_SPAN_ID_8)
            parts.append(parent.span_id.to_bytes(8, "big"))
        if name:
            parts.append(_field(_SPAN_NAME, name.encode()))
        parts.append(_KIND[kind])
        if start_time:
            parts.append(_SPAN_START_TIME + _PACK_U64(start_time))
        if end_time:
            parts.append(_SPAN_END_TIME + _PACK_U64(end_time))
        parts.extend(self.attributes(_SPAN_ATTRIBUTES, attributes))
        if dropped_attributes:
            parts.append(_SPAN_DROPPED_ATTRIBUTES + _varint(dropped_attributes))
        for event in events:
            event_parts = [_EVENT_TIME + _PACK_U64(event.timestamp)] if event.timestamp else []
            if event.name:
                event_parts.append(_field(_EVENT_NAME, event.name.encode()))
            event_parts.extend(self.attributes(_EVENT_ATTRIBUTES, event.attributes))
            if event.dropped_attributes:
                event_parts.append(_EVENT_DROPPED_ATTRIBUTES + _varint(event.dropped_attributes))
            parts.append(_field(_SPAN_EVENTS, b"".join(event_parts)))
        if dropped_events:
            parts.append(_SPAN_DROPPED_EVENTS + _varint(dropped_events))
        for link in links:
            link_context = link.context
            link_parts = [
                _LINK_TRACE_ID_16 + link_context.trace_id.to_bytes(16, "big"),
                _LINK_SPAN_ID_8 + link_context.span_id.to_bytes(8, "big"),
            ]
            link_parts.extend(self.attributes(_LINK_ATTRIBUTES, link.attributes))
            if link.dropped_attributes:
                link_parts.append(_LINK_DROPPED_ATTRIBUTES + _varint(link.dropped_attributes))
            link_parts.append(_LINK_FLAGS_REMOTE if link_context.is_remote else _LINK_FLAGS_LOCAL)
            parts.append(_field(_SPAN_LINKS, b"".join(link_parts)))
        if dropped_links:
            parts.append(_SPAN_DROPPED_LINKS + _varint(dropped_links))
        description = status.description
        described = _field(_STATUS_MESSAGE, description.encode()) if description else b""
        parts.append(_field(_SPAN_STATUS, described + _STATUS_CODE[status.status_code]))
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
            scopes.get(span.instrumentation_scope, list).append(_field(_SCOPE_SPANS_SPANS, self.span(span)))
        out = []
        for resource, scopes in resources.items():
            body = [self.resource(resource)]
            for scope, encoded_spans in scopes.items():
                scope_body = [self.scope(scope), *encoded_spans]
                if scope is not None and scope.schema_url:
                    scope_body.append(_field(_SCOPE_SPANS_SCHEMA_URL, scope.schema_url.encode()))
                body.append(_field(_RESOURCE_SPANS_SCOPE_SPANS, b"".join(scope_body)))
            if resource.schema_url:
                body.append(_field(_RESOURCE_SPANS_SCHEMA_URL, resource.schema_url.encode()))
            out.append(_field(_REQUEST_RESOURCE_SPANS, b"".join(body)))
        return b"".join(out)


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
    """The serialized ``ExportTraceServiceRequest`` for ``spans``; raises on anything it cannot
    encode (a value of an unknown type, say). The encoder's tests call this one."""
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


def grpc_span_exporter(endpoint: str, timeout_s: float) -> SpanExporter:
    """The SDK's gRPC ``OTLPSpanExporter`` for ``endpoint``, sending ``encode_request_bytes`` (with the
    ``grpc_export`` fast path off: the SDK's exporter and encoder)."""
    return grpc_export.span_exporter(
        endpoint, timeout_s, lambda spans: encode_request_bytes(spans, _let_others_run), encode_request
    )
