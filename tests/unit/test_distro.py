"""The distro's instrumentor loading: otelperf's replacements win over the contrib instrumentors,
unless the user disables them by name, and then contrib's load with otelperf's options."""

from __future__ import annotations

from typing import Any

import pytest

from otelperf import startup
from otelperf.distro import OtelperfDistro


class FakeEntryPoint:
    def __init__(self, name: str) -> None:
        self.name = name
        self.options: list[dict[str, Any]] = []

    def load(self) -> Any:
        entry = self

        class Instrumentor:
            def instrument(self, **options: Any) -> None:
                entry.options.append(options)

        return Instrumentor


@pytest.mark.parametrize(
    ("contrib", "ours"),
    [("fastapi", "otelperf_fastapi"), ("redis", "otelperf_redis"), ("sqlalchemy", "otelperf_sqlalchemy")],
)
def test_contrib_instrumentors_are_replaced_by_ours(
    serving: startup.StartupState, monkeypatch: pytest.MonkeyPatch, contrib: str, ours: str
) -> None:
    monkeypatch.delenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", raising=False)
    entry = FakeEntryPoint(contrib)
    OtelperfDistro().load_instrumentor(entry)
    assert entry.options == []
    assert serving.instrumentations == {contrib: f"replaced by {ours}"}


def test_disabling_ours_brings_contribs_back_with_otelperfs_options(
    serving: startup.StartupState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "otelperf_fastapi")
    entry = FakeEntryPoint("fastapi")
    OtelperfDistro().load_instrumentor(entry)
    assert entry.options == [{"exclude_spans": ["receive", "send"]}]
    assert serving.instrumentations == {"fastapi": "on"}
