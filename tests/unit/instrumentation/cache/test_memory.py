from __future__ import annotations

from typing import Any

import pytest

from otelperf.instrumentation.cache.memory import MeteredCache, metered_lru_cache


def by_result(points: list[Any], cache: str) -> dict[tuple[str, str | None], int]:
    found: dict[tuple[str, str | None], int] = {}
    for point in points:
        if point.attributes["otelperf.cache.name"] == cache:
            key = (point.attributes["otelperf.cache.operation"], point.attributes.get("otelperf.cache.result"))
            found[key] = point.count
    return found


def test_metered_cache_counts_hits_misses_and_writes(global_points: Any) -> None:
    cache: MeteredCache[str, int] = MeteredCache({}, name="unit-dict")
    assert cache.get("a") is None
    with pytest.raises(KeyError):
        cache["a"]
    cache["a"] = 1
    assert cache["a"] == 1 and cache.get("a") == 1
    del cache["a"]
    points = global_points("otelperf.cache.operation.duration")
    assert by_result(points, "unit-dict") == {
        ("GET", "miss"): 2,
        ("GET", "hit"): 2,
        ("SET", None): 1,
        ("DELETE", None): 1,
    }
    assert all(
        p.attributes["otelperf.cache.system"] == "memory"
        for p in points
        if p.attributes["otelperf.cache.name"] == "unit-dict"
    )


def test_metered_lru_cache_is_exact_and_bounded(global_points: Any) -> None:
    calls: list[int] = []

    @metered_lru_cache("unit-lru", maxsize=2)
    def square(value: int) -> int:
        calls.append(value)
        return value * value

    assert [square(2), square(2), square(3), square(4), square(2)] == [4, 4, 9, 16, 4]
    assert calls == [2, 3, 4, 2]  # 2 was evicted by 3 and 4 (maxsize 2)
    counts = by_result(global_points("otelperf.cache.operation.duration"), "unit-lru")
    assert counts[("GET", "hit")] == 1 and counts[("GET", "miss")] == 4
