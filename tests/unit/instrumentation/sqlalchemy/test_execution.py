"""The execution hook: available only where SQLAlchemy's execution method has the expected signature,
and the driver error read without raising."""

from __future__ import annotations

from typing import Any

import pytest

from otelperf.instrumentation.sqlalchemy import _execution
from otelperf.instrumentation.sqlalchemy._execution import available as execution_hook_available


def test_a_changed_execution_method_falls_back_to_the_events(monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.engine.base import Connection

    assert execution_hook_available()

    def renamed(self: Any, context: Any, dialect: Any) -> None:  # parameters reordered
        raise AssertionError("never called")

    monkeypatch.setattr(Connection, "_exec_single_context", renamed)
    assert not execution_hook_available()
    monkeypatch.delattr(Connection, "_exec_single_context")
    assert not execution_hook_available()


def test_driver_error_never_raises_and_unwraps_only_exceptions() -> None:
    class Wrapped(Exception):
        orig = ValueError("driver")

    class NotAnException(Exception):
        orig = "text"

    class Hostile(Exception):
        @property
        def orig(self) -> Any:
            raise RuntimeError("a property that fails")

    assert isinstance(_execution.driver_error(Wrapped()), ValueError)
    for error in (NotAnException(), Hostile(), KeyError("k")):
        assert _execution.driver_error(error) is error
