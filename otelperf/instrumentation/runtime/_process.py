"""Process CPU, memory, threads and the memory limit, read cheaply from the OS at collection."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from otelperf import semconv
from otelperf.metrics.instruments import observe

_CGROUP_V2 = Path("/sys/fs/cgroup/memory.max")
_CGROUP_V1 = Path("/sys/fs/cgroup/memory/memory.limit_in_bytes")
_UNLIMITED_V1 = 1 << 60


def physical_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def memory_limit_bytes(v2: Path = _CGROUP_V2, v1: Path = _CGROUP_V1) -> int | None:
    """The cgroup memory limit (v2, then v1); physical memory when there is none."""
    for path in (v2, v1):
        try:
            raw = path.read_text().strip()
        except OSError:
            continue
        if raw.isdigit() and int(raw) < _UNLIMITED_V1:
            return int(raw)
    return physical_memory_bytes()


def _rss_bytes() -> int | None:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _os_threads() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return threading.active_count()


class ProcessMetrics:
    """Observable instruments with the semantic-convention names (no psutil needed on Linux)."""

    def __init__(self, meter: Meter) -> None:
        self._cpus = os.cpu_count() or 1
        self._last = (time.monotonic(), self._cpu_seconds())
        self._limit = memory_limit_bytes()
        observe(meter, semconv.INSTRUMENTS[semconv.PROCESS_CPU_UTILIZATION], self._cpu)
        observe(meter, semconv.INSTRUMENTS[semconv.PROCESS_MEMORY_USAGE], self._memory)
        observe(meter, semconv.INSTRUMENTS[semconv.PROCESS_THREAD_COUNT], self._threads)
        observe(meter, semconv.INSTRUMENTS[semconv.PROCESS_MEMORY_LIMIT], self._memory_limit)

    @staticmethod
    def _cpu_seconds() -> float:
        # The process CPU clock (user + system, all threads), at nanosecond resolution: os.times()
        # counts 10 ms ticks, which makes short intervals meaningless.
        return time.process_time()

    def _cpu(self, options: CallbackOptions) -> Iterable[Observation]:
        now, cpu = time.monotonic(), self._cpu_seconds()
        last_time, last_cpu = self._last
        self._last = (now, cpu)
        elapsed = now - last_time
        if elapsed > 0:
            yield Observation(min(max((cpu - last_cpu) / elapsed / self._cpus, 0.0), 1.0))

    def _memory(self, options: CallbackOptions) -> Iterable[Observation]:
        rss = _rss_bytes()
        if rss is not None:
            yield Observation(rss)

    def _threads(self, options: CallbackOptions) -> Iterable[Observation]:
        yield Observation(_os_threads())

    def _memory_limit(self, options: CallbackOptions) -> Iterable[Observation]:
        if self._limit is not None:
            yield Observation(self._limit)
