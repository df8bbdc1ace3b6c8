"""The pipeline: the providers, readers, views and processors it builds from the settings."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from otelperf import semconv
from otelperf.metrics.exemplars import exemplar_reservoir_factory
from otelperf.pipeline.providers import _views
from tests.sdk_points import read_points


def test_pipeline_applies_the_series_limit_to_every_reader() -> None:
    from otelperf.pipeline.providers import Pipeline
    from otelperf.settings import load_settings

    settings = load_settings(
        {
            "OTELPERF_METRIC_SERIES_LIMIT": "50",
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "none",
            "OTELPERF_LOCAL_METRICS": "true",
        }
    )
    pipeline = Pipeline(settings)
    pipeline.meter_provider = pipeline._build_meter_provider()  # without touching the global providers
    histogram = pipeline.meter_provider.get_meter("t").create_histogram("limited")
    for index in range(100):
        histogram.record(1.0, {"index": index})
    assert pipeline.local_reader is not None
    assert len(read_points(pipeline.local_reader, "limited")) == 51
    pipeline.meter_provider.shutdown()


@pytest.mark.fast_path("exemplars")
def test_every_histogram_otelperf_records_matches_exactly_one_of_its_views() -> None:
    # Two matching views would export an instrument twice; none would leave it the SDK's reservoir.
    histograms = [instrument.name for instrument in semconv.INSTRUMENTS.values() if instrument.kind == "histogram"]
    assert len(histograms) == 11
    views = _views()
    for name in histograms:
        matching = [view for view in views if view._match(SimpleNamespace(name=name))]  # type: ignore[arg-type]
        assert len(matching) == 1, name
        assert matching[0]._exemplar_reservoir_factory is exemplar_reservoir_factory(), name
    assert not any(view._match(SimpleNamespace(name="app.orders.total")) for view in views)  # type: ignore[arg-type]


def test_export_batches_are_small_unless_the_environment_says_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    from otelperf.pipeline.providers import _batch_options

    for name in ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_MAX_QUEUE_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert _batch_options() == (64, 200)
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "32")
    assert _batch_options() == (32, 200)  # never larger than the queue the user chose
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "16")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "1000")
    assert _batch_options() == (None, None)  # the SDK reads the user's values itself
