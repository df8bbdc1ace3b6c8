"""The route template of a request (``/items/{item_id}``): read after routing, or matched before.

After routing, FastAPI leaves the route it matched in ``scope["route"]`` and each mount has
extended ``root_path``: ``routed_template`` reads the template from there, at no cost. When the
profiler attributes spans, a server span that records must be named ``GET /items/{item_id}``
before the app runs (the route frame and thread tags come from that name), so ``route_template``
matches the app's routes beforehand, as Starlette will a moment later; unsampled requests skip
it. Either way the template is bounded by the app's own routes; a path that matches none has no
route (the span is named after the method alone, and no ``http.route`` is recorded).

FastAPI 0.137+ nests included routers under nodes without a ``path``:
``fastapi.routing.iter_route_contexts`` (0.137.2+) flattens them. Mounted apps are descended into,
their templates joined: ``/admin`` + ``/users/{id}``. The flattened list, with each route's
``matches`` looked up once, is kept per route list: flattening and FastAPI's ``RouteContext``
indirection cost more than the matching itself on every request. It is rebuilt when the list's length
changes and at least every ``_REFRESH_S``, so a route added to an included router after start-up
is matched within a second (its spans are named after the method alone until then).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

from starlette.routing import Match, Mount

try:  # FastAPI >= 0.137.2
    from fastapi.routing import iter_route_contexts as _iter_route_contexts
except ImportError:  # pragma: no cover - older FastAPI: routes are matchable as they are
    _iter_route_contexts = None  # type: ignore[assignment]

_MAX_MOUNT_DEPTH = 4
_REFRESH_S = 1.0
_MAX_LISTS = 64  # route lists kept (an app's, its mounts'); cleared when full
_clock = time.monotonic


class _Candidate(NamedTuple):
    matches: Callable[[Any], tuple[Match, Any]]
    path: str
    mount: Mount | None


# id(routes) -> (routes kept alive, their length, when to rebuild, candidates)
_flattened: dict[int, tuple[Sequence[Any], int, float, list[_Candidate]]] = {}


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


def _candidates(routes: Sequence[Any]) -> list[_Candidate]:
    """The routes that have a template, flattened, from the cache while it is fresh."""
    now = _clock()
    entry = _flattened.get(id(routes))
    if entry is not None and entry[0] is routes and entry[1] == len(routes) and now < entry[2]:
        return entry[3]
    candidates = []
    for route in _matchable(routes):
        path: str | None = getattr(route, "path", None)
        if path is None:
            continue
        mount = route if isinstance(route, Mount) else getattr(route, "route", None)  # FastAPI's RouteContext
        candidates.append(_Candidate(route.matches, path, mount if isinstance(mount, Mount) else None))
    if len(_flattened) >= _MAX_LISTS:
        _flattened.clear()
    _flattened[id(routes)] = (routes, len(routes), now + _REFRESH_S, candidates)
    return candidates


def route_template(routes: Sequence[Any], scope: dict[str, Any], depth: int = 0) -> str | None:
    """The template of the route that fully matches ``scope``; failing that, of one that matches
    the path but not the method (Starlette answers 405 there); else ``None``."""
    partial: str | None = None
    for matches, prefix, mount in _candidates(routes):
        match, child_scope = matches(scope)
        if match is Match.NONE:
            continue
        path = prefix
        if mount is not None and depth < _MAX_MOUNT_DEPTH:
            inner = route_template(mount.routes, {**scope, **child_scope}, depth + 1)
            path = prefix + inner if inner else prefix + "/{path}"
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
