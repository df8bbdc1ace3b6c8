"""The direct OTLP span encoder writes what the exporters' own ``encode_spans`` writes.

Every comparison goes through the raising encoder (``encode_spans_wire``), not the exporter's
``encode_request_bytes``, which hands a batch it cannot encode to the upstream encoder and would
hide a broken fast encoder. Compared on the deterministic serialization of both messages
(NaN-safe, order-exact), with the ``spans`` fast path on and off, for generated spans of every
attribute type, events, links, statuses, remote parents, trace state, several resources and scopes
(equal-but-distinct ones included), and for real SDK spans with events, exceptions and links, and
spans that dropped attributes, events and links at their limits. The field numbers the encoder
writes are checked against the generated protobuf descriptors.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from concurrent import futures
from typing import Any

import grpc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import (
    TraceServiceServicer,
    add_TraceServiceServicer_to_server,
)
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

from otelperf.export.span_wire import encode_request, encode_request_bytes, encode_spans_wire, grpc_span_exporter
from otelperf.fastpaths import grpc_export
from otelperf.fastpaths import spans as spans_fastpath
from tests.unit.conftest import switched

text = st.text(max_size=12)
scalar = st.one_of(
    text,
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
)
value = st.one_of(
    scalar,
    st.lists(text, max_size=3).map(tuple),
    st.lists(st.booleans(), max_size=3).map(tuple),
    st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=3).map(tuple),
    st.lists(st.floats(), max_size=3).map(tuple),
)
attributes = st.dictionaries(text, value, max_size=5)
ids = st.integers(min_value=1, max_value=2**64 - 1)
contexts = st.builds(
    SpanContext,
    trace_id=st.integers(min_value=1, max_value=2**128 - 1),
    span_id=ids,
    is_remote=st.booleans(),
    trace_flags=st.just(TraceFlags(TraceFlags.SAMPLED)),
    trace_state=st.one_of(
        st.none(), st.just(TraceState([("vendor", "value")])), st.just(TraceState([("a", "1"), ("b", "2")]))
    ),
)
# Two equal resources that are distinct objects: the upstream encoder groups them as one.
RESOURCES = [
    Resource({"service.name": "a"}),
    Resource({"service.name": "a"}),
    Resource({"service.name": "b", "deployment.environment.name": "prod"}, schema_url="https://x/1.0"),
]
SCOPES = [
    None,
    InstrumentationScope("one"),
    InstrumentationScope("one"),
    InstrumentationScope("two", "1.2", "https://schema/1", {"scope.attr": 3}),
]
events = st.builds(Event, name=text, attributes=attributes, timestamp=st.integers(min_value=0, max_value=2**63))
links = st.builds(Link, context=contexts, attributes=attributes)
statuses = st.one_of(
    st.just(Status(StatusCode.UNSET)),
    st.just(Status(StatusCode.OK)),
    st.builds(Status, st.just(StatusCode.ERROR), st.one_of(st.none(), text)),
)
spans = st.builds(
    ReadableSpan,
    name=text,
    context=contexts,
    parent=st.one_of(st.none(), contexts),
    resource=st.sampled_from(RESOURCES),
    attributes=attributes,
    events=st.lists(events, max_size=2),
    links=st.lists(links, max_size=2),
    kind=st.sampled_from(list(SpanKind)),
    status=statuses,
    start_time=st.integers(min_value=0, max_value=2**63),
    end_time=st.integers(min_value=0, max_value=2**63),
    instrumentation_scope=st.sampled_from(SCOPES),
)


def _encoded(batch: list[ReadableSpan]) -> bytes:
    """The raising encoder's request, serialized deterministically for comparison."""
    return ExportTraceServiceRequest.FromString(encode_spans_wire(batch)).SerializeToString(deterministic=True)


def _same(batch: list[ReadableSpan]) -> None:
    expected = encode_spans(batch).SerializeToString(deterministic=True)
    for stored_fields in (True, False):
        with switched(spans_fastpath.SWITCH, stored_fields):
            assert _encoded(batch) == expected, "stored fields" if stored_fields else "properties"


