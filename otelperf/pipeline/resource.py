"""The resource every signal carries: who is talking, and which process exactly.

``service.instance.id`` is a fresh UUID per process (built when the process activates, so each
forked or spawned worker has its own and no two workers clobber each other's series).
``service.name`` is never ``unknown_service``: unset, it is derived from the launched program.
"""

from __future__ import annotations

import os
import re
import sys
import uuid
from collections.abc import Sequence

from opentelemetry.sdk.resources import Resource

from otelperf import semconv
from otelperf.process.roles import _program
from otelperf.version import __version__

_APP_SPEC = re.compile(r"^(?P<module>[A-Za-z_][\w.]*):(?P<attr>[A-Za-z_][\w.()]*)$")
_SERVERS = ("uvicorn", "gunicorn", "hypercorn", "granian", "daphne")


def derive_service_name(argv: Sequence[str] | None = None) -> str:
    """A stable, readable name from the command line: ``uvicorn shop.app:app`` gives ``shop-app``."""
    argv = list(sys.orig_argv if argv is None else argv)
    program, args = _program(argv)
    if program in _SERVERS or program == "fastapi":
        for arg in args:
            match = _APP_SPEC.match(arg)
            if match:
                return match.group("module").replace(".", "-").replace("_", "-")
    if program.endswith(".py"):
        return program[:-3].replace("_", "-") or "python-app"
    if program and program not in ("-c", "python", "python3"):
        return program
    return "python-app"


def process_identity() -> Resource:
    """What tells this process from the service's others: a fresh ``service.instance.id`` and its pid."""
    return Resource({semconv.SERVICE_INSTANCE_ID: str(uuid.uuid4()), semconv.PROCESS_PID: os.getpid()})


def build_resource(service_name: str | None) -> Resource:
    """The SDK resource: env attributes (``OTEL_RESOURCE_ATTRIBUTES``) plus otelperf's own."""
    own = {
        semconv.TELEMETRY_DISTRO_NAME: semconv.DISTRO_NAME,
        semconv.TELEMETRY_DISTRO_VERSION: __version__,
        semconv.SERVICE_NAME: service_name or derive_service_name(),
    }
    return Resource.create({**process_identity().attributes, **own})
