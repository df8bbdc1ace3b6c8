"""Route templates matched from the app's route list: mounts, included routers, routes added after start-up."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from otelperf.instrumentation.fastapi import _routes
from otelperf.instrumentation.fastapi._routes import route_template


def test_a_mount_without_routes_is_its_prefix(tmp_path: Any) -> None:
    (tmp_path / "a.txt").write_text("a")
    routes = [Mount("/static", app=StaticFiles(directory=tmp_path))]
    scope = {"type": "http", "method": "GET", "path": "/static/a.txt", "root_path": "", "headers": []}
    assert route_template(routes, scope) == "/static/{path}"


def test_routes_added_after_start_up_are_matched(monkeypatch: pytest.MonkeyPatch) -> None:
    """The flattened routes are kept per route list: a route added to the app is matched at once,
    one added to an included router once the list is rebuilt (within ``_REFRESH_S``)."""
    now = [1000.0]
    monkeypatch.setattr(_routes, "_clock", lambda: now[0])
    app = FastAPI()
    api = APIRouter(prefix="/api")

    @api.get("/items/{item_id}")
    async def item(item_id: int) -> None:
        return None

    app.include_router(api)
    routes = app.router.routes

    def template(path: str) -> str | None:
        return route_template(routes, {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": []})

    assert template("/api/items/1") == "/api/items/{item_id}"
    assert template("/late/1") is None

    @app.get("/late/{n}")
    async def late(n: int) -> None:
        return None

    assert template("/late/1") == "/late/{n}"

    @api.get("/later/{n}")
    async def later(n: int) -> None:
        return None

    assert template("/api/later/1") is None  # the app's list is unchanged: its flattened form still holds
    now[0] += _routes._REFRESH_S
    assert template("/api/later/1") == "/api/later/{n}"
    assert template("/api/items/1") == "/api/items/{item_id}"
