"""What the benchmarks share: ports, a drop-everything HTTP sink, a process's CPU time and memory,
and writing a results table into its marked block of a Markdown file."""

from __future__ import annotations

import http.server
import os
import socket
import threading
import time
from pathlib import Path

import httpx

TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def sink() -> str:
    """An HTTP endpoint that accepts anything (Pyroscope pushes, the Datadog agent API) and drops it."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def _drop(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
            body = b"{}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_PUT = do_GET = _drop

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}"


def answers(url: str, timeout_s: float = 30.0) -> bool:
    """Whether ``url`` answers 200 within ``timeout_s`` (polled every 0.1 s): a started server is ready."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            time.sleep(0.1)
    return False


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def thread_cpu_seconds(pid: int) -> dict[int, tuple[str, float]]:
    """Per thread of a process: its name (``comm``) and user + system CPU time so far."""
    threads = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread has ended
        threads[int(task.name)] = (name, (int(fields[11]) + int(fields[12])) / TICKS)
    return threads


def steal_ms() -> tuple[float, ...]:
    """Per CPU, the time the hypervisor ran something else while this VM's CPU wanted to run
    (``/proc/stat``'s steal column) so far: a window's difference says whether the VM was paused."""
    steal = []
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3].isdigit():
            steal.append(int(line.split()[8]) / TICKS * 1000)
    return tuple(steal)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def replace_block(path: Path, marker: str, body: str) -> None:
    """Replace what stands between ``<!-- marker:begin -->`` and ``<!-- marker:end -->``."""
    text = path.read_text()
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    start, stop = text.index(begin) + len(begin), text.index(end)
    path.write_text(f"{text[:start]}\n{body}\n{text[stop:]}")


def publish(header: str, table: str, write: Path | None, marker: str) -> None:
    """Print the results, and write them into ``write``'s ``marker`` block when asked to."""
    print(header)
    print(table)
    if write:
        replace_block(write, marker, f"{header}\n\n{table}")