@settings(max_examples=300, deadline=None)
@given(st.lists(spans, min_size=1, max_size=6))
def test_generated_spans_encode_as_upstream(batch: list[ReadableSpan]) -> None:
    _same(batch)


def test_real_sdk_spans_with_dropped_attributes_events_and_links() -> None:
    exporter = InMemorySpanExporter()
    limits = SpanLimits(max_span_attributes=2, max_events=1, max_links=1, max_event_attributes=1)
    provider = TracerProvider(resource=RESOURCES[2], span_limits=limits)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t", "0.1")
    other = SpanContext(7, 9, is_remote=True)
    with tracer.start_as_current_span("GET /items/{id}", kind=SpanKind.SERVER, links=[Link(other), Link(other)]) as s:
        s.set_attributes({"a": 1, "b": "x", "c": 2.5})
        s.add_event("first", {"k": 1, "l": 2})
        s.add_event("second")
        with tracer.start_as_current_span("SELECT items", kind=SpanKind.CLIENT) as child:
            child.set_status(Status(StatusCode.ERROR, "boom"))
    batch = list(exporter.get_finished_spans())
    assert batch[1].dropped_attributes == 1 and batch[1].dropped_events == 1 and batch[1].dropped_links == 1
    _same(batch)


def test_values_equal_in_python_but_not_on_the_wire_are_not_confused() -> None:
    context = SpanContext(1, 2, is_remote=False)
    batch = [
        ReadableSpan(name, context, resource=RESOURCES[0], attributes={"v": value})
        for name, value in (("a", 0.0), ("b", -0.0), ("c", 1), ("d", True), ("e", 1.0), ("f", False), ("g", 0))
    ]
    _same(batch)


def test_a_span_subclass_is_read_through_its_properties() -> None:
    """``ReadableSpan`` itself is read from its fields; a subclass may compute what its properties return."""

    class Renamed(ReadableSpan):
        @property
        def name(self) -> str:
            return "renamed"

        @property
        def attributes(self) -> Mapping[str, Any]:
            return {"computed": True}

    context = SpanContext(1, 2, is_remote=False)
    batch = [Renamed("stored", context, resource=RESOURCES[0], attributes={"stored": 1})]
    span = ExportTraceServiceRequest.FromString(encode_spans_wire(batch)).resource_spans[0].scope_spans[0].spans[0]
    assert (span.name, [a.key for a in span.attributes]) == ("renamed", ["computed"])
    _same(batch)


def test_unencodable_batch_falls_back_to_the_upstream_encoder(caplog: pytest.LogCaptureFixture) -> None:
    span = ReadableSpan("x", SpanContext(1, 2, is_remote=False), resource=RESOURCES[0], attributes={"odd": object()})
    with pytest.raises(TypeError):
        encode_spans_wire([span])
    with caplog.at_level(logging.DEBUG, logger="otelperf"):
        request = encode_request([span])
    assert request.resource_spans[0].scope_spans[0].spans[0].name == "x"
    assert "using the SDK's encoder" in caplog.text


def test_encoding_pauses_between_turns_and_writes_the_same_bytes() -> None:
    context = SpanContext(1, 2, is_remote=False)
    batch = [ReadableSpan(f"s{index}", context, resource=RESOURCES[0]) for index in range(40)]
    pauses: list[int] = []
    paused = encode_request_bytes(batch, lambda: pauses.append(1))
    assert len(pauses) == 2  # after spans 16 and 32, never before the first or after the last
    assert paused == encode_request_bytes(batch) == encode_spans(batch).SerializeToString()


class _TraceService(TraceServiceServicer):
    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []

    def Export(self, request: ExportTraceServiceRequest, context: object) -> ExportTraceServiceResponse:
        self.requests.append(request)
        return ExportTraceServiceResponse()


@pytest.fixture
def trace_service() -> Iterator[tuple[_TraceService, str]]:
    service = _TraceService()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    add_TraceServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield service, f"http://127.0.0.1:{port}"
    server.stop(None)


