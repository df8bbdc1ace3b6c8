"""The one reader of the environment: typed, validated, documented settings.

Every ``OTELPERF_*`` variable and every standard ``OTEL_*`` variable otelperf interprets itself is
declared once in ``SETTINGS`` (name, default, meaning, parser). The README's configuration table
is generated from that list (``otelperf settings --markdown``), so the two cannot drift.

A bad value never stops the host application: ``load_settings`` keeps the default, records a
``SettingProblem`` naming the variable, the rejected value and the fallback, and the caller logs
it once. ``otelperf doctor`` turns the same problems into a non-zero exit.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = ["SETTINGS", "SettingProblem", "SettingSpec", "Settings", "load_settings", "settings_table"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_EXPORTERS = ("otlp", "console", "none")
_PROTOCOLS = ("grpc", "http/protobuf")
_SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
_LOG_LEVELS = ("debug", "info", "warning", "error")
_PROFILING_SAMPLERS = ("pyspy", "stack")
_PROFILING_LINES = ("line", "function", "none")


class InvalidSetting(ValueError):
    """Raised by a parser; the message completes "<NAME>=<value> ...": says what was expected."""


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidSetting("is not a boolean (expected true or false)")


def _parse_seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise InvalidSetting("is not a number of seconds") from None
    if not 0 < value <= 3600:
        raise InvalidSetting("is out of range (expected 0 < seconds <= 3600)")
    return value


def _parse_millis(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise InvalidSetting("is not a whole number of milliseconds") from None
    if not 100 <= value <= 3_600_000:
        raise InvalidSetting("is out of range (expected 100 to 3600000 ms)")
    return value


def _parse_ratio(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise InvalidSetting("is not a ratio (expected a number from 0 to 1)") from None
    if not 0.0 <= value <= 1.0:
        raise InvalidSetting("is out of range (expected a number from 0 to 1)")
    return value


def _parse_hz(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise InvalidSetting("is not a whole number of samples per second") from None
    if not 1 <= value <= 1000:
        raise InvalidSetting("is out of range (expected 1 to 1000 Hz)")
    return value


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise InvalidSetting(f"is not one of {', '.join(choices)}")
        return value

    return parse


def _parse_url(raw: str) -> str:
    value = raw.strip()
    try:
        parts = urlsplit(value)
    except ValueError as exc:  # e.g. "http://[::1": an unclosed IPv6 bracket
        raise InvalidSetting(f"is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidSetting("is not an http(s) URL with a host (e.g. http://localhost:4317)")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise InvalidSetting("has an invalid port") from None
    return value.rstrip("/")


def _parse_count(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise InvalidSetting("is not a whole number") from None
    if not 1 <= value <= 1_000_000:
        raise InvalidSetting("is out of range (expected 1 to 1000000)")
    return value


def _parse_text(raw: str) -> str:
    value = raw.strip()
    if not value:
        raise InvalidSetting("is empty")
    return value


@dataclass(frozen=True)
class SettingSpec:
    """One environment variable: where it lands, its default and what it means."""

    env: str
    attr: str
    default: Any
    parse: Callable[[str], Any]
    help: str
    secret: bool = False


@dataclass(frozen=True)
class SettingProblem:
    """A value that was rejected, and what was used instead."""

    env: str
    value: str
    reason: str
    fallback: Any

    def __str__(self) -> str:
        return f"{self.env}={self.value!r} {self.reason}; using {self.fallback!r} instead"


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "OTELPERF_ENABLED",
        "enabled",
        True,
        _parse_bool,
        "Master switch. `false` loads nothing (same effect as `OTEL_SDK_DISABLED=true`).",
    ),
    SettingSpec(
        "OTEL_SDK_DISABLED",
        "sdk_disabled",
        False,
        _parse_bool,
        "Standard OpenTelemetry switch; `true` disables otelperf too.",
    ),
    SettingSpec(
        "OTEL_SERVICE_NAME",
        "service_name",
        None,
        _parse_text,
        "`service.name`. Unset: taken from `OTEL_RESOURCE_ATTRIBUTES`, else derived from the "
        "launched program (`uvicorn shop.app:app` gives `shop-app`), never `unknown_service`.",
    ),
    SettingSpec(
        "OTEL_TRACES_EXPORTER",
        "traces_exporter",
        "otlp",
        _choice(*_EXPORTERS),
        "Where spans go: `otlp`, `console` or `none`.",
    ),
    SettingSpec(
        "OTEL_METRICS_EXPORTER",
        "metrics_exporter",
        "otlp",
        _choice(*_EXPORTERS),
        "Where metrics go: `otlp`, `console` or `none`.",
    ),
    SettingSpec(
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "otlp_protocol",
        "grpc",
        _choice(*_PROTOCOLS),
        "OTLP transport: `grpc` (port 4317) or `http/protobuf` (port 4318).",
    ),
    SettingSpec(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "otlp_endpoint",
        None,
        _parse_url,
        "Collector address. Unset: `http://localhost:4317` (grpc) or `http://localhost:4318` (http/protobuf).",
    ),
    SettingSpec(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "otlp_traces_endpoint",
        None,
        _parse_url,
        "Per-signal override for spans (for http/protobuf, the full URL ending in `/v1/traces`).",
    ),
    SettingSpec(
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        "otlp_metrics_endpoint",
        None,
        _parse_url,
        "Per-signal override for metrics (for http/protobuf, the full URL ending in `/v1/metrics`).",
    ),
    SettingSpec(
        "OTEL_EXPORTER_OTLP_HEADERS",
        "otlp_headers",
        None,
        _parse_text,
        "Headers sent with every export (`key=value,...`); masked in every dump.",
        secret=True,
    ),
    SettingSpec(
        "OTEL_METRIC_EXPORT_INTERVAL",
        "metric_export_interval_ms",
        15_000,
        _parse_millis,
        "Milliseconds between metric exports (otelperf default 15000, SDK default 60000).",
    ),
    SettingSpec(
        "OTEL_TRACES_SAMPLER",
        "sampler",
        "parentbased_always_on",
        _choice(*_SAMPLERS),
        "Head sampler. Metrics stay exact whatever it samples.",
    ),
    SettingSpec(
        "OTEL_TRACES_SAMPLER_ARG", "sampler_ratio", 1.0, _parse_ratio, "Ratio for the `traceidratio` samplers, 0 to 1."
    ),
    SettingSpec(
        "OTELPERF_EXPORT_TIMEOUT",
        "export_timeout_s",
        10.0,
        _parse_seconds,
        "Seconds one export may take, retries included.",
    ),
    SettingSpec(
        "OTELPERF_SHUTDOWN_TIMEOUT",
        "shutdown_timeout_s",
        3.0,
        _parse_seconds,
        "Seconds the final flush may take at exit; what is left is dropped and counted in the log.",
    ),
    SettingSpec(
        "OTELPERF_LOG_LEVEL",
        "log_level",
        "info",
        _choice(*_LOG_LEVELS),
        "Level of otelperf's own log lines (stderr, prefix `otelperf:`).",
    ),
    SettingSpec(
        "OTELPERF_METRIC_SERIES_LIMIT",
        "metric_series_limit",
        2000,
        _parse_count,
        "Series per metric before new attribute sets go to one `otel.metric.overflow=true` series "
        "(counted in `otelperf.metric.overflow`).",
    ),
    SettingSpec(
        "OTELPERF_DB_SLOW_QUERY_THRESHOLD",
        "db_slow_query_threshold_s",
        0.5,
        _parse_seconds,
        "Seconds from which a statement gets an `otelperf.db.slow_query` span event.",
    ),
    SettingSpec(
        "OTELPERF_N_PLUS_ONE_MIN_COUNT",
        "n_plus_one_min_count",
        5,
        _parse_count,
        "Sibling executions of one statement fingerprint, under one request, that make an N+1.",
    ),
    SettingSpec(
        "OTELPERF_N_PLUS_ONE_MIN_DURATION",
        "n_plus_one_min_duration_s",
        0.05,
        _parse_seconds,
        "Total seconds those executions must take to be reported as an N+1 (Sentry's criterion), unless they "
        "span `OTELPERF_N_PLUS_ONE_MIN_SHARE` of the request.",
    ),
    SettingSpec(
        "OTELPERF_N_PLUS_ONE_MIN_SHARE",
        "n_plus_one_min_share",
        0.5,
        _parse_ratio,
        "Share of the request's duration, from the first execution's start to the last one's end, from which "
        "those executions are an N+1 however short they are (fast local databases); 1 leaves only the "
        "total-duration criterion. See docs/rules.md.",
    ),
    SettingSpec(
        "OTELPERF_EVENT_LOOP_LAG_INTERVAL",
        "event_loop_lag_interval_s",
        0.5,
        _parse_seconds,
        "Seconds between event-loop lag probes (one `call_soon_threadsafe` each).",
    ),
    SettingSpec(
        "OTELPERF_GC_FREEZE",
        "gc_freeze",
        True,
        _parse_bool,
        "Once the server has started, collect and `gc.freeze()` the start-up heap, so that full garbage "
        "collections (which stop every request) walk only what was created since: see docs/benchmarks.md.",
    ),
    SettingSpec(
        "OTELPERF_LOCAL_METRICS",
        "local_metrics",
        False,
        _parse_bool,
        "Keep a copy of the metrics in-process (`otelperf.local_metrics()`), as the demo does.",
    ),
    SettingSpec(
        "OTELPERF_LOCAL_HISTORY_INTERVAL",
        "local_history_interval_s",
        5.0,
        _parse_seconds,
        "Seconds between samples of the in-process copy kept for averages, report windows and charts.",
    ),
    SettingSpec(
        "OTELPERF_RULES_FILE",
        "rules_file",
        None,
        _parse_text,
        "A YAML rule file applied over the built-in catalog (add, change or disable rules); `--rules` in the CLI.",
    ),
    SettingSpec(
        "OTELPERF_PROFILING_ENABLED",
        "profiling_enabled",
        None,
        _parse_bool,
        "Continuous profiling to Pyroscope. Unset: on when a Pyroscope address is set.",
    ),
    SettingSpec(
        "OTELPERF_PYROSCOPE_ENDPOINT",
        "pyroscope_endpoint",
        None,
        _parse_url,
        "Pyroscope server (e.g. `http://localhost:4040`); `PYROSCOPE_SERVER_ADDRESS` is read too.",
    ),
    SettingSpec(
        "OTELPERF_PROFILING_SAMPLE_RATE",
        "profiling_sample_rate_hz",
        100,
        _parse_hz,
        "Profiler samples per second, 1 to 1000.",
    ),
    SettingSpec(
        "OTELPERF_PROFILING_GIL_ONLY",
        "profiling_gil_only",
        True,
        _parse_bool,
        "Sample only threads holding the GIL (Python code running), not threads waiting on I/O.",
    ),
    SettingSpec(
        "OTELPERF_PROFILING_SAMPLER",
        "profiling_sampler",
        "pyspy",
        _choice(*_PROFILING_SAMPLERS),
        "`pyspy`: the agent's py-spy sampler, samples labelled with `span_id`/`span_name`. `stack`: pyroscope-io's "
        "experimental in-process sampler, several times cheaper but unlabelled (routes stay exact through the "
        "`[route]` frames; no trace-to-profile link): see docs/benchmarks.md.",
    ),
    SettingSpec(
        "OTELPERF_PROFILING_LINES",
        "profiling_lines",
        "function",
        _choice(*_PROFILING_LINES),
        "The line number each frame of the py-spy sampler carries. `function`: the function's first line "
        "(flame graphs are the same: Pyroscope groups frames by function); `line`: the line running, for "
        "Pyroscope's source view, a third more reads of the app's memory per sample; `none`.",
    ),
    SettingSpec(
        "OTELPERF_PROFILING_SPAN_ATTRIBUTION",
        "profiling_span_attribution",
        True,
        _parse_bool,
        "Tag samples with the request's `span_id`/`span_name` and run its work under a `[route]` frame "
        "(per asyncio step and per pool task); `false` keeps the plain agent.",
    ),
    SettingSpec(
        "OTELPERF_PROFILING_UPLOAD_INTERVAL",
        "profiling_upload_interval_s",
        10.0,
        _parse_seconds,
        "Seconds between profile uploads (whole seconds; the last window is flushed at shutdown).",
    ),
    SettingSpec(
        "REDIS_URL",
        "redis_url",
        None,
        _parse_text,
        "Redis used by the demo service; `otelperf doctor` checks it answers.",
        secret=True,
    ),
    SettingSpec(
        "DATABASE_URL",
        "database_url",
        None,
        _parse_text,
        "SQLAlchemy URL used by the demo service; `otelperf doctor` checks it answers.",
        secret=True,
    ),
)


@dataclass(frozen=True)
class Settings:
    """Effective configuration. Build it with ``load_settings``; it is immutable."""

    enabled: bool = True
    sdk_disabled: bool = False
    service_name: str | None = None
    traces_exporter: str = "otlp"
    metrics_exporter: str = "otlp"
    otlp_protocol: str = "grpc"
    otlp_endpoint: str | None = None
    otlp_traces_endpoint: str | None = None
    otlp_metrics_endpoint: str | None = None
    otlp_headers: str | None = None
    metric_export_interval_ms: int = 15_000
    sampler: str = "parentbased_always_on"
    sampler_ratio: float = 1.0
    export_timeout_s: float = 10.0
    shutdown_timeout_s: float = 3.0
    log_level: str = "info"
    metric_series_limit: int = 2000
    db_slow_query_threshold_s: float = 0.5
    n_plus_one_min_count: int = 5
    n_plus_one_min_duration_s: float = 0.05
    n_plus_one_min_share: float = 0.5
    event_loop_lag_interval_s: float = 0.5
    gc_freeze: bool = True
    local_metrics: bool = False
    local_history_interval_s: float = 5.0
    rules_file: str | None = None
    profiling_enabled: bool | None = None
    pyroscope_endpoint: str | None = None
    profiling_sample_rate_hz: int = 100
    profiling_gil_only: bool = True
    profiling_sampler: str = "pyspy"
    profiling_lines: str = "function"
    profiling_span_attribution: bool = True
    profiling_upload_interval_s: float = 10.0
    redis_url: str | None = None
    database_url: str | None = None
    problems: tuple[SettingProblem, ...] = field(default=(), compare=False)

    @property
    def active(self) -> bool:
        """Whether otelperf should load at all."""
        return self.enabled and not self.sdk_disabled

    def endpoint_for(self, signal: str) -> str:
        """The OTLP endpoint for ``traces`` or ``metrics``, with the protocol's default port."""
        specific = self.otlp_traces_endpoint if signal == "traces" else self.otlp_metrics_endpoint
        if specific:
            return specific
        if self.otlp_protocol == "grpc":
            return self.otlp_endpoint or "http://localhost:4317"
        base = self.otlp_endpoint or "http://localhost:4318"
        return f"{base}/v1/{signal}"

    @property
    def profiling_active(self) -> bool:
        """Profiling is on when asked for, or by default when a Pyroscope address is known."""
        if self.profiling_enabled is None:
            return self.pyroscope_endpoint is not None
        return self.profiling_enabled and self.pyroscope_endpoint is not None

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict with secrets masked: safe to print or log."""
        values = {spec.env: getattr(self, spec.attr) for spec in SETTINGS}
        for spec in SETTINGS:
            if spec.secret and values[spec.env] is not None:
                values[spec.env] = _mask(spec.env, str(values[spec.env]))
        return values


def _mask(env: str, value: str) -> str:
    if env == "OTEL_EXPORTER_OTLP_HEADERS":
        keys = [item.split("=", 1)[0].strip() for item in value.split(",") if item.strip()]
        return ",".join(f"{key}=***" for key in keys)
    try:
        password = urlsplit(value).password
    except ValueError:  # not a URL: nothing in it can be told apart from a password
        return "***"
    if password:
        return value.replace(f":{password}@", ":***@")
    return value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read every declared variable; bad values fall back to the default and are recorded."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[SettingProblem] = []
    for spec in SETTINGS:
        raw = env.get(spec.env)
        if raw is None and spec.env == "OTELPERF_PYROSCOPE_ENDPOINT":
            raw = env.get("PYROSCOPE_SERVER_ADDRESS")
        if raw is None or (raw.strip() == "" and spec.default is None):
            continue
        try:
            values[spec.attr] = spec.parse(raw)
            continue
        except InvalidSetting as exc:
            reason = str(exc)
        except Exception as exc:  # noqa: BLE001 - a parser's own bug must not reach the app either
            detail = type(exc).__name__ if spec.secret else f"{type(exc).__name__}: {exc}"  # may hold the value
            reason = f"could not be read ({detail})"
        problems.append(SettingProblem(spec.env, "***" if spec.secret else raw, reason, spec.default))
    if values.get("service_name") is None:
        resource_name = _service_name_from_resource_attributes(env.get("OTEL_RESOURCE_ATTRIBUTES", ""))
        if resource_name:
            values["service_name"] = resource_name
    return dataclasses.replace(Settings(**values), problems=tuple(problems))


def _service_name_from_resource_attributes(raw: str) -> str | None:
    for item in raw.split(","):
        key, _, value = item.partition("=")
        if key.strip() == "service.name" and value.strip():
            return value.strip()
    return None


def settings_table() -> str:
    """The README's configuration table, generated from ``SETTINGS``."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for spec in SETTINGS:
        default = "unset" if spec.default is None else f"`{str(spec.default).lower()}`"
        lines.append(f"| `{spec.env}` | {default} | {spec.help} |")
    return "\n".join(lines)
