"""The ``opentelemetry_configurator`` entry point: settings, process role, then the pipeline.

``opentelemetry-instrument`` calls it after the distro and before the instrumentors. It reads
the settings once, reports every rejected value, decides whether this process runs the SDK
(see ``process.roles``) and starts or defers the pipeline (see ``process.lifecycle``). Nothing
raised here may reach the application: on any failure otelperf logs one line and the app runs
uninstrumented.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk._configuration import _BaseConfigurator

from otelperf import fastpaths, startup
from otelperf.log import logger, setup_logging
from otelperf.metrics.instruments import set_series_limit
from otelperf.pipeline.providers import Pipeline
from otelperf.process import lifecycle
from otelperf.process.roles import detect_role
from otelperf.settings import Settings, load_settings

__all__ = ["OtelperfConfigurator", "configure"]


def configure(settings: Settings | None = None) -> None:
    """Set otelperf up in this process (what the entry point does; usable without the launcher)."""
    try:
        settings = settings or load_settings()
        setup_logging(settings.log_level)
        for problem in settings.problems:
            logger.warning("invalid setting: %s", problem)
        if not settings.active:
            variable = "OTELPERF_ENABLED=false" if not settings.enabled else "OTEL_SDK_DISABLED=true"
            logger.info("disabled by %s; no telemetry from this process", variable)
            return
        set_series_limit(settings.metric_series_limit)
        fastpaths.force_off(not settings.fast_paths)
        decision = detect_role()
        startup.STATE.settings = settings
        startup.STATE.role = decision
        lifecycle.begin(settings, decision, Pipeline, on_start=startup.pipeline_started)
    except Exception as exc:  # noqa: BLE001 - the host application comes first
        logger.error("setup failed (%s: %s); the application runs without telemetry", type(exc).__name__, exc)


class OtelperfConfigurator(_BaseConfigurator):
    """Entry point ``opentelemetry_configurator = otelperf``."""

    def _configure(self, **kwargs: Any) -> None:
        configure()
