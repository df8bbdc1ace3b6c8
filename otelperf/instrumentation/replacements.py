"""Contrib instrumentors that otelperf replaces with its own, by entry-point name.

While otelperf's instrumentor for a library is enabled, contrib's is not loaded, so the library's
calls are never traced twice. Disabling otelperf's by name (``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=
otelperf_sqlalchemy``) gives contrib's back, where its declared library versions accept the
installed library; where they do not, ``otelperf.startup`` says so in one line.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass


@dataclass(frozen=True)
class Replacement:
    """otelperf's instrumentor for a library, and the telemetry that library has from it."""

    ours: str
    telemetry: str


REPLACED: dict[str, Replacement] = {
    "fastapi": Replacement("otelperf_fastapi", "HTTP server spans and metrics"),
    "redis": Replacement("otelperf_redis", "Redis spans and cache metrics"),
    "sqlalchemy": Replacement("otelperf_sqlalchemy", "database spans and metrics"),
}


def replaced_by(name: str, disabled: Collection[str]) -> str | None:
    """otelperf's instrumentor that takes the place of contrib's ``name``, unless it is ``disabled``."""
    replacement = REPLACED.get(name)
    if replacement is None or replacement.ours in disabled:
        return None
    return replacement.ours
