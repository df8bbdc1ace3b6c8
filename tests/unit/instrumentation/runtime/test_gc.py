"""GC pauses awaiting a metric collection are bounded, and the dropped ones counted."""

from __future__ import annotations


def test_pauses_waiting_for_a_collection_of_metrics_are_bounded() -> None:
    from opentelemetry.sdk.metrics import MeterProvider

    from otelperf.instrumentation.runtime._gc import PENDING_LIMIT, GcPauses

    pauses = GcPauses(MeterProvider().get_meter("test"))  # no reader: nothing ever collects
    for _ in range(PENDING_LIMIT + 5):
        pauses.callback("start", {})
        pauses.callback("stop", {"generation": 0})
    assert len(pauses._pending) == PENDING_LIMIT
    assert pauses.dropped == 5
