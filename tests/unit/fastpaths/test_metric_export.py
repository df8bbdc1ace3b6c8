"""The metric exporter's temporality and aggregation preferences, or the SDK's defaults when the fast
path is off. These tests set the switches themselves, so they run the same whether the run forces
the fast paths off or not."""

from __future__ import annotations

from opentelemetry.sdk.metrics import Counter
from opentelemetry.sdk.metrics.export import AggregationTemporality

from otelperf.fastpaths import metric_export
from tests.unit.conftest import switched


def test_metric_exporter_preferences_or_the_sdk_defaults() -> None:
    exporter = metric_export._Exporter(preferred_temporality={Counter: AggregationTemporality.DELTA})
    temporality, _ = metric_export.preferences(exporter)
    assert temporality[Counter] is AggregationTemporality.DELTA
    with switched(metric_export.SWITCH, False):
        assert metric_export.preferences(exporter) == (None, None)