@pytest.mark.parametrize("sends_bytes", [True, False], ids=["grpc-export-fast-path", "sdk-exporter"])
def test_exporter_sends_the_spans_over_grpc_and_after_reconnecting(
    trace_service: tuple[_TraceService, str], sends_bytes: bool
) -> None:
    service, endpoint = trace_service
    provider = TracerProvider(resource=RESOURCES[2])
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("t", "0.1")
    for index in range(20):
        with tracer.start_as_current_span(f"GET /items/{index}", kind=SpanKind.SERVER, attributes={"n": index}):
            pass
    batch = list(memory.get_finished_spans())
    with switched(grpc_export.SWITCH, sends_bytes):
        exporter = grpc_span_exporter(endpoint, 5.0)
    assert getattr(exporter, "sends_bytes", False) is sends_bytes  # off: the SDK's exporter as it is
    assert exporter.export(batch) is SpanExportResult.SUCCESS
    exporter._initialize_channel_and_stub()  # type: ignore[attr-defined] # what the SDK does after UNAVAILABLE
    assert exporter.export(batch[:3]) is SpanExportResult.SUCCESS
    exporter.shutdown()
    expected = [encode_spans(batch), encode_spans(batch[:3])]
    received = [request.SerializeToString(deterministic=True) for request in service.requests]
    assert received == [request.SerializeToString(deterministic=True) for request in expected]


def _spans_with_events_and_links() -> list[ReadableSpan]:
    """Real SDK spans: a server span under a remote parent with events of every attribute type,
    an exception event, links (remote and local, with attributes), trace state, and children."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCES[2])
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("otelperf.test", "1.0", schema_url="https://opentelemetry.io/schemas/1.30.0")
    remote = SpanContext(
        0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED), trace_state=TraceState([("k", "v")])
    )
    links = [
        Link(SpanContext(7, 9, is_remote=True), {"link.kind": "follows", "link.n": 3}),
        Link(SpanContext(8, 10, is_remote=False)),
    ]
    with tracer.start_as_current_span(
        "GET /items/{id}", set_span_in_context(NonRecordingSpan(remote)), SpanKind.SERVER, {"http.route": "/x"}, links
    ) as server:
        server.add_event(
            "cache.lookup",
            {"s": "x", "b": True, "i": -5, "f": 2.5, "strings": ("a", "b"), "ints": (1, 2), "bools": (True,)},
        )
        server.add_event("no attributes", timestamp=1_700_000_000_000_000_000)
        with tracer.start_as_current_span(
            "SELECT items", kind=SpanKind.CLIENT, links=[Link(remote, {"a": 1})]
        ) as child:
            child.add_event("rows", {"count": 0})
            try:
                raise ValueError("no such row")
            except ValueError as error:
                child.record_exception(error, {"extra": "yes"})
                child.set_status(Status(StatusCode.ERROR, "no such row"))
        with tracer.start_as_current_span("render", kind=SpanKind.INTERNAL) as internal:
            internal.set_status(Status(StatusCode.OK))
    return list(exporter.get_finished_spans())


def test_real_sdk_spans_with_events_and_links_encode_as_upstream(caplog: pytest.LogCaptureFixture) -> None:
    batch = _spans_with_events_and_links()
    assert sum(len(span.events) for span in batch) == 4 and sum(len(span.links) for span in batch) == 3
    _same(batch)
    with caplog.at_level(logging.DEBUG, logger="otelperf"):
        assert encode_request_bytes(batch) == encode_spans_wire(batch)
    assert "using the SDK's encoder" not in caplog.text  # the exporter's path did not fall back
    decoded = ExportTraceServiceRequest.FromString(encode_spans_wire(batch)).resource_spans[0].scope_spans[0]
    server = next(span for span in decoded.spans if span.kind == trace_pb2.Span.SPAN_KIND_SERVER)
    assert server.parent_span_id == (0xDEF).to_bytes(8, "big") and server.trace_state == "k=v"
    assert [event.name for event in server.events] == ["cache.lookup", "no attributes"]
    assert [(link.span_id, link.flags) for link in server.links] == [
        ((9).to_bytes(8, "big"), 0x300),
        ((10).to_bytes(8, "big"), 0x100),
    ]
    assert decoded.scope.name == "otelperf.test" and decoded.schema_url.endswith("1.30.0")
