"""Continuous profiling to Pyroscope, linked to the spans and routes that were running.

Started by the pipeline in each serving process (never in a pre-fork master: the native agent
cannot be reconfigured after fork), with ``service_name`` = the OTel ``service.name`` and the
tags ``service_version``, ``deployment_environment``, ``service_instance_id``; samples carry
``span_id`` and ``span_name`` of the local root span that was running (see ``processor`` and
``profiling.tasks``); under the stack sampler (``OTELPERF_PROFILING_SAMPLER=stack``, cheaper, no thread
tags) only the ``[route]`` frames attribute samples. Every failure (``pyroscope-io`` missing or
unsupported here, the agent refusing to start, Pyroscope unreachable) is one log line; the rest of
otelperf and the app carry on.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from otelperf.export.reachability import tcp_check
from otelperf.log import logger
from otelperf.profiling import tags as _tags
from otelperf.profiling.processor import ProfileSpanProcessor
from otelperf.settings import Settings

__all__ = ["ProfileSpanProcessor", "Profiler", "start_profiler"]


@dataclass
class Profiler:
    """The running agent of this process."""

    endpoint: str
    sample_rate_hz: int
    _module: Any
    labels: bool = True  # False under the stack sampler, which does not apply thread tags

    def describe(self) -> str:
        sampler = "py-spy sampler, span labels" if self.labels else "stack sampler, no span labels"
        return f"pyroscope {self.endpoint} at {self.sample_rate_hz} Hz ({sampler})"

    def shutdown(self) -> None:
        """Flush the partial upload window and stop the agent."""
        _tags.disable()
        try:
            self._module.shutdown()
        except Exception:  # noqa: BLE001
            logger.debug("pyroscope shutdown failed", exc_info=True)


def _tags_from(resource_attributes: Any) -> dict[str, str]:
    wanted = {
        "service_version": resource_attributes.get("service.version"),
        "deployment_environment": resource_attributes.get("deployment.environment.name")
        or resource_attributes.get("deployment.environment"),
        "service_instance_id": resource_attributes.get("service.instance.id"),
    }
    return {key: str(value) for key, value in wanted.items() if value}


def _check_reachable(endpoint: str) -> None:
    check = tcp_check("pyroscope", endpoint, 1.0)
    if not check.ok:
        logger.warning(
            "Pyroscope at %s %s: profiles are dropped until it answers (the agent does not retry "
            "failed uploads); the app is not affected",
            endpoint,
            check.detail,
        )


_LINE_NO = {"line": "LastInstruction", "function": "First", "none": "NoLine"}


def _line_no(pyroscope: Any, lines: str) -> Any:
    """pyroscope-io's ``LineNo`` for ``OTELPERF_PROFILING_LINES``."""
    return getattr(pyroscope.LineNo, _LINE_NO[lines])


_FALLBACK = "profiling with the py-spy sampler instead"


def _stack_sampler(pyroscope: Any, sample_rate_hz: int) -> Any | None:
    """pyroscope-io's in-process stack sampler at a fixed rate, or ``None`` (said why) for py-spy's."""
    implementation = getattr(getattr(pyroscope, "ProfilerImplementation", None), "Stack", None)
    configure_stack = getattr(pyroscope, "configure_experimental_stack_profiler", None)
    if implementation is None or configure_stack is None:
        logger.warning(
            "OTELPERF_PROFILING_SAMPLER=stack: this pyroscope-io has no stack sampler (1.4.0 has one); %s", _FALLBACK
        )
        return None
    interval_ms = max(1, round(1000 / sample_rate_hz))
    try:
        # Adaptive sampling would trade the configured rate for a CPU budget: keep the rate that was set.
        accepted = configure_stack(adaptive_sampling=False, cpu_timer_interval_ms=interval_ms)
    except Exception as exc:  # noqa: BLE001
        logger.warning(
            "OTELPERF_PROFILING_SAMPLER=stack: the stack sampler failed to configure (%s: %s); %s",
            type(exc).__name__,
            exc,
            _FALLBACK,
        )
        return None
    if accepted is False:
        logger.warning(
            "OTELPERF_PROFILING_SAMPLER=stack: pyroscope-io refused the stack sampler's options (already fixed in "
            "this process, or its SIGSEGV/SIGBUS handlers could not be installed); %s",
            _FALLBACK,
        )
        return None
    return implementation


def start_profiler(settings: Settings, service_name: str, resource_attributes: Any) -> Profiler | None:
    """Start the agent, or say in one line why profiling is off."""
    endpoint = settings.pyroscope_endpoint
    if endpoint is None:
        return None
    try:
        import pyroscope
    except Exception as exc:  # noqa: BLE001 - unsupported platform or Python version
        logger.warning("profiling is off: pyroscope-io cannot be loaded here (%s: %s)", type(exc).__name__, exc)
        return None
    options: dict[str, Any] = {}
    stack = (
        _stack_sampler(pyroscope, settings.profiling_sample_rate_hz) if settings.profiling_sampler == "stack" else None
    )
    if stack is not None:
        options["cpu_implementation"] = stack
    try:
        started = pyroscope.configure(
            application_name=service_name,
            server_address=endpoint,
            sample_rate=settings.profiling_sample_rate_hz,
            oncpu=True,
            gil_only=settings.profiling_gil_only,
            report_pid=True,
            line_no=_line_no(pyroscope, settings.profiling_lines),
            tags=_tags_from(resource_attributes),
            upload_interval=max(1, round(settings.profiling_upload_interval_s)),
            **options,
        )
    except Exception as exc:  # noqa: BLE001
        logger.warning("profiling is off: the Pyroscope agent failed to start (%s: %s)", type(exc).__name__, exc)
        return None
    if started is False:
        logger.warning("profiling is off: the Pyroscope agent refused to start (already started in this process?)")
        return None
    labels = stack is None
    if labels:
        _tags.enable(pyroscope)
    threading.Thread(target=_check_reachable, args=(endpoint,), name="otelperf-pyroscope-check", daemon=True).start()
    return Profiler(endpoint, settings.profiling_sample_rate_hz, pyroscope, labels)
