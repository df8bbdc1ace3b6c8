"""otelperf's FastAPI instrumentation, against real FastAPI apps driven through ``httpx``'s ASGI
transport: the server span, its attributes and parent, the HTTP metrics, routes (included routers,
mounts, no match), errors, exclusions, header capture, hooks, WebSockets and FastAPI's own
telemetry stepping aside."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, BackgroundTasks, FastAPI, WebSocket
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from starlette.staticfiles import StaticFiles

from otelperf.instrumentation.fastapi import FastAPIInstrumentor, _server
from otelperf.instrumentation.fastapi._routes import route_template
from otelperf.profiling import tags, tasks
from otelperf.profiling.processor import ProfileSpanProcessor
from otelperf.profiling.tags import current_root
from tests.unit.conftest import Signals

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class Boom(Exception):
    pass


def build_app(**telemetry: Any) -> FastAPI:
    app = FastAPI(telemetry=telemetry or None)
    api = APIRouter(prefix="/api")

    @api.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @api.get("/sync/{item_id}")
    def sync_item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @api.get("/boom")
    async def boom() -> None:
        raise Boom("the handler failed")

    @app.get("/healthz")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.websocket("/ws/{room}")
    async def chat(websocket: WebSocket, room: str) -> None:
        await websocket.accept()
        await websocket.send_text(room)
        await websocket.close()

    app.include_router(api)
    admin = FastAPI()

    @admin.get("/users/{user_id}")
    async def user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    app.mount("/admin", admin)
    return app


@pytest.fixture
def instrumented(signals: Signals) -> Iterator[Signals]:
    FastAPIInstrumentor().instrument(
        tracer_provider=signals.tracer_provider,
        meter_provider=signals.meter_provider,
        excluded_urls="healthz",
        http_capture_headers_server_request=["x-request-id", "authorization"],
        http_capture_headers_server_response=["x-served-by"],
    )
    yield signals
    FastAPIInstrumentor().uninstrument()


def get(app: Any, path: str, **headers: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver:8000") as client:
            return await client.get(path, headers={"user-agent": "unit-test/1.0", **headers})

    return asyncio.run(go())


def server_spans(signals: Signals) -> list[Any]:
    return [s for s in signals.spans.get_finished_spans() if s.kind is SpanKind.SERVER]


def test_a_request_gets_a_server_span_with_its_route_and_parent(instrumented: Signals) -> None:
    response = get(build_app(), "/api/items/7?page=2", traceparent=TRACEPARENT, **{"x-request-id": "r-1"})
    assert response.status_code == 200
    (span,) = server_spans(instrumented)
    assert span.name == "GET /api/items/{item_id}"
    assert format(span.context.trace_id, "032x") == TRACEPARENT.split("-")[1]
    assert span.parent is not None and span.parent.is_remote
    attributes = dict(span.attributes)
    assert attributes == {
        "url.scheme": "http",
        "url.path": "/api/items/7",
        "url.query": "page=2",
        "http.request.method": "GET",
        "http.route": "/api/items/{item_id}",
        "http.response.status_code": 200,
        "server.address": "testserver",
        "server.port": 8000,
        "network.protocol.version": "1.1",
        "user_agent.original": "unit-test/1.0",
        "client.address": "127.0.0.1",
        "client.port": 123,
        "http.request.header.x_request_id": ("r-1",),
    }
    assert span.status.status_code is StatusCode.UNSET


def test_the_duration_and_size_metrics_carry_the_route_and_status(instrumented: Signals) -> None:
    app = build_app()
    for path in ("/api/items/1", "/api/items/2", "/api/sync/3"):
        assert get(app, path).status_code == 200
    durations = {
        (p.attributes["http.route"], p.attributes["http.response.status_code"]): p.count
        for p in instrumented.points("http.server.request.duration")
    }
    assert durations == {("/api/items/{item_id}", 200): 2, ("/api/sync/{item_id}", 200): 1}
    (point, _) = [p for p in instrumented.points("http.server.request.duration")]
    assert set(point.attributes) == {
        "http.request.method",
        "url.scheme",
        "network.protocol.version",
        "http.route",
        "http.response.status_code",
    }
    assert sum(p.count for p in instrumented.points("http.server.response.body.size")) == 3
    (active,) = instrumented.points("http.server.active_requests")
    assert active.attributes == {"http.request.method": "GET", "url.scheme": "http"}
    assert active.point.value == 0


def test_measurements_link_to_the_server_span_only_when_it_is_sampled(instrumented: Signals) -> None:
    app = build_app()
    assert get(app, "/api/items/1", traceparent=TRACEPARENT).status_code == 200
    unsampled = TRACEPARENT[:-2] + "00"  # the default ParentBased sampler drops it
    assert get(app, "/api/sync/2", traceparent=unsampled).status_code == 200
    (span,) = server_spans(instrumented)
    # One collection: a reader's collection hands the exemplars out and starts afresh.
    data = instrumented.reader.get_metrics_data()
    assert data is not None
    metrics = {m.name: m for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics}
    for name in ("http.server.request.duration", "http.server.response.body.size"):
        exemplars = {p.attributes["http.route"]: p.exemplars for p in metrics[name].data.data_points}
        (exemplar,) = exemplars["/api/items/{item_id}"]
        assert (exemplar.trace_id, exemplar.span_id) == (span.context.trace_id, span.context.span_id)
        assert exemplars["/api/sync/{item_id}"] == []


def test_active_requests_count_the_requests_in_flight(instrumented: Signals) -> None:
    app = FastAPI()
    entered, release = asyncio.Event(), asyncio.Event()

    @app.get("/slow")
    async def slow() -> dict[str, bool]:
        entered.set()
        await release.wait()
        return {"ok": True}

    async def go() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            request = asyncio.create_task(client.get("/slow"))
            await entered.wait()
            (active,) = instrumented.points("http.server.active_requests")
            in_flight = int(active.point.value)
            release.set()
            await request
            return in_flight

    assert asyncio.run(go()) == 1
    (active,) = instrumented.points("http.server.active_requests")
    assert active.point.value == 0


def test_an_exception_is_a_500_with_its_type_and_event(instrumented: Signals) -> None:
    response = get(build_app(), "/api/boom")
    assert response.status_code == 500
    (span,) = server_spans(instrumented)
    assert span.name == "GET /api/boom"
    assert span.status.status_code is StatusCode.ERROR
    error_type = f"{Boom.__module__}.Boom"
    assert span.attributes["error.type"] == error_type
    assert span.attributes["http.response.status_code"] == 500
    (event,) = [e for e in span.events if e.name == "exception"]
    assert event.attributes["exception.message"] == "the handler failed"
    (point,) = instrumented.points("http.server.request.duration")
    assert point.attributes["error.type"] == error_type
    assert point.attributes["http.response.status_code"] == 500


def test_a_path_that_matches_no_route_has_no_route(instrumented: Signals) -> None:
    assert get(build_app(), "/nowhere/at/all").status_code == 404
    (span,) = server_spans(instrumented)
    assert span.name == "GET"
    assert "http.route" not in span.attributes
    (point,) = instrumented.points("http.server.request.duration")
    assert "http.route" not in point.attributes
    assert point.attributes["http.response.status_code"] == 404
    assert "error.type" not in point.attributes  # a 4xx is the client's error, not the server's


def test_a_mounted_app_is_traced_once_with_the_full_template(instrumented: Signals) -> None:
    assert get(build_app(), "/admin/users/5").status_code == 200
    (span,) = server_spans(instrumented)
    assert span.name == "GET /admin/users/{user_id}"
    assert span.attributes["http.route"] == "/admin/users/{user_id}"


def test_a_sampled_request_is_named_after_its_route_before_the_app_runs_when_the_profiler_needs_it(
    instrumented: Signals, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With span attribution on, a span that records is matched to its route and renamed before the
    app's first step: the profiler's root (route frame, tags) carries the route's name from then on,
    and was never tagged under the method's name. An unsampled request matches no route up front."""
    instrumented.tracer_provider.add_span_processor(ProfileSpanProcessor())
    seen_by_app: list[tuple[str | None, str | None]] = []

    class SeenByApp:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            root = current_root.get()
            seen_by_app.append((root.span_name if root else None, tags.tagged_root() and tags.tagged_root().span_name))
            await self.app(scope, receive, send)

    matched: list[str] = []

    def counting(routes: Any, scope: Any, depth: int = 0) -> str | None:
        matched.append(scope["path"])
        return route_template(routes, scope, depth)

    monkeypatch.setattr(_server, "route_template", counting)
    monkeypatch.setitem(tags._native, "add", lambda key, value: None)  # tagging on, no agent
    monkeypatch.setitem(tags._native, "remove", lambda key, value: None)
    app = build_app()
    (tmp_path / "a.txt").write_text("a")
    app.mount("/static", StaticFiles(directory=tmp_path))
    app.add_middleware(SeenByApp)
    tasks._framing["on"] = True
    try:
        for path in ("/api/items/1", "/admin/users/2", "/static/a.txt", "/nowhere"):
            get(app, path)
        get(app, "/api/items/3", traceparent=TRACEPARENT[:-2] + "00")  # unsampled
    finally:
        tasks._framing["on"] = False
        tags.tag_thread(None)
    named = ["GET /api/items/{item_id}", "GET /admin/users/{user_id}", "GET /static/{path}", "GET"]
    assert seen_by_app == [*((name, name) for name in named), (None, None)]
    assert [s.name for s in server_spans(instrumented)] == named
    assert server_spans(instrumented)[0].attributes["http.route"] == "/api/items/{item_id}"
    assert matched == ["/api/items/1", "/admin/users/2", "/static/a.txt", "/nowhere"]  # not the unsampled one
    (point,) = [
        p
        for p in instrumented.points("http.server.request.duration")
        if p.attributes.get("http.route") == "/api/items/{item_id}"
    ]
    assert point.point.count == 2  # the unsampled request's route is read after routing
    routes = app.router.routes
    scope = {"type": "http", "method": "POST", "path": "/api/items/1", "root_path": "", "headers": []}
    assert route_template(routes, scope) == "/api/items/{item_id}"  # path matches, method does not: 405


