"""The OTLP field numbers the span encoder writes are the generated protobuf messages', and tags
combine them with wire types."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from otelperf.export import otlp_fields

_MESSAGES = {
    otlp_fields.ExportTraceServiceRequest: ExportTraceServiceRequest,
    otlp_fields.ResourceSpans: trace_pb2.ResourceSpans,
    otlp_fields.Resource: resource_pb2.Resource,
    otlp_fields.ScopeSpans: trace_pb2.ScopeSpans,
    otlp_fields.InstrumentationScope: common_pb2.InstrumentationScope,
    otlp_fields.Span: trace_pb2.Span,
    otlp_fields.Event: trace_pb2.Span.Event,
    otlp_fields.Link: trace_pb2.Span.Link,
    otlp_fields.Status: trace_pb2.Status,
    otlp_fields.KeyValue: common_pb2.KeyValue,
    otlp_fields.AnyValue: common_pb2.AnyValue,
    otlp_fields.ArrayValue: common_pb2.ArrayValue,
    otlp_fields.KeyValueList: common_pb2.KeyValueList,
}


@pytest.mark.parametrize("fields", list(_MESSAGES), ids=lambda fields: fields.__name__)
def test_field_numbers_are_the_generated_messages(fields: type[Any]) -> None:
    descriptor = _MESSAGES[fields].DESCRIPTOR
    for field in fields:
        assert descriptor.fields_by_name[field.name.lower()].number == field.value, f"{descriptor.name}.{field.name}"


def test_tags_are_field_numbers_and_wire_types() -> None:
    assert otlp_fields.tag(otlp_fields.Span.NAME, otlp_fields.WireType.LEN) == bytes((5 << 3 | 2,))
    assert otlp_fields.tag(otlp_fields.Span.FLAGS, otlp_fields.WireType.I32) == bytes((0x85, 0x01))  # two-byte key
