from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import uvicorn.server

from otelperf import configurator
from otelperf.process import lifecycle
from otelperf.settings import load_settings


class RecordingPipeline:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    def shutdown(self, reason: str) -> None:
        self.reasons.append(reason)


def test_flush_runs_right_after_uvicorn_graceful_shutdown(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    async def original_shutdown(self: Any, sockets: Any = None) -> None:
        calls.append("uvicorn shutdown")

    monkeypatch.setattr(uvicorn.server.Server, "shutdown", original_shutdown)
    pipeline = RecordingPipeline()
    monkeypatch.setattr(lifecycle._state, "pipeline", pipeline)
    lifecycle._flush_after_uvicorn_shutdown()
    lifecycle._flush_after_uvicorn_shutdown()  # idempotent: wrapped once
    asyncio.run(uvicorn.server.Server.shutdown(object()))  # type: ignore[arg-type]
    assert calls == ["uvicorn shutdown"]
    assert pipeline.reasons == ["server shutdown"]


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
