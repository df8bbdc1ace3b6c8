"""The route template of a request (``/items/{item_id}``): read after routing, or matched before.

After routing, FastAPI leaves the route it matched in ``scope["route"]`` and each mount has
extended ``root_path``: ``routed_template`` reads the template from there, at no cost. When the
profiler attributes spans, the server span must be named ``GET /items/{item_id}`` when it starts
(the route frame and thread tags come from that name), so ``route_template`` matches the app's
routes beforehand, as Starlette will a moment later. Either way the template is bounded by the
app's own routes; a path that matches none has no route (the span is named after the method
alone, and no ``http.route`` is recorded).

FastAPI 0.137+ nests included routers under nodes without a ``path``:
``fastapi.routing.iter_route_contexts`` (0.137.2+) flattens them. Mounted apps are descended into,
their templates joined: ``/admin`` + ``/users/{id}``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from starlette.routing import Match, Mount

try:  # FastAPI >= 0.137.2
    from fastapi.routing import iter_route_contexts as _iter_route_contexts
except ImportError:  # pragma: no cover - older FastAPI: routes are matchable as they are
    _iter_route_contexts = None  # type: ignore[assignment]

_MAX_MOUNT_DEPTH = 4


def _matchable(routes: Sequence[Any]) -> Iterator[Any]:
    if _iter_route_contexts is not None:
        yield from _iter_route_contexts(routes)
        return
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            yield from contexts()
        else:
            yield route


def route_template(routes: Sequence[Any], scope: dict[str, Any], depth: int = 0) -> str | None:
    """The template of the route that fully matches ``scope``; failing that, of one that matches
    the path but not the method (Starlette answers 405 there); else ``None``."""
    partial: str | None = None
    for route in _matchable(routes):
        match, child_scope = route.matches(scope)
        if match is Match.NONE:
            continue
        path: str | None = getattr(route, "path", None)
        if path is None:
            continue
        mount = route if isinstance(route, Mount) else getattr(route, "route", None)  # FastAPI's RouteContext
        if isinstance(mount, Mount) and depth < _MAX_MOUNT_DEPTH:
            inner = route_template(mount.routes, {**scope, **child_scope}, depth + 1)
            path = path + inner if inner else path + "/{path}"
        if match is Match.FULL:
            return path
        partial = partial or path
    return partial


def routed_template(scope: dict[str, Any], root_path: str) -> str | None:
    """The template of the route the app matched (``root_path``: the scope's before routing)."""
    now = scope.get("root_path", "")
    prefix = now[len(root_path) :] if now.startswith(root_path) else ""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(path, str):
        return prefix + path
    return f"{prefix}/{{path}}" if prefix else None  # a mounted app without routes (static files)
