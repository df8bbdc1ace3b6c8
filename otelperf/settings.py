"""The one reader of the environment: typed, validated, documented settings.

Every ``OTELPERF_*`` variable and every standard ``OTEL_*`` variable otelperf interprets itself is
declared once, as a field of ``Settings``: its type and default, with the variable's name, parser
and meaning (``_setting``). ``SETTINGS`` is derived from those fields, and the configuration
table of ``docs/configuration.md`` from ``SETTINGS`` (``otelperf settings --markdown``; a test keeps
the page equal to it), so none can drift.

A bad value never stops the host application: ``load_settings`` keeps the default, records a
``SettingProblem`` naming the variable, the rejected value and the fallback, and the caller logs
it once. ``otelperf doctor`` turns the same problems into a non-zero exit.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

__all__ = ["SETTINGS", "SettingProblem", "SettingSpec", "Settings", "load_settings", "settings_table"]

_T = TypeVar("_T")
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


def _setting(env: str, default: _T, parse: Callable[[str], Any], meaning: str, *, secret: bool = False) -> _T:
    """A ``Settings`` field read from the variable ``env``: its default, and the parser and meaning
    that ``SETTINGS`` carries (``secret``: masked in every dump and problem)."""
    metadata = {"env": env, "parse": parse, "help": meaning, "secret": secret}
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    """Effective configuration. Build it with ``load_settings``; it is immutable.

    Each field is one environment variable, declared once: its type and default, with the
    variable, parser and meaning (``_setting``); ``SETTINGS`` lists them in this order.
    """

    enabled: bool = _setting(
        "OTELPERF_ENABLED",
        True,
        _parse_bool,
        "Master switch. `false` loads nothing (same effect as `OTEL_SDK_DISABLED=true`).",
    )
    sdk_disabled: bool = _setting(
        "OTEL_SDK_DISABLED",
        False,
        _parse_bool,
        "Standard OpenTelemetry switch; `true` disables otelperf too.",
    )
    service_name: str | None = _setting(
        "OTEL_SERVICE_NAME",
        None,
        _parse_text,
        "`service.name`. Unset: taken from `OTEL_RESOURCE_ATTRIBUTES`, else derived from the "
        "launched program (`uvicorn shop.app:app` gives `shop-app`), never `unknown_service`.",
    )
    traces_exporter: str = _setting(
        "OTEL_TRACES_EXPORTER",
        "otlp",
        _choice(*_EXPORTERS),
        "Where spans go: `otlp`, `console` or `none`.",
    )
    metrics_exporter: str = _setting(
        "OTEL_METRICS_EXPORTER",
        "otlp",
        _choice(*_EXPORTERS),
        "Where metrics go: `otlp`, `console` or `none`.",
    )
    otlp_protocol: str = _setting(
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "grpc",
        _choice(*_PROTOCOLS),
        "OTLP transport: `grpc` (port 4317) or `http/protobuf` (port 4318).",
    )
    otlp_endpoint: str | None = _setting(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        None,
        _parse_url,
        "Collector address. Unset: `http://localhost:4317` (grpc) or `http://localhost:4318` (http/protobuf).",
    )
    otlp_traces_endpoint: str | None = _setting(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        None,
        _parse_url,
        "Per-signal override for spans (for http/protobuf, the full URL ending in `/v1/traces`).",
    )
    otlp_metrics_endpoint: str | None = _setting(
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        None,
        _parse_url,
        "Per-signal override for metrics (for http/protobuf, the full URL ending in `/v1/metrics`).",
    )
    otlp_headers: str | None = _setting(
        "OTEL_EXPORTER_OTLP_HEADERS",
        None,
        _parse_text,
        "Headers sent with every export (`key=value,...`); masked in every dump.",
        secret=True,
    )
    metric_export_interval_ms: int = _setting(
        "OTEL_METRIC_EXPORT_INTERVAL",
        15_000,
        _parse_millis,
        "Milliseconds between metric exports (otelperf default 15000, SDK default 60000).",
    )
    sampler: str = _setting(
        "OTEL_TRACES_SAMPLER",
        "parentbased_always_on",
        _choice(*_SAMPLERS),
        "Head sampler. Metrics stay exact whatever it samples.",
    )
    sampler_ratio: float = _setting(
        "OTEL_TRACES_SAMPLER_ARG",
        1.0,
        _parse_ratio,
        "Ratio for the `traceidratio` samplers, 0 to 1.",
    )
    export_timeout_s: float = _setting(
        "OTELPERF_EXPORT_TIMEOUT",
        10.0,
        _parse_seconds,
        "Seconds one export may take, retries included.",
    )
    shutdown_timeout_s: float = _setting(
        "OTELPERF_SHUTDOWN_TIMEOUT",
        3.0,
        _parse_seconds,
        "Seconds the final flush may take at exit; what is left is dropped and counted in the log.",
    )
    log_level: str = _setting(
        "OTELPERF_LOG_LEVEL",
        "info",
        _choice(*_LOG_LEVELS),
        "Level of otelperf's own log lines (stderr, prefix `otelperf:`).",
    )
    metric_series_limit: int = _setting(
        "OTELPERF_METRIC_SERIES_LIMIT",
        2000,
        _parse_count,
        "Series per metric before new attribute sets go to one `otel.metric.overflow=true` series "
        "(counted in `otelperf.metric.overflow`).",
    )
    fast_paths: bool = _setting(
        "OTELPERF_FAST_PATHS",
        True,
        _parse_bool,
        "Fast paths that use OpenTelemetry SDK internals instead of the public API (direct histogram recording, "
        "the exemplar reservoir, span fields, gRPC export of encoded bytes, child-span skipping), each on where "
        "its start-up probe accepts the installed SDK; `false` turns them all off. The startup line and "
        "`otelperf doctor` say which are on and why one is off.",
    )
    db_slow_query_threshold_s: float = _setting(
        "OTELPERF_DB_SLOW_QUERY_THRESHOLD",
        0.5,
        _parse_seconds,
        "Seconds from which a statement gets an `otelperf.db.slow_query` span event.",
    )
    n_plus_one_min_count: int = _setting(
        "OTELPERF_N_PLUS_ONE_MIN_COUNT",
        5,
        _parse_count,
        "Sibling executions of one statement fingerprint, under one request, that make an N+1.",
    )
    n_plus_one_min_duration_s: float = _setting(
        "OTELPERF_N_PLUS_ONE_MIN_DURATION",
        0.05,
        _parse_seconds,
        "Total seconds those executions must take to be reported as an N+1 (Sentry's criterion), unless they "
        "span `OTELPERF_N_PLUS_ONE_MIN_SHARE` of the request.",
    )
    n_plus_one_min_share: float = _setting(
        "OTELPERF_N_PLUS_ONE_MIN_SHARE",
        0.5,
        _parse_ratio,
        "Share of the request's duration, from the first execution's start to the last one's end, from which "
        "those executions are an N+1 however short they are (fast local databases); 1 leaves only the "
        "total-duration criterion. See docs/rules.md.",
    )
    event_loop_lag_interval_s: float = _setting(
        "OTELPERF_EVENT_LOOP_LAG_INTERVAL",
        0.5,
        _parse_seconds,
        "Seconds between event-loop lag probes (one `call_soon_threadsafe` each).",
    )
    gc_freeze: bool = _setting(
        "OTELPERF_GC_FREEZE",
        True,
        _parse_bool,
        "Once the server has started, collect and `gc.freeze()` the start-up heap, so that full garbage "
        "collections (which stop every request) walk only what was created since: see docs/benchmarks.md.",
    )
    local_metrics: bool = _setting(
        "OTELPERF_LOCAL_METRICS",
        False,
        _parse_bool,
        "Keep a copy of the metrics in-process (`otelperf.local_metrics()`), as the demo does.",
    )
    local_history_interval_s: float = _setting(
        "OTELPERF_LOCAL_HISTORY_INTERVAL",
        5.0,
        _parse_seconds,
        "Seconds between samples of the in-process copy kept for averages, report windows and charts.",
    )
    rules_file: str | None = _setting(
        "OTELPERF_RULES_FILE",
        None,
        _parse_text,
        "A YAML rule file applied over the built-in catalog (add, change or disable rules); `--rules` in the CLI.",
    )
    profiling_enabled: bool | None = _setting(
        "OTELPERF_PROFILING_ENABLED",
        None,
        _parse_bool,
        "Continuous profiling to Pyroscope. Unset: on when a Pyroscope address is set.",
    )
    pyroscope_endpoint: str | None = _setting(
        "OTELPERF_PYROSCOPE_ENDPOINT",
        None,
        _parse_url,
        "Pyroscope server (e.g. `http://localhost:4040`); `PYROSCOPE_SERVER_ADDRESS` is read too.",
    )
    profiling_sample_rate_hz: int = _setting(
        "OTELPERF_PROFILING_SAMPLE_RATE",
        19,
        _parse_hz,
        "Profiler samples per second, 1 to 1000. The default keeps the py-spy sampler's cost small "
        "(docs/benchmarks.md); a route gets 19 samples per second of CPU it uses (a prime rate: samples do not "
        "fall in step with periodic work).",
    )
    profiling_gil_only: bool = _setting(
        "OTELPERF_PROFILING_GIL_ONLY",
        True,
        _parse_bool,
        "Sample only threads holding the GIL (Python code running), not threads waiting on I/O.",
    )
    profiling_sampler: str = _setting(
        "OTELPERF_PROFILING_SAMPLER",
        "pyspy",
        _choice(*_PROFILING_SAMPLERS),
        "`pyspy`: the agent's py-spy sampler, samples labelled with `span_id`/`span_name`. `stack`: pyroscope-io's "
        "experimental in-process sampler, cheaper but unlabelled (routes stay exact through the "
        "`[route]` frames; no trace-to-profile link): see docs/benchmarks.md.",
    )
    profiling_lines: str = _setting(
        "OTELPERF_PROFILING_LINES",
        "function",
        _choice(*_PROFILING_LINES),
        "The line number each frame of the py-spy sampler carries. `function`: the function's first line "
        "(flame graphs are the same: Pyroscope groups frames by function); `line`: the line running, for "
        "Pyroscope's source view, at the cost of more reads of the app's memory per sample; `none`.",
    )
    profiling_span_attribution: bool = _setting(
        "OTELPERF_PROFILING_SPAN_ATTRIBUTION",
        True,
        _parse_bool,
        "Tag samples with the request's `span_id`/`span_name` and run its work under a `[route]` frame "
        "(per asyncio step and per pool task); `false` keeps the plain agent.",
    )
    profiling_upload_interval_s: float = _setting(
        "OTELPERF_PROFILING_UPLOAD_INTERVAL",
        10.0,
        _parse_seconds,
        "Seconds between profile uploads (whole seconds; the last window is flushed at shutdown).",
    )
    redis_url: str | None = _setting(
        "REDIS_URL",
        None,
        _parse_text,
        "Redis used by the demo service; `otelperf doctor` checks it answers.",
        secret=True,
    )
    database_url: str | None = _setting(
        "DATABASE_URL",
        None,
        _parse_text,
        "SQLAlchemy URL used by the demo service; `otelperf doctor` checks it answers.",
        secret=True,
    )
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


SETTINGS: tuple[SettingSpec, ...] = tuple(
    SettingSpec(
        declared.metadata["env"],
        declared.name,
        declared.default,
        declared.metadata["parse"],
        declared.metadata["help"],
        declared.metadata["secret"],
    )
    for declared in dataclasses.fields(Settings)
    if "env" in declared.metadata
)
"""Every variable otelperf reads, in the order of the ``Settings`` fields they fill."""


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
    """The configuration table of ``docs/configuration.md``, generated from ``SETTINGS``."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for spec in SETTINGS:
        default = "unset" if spec.default is None else f"`{str(spec.default).lower()}`"
        lines.append(f"| `{spec.env}` | {default} | {spec.help} |")
    return "\n".join(lines)
