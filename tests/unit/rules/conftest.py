"""Points shaped as the in-process sources hold them, shared by the rules tests."""

from __future__ import annotations

import time

HTTP = "http.server.request.duration"


BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0]


def histogram_point(
    name: str, bounds: list[float], bucket_counts: list[int], observed: float, **attributes: object
) -> dict[str, object]:
    """A cumulative histogram point as the local reader holds it, started 100 s ago."""
    now = time.time()
    return {
        "name": name,
        "kind": "histogram",
        "attributes": attributes,
        "start": now - 100,
        "time": now,
        "count": sum(bucket_counts),
        "sum": observed,
        "bucket_counts": bucket_counts,
        "explicit_bounds": bounds,
    }


def histogram(name: str, counts_by_bound: dict[float, int], total: int, **attributes: object) -> dict[str, object]:
    """A cumulative histogram point whose bucket at each listed bound holds the given count (each
    observation at its bucket's upper bound, those past the last bound at twice it)."""
    counts = [counts_by_bound.get(bound, 0) for bound in BOUNDS]
    counts.append(total - sum(counts))
    observed = sum(count * bound for count, bound in zip(counts, [*BOUNDS, 2 * BOUNDS[-1]], strict=True))
    return histogram_point(name, BOUNDS, counts, observed, **attributes)
