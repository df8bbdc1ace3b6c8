"""otelperf: an OpenTelemetry distro that turns traces, exact metrics and profiles on, safely.

Enable it with the standard launcher (``opentelemetry-instrument uvicorn app:app``); nothing in
this module is needed for that. The public API is for programs that set things up themselves
and for tooling: ``configure()``, ``shutdown()``, ``local_metrics()`` and ``load_settings()``.
"""

from otelperf.configurator import configure
from otelperf.pipeline.providers import local_metrics
from otelperf.process.lifecycle import shutdown
from otelperf.settings import Settings, load_settings
from otelperf.version import __version__

__all__ = ["Settings", "__version__", "configure", "load_settings", "local_metrics", "shutdown"]
