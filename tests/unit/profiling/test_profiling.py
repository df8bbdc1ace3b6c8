from __future__ import annotations

import asyncio
import logging
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import set_span_in_context

from otelperf.profiling import ProfileSpanProcessor, start_profiler, tags, tasks
from otelperf.profiling.tasks import TaggedCoroutine, install_task_factory
from otelperf.settings import load_settings


class FakeNative:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def add_thread_tag(self, key: str, value: str) -> None:
        self.calls.append(("add", key, value))

    def remove_thread_tag(self, key: str, value: str) -> None:
        self.calls.append(("remove", key, value))


@pytest.fixture
def native() -> Iterator[FakeNative]:
    fake = FakeNative()
    tags.enable(fake)
    yield fake
    tags.tag_thread(None)
    tags.disable()


def test_route_frame_is_named_after_the_route_and_runs_the_function() -> None:
    frame = tags.route_frame("GET /items/{id}")
    assert frame.__code__.co_name == "[GET /items/{id}]"
    assert frame(lambda a, b=0: a + b, 2, b=3) == 5
    assert tags.route_frame("GET /items/{id}") is frame  # one per name


def test_local_roots_get_a_profile_id_and_tag_their_thread(native: FakeNative) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(ProfileSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    root = tracer.start_span("GET /orders")
    child = tracer.start_span("SELECT orders", context=set_span_in_context(root))
    child.end()
    root.end()
    spans = {span.name: span for span in exporter.get_finished_spans()}
    span_id = format(spans["GET /orders"].context.span_id, "016x")
    assert spans["GET /orders"].attributes["pyroscope.profile.id"] == span_id
    assert "pyroscope.profile.id" not in spans["SELECT orders"].attributes
    assert native.calls == [
        ("add", "span_id", span_id),
        ("add", "span_name", "GET /orders"),
        ("remove", "span_id", span_id),
        ("remove", "span_name", "GET /orders"),
    ]


def test_each_step_is_tagged_with_its_own_task_root(native: FakeNative) -> None:
    seen: list[tuple[str, str | None]] = []

    async def request(name: str) -> None:
        root = tags.Root(hash(name) & 0xFFFF, f"GET /{name}")
        tags.current_root.set(root)
        for _ in range(3):
            tagged = tags.tagged_root()
            seen.append((name, tagged.span_name if tagged else None))
            frame_names = [f.f_code.co_name for f in _frames()]
            assert f"[GET /{name}]" in frame_names or len(seen) <= 2
            await asyncio.sleep(0)

    async def main() -> None:
        install_task_factory(asyncio.get_running_loop())
        install_task_factory(asyncio.get_running_loop())  # idempotent
        await asyncio.gather(asyncio.create_task(request("a")), asyncio.create_task(request("b")))

    asyncio.run(main())
    assert all(tag == f"GET /{name}" for name, tag in seen[2:]), seen
    assert len(seen) == 6


def test_a_task_step_adds_two_frames_to_the_stack_the_profiler_reads(native: FakeNative) -> None:
    # py-spy reads every frame with system calls on every sample: the route frame is the point,
    # the proxy's ``send`` the price; no other frame of otelperf's between the loop and the task.
    stacks: list[list[str]] = []

    async def request() -> None:
        tags.current_root.set(tags.Root(1, "GET /a"))
        await asyncio.sleep(0)
        stacks.append([f.f_code.co_name for f in _frames()[:4]])

    async def main() -> None:
        install_task_factory(asyncio.get_running_loop())
        await asyncio.create_task(request())

    asyncio.run(main())
    assert stacks == [["request", "[GET /a]", "send", "_run"]]


def test_a_request_without_a_root_runs_unframed_and_untagged_between_framed_ones(native: FakeNative) -> None:
    """A request whose span does not record has no root: its app runs as it is (no route frame to
    run it under), and each of its steps clears the tags a sampled request left on the thread."""
    seen: list[tuple[str, str | None, bool]] = []

    async def app(name: str) -> None:
        for _ in range(3):
            tagged = tags.tagged_root()
            framed = any(f.f_code.co_name.startswith("[") for f in _frames())
            seen.append((name, tagged.span_name if tagged else None, framed))
            await asyncio.sleep(0)

    async def request(name: str, sampled: bool) -> None:
        tags.current_root.set(tags.Root(7, f"GET /{name}") if sampled else None)
        coroutine = app(name)
        framed = tasks.frame(coroutine)
        assert (framed is coroutine) is not sampled
        await framed

    async def main() -> None:
        install_task_factory(asyncio.get_running_loop())
        await asyncio.gather(
            asyncio.create_task(request("sampled", True)), asyncio.create_task(request("unsampled", False))
        )

    tasks._framing["on"] = True
    token = tags.current_root.set(None)  # what earlier tests left in this thread's context
    try:
        asyncio.run(main())
    finally:
        tasks._framing["on"] = False
        tags.current_root.reset(token)
    assert [entry for entry in seen if entry[0] == "unsampled"] == [("unsampled", None, False)] * 3
    assert [entry for entry in seen if entry[0] == "sampled"] == [("sampled", "GET /sampled", True)] * 3


def _frames() -> list[types.FrameType]:
    frame = sys._getframe(1)
    found = []
    while frame is not None:
        found.append(frame)
        frame = frame.f_back  # type: ignore[assignment]
    return found


def test_tagged_coroutine_is_a_transparent_coroutine() -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    async def failing() -> None:
        await asyncio.sleep(0)
        raise ValueError("boom")

    async def main() -> None:
        assert await TaggedCoroutine(answer()) == 42
        with pytest.raises(ValueError, match="boom"):
            await TaggedCoroutine(failing())
        wrapped = TaggedCoroutine(answer())
        assert wrapped.__qualname__.endswith("answer")  # asyncio's repr reads it
        wrapped.close()

    asyncio.run(main())


def test_an_existing_task_factory_is_chained() -> None:
    created: list[object] = []

    def previous(loop: asyncio.AbstractEventLoop, coroutine: Any, **kwargs: Any) -> asyncio.Task[Any]:
        created.append(coroutine)
        return asyncio.Task(coroutine, loop=loop, **kwargs)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_task_factory(previous)
        install_task_factory(loop)
        await asyncio.create_task(asyncio.sleep(0))

    asyncio.run(main())
    assert created and all(isinstance(c, TaggedCoroutine) for c in created)  # asyncio.run adds its own


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


def test_roots_carry_no_profile_id_when_samples_cannot_be_labelled() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(ProfileSpanProcessor(link_spans=False))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("GET /x"):
        root = tags.current_root.get()
        assert root is not None and root.span_name == "GET /x"  # the [route] frame still follows the work
    (span,) = exporter.get_finished_spans()
    assert "pyroscope.profile.id" not in (span.attributes or {})


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
