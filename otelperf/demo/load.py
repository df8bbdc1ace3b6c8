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

from otelperf.demo.scenario import CATALOGUE_SIZE, CATEGORIES, HOT_ITEMS


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
    sending_s: float = 0.0  # open loop: how long requests were being sent (the rest is waiting for answers)
    abandoned: int = 0  # open loop: requests still unanswered when the load gave up on them

    @property
    def requests(self) -> int:
        return sum(len(stats.latencies_s) for stats in self.routes.values())

    @property
    def errors(self) -> int:
        return sum(stats.errors for stats in self.routes.values())


# The traffic of a catalogue, in every block of 20 requests (shuffled within the block): a short
# load still carries each route in its share, so every planted problem gets its requests.
_BLOCK = (
    *(["/items/{item_id}"] * 12),
    *(["/categories/{category}"] * 3),
    *(["/report/{category}"] * 2),
    "/orders/recent",
    *(["/orders"] * 2),
)


class _Mix:
    """The next request: (method, path, route template), from shuffled blocks of ``_BLOCK``."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._block: list[str] = []

    def next(self) -> tuple[str, str, str]:
        rng = self._rng
        if not self._block:
            self._block = list(_BLOCK)
            rng.shuffle(self._block)
        route = self._block.pop()
        if route == "/items/{item_id}":
            hot = rng.random() < 0.8
            item = rng.randint(1, HOT_ITEMS) if hot else rng.randint(1, CATALOGUE_SIZE)
            return "GET", f"/items/{item}", route
        if route == "/categories/{category}":
            return "GET", f"/categories/{rng.choice(CATEGORIES)}", route
        if route == "/report/{category}":
            return "GET", f"/report/{rng.choice(CATEGORIES)}", route
        if route == "/orders/recent":
            return "GET", route, route
        return "POST", f"/orders?item_id={rng.randint(1, CATALOGUE_SIZE)}", route


async def generate_load(
    base_url: str,
    duration_s: float,
    concurrency: int,
    *,
    on_progress: Callable[[float, int], None] | None = None,
    seed: int = 1,
    rate_per_s: float | None = None,
    drain_s: float = 30.0,
) -> LoadResult:
    """Load the service for ``duration_s`` seconds; latency measured per request.

    Without ``rate_per_s``: ``concurrency`` clients, each sending its next request when the last
    one is answered (a closed loop: a slow service gets fewer requests). With it: requests arrive
    at that fixed rate whatever the service does (an open loop, as users do), at most
    ``concurrency`` in flight; an arrival finding them all busy waits for a free one. Ends when
    every request sent has been answered, or ``drain_s`` after the last one was sent (those still
    unanswered are abandoned and counted in ``LoadResult.abandoned``).
    """
    run = _Run(time.perf_counter(), duration_s, seed)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=_TIMEOUT_S, limits=limits) as http:
        sending = (
            [run.arrivals(http, rate_per_s, concurrency, drain_s)]
            if rate_per_s
            else [run.client(http, _Mix(random.Random(seed * 1000 + index))) for index in range(concurrency)]
        )
        await asyncio.gather(run.progress(on_progress), *sending)
    if on_progress:
        on_progress(duration_s, run.done)
    return LoadResult(time.perf_counter() - run.started, dict(run.routes), run.sending_s, run.abandoned)


@dataclass
class _Run:
    started: float
    duration_s: float
    seed: int
    routes: dict[str, RouteStats] = field(default_factory=lambda: defaultdict(RouteStats))
    done: int = 0
    sending_s: float = 0.0
    abandoned: int = 0

    @property
    def deadline(self) -> float:
        return self.started + self.duration_s

    async def send(self, http: httpx.AsyncClient, mix: _Mix) -> None:
        method, path, route = mix.next()
        begin = time.perf_counter()
        try:
            response = await http.request(method, path)
            failed = response.status_code >= 500
        except httpx.HTTPError:
            failed = True
        stats = self.routes[f"{method} {route}"]
        stats.latencies_s.append(time.perf_counter() - begin)
        stats.errors += failed
        self.done += 1

    async def client(self, http: httpx.AsyncClient, mix: _Mix) -> None:
        while time.perf_counter() < self.deadline:
            await self.send(http, mix)

    async def arrivals(self, http: httpx.AsyncClient, rate: float, concurrency: int, drain_s: float) -> None:
        mix = _Mix(random.Random(self.seed))
        slots = asyncio.Semaphore(concurrency)
        in_flight: set[asyncio.Task[None]] = set()

        async def one() -> None:
            try:
                await self.send(http, mix)
            finally:
                slots.release()

        sent = 0
        while (due := self.started + sent / rate) < self.deadline:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            await slots.acquire()
            task = asyncio.create_task(one())
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            sent += 1
        self.sending_s = time.perf_counter() - self.started
        if in_flight:
            _, unanswered = await asyncio.wait(set(in_flight), timeout=drain_s)
            self.abandoned = len(unanswered)
            for task in unanswered:
                task.cancel()
            await asyncio.gather(*unanswered, return_exceptions=True)

    async def progress(self, on_progress: Callable[[float, int], None] | None) -> None:
        while time.perf_counter() < self.deadline:
            if on_progress:
                on_progress(time.perf_counter() - self.started, self.done)
            await asyncio.sleep(0.25)


# A request of a planted problem can queue for seconds behind a saturated pool: a failure only past this.
_TIMEOUT_S = 60.0
