"""Naming OS threads (their Linux ``comm``), so a bench can read a thread's CPU time in ``/proc``.

No dependencies: the benchmark apps import it under every variant's own environment.
"""

from __future__ import annotations

import threading
from typing import Any

# The OS names the benchmark apps give their threads: ``overhead_app``'s pool, and every other Python
# thread (``name_python_threads``). A thread left with neither is a native one: a profiling agent's.
POOL_THREAD = "bench-cpu"
PYTHON_THREAD = "py"


def name_os_thread(native_id: int | None, name: str) -> None:
    """Name the thread ``native_id`` of this process (at most 15 bytes are kept)."""
    if native_id is None:
        return
    try:
        with open(f"/proc/self/task/{native_id}/comm", "w") as comm:
            comm.write(name)
    except OSError:
        pass  # the thread has ended, or this is not Linux


def name_python_threads(name: str) -> None:
    """Name every Python thread ``name``: those running now, and each one started later (before
    its target runs, so a thread that names itself, like a pool's initializer, keeps its own name).

    Profiling agents sample from native threads that Python's ``threading`` does not know: they
    are then the only threads without that name, and their CPU time can be read apart."""
    bootstrap_inner = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]

    def named_bootstrap_inner(self: threading.Thread, *args: Any, **kwargs: Any) -> None:
        name_os_thread(threading.get_native_id(), name)
        bootstrap_inner(self, *args, **kwargs)

    threading.Thread._bootstrap_inner = named_bootstrap_inner  # type: ignore[attr-defined]
    for thread in threading.enumerate():
        name_os_thread(thread.native_id, name)
