"""One HTTP server span and its metrics per ASGI request, at a fraction of contrib's cost.

What contrib's ``OpenTelemetryMiddleware`` records, for what a FastAPI service needs, measured in
``bench/micro.py``. Where its cost went, and what this does instead:

- request headers are scanned once, as bytes, for the three the propagators ask for and the few
  attributes need (contrib decodes every header for each of its eight lookups);
- span attributes are built only for a span that records (under a 10 % sampler, nine requests
  in ten build none);
- ``http.server.active_requests`` is an ``ObservedUpDownCounter`` (the same up-down counter in
  the export), instead of two synchronous measurements per request;
- the response size comes from the response's ``content-length`` of that request (contrib keeps
  it on the middleware, shared by concurrent requests).

Signals, stable HTTP semantic conventions:

- a ``SERVER`` span ``"{method} {route}"``: ``http.request.method``, ``url.scheme``, ``url.path``,
  ``url.query``, ``http.route``, ``server.address``/``server.port``, ``network.protocol.version``,
  ``user_agent.original``, ``client.address``/``client.port``, ``http.response.status_code``,
  ``error.type``; captured headers when ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_*``
  name them. The span ends with the last body message (background tasks run after it);
- ``http.server.request.duration`` (s), recorded in the span's context (exemplars link to it),
  with the method, scheme, route, status, protocol version and ``error.type``;
- ``http.server.active_requests``; ``http.server.request.body.size`` and
  ``http.server.response.body.size`` (By) when a ``content-length`` gives them.

WebSocket connections get a span (``network.protocol.name`` = ``websocket``) and no HTTP metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from time import perf_counter
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.propagators import get_global_response_propagator
from opentelemetry.metrics import Meter
from opentelemetry.propagators.textmap import Getter, Setter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.util.http import (
    ExcludeList,
    SanitizeValue,
    normalise_request_header_name,
    normalise_response_header_name,
)

from otelperf import semconv
from otelperf.instrumentation.fastapi._routes import route_template, routed_template
from otelperf.log import logger
from otelperf.metrics.instruments import BoundedHistogram, Count, ObservedUpDownCounter
from otelperf.profiling.tags import hold_tags, retitle
from otelperf.profiling.tasks import frame, framing

ASGIApp = Callable[[dict[str, Any], Any, Any], Any]
ServerRequestHook = Callable[[Span, dict[str, Any]], None]

_KNOWN_METHODS = frozenset({"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE"})
_WANTED_HEADERS = {
    b"traceparent": "traceparent",
    b"tracestate": "tracestate",
    b"baggage": "baggage",
    b"host": "host",
    b"user-agent": "user-agent",
    b"content-length": "content-length",
}


class _Headers(Getter[dict[str, str]], Setter[dict[str, Any]]):
    """Propagation over the few request headers collected once, and into response messages."""

    def get(self, carrier: dict[str, str], key: str) -> list[str] | None:
        value = carrier.get(key)
        return None if value is None else [value]

    def keys(self, carrier: dict[str, str]) -> list[str]:
        return list(carrier)

    def set(self, carrier: dict[str, Any], key: str, value: str) -> None:
        carrier["headers"] = [*carrier.get("headers", ()), (key.lower().encode("latin-1"), value.encode("latin-1"))]


_HEADERS = _Headers()


def _wanted_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in raw:
        name = _WANTED_HEADERS.get(key.lower())
        if name is not None:
            text = value.decode("latin-1")
            # Repeated headers join with a comma (RFC 9110), as the baggage propagator expects.
            found[name] = f"{found[name]},{text}" if name in found else text
    return found


def _all_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for key, value in raw:
        headers.setdefault(key.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return headers


class HeaderCapture:
    """The request and response headers named by ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*``."""

    def __init__(self, request: list[str], response: list[str], sanitize: list[str]) -> None:
        self.request = request
        self.response = response
        self._sanitize = SanitizeValue(sanitize)

    def request_attributes(self, scope: Mapping[str, Any]) -> dict[str, Any]:
        return self._sanitize.sanitize_header_values(
            _all_headers(scope.get("headers") or ()), self.request, normalise_request_header_name
        )

    def response_attributes(self, message: Mapping[str, Any]) -> dict[str, Any]:
        return self._sanitize.sanitize_header_values(
            _all_headers(message.get("headers") or ()), self.response, normalise_response_header_name
        )


class ServerTelemetry:
    """The instruments and settings shared by every request of the instrumented apps."""

    def __init__(
        self,
        tracer: Tracer,
        meter: Meter,
        excluded_urls: ExcludeList | None = None,
        server_request_hook: ServerRequestHook | None = None,
        headers: HeaderCapture | None = None,
    ) -> None:
        self.tracer = tracer
        self.excluded_urls = excluded_urls
        self.server_request_hook = server_request_hook
        self.headers = headers if headers and (headers.request or headers.response) else None
        self.duration = BoundedHistogram(meter, semconv.INSTRUMENTS[semconv.HTTP_SERVER_REQUEST_DURATION])
        self.request_size = BoundedHistogram(meter, semconv.INSTRUMENTS[semconv.HTTP_SERVER_REQUEST_BODY_SIZE])
        self.response_size = BoundedHistogram(meter, semconv.INSTRUMENTS[semconv.HTTP_SERVER_RESPONSE_BODY_SIZE])
        self.active = ObservedUpDownCounter(meter, semconv.INSTRUMENTS[semconv.HTTP_SERVER_ACTIVE_REQUESTS])

    async def serve(
        self, app: ASGIApp, scope: dict[str, Any], receive: Any, send: Any, routes: Sequence[Any] | None = None
    ) -> None:
        """Run ``app`` for one connection scope, traced and measured when it is HTTP or WebSocket.
        ``routes`` (Starlette routes) give the route template."""
        kind = scope.get("type")
        started = None
        if kind in ("http", "websocket"):
            try:
                started = self._start(scope, kind == "websocket", routes)
            except Exception:  # noqa: BLE001 - the request goes on, untraced
                logger.debug("HTTP server span start failed", exc_info=True)
        if started is None:
            await app(scope, receive, send)
            return
        request, parent = started
        token = otel_context.attach(trace.set_span_in_context(request.span, parent))
        try:
            coroutine = app(scope, receive, send if kind == "websocket" else _Send(request, send))
            await frame(coroutine)
        except BaseException as error:
            _safely(request.finish, error)
            raise
        else:
            _safely(request.finish, None)
        finally:
            otel_context.detach(token)

    def _start(
        self, scope: dict[str, Any], websocket: bool, routes: Sequence[Any] | None
    ) -> tuple[_Request, otel_context.Context] | None:
        headers = _wanted_headers(scope.get("headers") or ())
        host = headers.get("host")
        if self.excluded_urls is not None and self.excluded_urls.url_disabled(_url(scope, host)):
            return None
        raw_method = scope.get("method", "")
        method = raw_method if raw_method in _KNOWN_METHODS else "_OTHER"
        verb = "WS" if websocket else "HTTP" if method == "_OTHER" else method
        parent = propagate.extract(headers, getter=_HEADERS)
        # The profiler names its route frame and tags after the root span: a span that records is
        # matched to its route and renamed before the app's first step tags the thread (the tags
        # are held meanwhile). An unsampled request matches nothing here: the route FastAPI matched
        # is read when it ends, as it is for every request without profiling.
        framed = framing()
        if framed:
            hold_tags(True)
        try:
            span = self.tracer.start_span(_span_name(verb, None, websocket), context=parent, kind=SpanKind.SERVER)
        finally:
            if framed:
                hold_tags(False)
        route = None
        if framed and routes is not None and span.is_recording():
            route = route_template(routes, scope)
            if route:
                name = _span_name(verb, route, websocket)
                span.update_name(name)
                retitle(span.get_span_context().span_id, name)
        scheme = scope.get("scheme", "ws" if websocket else "http")
        metric_attributes: dict[str, Any] | None = None
        if not websocket:
            metric_attributes = {semconv.HTTP_REQUEST_METHOD: method, semconv.URL_SCHEME: scheme}
            version = scope.get("http_version")
            if version:
                metric_attributes[semconv.NETWORK_PROTOCOL_VERSION] = version
            if route:
                metric_attributes[semconv.HTTP_ROUTE] = route
        request = _Request(self, span, metric_attributes)
        if routes is not None and route is None:
            request.routed_in = (scope, verb, scope.get("root_path", ""))
        if not websocket:
            size = headers.get("content-length")
            if size is not None and size.isdigit():
                request.request_size = int(size)
            request.active = self.active.count({semconv.HTTP_REQUEST_METHOD: method, semconv.URL_SCHEME: scheme})
            request.active.up()
        if span.is_recording():
            try:
                self._describe(
                    span,
                    scope=scope,
                    headers=headers,
                    method=method,
                    raw_method=raw_method,
                    scheme=scheme,
                    route=route,
                    websocket=websocket,
                )
            except Exception:  # noqa: BLE001 - the span goes on with fewer attributes; the count stays exact
                logger.debug("HTTP server span attributes failed", exc_info=True)
        return request, parent

    def _describe(
        self,
        span: Span,
        *,
        scope: dict[str, Any],
        headers: dict[str, str],
        method: str,
        raw_method: str,
        scheme: str,
        route: str | None,
        websocket: bool,
    ) -> None:
        """The attributes of a span that records (built for sampled requests only)."""
        attributes: dict[str, Any] = {semconv.URL_SCHEME: scheme, semconv.URL_PATH: scope.get("path", "")}
        if websocket:
            attributes[semconv.NETWORK_PROTOCOL_NAME] = "websocket"
        else:
            attributes[semconv.HTTP_REQUEST_METHOD] = method
            if method != raw_method:
                attributes[semconv.HTTP_REQUEST_METHOD_ORIGINAL] = raw_method
        query = scope.get("query_string")
        if query:
            attributes[semconv.URL_QUERY] = query.decode("latin-1")  # values dropped by the sanitizer
        if route:
            attributes[semconv.HTTP_ROUTE] = route
        address, port = _server_address(scope, headers.get("host"))
        if address:
            attributes[semconv.SERVER_ADDRESS] = address
        if port:
            attributes[semconv.SERVER_PORT] = port
        version = scope.get("http_version")
        if version:
            attributes[semconv.NETWORK_PROTOCOL_VERSION] = version
        agent = headers.get("user-agent")
        if agent:
            attributes[semconv.USER_AGENT_ORIGINAL] = agent
        client = scope.get("client")
        if client:
            attributes[semconv.CLIENT_ADDRESS] = client[0]
            attributes[semconv.CLIENT_PORT] = client[1]
        if self.headers is not None and self.headers.request:
            attributes.update(self.headers.request_attributes(scope))
        span.set_attributes(attributes)
        if self.server_request_hook is not None:
            try:
                self.server_request_hook(span, scope)
            except Exception:  # noqa: BLE001 - a user hook must not fail the request
                logger.warning("server_request_hook raised; the request goes on", exc_info=True)


def _url(scope: Mapping[str, Any], host: str | None) -> str:
    server = scope.get("server") or ("0.0.0.0", 80)
    authority = host or f"{server[0]}:{server[1]}"
    query = scope.get("query_string") or b""
    url = f"{scope.get('scheme', 'http')}://{authority}{scope.get('root_path', '')}{scope.get('path', '')}"
    return f"{url}?{query.decode('latin-1')}" if query else url


def _server_address(scope: Mapping[str, Any], host: str | None) -> tuple[str | None, int | None]:
    if host:
        address, _, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
        if address and port.isdigit():
            return address, int(port)
        return host, None
    server = scope.get("server")
    return (server[0], server[1]) if server else (None, None)


def _span_name(verb: str, route: str | None, websocket: bool) -> str:
    if websocket:
        return route or verb
    return f"{verb} {route}" if route else verb


class _Request:
    """The state of one request between its start and its last response message."""

    __slots__ = (
        "active",
        "metric_attributes",
        "request_size",
        "response_size",
        "routed_in",
        "span",
        "started",
        "status",
        "telemetry",
        "trailers",
    )

    def __init__(self, telemetry: ServerTelemetry, span: Span, metric_attributes: dict[str, Any] | None) -> None:
        self.telemetry = telemetry
        self.span = span
        self.metric_attributes = metric_attributes  # None for a WebSocket: no HTTP metrics
        self.started = perf_counter()
        self.status: int | None = None
        self.request_size: int | None = None
        self.response_size: int | None = None
        self.trailers = False
        self.active: Count | None = None  # requests in flight, for HTTP
        self.routed_in: tuple[dict[str, Any], str, str] | None = None  # (scope, verb, root path at start)

    def _take_route(self, scope: dict[str, Any], verb: str, root_path: str) -> None:
        route = routed_template(scope, root_path)
        if route is None:
            return
        span = self.span
        if span.is_recording():
            span.update_name(_span_name(verb, route, self.metric_attributes is None))
            span.set_attribute(semconv.HTTP_ROUTE, route)
        if self.metric_attributes is not None:
            self.metric_attributes[semconv.HTTP_ROUTE] = route

    def response_started(self, message: Mapping[str, Any]) -> None:
        self.status = status = message["status"]
        self.trailers = bool(message.get("trailers", False))
        for key, value in message.get("headers") or ():
            if key.lower() == b"content-length" and value.isdigit():
                self.response_size = int(value)
        span = self.span
        if span.is_recording():
            span.set_attribute(semconv.HTTP_RESPONSE_STATUS_CODE, status)
            headers = self.telemetry.headers
            if headers is not None and headers.response:
                span.set_attributes(headers.response_attributes(message))

    def finish(self, error: BaseException | None) -> None:
        """End the span and record the measurements (once: the last message, or the app's return)."""
        if self.started < 0:
            return
        duration = perf_counter() - self.started
        self.started = -1.0
        if self.routed_in is not None:
            self._take_route(*self.routed_in)
            self.routed_in = None
        span, status = self.span, self.status
        error_type = None
        if error is not None:
            error_type = semconv.exception_type(error)
        elif status is None and self.metric_attributes is not None:
            error_type = "incomplete_response"  # the app returned without a response
        elif status is not None and status >= 500:
            error_type = str(status)
        if span.is_recording():
            if error_type is not None:
                span.set_attribute(semconv.ERROR_TYPE, error_type)
                span.set_status(Status(StatusCode.ERROR))
            if error is not None:
                span.record_exception(error)
        attributes = self.metric_attributes
        if attributes is not None:
            if status is not None:
                attributes[semconv.HTTP_RESPONSE_STATUS_CODE] = status
            if error_type is not None:
                attributes[semconv.ERROR_TYPE] = error_type
            telemetry = self.telemetry
            # In the span's context: built once for a span that records; for one that does not,
            # the measurements build it only if the exemplar filter asks (the default does not).
            context = trace.set_span_in_context(span) if span.is_recording() else None
            telemetry.duration.record(duration, attributes, context, span)
            if self.request_size is not None:
                telemetry.request_size.record(self.request_size, attributes, context, span)
            if self.response_size is not None:
                telemetry.response_size.record(self.response_size, attributes, context, span)
        if self.active is not None:
            self.active.down()
        span.end()


class ServerMiddleware:
    """``ServerMiddleware(app, telemetry, routes=app.routes)``: the same for any ASGI app; route
    templates come from Starlette ``routes`` when given."""

    def __init__(self, app: ASGIApp, telemetry: ServerTelemetry, routes: Sequence[Any] | None = None) -> None:
        self.app = app
        self.telemetry = telemetry
        self.routes = routes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.telemetry.serve(self.app, scope, receive, send, self.routes)


class _Send:
    """The ``send`` the app sees: notes the status and sizes, ends the span with the last body."""

    __slots__ = ("request", "send")

    def __init__(self, request: _Request, send: Any) -> None:
        self.request = request
        self.send = send

    async def __call__(self, message: dict[str, Any]) -> None:
        request = self.request
        kind = message.get("type")
        if kind == "http.response.start":
            _safely(request.response_started, message)
            propagator = get_global_response_propagator()  # type: ignore[no-untyped-call]
            if propagator is not None:
                _safely(propagator.inject, message, trace.set_span_in_context(request.span), _HEADERS)
        await self.send(message)
        if request.status is not None and request.status >= 500:
            return  # ended when the app returns, with the exception that made the 500
        if (
            (kind == "http.response.body" and not request.trailers and not message.get("more_body", False))
            or (kind == "http.response.trailers" and not message.get("more_trailers", False))
            or kind == "http.response.pathsend"
        ):
            _safely(request.finish, None)


def _safely(function: Callable[..., Any], *args: Any) -> None:
    try:
        function(*args)
    except Exception:  # noqa: BLE001 - telemetry must never fail the request
        logger.debug("HTTP server telemetry failed", exc_info=True)