def test_excluded_urls_are_neither_traced_nor_measured(instrumented: Signals) -> None:
    assert get(build_app(), "/healthz").status_code == 200
    assert server_spans(instrumented) == []
    assert instrumented.points("http.server.request.duration") == []


def test_captured_headers_and_the_request_hook(signals: Signals) -> None:
    seen: list[str] = []

    def hook(span: Any, scope: dict[str, Any]) -> None:
        seen.append(scope["path"])
        raise RuntimeError("a broken hook")  # logged; the request goes on

    FastAPIInstrumentor().instrument(
        tracer_provider=signals.tracer_provider,
        meter_provider=signals.meter_provider,
        server_request_hook=hook,
        http_capture_headers_server_response=["content-type"],
    )
    try:
        assert get(build_app(), "/api/items/1").status_code == 200
    finally:
        FastAPIInstrumentor().uninstrument()
    assert seen == ["/api/items/1"]
    (span,) = server_spans(signals)
    assert span.attributes["http.response.header.content_type"] == ("application/json",)


def test_a_websocket_gets_a_span_and_no_http_metrics(instrumented: Signals) -> None:
    async def go() -> str:
        app = build_app()
        messages = iter(
            [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1000}],
        )
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return next(messages)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "websocket",
            "path": "/ws/lobby",
            "raw_path": b"/ws/lobby",
            "root_path": "",
            "scheme": "ws",
            "query_string": b"",
            "headers": [(b"host", b"testserver")],
            "client": ("127.0.0.1", 5000),
            "server": ("testserver", 80),
            "subprotocols": [],
        }
        await app(scope, receive, send)
        return str(sent[1].get("text"))

    assert asyncio.run(go()) == "lobby"
    (span,) = server_spans(instrumented)
    assert span.name == "/ws/{room}"
    assert span.attributes["network.protocol.name"] == "websocket"
    assert instrumented.points("http.server.request.duration") == []


