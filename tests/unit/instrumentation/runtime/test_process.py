"""The process's memory limit: the cgroup's (v2, then v1), else the physical memory."""

from __future__ import annotations

from pathlib import Path

from otelperf.instrumentation.runtime import memory_limit_bytes
from otelperf.instrumentation.runtime._process import physical_memory_bytes


def test_memory_limit_prefers_cgroup_then_physical(tmp_path: Path) -> None:
    v2, v1 = tmp_path / "memory.max", tmp_path / "limit_in_bytes"
    v2.write_text("536870912\n")
    assert memory_limit_bytes(v2, v1) == 536870912
    v2.write_text("max\n")
    v1.write_text(str(1 << 62))
    assert memory_limit_bytes(v2, v1) == physical_memory_bytes()
    v1.write_text("1073741824")
    assert memory_limit_bytes(v2, v1) == 1073741824
