"""Hits and misses read from a cache command's arguments and reply."""

from __future__ import annotations

from typing import Any

import pytest

from otelperf.instrumentation.cache.results import read_outcomes


@pytest.mark.parametrize(
    ("command", "args", "reply", "outcome"),
    [
        ("GET", ("GET", "k"), None, (0, 1)),
        ("GET", ("GET", "k"), b"v", (1, 0)),
        ("MGET", ("MGET", "a", "b", "c"), [b"1", None, b"3"], (2, 1)),
        ("HMGET", ("HMGET", "h", "f1", "f2"), [None, None], (0, 2)),
        ("EXISTS", ("EXISTS", "a", "b", "c"), 2, (2, 1)),
        ("HGETALL", ("HGETALL", "h"), {}, (0, 1)),
        ("SET", ("SET", "k", "v"), True, None),
    ],
)
def test_redis_read_outcomes(command: str, args: tuple[Any, ...], reply: Any, outcome: Any) -> None:
    assert read_outcomes(command, args, reply) == outcome
