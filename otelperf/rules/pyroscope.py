"""Top self-time functions of a route, from Pyroscope's render API, for slow-route evidence.

``GET /pyroscope/render?query=...&format=json`` answers a flamebearer: ``names`` and ``levels``,
each level a flat list of ``[x offset (delta), total, self, name index]`` quadruples. Summing the
``self`` column per name gives each function's self time. Samples carry the ``span_name`` label
(``GET /route``) that otelperf's profiler sets, so a route's profile is one label matcher away.
"""

from __future__ import annotations

import re
from collections import defaultdict

__all__ = ["CPU_PROFILE", "PyroscopeProfiles", "self_time_by_function"]

CPU_PROFILE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
_TOP = 5


class PyroscopeProfiles:
    """Top functions from a Pyroscope server (or ``otelperf.profiling.receiver``), over the last
    ``window`` or, with ``since`` / ``until`` (unix seconds), over that stretch."""

    def __init__(
        self,
        url: str,
        *,
        window: str = "15m",
        timeout_s: float = 10.0,
        since: float | None = None,
        until: float | None = None,
    ) -> None:
        import httpx  # with the source, not the module: the rules package needs no HTTP client

        self.url = url.rstrip("/")
        self.window = window
        self.range = (
            (str(int(since)), str(int(until + 1)) if until is not None else "now")
            if since is not None
            else (f"now-{window}", "now")
        )
        self._client = httpx.Client(timeout=timeout_s)

    def query_for(self, service: str, route: str | None) -> str:
        matchers = [f'service_name="{service}"']
        if route:
            # span_name is "<METHOD> <route>"; any method.
            matchers.append(f'span_name=~"[A-Z]+ {re.escape(route)}"'.replace("\\", "\\\\"))
        return f"{CPU_PROFILE}{{{', '.join(matchers)}}}"

    def top_functions(self, service: str, route: str | None) -> tuple[str, list[tuple[str, float]]]:
        """The profile query, and up to five (function, share of self time) pairs, largest first."""
        query = self.query_for(service, route)
        response = self._client.get(
            f"{self.url}/pyroscope/render",
            params={"query": query, "from": self.range[0], "until": self.range[1], "format": "json"},
        )
        response.raise_for_status()
        flamebearer = response.json().get("flamebearer", {})
        return query, self_time_by_function(flamebearer.get("names", []), flamebearer.get("levels", []))


def self_time_by_function(names: list[str], levels: list[list[int]]) -> list[tuple[str, float]]:
    self_time: dict[str, int] = defaultdict(int)
    for level in levels:
        for index in range(0, len(level) - 3, 4):
            self_time[names[level[index + 3]]] += level[index + 2]
    self_time.pop("total", None)
    total = sum(self_time.values())
    if not total:
        return []
    # otelperf's own route frames ("[GET /route]") say where, not what: not a function to name.
    candidates = [(name, ticks) for name, ticks in self_time.items() if ticks and not name.startswith("[")]
    ranked = sorted(candidates, key=lambda item: item[1], reverse=True)[:_TOP]
    return [(name, ticks / total) for name, ticks in ranked]
