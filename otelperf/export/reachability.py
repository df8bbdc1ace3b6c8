"""Whether something listens at an address: used by the profiler at start and by `otelperf doctor`.

Part of the runtime plugin, so it needs nothing beyond the standard library.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Check:
    name: str
    target: str
    ok: bool
    detail: str


def tcp_check(name: str, url: str, timeout_s: float) -> Check:
    """Whether something listens at the URL's host and port."""
    parts = urlsplit(url if "://" in url else f"tcp://{url}")
    host = parts.hostname or "localhost"
    port = parts.port or {"http": 80, "https": 443, "redis": 6379, "postgresql": 5432}.get(parts.scheme, 0)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return Check(name, f"{host}:{port}", True, "answers")
    except OSError as exc:
        return Check(name, f"{host}:{port}", False, f"does not answer ({exc.strerror or exc})")
