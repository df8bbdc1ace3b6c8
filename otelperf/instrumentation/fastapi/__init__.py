"""FastAPI instrumentation: one server span and the HTTP server metrics per request, cheaply.

Why not contrib's ``FastAPIInstrumentor``: its ASGI middleware spends most of its per-request cost
on work a server span does not need (every header decoded for each lookup, attributes built for
spans that are not sampled, four metric measurements), and it shares the response size between
concurrent requests. This one does only what the span and the metrics need (``bench/micro.py``
compares the two; figures in ``docs/benchmarks.md``). What it records is in ``_server``; the names
and attributes are contrib's (the stable HTTP semantic conventions), so dashboards and rules read
either.

It wraps ``FastAPI.__call__`` at class level, so every app is covered, created before or after
instrumentation. A mounted FastAPI app inside an instrumented one is not traced twice. Background
tasks run after the response, in their own span (``BackgroundTask {function}``), as contrib names it.
FastAPI's own telemetry (0.165+, on as soon as a global provider is set) steps aside for these
requests, as it does for contrib's middleware.

Options (``instrument(**kwargs)``): ``tracer_provider``, ``meter_provider``, ``excluded_urls``
(comma-separated regular expressions; default ``OTEL_PYTHON_FASTAPI_EXCLUDED_URLS`` or
``OTEL_PYTHON_EXCLUDED_URLS``), ``server_request_hook(span, scope)``,
``http_capture_headers_server_request`` / ``_response`` / ``_sanitize_fields`` (default: the
``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*`` variables).

Under ``opentelemetry-instrument`` with otelperf installed this is automatic, and the contrib
``fastapi`` instrumentor is not loaded.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.util.http import get_custom_headers, parse_excluded_urls
from wrapt import wrap_function_wrapper

from otelperf.instrumentation.fastapi._server import HeaderCapture, ServerMiddleware, ServerTelemetry
from otelperf.instrumentation.fastapi.package import _instruments
from otelperf.version import __version__

__all__ = ["FastAPIInstrumentor", "ServerMiddleware", "ServerTelemetry"]

_SERVED = "otelperf.http.server"  # set in the scope of a request this instrumentation traces
_CAPTURE = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_"
_state: dict[str, ServerTelemetry] = {}


def _call(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    telemetry = _state.get("telemetry")
    try:  # the ASGI call, positional or by keyword; anything else is the app's business
        scope, receive, send = (*args, *(kwargs[name] for name in ("scope", "receive", "send")[len(args) :]))
    except (KeyError, TypeError, ValueError):
        return wrapped(*args, **kwargs)
    if telemetry is None or not isinstance(scope, dict) or scope.get("type") == "lifespan" or _SERVED in scope:
        return wrapped(*args, **kwargs)
    scope[_SERVED] = True
    scope.setdefault("fastapi.telemetry", None)  # FastAPI's own telemetry: not this request
    routes = getattr(getattr(instance, "router", None), "routes", None)
    return telemetry.serve(wrapped, scope, receive, send, routes)


async def _traced_background_task(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    telemetry = _state.get("telemetry")
    if telemetry is None:
        return await wrapped(*args, **kwargs)
    function = getattr(instance, "func", None)
    name = getattr(function, "__name__", type(function).__name__)
    with telemetry.tracer.start_as_current_span(f"BackgroundTask {name}"):
        return await wrapped(*args, **kwargs)


class FastAPIInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Traces and measures every FastAPI app's HTTP and WebSocket requests."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        excluded = kwargs.get("excluded_urls")
        if excluded is None:
            environ = os.environ
            excluded = environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS") or environ.get("OTEL_PYTHON_EXCLUDED_URLS", "")
        _state["telemetry"] = ServerTelemetry(
            trace.get_tracer(__name__, __version__, tracer_provider=kwargs.get("tracer_provider")),
            metrics.get_meter(__name__, __version__, meter_provider=kwargs.get("meter_provider")),
            excluded_urls=parse_excluded_urls(excluded) if excluded.strip() else None,
            server_request_hook=kwargs.get("server_request_hook"),
            headers=HeaderCapture(
                kwargs.get("http_capture_headers_server_request") or get_custom_headers(f"{_CAPTURE}SERVER_REQUEST"),
                kwargs.get("http_capture_headers_server_response") or get_custom_headers(f"{_CAPTURE}SERVER_RESPONSE"),
                kwargs.get("http_capture_headers_sanitize_fields") or get_custom_headers(f"{_CAPTURE}SANITIZE_FIELDS"),
            ),
        )
        wrap_function_wrapper("fastapi.applications", "FastAPI.__call__", _call)
        wrap_function_wrapper("starlette.background", "BackgroundTask.__call__", _traced_background_task)

    def _uninstrument(self, **kwargs: Any) -> None:
        import fastapi.applications
        import starlette.background

        unwrap(fastapi.applications.FastAPI, "__call__")
        unwrap(starlette.background.BackgroundTask, "__call__")
        _state.clear()
