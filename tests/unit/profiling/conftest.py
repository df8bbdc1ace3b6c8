"""A fake of the Pyroscope agent's thread tags, enabled for a test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from otelperf.profiling import tags


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
