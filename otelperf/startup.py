"""The one startup line that says what is on, what is off and where telemetry goes.

Auto-instrumentation swallows its errors and skips instrumentors whose library version it does
not accept without a word at the default log level (the contrib SQLAlchemy instrumentor on
SQLAlchemy 2.1). otelperf records what each instrumentor did and, once they have all been
loaded (``opentelemetry_post_instrument``) and the pipeline runs, logs a single INFO line, plus a
WARNING for each instrumentation skipped although its library is installed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from otelperf.instrumentation.replacements import REPLACED
from otelperf.log import logger
from otelperf.pipeline.providers import Pipeline
from otelperf.process.lifecycle import SETTLE_AFTER_S
from otelperf.process.roles import ProcessRole, RoleDecision
from otelperf.settings import Settings
from otelperf.version import __version__


@dataclass
class StartupState:
    settings: Settings | None = None
    role: RoleDecision | None = None
    instrumentations: dict[str, str] = field(default_factory=dict)
    instrumented: bool = False
    pipeline: Pipeline | None = None
    reported: bool = False

    @property
    def pipeline_wanted(self) -> bool:
        """Instrumentors load in servers and supervisors (whose forks serve), not in helpers."""
        return (
            self.settings is not None
            and self.settings.active
            and self.role is not None
            and self.role.role is not ProcessRole.HELPER
        )

    def record(self, name: str, outcome: str) -> None:
        self.instrumentations[name] = outcome


STATE = StartupState()


def pipeline_started(pipeline: Pipeline, role: RoleDecision) -> None:
    STATE.pipeline = pipeline
    STATE.role = role
    STATE.reported = False
    if STATE.instrumented:
        _report()


def log_startup_summary() -> None:
    """Entry point ``opentelemetry_post_instrument``: all instrumentors have been loaded."""
    try:
        STATE.instrumented = True
        _record_skipped_by_the_loader()
        role = STATE.role
        if role is not None and role.role is ProcessRole.SUPERVISOR and STATE.pipeline is None:
            _report_supervisor(role)
        elif STATE.pipeline is not None:
            _report()
    except Exception:  # noqa: BLE001
        logger.debug("startup summary failed", exc_info=True)


def disabled_instrumentations() -> set[str]:
    """Entry-point names in ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``."""
    raw = os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "")
    return {item.strip() for item in raw.split(",") if item.strip()}


def _record_skipped_by_the_loader() -> None:
    """Instrumentors the loader skipped for a version conflict never reach the distro: find them."""
    if not STATE.pipeline_wanted:
        return
    from opentelemetry.instrumentation.dependencies import get_dist_dependency_conflicts
    from opentelemetry.util._importlib_metadata import entry_points

    disabled = disabled_instrumentations()
    for entry_point in entry_points(group="opentelemetry_instrumentor"):
        name = entry_point.name
        if name in STATE.instrumentations:
            continue
        if name in disabled:
            STATE.record(name, "disabled by OTEL_PYTHON_DISABLED_INSTRUMENTATIONS")
            continue
        replacement = REPLACED.get(name)
        if replacement is not None and replacement not in disabled:
            STATE.record(name, f"replaced by {replacement}")
            continue
        dist = getattr(entry_point, "dist", None)
        conflict = get_dist_dependency_conflicts(dist) if dist is not None else None
        if conflict is None or getattr(conflict, "found", None) is None:
            continue  # the instrumented library is not installed: nothing to say
        STATE.record(name, f"skipped: needs {conflict.required}, found {conflict.found}")
        logger.warning(
            "instrumentation %s skipped by opentelemetry-instrument: it needs %s, found %s; "
            "its spans and metrics are missing (install a matching version)",
            name,
            conflict.required,
            conflict.found,
        )


def _destination(settings: Settings, signal: str) -> str:
    exporter = settings.traces_exporter if signal == "traces" else settings.metrics_exporter
    if exporter != "otlp":
        return exporter
    return f"otlp {settings.otlp_protocol} {settings.endpoint_for(signal)}"


def _report() -> None:
    pipeline, role = STATE.pipeline, STATE.role
    if pipeline is None or STATE.reported:
        return
    STATE.reported = True
    settings = pipeline.settings
    resource = pipeline.resource.attributes if pipeline.resource is not None else {}
    on = sorted(name for name, outcome in STATE.instrumentations.items() if outcome == "on")
    off = sorted(f"{name} ({outcome})" for name, outcome in STATE.instrumentations.items() if outcome != "on")
    logger.info(
        "otelperf %s on in pid %d (%s) as service.name=%s: traces -> %s (sampler %s), "
        "metrics -> %s every %.0f s; profiles -> %s; instrumented: %s%s",
        __version__,
        os.getpid(),
        role.reason if role else "server",
        resource.get("service.name"),
        _destination(settings, "traces"),
        settings.sampler,
        _destination(settings, "metrics"),
        settings.metric_export_interval_ms / 1000,
        _profiles(pipeline),
        ", ".join(on) or "nothing",
        f"; not instrumented: {', '.join(off)}" if off else "",
    )


def _profiles(pipeline: Pipeline) -> str:
    settings = pipeline.settings
    if pipeline.profiler is not None:
        return pipeline.profiler.describe()
    if pipeline.standby and settings.profiling_active:
        return (
            f"pyroscope {settings.pyroscope_endpoint} once this process serves (held, with metric exports, "
            f"while it may still start workers: at most {SETTLE_AFTER_S:.0f} s)"
        )
    return "off"


def _report_supervisor(role: RoleDecision) -> None:
    message = f"otelperf {__version__}: {role.reason} (pid {os.getpid()}) exports nothing; "
    if role.reload:
        message += (
            "every server process it (re)starts runs its own telemetry pipeline. Upstream "
            "auto-instrumentation often loses telemetry under --reload; with otelperf the reloaded "
            "server is instrumented, but use --reload only in development"
        )
    else:
        message += "each worker starts its own pipeline with its own service.instance.id"
    logger.info(message)
