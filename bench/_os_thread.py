"""Naming an OS thread (its Linux ``comm``), so a bench can read that thread's CPU time in ``/proc``.

No dependencies: the benchmark apps import it under every variant's own environment.
"""

from __future__ import annotations


def name_os_thread(native_id: int | None, name: str) -> None:
    """Name the thread ``native_id`` of this process (at most 15 bytes are kept)."""
    if native_id is None:
        return
    try:
        with open(f"/proc/self/task/{native_id}/comm", "w") as comm:
            comm.write(name)
    except OSError:
        pass  # the thread has ended, or this is not Linux
