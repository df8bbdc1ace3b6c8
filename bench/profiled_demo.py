"""The demo service, with its Python threads named ``py`` so the bench can tell them from the agent's.

``pyroscope-io`` samples from native threads that Python's ``threading`` does not know. Naming
every Python thread (the ones running now and every one started later) leaves the agent's threads
as the only unnamed ones, and ``bench/profiling_cost.py`` reads their CPU time from ``/proc``:
the sampler's own cost, measured in the same process and window as the app's.
"""

from __future__ import annotations

import threading
from typing import Any

from _os_thread import name_os_thread

from otelperf.demo.app import app

__all__ = ["app"]

PYTHON_THREAD = "py"


_bootstrap_inner = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]


def _named_bootstrap_inner(self: threading.Thread, *args: Any, **kwargs: Any) -> None:
    name_os_thread(threading.get_native_id(), PYTHON_THREAD)
    _bootstrap_inner(self, *args, **kwargs)


threading.Thread._bootstrap_inner = _named_bootstrap_inner  # type: ignore[attr-defined]
for _thread in threading.enumerate():
    name_os_thread(_thread.native_id, PYTHON_THREAD)
