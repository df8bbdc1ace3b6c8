"""Shared by every test folder: the real-service fixtures, and markers by folder."""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.e2e.fixtures"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.fspath)
        for folder in ("e2e", "reliability", "security"):
            if f"/tests/{folder}/" in path:
                item.add_marker(getattr(pytest.mark, folder))
