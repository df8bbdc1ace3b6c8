"""Which processes run the SDK: the ones that serve requests, not supervisors or helpers.

Under ``opentelemetry-instrument`` every Python process started with the launcher's environment
runs ``sitecustomize``: a pre-fork master, a reloader, multiprocessing's resource tracker, and the
workers. Upstream starts a full SDK in each (four under ``uvicorn --workers 2``), and the extra
ones export process metrics under the service's name. otelperf classifies the process first:

- ``HELPER`` (multiprocessing resource tracker / forkserver): no SDK at all.
- ``SUPERVISOR`` (gunicorn master, uvicorn with ``--workers`` > 1 or ``--reload``, ``fastapi dev``):
  nothing is started here; a child created by ``fork`` (gunicorn workers, with or without
  ``--preload``) starts its own pipeline; children started by ``spawn`` (uvicorn workers and
  reloads) run ``sitecustomize`` themselves and are classified afresh.
- ``SERVER``: everything else starts at once. When the command line names no server (``python -m
  myapp``, ``myapp serve``), the decision is not settled: the process may start workers in code,
  and ``servers`` tells when it does (it then supervises) or when it serves.
"""

from __future__ import annotations

import enum
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["ProcessRole", "RoleDecision", "detect_role"]

# Servers that serve in the process their command line starts (with no workers option).
_SERVERS = ("uvicorn", "fastapi", "hypercorn", "granian", "daphne")
_HELPER_MARKERS = (
    "multiprocessing.resource_tracker",
    "multiprocessing.forkserver",
    "multiprocessing.semaphore_tracker",
)


class ProcessRole(enum.Enum):
    SERVER = "server"
    SUPERVISOR = "supervisor"
    HELPER = "helper"


@dataclass(frozen=True)
class RoleDecision:
    role: ProcessRole
    program: str
    reason: str
    reload: bool = False
    # False when the command line names no server: the process may still start workers in code
    # (``uvicorn.run(workers=N)``, an embedded gunicorn) and turn out to supervise (``servers``).
    settled: bool = True


def _program(argv: Sequence[str]) -> tuple[str, list[str]]:
    """The launched program's name and its arguments, from the interpreter's full argv."""
    args = list(argv[1:])
    while args and args[0].startswith("-") and args[0] not in ("-m", "-c"):
        args.pop(0)
    if args[:1] == ["-m"] and len(args) > 1:
        return args[1].split(".")[0], args[2:]
    if args[:1] == ["-c"]:
        return "-c", args[1:]
    if args:
        return os.path.basename(args[0]), args[1:]
    return os.path.basename(argv[0]) if argv else "python", []


def _option(args: Sequence[str], name: str) -> str | None:
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _int(value: str | None) -> int:
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def detect_role(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> RoleDecision:
    """Classify this process from its command line (``sys.orig_argv``) and environment."""
    argv = list(sys.orig_argv if argv is None else argv)
    env = os.environ if environ is None else environ
    joined = " ".join(argv)
    if any(marker in joined for marker in _HELPER_MARKERS):
        return RoleDecision(ProcessRole.HELPER, "multiprocessing", "multiprocessing helper process")
    program, args = _program(argv)
    if program in ("gunicorn", "gunicorn.app.wsgiapp"):
        return RoleDecision(ProcessRole.SUPERVISOR, "gunicorn", "gunicorn master: workers start their own SDK")
    if program == "uvicorn":
        if "--reload" in args:
            return RoleDecision(ProcessRole.SUPERVISOR, "uvicorn", "uvicorn reloader", reload=True)
        workers = _int(_option(args, "--workers")) or _int(env.get("WEB_CONCURRENCY"))
        if workers > 1:
            return RoleDecision(ProcessRole.SUPERVISOR, "uvicorn", f"uvicorn supervisor of {workers} workers")
    if program == "fastapi":
        if args[:1] == ["dev"] or "--reload" in args:
            return RoleDecision(ProcessRole.SUPERVISOR, "fastapi", "fastapi reloader", reload=True)
        if _int(_option(args, "--workers")) > 1:
            return RoleDecision(ProcessRole.SUPERVISOR, "fastapi", "fastapi supervisor of workers")
    if program in _SERVERS:
        return RoleDecision(ProcessRole.SERVER, program, "serves requests")
    return RoleDecision(ProcessRole.SERVER, program, "serves requests unless it starts workers", settled=False)
