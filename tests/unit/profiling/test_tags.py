"""The route frame: a function named after the route that runs the work under it."""

from __future__ import annotations

from otelperf.profiling import tags


def test_route_frame_is_named_after_the_route_and_runs_the_function() -> None:
    frame = tags.route_frame("GET /items/{id}")
    assert frame.__code__.co_name == "[GET /items/{id}]"
    assert frame(lambda a, b=0: a + b, 2, b=3) == 5
    assert tags.route_frame("GET /items/{id}") is frame  # one per name
