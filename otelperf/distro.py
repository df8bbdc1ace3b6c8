"""The ``opentelemetry_distro`` entry point: environment defaults and per-instrumentor options.

``_configure`` runs before any provider exists, so it only sets defaults with
``os.environ.setdefault``: the user's own environment always wins. It also hands the loader's
version-conflict lines over to ``otelperf.startup``, which says what was skipped in its own words.

``load_instrumentor`` replaces the contrib FastAPI, Redis and SQLAlchemy instrumentors by otelperf's
own (``otelperf.instrumentation.replacements``: a cheaper server span, one wrapper per Redis
command, SQLAlchemy 2.1 and literal-free statements), passes options to the contrib ones it loads
(FastAPI, should ``otelperf_fastapi`` be disabled, without the per-message ``http send``/``http
receive`` spans) and records what was loaded for the startup summary.
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]

from otelperf import startup
from otelperf.instrumentation.replacements import replaced_by
from otelperf.redaction.urls import SENSITIVE_HEADERS

__all__ = ["ENV_DEFAULTS", "OtelperfDistro"]

ENV_DEFAULTS: dict[str, str] = {
    # Stable HTTP and database semantic-convention names (read once, at the first instrument()).
    "OTEL_SEMCONV_STABILITY_OPT_IN": "http,database",
    "OTEL_TRACES_EXPORTER": "otlp",
    "OTEL_METRICS_EXPORTER": "otlp",
    "OTEL_LOGS_EXPORTER": "none",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
    # Exemplars only from sampled spans: every exemplar links to a trace that exists.
    "OTEL_METRICS_EXEMPLAR_FILTER": "trace_based",
    # Not otelperf's to load: the SDK's own logging handler would duplicate application logs.
    "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "false",
    # Should a user capture headers, contrib redacts credentials itself (the sanitizing processor
    # redacts them again, whatever this is set to).
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS": ",".join(SENSITIVE_HEADERS),
}

INSTRUMENTOR_OPTIONS: dict[str, dict[str, Any]] = {
    # The ASGI per-message spans are a large share of the instrumentation's cost and carry no insight.
    "fastapi": {"exclude_spans": ["receive", "send"]},
}


class OtelperfDistro(BaseDistro):  # type: ignore[misc]
    """Entry point ``opentelemetry_distro = otelperf``."""

    def _configure(self, **kwargs: Any) -> None:
        for name, value in ENV_DEFAULTS.items():
            os.environ.setdefault(name, value)
        startup.quiet_loader_conflicts()

    def load_instrumentor(self, entry_point: Any, **kwargs: Any) -> None:
        name = entry_point.name
        if not startup.STATE.pipeline_wanted:
            return
        replacement = replaced_by(name, startup.disabled_instrumentations())
        if replacement is not None:
            startup.STATE.record(name, f"replaced by {replacement}")
            return
        options = {**INSTRUMENTOR_OPTIONS.get(name, {}), **_settings_options(name), **kwargs}
        try:
            instrumentor = entry_point.load()
            instrumentor().instrument(**options)
        except ModuleNotFoundError:
            raise  # the library is not installed: the loader skips it quietly, as it should
        except Exception as exc:  # noqa: BLE001 - one instrumentation failing must not stop the rest
            startup.STATE.record(name, f"failed ({type(exc).__name__}: {exc})")
            from otelperf.log import logger

            logger.warning("instrumentation %s failed and is off: %s: %s", name, type(exc).__name__, exc)
            return
        startup.STATE.record(name, "on")


def _settings_options(name: str) -> dict[str, Any]:
    """Options of otelperf's own instrumentors that come from settings."""
    settings = startup.STATE.settings
    if settings is None:
        return {}
    if name == "otelperf_sqlalchemy":
        return {"slow_query_threshold_s": settings.db_slow_query_threshold_s}
    if name == "otelperf_runtime":
        return {"event_loop_lag_interval_s": settings.event_loop_lag_interval_s}
    return {}
