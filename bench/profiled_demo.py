"""The demo service, with its Python threads named ``py`` so the bench can tell them from the agent's.

``pyroscope-io`` samples from native threads that Python's ``threading`` does not know. Naming
every Python thread (the ones running now and every one started later) leaves the agent's threads
as the only unnamed ones, and ``bench/profiling_cost.py`` reads their CPU time from ``/proc``:
the sampler's own cost, measured in the same process and window as the app's.
"""

from __future__ import annotations

from _os_thread import PYTHON_THREAD, name_python_threads

from otelperf.demo.app import app

__all__ = ["app"]

name_python_threads(PYTHON_THREAD)
