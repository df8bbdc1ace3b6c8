"""Starting the profiler: the Pyroscope agent configured from the settings (sampler, rate, line
numbers), and one line and profiling off when the agent cannot start; the reachability check needs
no CLI extra."""

from __future__ import annotations

import logging
import sys
import types
from collections.abc import Callable
from typing import Any

import pytest

from otelperf.profiling import start_profiler, tags
from otelperf.settings import load_settings
from tests.unit.profiling.conftest import FakeNative


def test_agent_failures_turn_profiling_off_with_one_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("otelperf")
    logger.addHandler(caplog.handler)
    try:
        settings = load_settings({"OTELPERF_PYROSCOPE_ENDPOINT": "http://127.0.0.1:9"})
        refusing = types.SimpleNamespace(configure=lambda **kwargs: False, LineNo=FakeAgent.LineNo)
        monkeypatch.setitem(sys.modules, "pyroscope", refusing)
        assert start_profiler(settings, "svc", {}) is None
        monkeypatch.setitem(sys.modules, "pyroscope", None)  # import fails: unsupported platform
        assert start_profiler(settings, "svc", {}) is None
    finally:
        logger.removeHandler(caplog.handler)
    messages = [record.getMessage() for record in caplog.records]
    assert any("the Pyroscope agent refused to start" in m for m in messages)
    assert any("pyroscope-io cannot be loaded here" in m for m in messages)
    assert not tags.active()


class FakeAgent(FakeNative):
    """pyroscope's Python surface before the stack sampler: ``configure`` and thread tags."""

    LineNo = types.SimpleNamespace(LastInstruction="last", First="first", NoLine="no")

    def __init__(self) -> None:
        super().__init__()
        self.configured: dict[str, Any] = {}

    def configure(self, **kwargs: Any) -> bool:
        self.configured = kwargs
        return True


class StackAgent(FakeAgent):
    """pyroscope-io 1.4: the stack sampler, whose options call ``stack``."""

    ProfilerImplementation = types.SimpleNamespace(PySpy="pyspy", Stack="stack")

    def __init__(self, stack: Callable[..., Any]) -> None:
        super().__init__()
        self.stack = stack
        self.stack_options: dict[str, Any] = {}

    def configure_experimental_stack_profiler(self, **kwargs: Any) -> Any:
        self.stack_options = kwargs
        return self.stack(**kwargs)


def _raise(**kwargs: Any) -> bool:
    raise RuntimeError("no signal handlers here")


@pytest.mark.parametrize(
    ("stack", "said"),
    [
        (None, "this pyroscope-io has no stack sampler"),
        (lambda **kwargs: False, "refused the stack sampler's options"),
        (_raise, "failed to configure (RuntimeError: no signal handlers here)"),
    ],
)
def test_stack_sampler_unavailable_falls_back_to_py_spy_with_one_line(
    monkeypatch: pytest.MonkeyPatch, stack: Any, said: str
) -> None:
    agent = FakeAgent() if stack is None else StackAgent(stack)
    monkeypatch.setitem(sys.modules, "pyroscope", agent)
    logger = logging.getLogger("otelperf")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        settings = load_settings(
            {"OTELPERF_PYROSCOPE_ENDPOINT": "http://127.0.0.1:9", "OTELPERF_PROFILING_SAMPLER": "stack"}
        )
        profiler = start_profiler(settings, "svc", {})
        assert profiler is not None and profiler.labels and tags.active()
        assert "cpu_implementation" not in agent.configured
        assert "(py-spy sampler, span labels)" in profiler.describe()
    finally:
        logger.removeHandler(handler)
        tags.disable()
    lines = [r.getMessage() for r in records if "OTELPERF_PROFILING_SAMPLER" in r.getMessage()]
    assert len(lines) == 1 and said in lines[0] and lines[0].endswith("profiling with the py-spy sampler instead"), (
        lines
    )


@pytest.mark.parametrize(("rate", "interval_ms"), [("100", 10), ("25", 40), ("1000", 1)])
def test_stack_sampler_runs_at_the_configured_rate_without_thread_tags(
    monkeypatch: pytest.MonkeyPatch, rate: str, interval_ms: int
) -> None:
    agent = StackAgent(lambda **kwargs: True)
    monkeypatch.setitem(sys.modules, "pyroscope", agent)
    settings = load_settings(
        {
            "OTELPERF_PYROSCOPE_ENDPOINT": "http://127.0.0.1:9",
            "OTELPERF_PROFILING_SAMPLER": "stack",
            "OTELPERF_PROFILING_SAMPLE_RATE": rate,
        }
    )
    profiler = start_profiler(settings, "svc", {})
    assert profiler is not None and not profiler.labels and not tags.active()
    assert agent.configured["cpu_implementation"] == "stack"
    assert agent.configured["sample_rate"] == int(rate)
    assert agent.stack_options == {"adaptive_sampling": False, "cpu_timer_interval_ms": interval_ms}
    assert "(stack sampler, no span labels)" in profiler.describe()


def test_the_runtime_plugin_does_not_need_the_cli_extra() -> None:
    """The reachability check runs in user apps: it must not import rich/typer (the cli extra)."""
    import subprocess

    code = (
        "import sys; sys.modules['rich'] = None; sys.modules['typer'] = None\n"
        "from otelperf.profiling import _check_reachable\n"
        "_check_reachable('http://127.0.0.1:9')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("lines", "line_no"), [(None, "first"), ("line", "last"), ("Function", "first"), ("none", "no")]
)
def test_profiling_lines_sets_the_agents_line_numbers(
    monkeypatch: pytest.MonkeyPatch, lines: str | None, line_no: str
) -> None:
    agent = FakeAgent()
    monkeypatch.setitem(sys.modules, "pyroscope", agent)
    environ = {"OTELPERF_PYROSCOPE_ENDPOINT": "http://127.0.0.1:9"}
    if lines is not None:
        environ["OTELPERF_PROFILING_LINES"] = lines
    try:
        assert start_profiler(load_settings(environ), "svc", {}) is not None
    finally:
        tags.disable()
    assert agent.configured["line_no"] == line_no