def test_fastapis_own_telemetry_steps_aside(instrumented: Signals) -> None:
    """FastAPI 0.165+ traces on its own once it has a provider: not these requests, or every
    request would have two server spans."""
    native = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(native))
    app = build_app(tracer_provider=provider, logs=False, metrics=False)
    assert get(app, "/api/items/1").status_code == 200
    assert len(server_spans(instrumented)) == 1
    assert native.get_finished_spans() == ()


def test_uninstrument_leaves_apps_untraced(signals: Signals) -> None:
    FastAPIInstrumentor().instrument(tracer_provider=signals.tracer_provider, meter_provider=signals.meter_provider)
    FastAPIInstrumentor().uninstrument()
    assert get(build_app(), "/api/items/1").status_code == 200
    assert server_spans(signals) == []


def test_a_background_task_runs_in_its_own_span_after_the_server_span(instrumented: Signals) -> None:
    app = FastAPI()

    def send_receipt(order: int) -> None:
        return None

    @app.post("/orders/{order}")
    async def order(order: int, tasks: BackgroundTasks) -> dict[str, int]:
        tasks.add_task(send_receipt, order)
        return {"order": order}

    async def go() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return (await client.post("/orders/3")).status_code

    assert asyncio.run(go()) == 200
    spans = {s.name: s for s in instrumented.spans.get_finished_spans()}
    server, task = spans["POST /orders/{order}"], spans["BackgroundTask send_receipt"]
    assert task.parent is not None and task.parent.span_id == server.context.span_id
    assert server.end_time is not None and task.start_time is not None and server.end_time <= task.start_time


def test_an_app_called_by_keyword_is_traced_and_an_odd_call_is_left_alone(instrumented: Signals) -> None:
    app = build_app()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/items/4",
        "raw_path": b"/api/items/4",
        "root_path": "",
        "scheme": "http",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "http_version": "1.1",
    }
    asyncio.run(app(scope, receive=receive, send=send))
    assert sent[0]["status"] == 200
    assert [s.name for s in server_spans(instrumented)] == ["GET /api/items/{item_id}"]
    with pytest.raises(TypeError):  # FastAPI's own error for a call it does not accept, not otelperf's
        app(scope)  # type: ignore[call-arg]
