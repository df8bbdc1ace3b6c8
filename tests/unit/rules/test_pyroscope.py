"""Reading Pyroscope's answers: self time per function from a flamebearer."""

from __future__ import annotations

from otelperf.rules.pyroscope import self_time_by_function


def test_self_time_is_summed_per_function_from_a_flamebearer() -> None:
    names = ["total", "main", "[GET /x]", "work", "parse"]
    # total(10) -> main(10) -> [GET /x](10) -> work(7, self 6) -> parse(1, self 1); route frame self 3
    levels = [[0, 10, 0, 0], [0, 10, 0, 1], [0, 10, 3, 2], [0, 7, 6, 3], [0, 1, 1, 4]]
    assert self_time_by_function(names, levels) == [("work", 0.6), ("parse", 0.1)]
