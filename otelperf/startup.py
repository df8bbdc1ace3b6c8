"""The one startup line that says what is on, what is off and where telemetry goes.

Auto-instrumentation swallows its errors, and its loader skips an instrumentor whose declared
library versions exclude the installed library (contrib's SQLAlchemy instrumentor on SQLAlchemy 2.1)
before the distro sees it, with a line of its own that cannot tell whether otelperf replaces that
instrumentor. otelperf drops that line (``quiet_loader_conflicts``), records what each instrumentor
did and, once they have all been loaded (``opentelemetry_post_instrument``) and the pipeline runs,
logs a single INFO line, plus one WARNING for each instrumentation skipped although its library is
installed and nothing of otelperf's takes its place.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from otelperf import fastpaths
from otelperf.instrumentation.replacements import REPLACED, replaced_by
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
    from importlib.metadata import entry_points

    from opentelemetry.instrumentation.dependencies import get_dist_dependency_conflicts

    disabled = disabled_instrumentations()
    for entry_point in entry_points(group="opentelemetry_instrumentor"):
        name = entry_point.name
        if name in STATE.instrumentations:
            continue
        if name in disabled:
            STATE.record(name, "disabled by OTEL_PYTHON_DISABLED_INSTRUMENTATIONS")
            continue
        replacement = replaced_by(name, disabled)
        if replacement is not None:
            STATE.record(name, f"replaced by {replacement}")
            continue
        dist = getattr(entry_point, "dist", None)
        if dist is not None:
            _record_conflict(name, get_dist_dependency_conflicts(dist))


def _record_conflict(name: str, conflict: Any) -> None:
    """Record and explain, once, an instrumentor skipped although its library is installed."""
    versions = _version_conflict(conflict)
    if versions is None:
        return  # no conflict, or the instrumented library is not installed: nothing to say
    supported, installed = versions
    STATE.record(name, f"skipped: needs {supported}, found {installed}")
    replaced = REPLACED.get(name)
    if replaced is not None:
        logger.warning(
            "contrib's %s instrumentation is skipped: it supports %s and %s is installed, so the %s are "
            "missing (%s, which replaces it, is disabled by OTEL_PYTHON_DISABLED_INSTRUMENTATIONS)",
            name,
            supported,
            installed,
            replaced.telemetry,
            replaced.ours,
        )
    else:
        logger.warning(
            "instrumentation %s skipped by opentelemetry-instrument: it needs %s, found %s; "
            "its spans and metrics are missing (install a matching version)",
            name,
            supported,
            installed,
        )


def _version_conflict(conflict: Any) -> tuple[str, str] | None:
    """(the versions an instrumentor supports, the installed ones) when the library is installed."""
    if conflict is None:
        return None
    installed = conflict.found or ", ".join(conflict.found_any or ())
    if not installed:
        return None
    required = [conflict.required] if conflict.required else list(conflict.required_any or ())
    # A requirement carries its extra's marker ('; extra == "instruments"'): only the versions matter.
    return " or ".join(str(item).split(";")[0].strip() for item in required), installed


class _LoaderConflicts(logging.Filter):
    """Drops the loader's line for an instrumentor it skips over an installed library's version."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.levelno >= logging.WARNING
            and isinstance(record.msg, str)
            and record.msg.endswith("so nothing can be instrumented.")
        )


_LOADER_LOGGER = "opentelemetry.instrumentation.auto_instrumentation._load"


def quiet_loader_conflicts() -> None:
    """Leave version conflicts to ``_record_skipped_by_the_loader`` (idempotent).

    The loader logs an error for each ("nothing can be instrumented"), also for a contrib instrumentor
    that otelperf's own replaces; otelperf says what is true instead, once.
    """
    loader = logging.getLogger(_LOADER_LOGGER)
    if not any(isinstance(existing, _LoaderConflicts) for existing in loader.filters):
        loader.addFilter(_LoaderConflicts())


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
    grpc = settings.traces_exporter == "otlp" and settings.otlp_protocol == "grpc"
    logger.info(
        "otelperf %s on in pid %d (%s) as service.name=%s: traces -> %s (sampler %s), "
        "metrics -> %s every %.0f s; profiles -> %s; instrumented: %s%s; %s",
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
        fastpaths.describe(fastpaths.states(skip=frozenset() if grpc else frozenset({"grpc_export"}))),
    )
    for contract in fastpaths.contracts():
        if not contract.on:
            logger.warning("SDK contract %s is broken with this opentelemetry-sdk: %s", contract.name, contract.reason)


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
