"""The configurator never raises into the application, and starts nothing when the SDK is disabled."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from otelperf import configurator
from otelperf.process import lifecycle
from otelperf.settings import load_settings


def test_configure_never_raises_into_the_app(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(configurator, "detect_role", broken)
    otelperf_logger = logging.getLogger("otelperf")
    otelperf_logger.addHandler(caplog.handler)  # otelperf's logger does not propagate
    try:
        configurator.configure(load_settings({}))
    finally:
        otelperf_logger.removeHandler(caplog.handler)
    assert "setup failed (RuntimeError: boom); the application runs without telemetry" in caplog.text


def test_disabled_settings_start_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[object] = []
    monkeypatch.setattr(lifecycle, "begin", lambda *args, **kwargs: started.append(args))
    configurator.configure(load_settings({"OTEL_SDK_DISABLED": "true"}))
    assert started == []
