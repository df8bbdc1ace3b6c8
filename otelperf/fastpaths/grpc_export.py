"""Fast path ``grpc_export``: the SDK's gRPC span exporter sending a request already encoded.

The SDK's ``OTLPSpanExporter`` translates a batch into an ``ExportTraceServiceRequest`` message
(its private ``_translate_data``) and hands it to a generated stub, which serializes it. otelperf
encodes the request bytes itself (``export.span_wire``); giving the stub a message would cost a
parse and a second serialization. With this fast path on, ``span_exporter`` subclasses the SDK's
exporter: ``_translate_data`` returns the bytes, and its ``_client`` is a stub whose ``Export``
sends them as they are (``channel.unary_unary`` without a request serializer). The exporter builds
its client from ``_stub`` again when it reconnects, so ``_stub`` is that stub's class. Retries,
TLS, headers, compression and reconnection stay the SDK's. Off, ``span_exporter`` is the SDK's
exporter as it is, with its own encoder.

The probe builds such an exporter towards an address it never contacts (a gRPC channel connects at
its first call), reconnects it as the SDK does after an error, and checks that the client is the
bytes stub both times.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter

from otelperf.fastpaths.contract import FastPath, Switch
from otelperf.log import logger

__all__ = ["SWITCH", "probe", "span_exporter"]

NAME = "grpc_export"
_EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
Encode = Callable[[Sequence[ReadableSpan]], Any]


class _BytesTraceServiceStub:
    """The trace service's ``Export``, taking the request already serialized."""

    def __init__(self, channel: Any) -> None:
        self.Export = channel.unary_unary(
            _EXPORT_METHOD,
            request_serializer=None,  # bytes go out as they are
            response_deserializer=ExportTraceServiceResponse.FromString,
            _registered_method=True,  # as grpc's generated stubs register their methods
        )


def _build(endpoint: str, timeout_s: float, encode_bytes: Encode, encode_message: Encode) -> Any:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    class BytesSpanExporter(OTLPSpanExporter):
        """``OTLPSpanExporter`` whose ``Export`` sends ``encode_bytes(spans)``."""

        def __init__(self, **options: Any) -> None:
            super().__init__(**options)
            self.sends_bytes = False
            try:
                client = _BytesTraceServiceStub(self._channel)
            except Exception as exc:  # noqa: BLE001 - send messages, as the SDK does
                logger.debug("span export sends protobuf messages (%s: %s)", type(exc).__name__, exc)
            else:
                self._stub = _BytesTraceServiceStub  # what the SDK rebuilds its client from when it reconnects
                self._client = client  # type: ignore[assignment]
                self.sends_bytes = True

        def _translate_data(self, data: Sequence[ReadableSpan]) -> Any:
            return encode_bytes(data) if self.sends_bytes else encode_message(data)

    return BytesSpanExporter(endpoint=endpoint, timeout=timeout_s)


def span_exporter(endpoint: str, timeout_s: float, encode_bytes: Encode, encode_message: Encode) -> SpanExporter:
    """The SDK's gRPC ``OTLPSpanExporter`` for ``endpoint``: sending ``encode_bytes(spans)`` (the
    serialized ``ExportTraceServiceRequest``) with the fast path on, else the SDK's own.
    ``encode_message(spans)`` (the request message) serves where the bytes stub cannot be built."""
    if SWITCH.on:
        exporter: SpanExporter = _build(endpoint, timeout_s, encode_bytes, encode_message)
        return exporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=endpoint, timeout=timeout_s)


def probe() -> FastPath:
    def unused(spans: Sequence[ReadableSpan]) -> Any:
        raise AssertionError("the probe exports nothing")

    exporter = _build("http://127.0.0.1:9", 1.0, unused, unused)
    try:
        if not exporter.sends_bytes or not isinstance(exporter._client, _BytesTraceServiceStub):
            return FastPath(NAME, False, "OTLPSpanExporter has no _channel to build the bytes stub on")
        exporter._initialize_channel_and_stub()  # what the SDK does after an UNAVAILABLE answer
        if not isinstance(exporter._client, _BytesTraceServiceStub):
            return FastPath(NAME, False, "OTLPSpanExporter does not rebuild its _client from _stub")
    finally:
        exporter.shutdown()
    return FastPath(NAME, True, "OTLPSpanExporter's _translate_data gives bytes, its _client/_stub send them")


SWITCH = Switch(NAME, probe)
