from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from otelperf import settings as settings_module
from otelperf.settings import SETTINGS, Settings, load_settings, settings_table

CONFIGURATION_DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_defaults_without_environment() -> None:
    settings = load_settings({})
    assert settings == Settings()
    assert settings.problems == ()
    assert settings.endpoint_for("traces") == "http://localhost:4317"
    assert settings.active


def test_http_protocol_uses_its_own_port_and_signal_paths() -> None:
    settings = load_settings({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"})
    assert settings.endpoint_for("traces") == "http://localhost:4318/v1/traces"
    assert settings.endpoint_for("metrics") == "http://localhost:4318/v1/metrics"


@pytest.mark.parametrize(
    ("env", "value", "reason", "fallback"),
    [
        ("OTELPERF_PROFILING_SAMPLE_RATE", "fast", "is not a whole number of samples per second", 19),
        ("OTELPERF_SHUTDOWN_TIMEOUT", "-1", "is out of range", 3.0),
        ("OTEL_TRACES_SAMPLER", "sometimes", "is not one of", "parentbased_always_on"),
        ("OTEL_TRACES_SAMPLER_ARG", "1.5", "is out of range", 1.0),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317", "is not an http(s) URL", None),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://[::1", "is not a URL (Invalid IPv6 URL)", None),
        ("OTEL_METRIC_EXPORT_INTERVAL", "soon", "is not a whole number of milliseconds", 15_000),
        ("OTELPERF_ENABLED", "maybe", "is not a boolean", True),
        ("OTELPERF_PROFILING_LINES", "lineno", "is not one of line, function, none", "function"),
    ],
)
def test_bad_values_fall_back_and_are_reported(env: str, value: str, reason: str, fallback: object) -> None:
    settings = load_settings({env: value})
    (problem,) = settings.problems
    assert problem.env == env and problem.value == value and problem.fallback == fallback
    assert reason in problem.reason
    spec = next(spec for spec in SETTINGS if spec.env == env)
    assert getattr(settings, spec.attr) == fallback
    assert str(problem) == f"{env}={value!r} {problem.reason}; using {fallback!r} instead"


def test_a_parser_that_fails_unexpectedly_is_a_reported_fallback_too(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(raw: str) -> object:
        raise KeyError(raw)

    names = ("OTELPERF_SHUTDOWN_TIMEOUT", "OTEL_EXPORTER_OTLP_HEADERS")
    patched = tuple(dataclasses.replace(spec, parse=broken) if spec.env in names else spec for spec in SETTINGS)
    monkeypatch.setattr(settings_module, "SETTINGS", patched)
    problems = load_settings({"OTELPERF_SHUTDOWN_TIMEOUT": "2", "OTEL_EXPORTER_OTLP_HEADERS": "k=s3cr3t"}).problems
    plain, secret = sorted(problems, key=lambda problem: names.index(problem.env))
    assert (plain.env, plain.fallback) == ("OTELPERF_SHUTDOWN_TIMEOUT", 3.0)
    assert plain.reason == "could not be read (KeyError: '2')"
    assert secret.reason == "could not be read (KeyError)" and "s3cr3t" not in str(secret)


def test_secrets_are_masked_in_dumps_and_problems() -> None:
    settings = load_settings(
        {
            "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer s3cr3t,x-tenant=acme",
            "DATABASE_URL": "postgresql://app:hunter2@db:5432/shop",
        }
    )
    dumped = str(settings.redacted())
    assert "s3cr3t" not in dumped and "hunter2" not in dumped
    assert "authorization=***" in dumped and "app:***@db" in dumped


def test_service_name_from_resource_attributes_and_disable_switches() -> None:
    assert load_settings({"OTEL_RESOURCE_ATTRIBUTES": "a=b,service.name=shop"}).service_name == "shop"
    assert load_settings({"OTEL_SERVICE_NAME": "x", "OTEL_RESOURCE_ATTRIBUTES": "service.name=y"}).service_name == "x"
    assert not load_settings({"OTEL_SDK_DISABLED": "true"}).active
    assert not load_settings({"OTELPERF_ENABLED": "false"}).active


def test_profiling_is_on_by_default_only_with_an_address() -> None:
    assert not load_settings({}).profiling_active
    assert load_settings({"PYROSCOPE_SERVER_ADDRESS": "http://localhost:4040"}).profiling_active
    assert not load_settings(
        {"OTELPERF_PYROSCOPE_ENDPOINT": "http://p:4040", "OTELPERF_PROFILING_ENABLED": "false"}
    ).profiling_active


def test_the_configuration_table_of_the_docs_is_generated_from_the_settings() -> None:
    page = CONFIGURATION_DOC.read_text()
    match = re.search(r"<!-- settings:begin -->\n(.*?)\n<!-- settings:end -->", page, re.DOTALL)
    assert match, "docs/configuration.md lacks the generated settings table markers"
    assert match.group(1).strip() == settings_table(), (
        "docs/configuration.md's settings table is stale: paste the output of otelperf settings --markdown"
    )


def test_every_settings_field_has_a_declared_variable() -> None:
    declared = {spec.attr for spec in SETTINGS}
    fields = {field.name for field in dataclasses.fields(Settings)} - {"problems"}
    assert fields == declared


def test_a_bad_value_is_reported_and_keeps_the_fast_paths_on() -> None:
    settings = load_settings({"OTELPERF_FAST_PATHS": "maybe"})
    assert settings.fast_paths is True
    assert [str(problem) for problem in settings.problems] == [
        "OTELPERF_FAST_PATHS='maybe' is not a boolean (expected true or false); using True instead"
    ]
