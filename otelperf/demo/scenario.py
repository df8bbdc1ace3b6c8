"""What the demo plays: the shop's catalogue, and the problems that can be planted in it.

Shared by the service (``otelperf.demo.app``), the load generator and ``otelperf demo``, without
importing the service's web and database libraries: the CLI validates ``--problems`` and prints
its help from here.

The service reads the planted problems from ``DEMO_PROBLEMS`` (comma-separated names; unset or
``none``: a healthy shop). ``otelperf demo`` plants all of them unless told otherwise
(``--problems``, ``--healthy``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = [
    "CATALOGUE_SIZE",
    "CATEGORIES",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_PROBLEMS",
    "DEFAULT_RATE",
    "HOT_ITEMS",
    "PROBLEMS",
    "parse_problems",
    "problems_from_env",
]

# The load: requests per second, sent whatever the service does (an open loop), and the most in
# flight. A healthy shop serves this with room to spare, so what the report finds is what was planted.
DEFAULT_RATE = 10.0
DEFAULT_CONCURRENCY = 32

CATALOGUE_SIZE = 500
HOT_ITEMS = 50  # the load generator's hot set: most reads ask for items 1 to 50
CATEGORIES = ("books", "games", "garden", "kitchen", "music")

# name -> (route, what is wrong, the rule that must find it)
PROBLEMS: dict[str, tuple[str, str, str]] = {
    "n_plus_one": (
        "GET /categories/{category}",
        "lists a category's item ids, then loads each item with its own query (an N+1)",
        "db-n-plus-one",
    ),
    "slow_query": (
        "GET /orders/recent",
        "counts related items with an unindexed cross join, sized at start-up to take about 0.7 s alone",
        "db-slow-queries",
    ),
    "cold_cache": (
        "GET /items/{item_id}",
        "puts a per-request value in its cache keys, so no read ever hits",
        "cache-hit-ratio",
    ),
    "saturated_pool": (
        "GET /report/{category}",
        "hands its work to a one-worker pool whose tasks wait 1.4 s on a slow downstream call",
        "worker-pool-utilization",
    ),
    "blocking_coroutine": (
        "POST /orders",
        "renders every fifth order's invoice with CPU-bound code inside the coroutine (0.8 s), blocking the event loop",
        "event-loop-lag",
    ),
}
DEFAULT_PROBLEMS: tuple[str, ...] = tuple(PROBLEMS)


def parse_problems(names: Iterable[str]) -> frozenset[str]:
    """The problems named (``all`` for every one, ``none`` for none); ``ValueError`` names the unknown ones."""
    chosen = {name.strip() for name in names if name.strip()}
    if "all" in chosen:
        chosen = (chosen - {"all"}) | set(PROBLEMS)
    chosen.discard("none")
    unknown = sorted(chosen - set(PROBLEMS))
    if unknown:
        raise ValueError(f"unknown problem(s) {', '.join(unknown)}; known: {', '.join(PROBLEMS)}, all, none")
    return frozenset(chosen)


def problems_from_env(environ: Mapping[str, str]) -> frozenset[str]:
    """``DEMO_PROBLEMS`` as a set (unset: none)."""
    return parse_problems(environ.get("DEMO_PROBLEMS", "").split(","))
