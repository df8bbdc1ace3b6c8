"""A small, realistic load generator for the demo service, and the statistics of what it saw."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from otelperf.demo.app import CATALOGUE_SIZE, HOT_ITEMS

CATEGORIES = ("books", "games", "garden", "kitchen", "music")


@dataclass
class RouteStats:
    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0

    def percentile(self, q: float) -> float:
        if not self.latencies_s:
            return float("nan")
        if len(self.latencies_s) == 1:
            return self.latencies_s[0]
        return statistics.quantiles(self.latencies_s, n=100, method="inclusive")[int(q) - 1]


@dataclass
class LoadResult:
    duration_s: float
    routes: dict[str, RouteStats]

    @property
    def requests(self) -> int:
        return sum(len(stats.latencies_s) for stats in self.routes.values())

    @property
    def errors(self) -> int:
        return sum(stats.errors for stats in self.routes.values())


def _next_request(rng: random.Random) -> tuple[str, str, str]:
    """(method, path, route template), weighted like a catalogue's traffic with a hot set."""
    roll = rng.random()
    if roll < 0.60:
        hot = rng.random() < 0.8
        item = rng.randint(1, HOT_ITEMS) if hot else rng.randint(1, CATALOGUE_SIZE)
        return "GET", f"/items/{item}", "/items/{item_id}"
    if roll < 0.75:
        return "GET", f"/categories/{rng.choice(CATEGORIES)}", "/categories/{category}"
    if roll < 0.85:
        return "GET", f"/report/{rng.choice(CATEGORIES)}", "/report/{category}"
    if roll < 0.90:
        return "GET", "/orders/recent", "/orders/recent"
    return "POST", f"/orders?item_id={rng.randint(1, CATALOGUE_SIZE)}", "/orders"


async def generate_load(
    base_url: str,
    duration_s: float,
    concurrency: int,
    on_progress: Callable[[float, int], None] | None = None,
    seed: int = 1,
) -> LoadResult:
    """Run ``concurrency`` clients for ``duration_s`` seconds; latency measured per request."""
    routes: dict[str, RouteStats] = defaultdict(RouteStats)
    started = time.perf_counter()
    deadline = started + duration_s
    done = 0

    async def client(index: int, http: httpx.AsyncClient) -> None:
        nonlocal done
        rng = random.Random(seed * 1000 + index)
        while time.perf_counter() < deadline:
            method, path, route = _next_request(rng)
            begin = time.perf_counter()
            try:
                response = await http.request(method, path)
                failed = response.status_code >= 500
            except httpx.HTTPError:
                failed = True
            stats = routes[f"{method} {route}"]
            stats.latencies_s.append(time.perf_counter() - begin)
            stats.errors += failed
            done += 1

    async def report() -> None:
        while time.perf_counter() < deadline:
            if on_progress:
                on_progress(time.perf_counter() - started, done)
            await asyncio.sleep(0.25)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0, limits=limits) as http:
        await asyncio.gather(report(), *(client(i, http) for i in range(concurrency)))
    if on_progress:
        on_progress(duration_s, done)
    return LoadResult(time.perf_counter() - started, dict(routes))
