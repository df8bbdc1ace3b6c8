"""The OTLP protobuf vocabulary the span encoder writes: field numbers by message, and wire types.

Each enum is one message of ``opentelemetry-proto`` (``collector/trace/v1``, ``trace/v1``,
``resource/v1``, ``common/v1``); a member's name is its field's name in upper case, its value the
field number. The span encoder's tests compare every member with the generated message
descriptors, so a renumbered field fails there.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "AnyValue",
    "ArrayValue",
    "Event",
    "ExportTraceServiceRequest",
    "InstrumentationScope",
    "KeyValue",
    "KeyValueList",
    "Link",
    "Resource",
    "ResourceSpans",
    "ScopeSpans",
    "Span",
    "Status",
    "WireType",
    "tag",
]


class WireType(IntEnum):
    VARINT = 0
    I64 = 1
    LEN = 2
    I32 = 5


class ExportTraceServiceRequest(IntEnum):
    RESOURCE_SPANS = 1


class ResourceSpans(IntEnum):
    RESOURCE = 1
    SCOPE_SPANS = 2
    SCHEMA_URL = 3


class Resource(IntEnum):
    ATTRIBUTES = 1


class ScopeSpans(IntEnum):
    SCOPE = 1
    SPANS = 2
    SCHEMA_URL = 3


class InstrumentationScope(IntEnum):
    NAME = 1
    VERSION = 2
    ATTRIBUTES = 3


class Span(IntEnum):
    TRACE_ID = 1
    SPAN_ID = 2
    TRACE_STATE = 3
    PARENT_SPAN_ID = 4
    NAME = 5
    KIND = 6
    START_TIME_UNIX_NANO = 7
    END_TIME_UNIX_NANO = 8
    ATTRIBUTES = 9
    DROPPED_ATTRIBUTES_COUNT = 10
    EVENTS = 11
    DROPPED_EVENTS_COUNT = 12
    LINKS = 13
    DROPPED_LINKS_COUNT = 14
    STATUS = 15
    FLAGS = 16


class Event(IntEnum):
    """``Span.Event``."""

    TIME_UNIX_NANO = 1
    NAME = 2
    ATTRIBUTES = 3
    DROPPED_ATTRIBUTES_COUNT = 4


class Link(IntEnum):
    """``Span.Link``."""

    TRACE_ID = 1
    SPAN_ID = 2
    ATTRIBUTES = 4
    DROPPED_ATTRIBUTES_COUNT = 5
    FLAGS = 6


class Status(IntEnum):
    MESSAGE = 2
    CODE = 3


class KeyValue(IntEnum):
    KEY = 1
    VALUE = 2


class AnyValue(IntEnum):
    STRING_VALUE = 1
    BOOL_VALUE = 2
    INT_VALUE = 3
    DOUBLE_VALUE = 4
    ARRAY_VALUE = 5
    KVLIST_VALUE = 6
    BYTES_VALUE = 7


class ArrayValue(IntEnum):
    VALUES = 1


class KeyValueList(IntEnum):
    VALUES = 1


def tag(field: IntEnum, wire_type: WireType) -> bytes:
    """A field's key on the wire: ``field << 3 | wire_type`` as a varint."""
    key = field.value << 3 | wire_type.value
    out = bytearray()
    while key >= 0x80:
        out.append((key & 0x7F) | 0x80)
        key >>= 7
    out.append(key)
    return bytes(out)
