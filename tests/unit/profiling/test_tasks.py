"""The task factory: each asyncio step runs under its task's root (tags and route frame),
transparently, chained to an existing factory."""

from __future__ import annotations

import asyncio
import sys
import types
from typing import Any

import pytest

from otelperf.profiling import tags, tasks
from otelperf.profiling.tasks import TaggedCoroutine, install_task_factory
from tests.unit.profiling.conftest import FakeNative


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
