"""What continuous profiling costs the app: CPU per request with the Pyroscope agent off and on.

The demo service runs under ``opentelemetry-instrument`` (trace and metric export off, so only
the profiler differs) pinned to CPU 0; this process sends the load from CPU 1. Variants are
interleaved (off, on, off, on, ...) and the table gives medians. The agent uploads to a local
endpoint that accepts and discards what it receives.

On a shared VM the whole process's CPU per request moves from run to run by more than the sampler
costs. So each run also reads the CPU time of the agent's own threads (the ones Python did
not start: ``bench/profiled_demo.py`` names the others) against the rest of the process, in the
same window: a ratio that machine noise moves far less. It leaves out what the agent costs the
app's own threads (cache misses; the tag calls, which the "vs off" column includes).

    python bench/profiling_cost.py [--rounds 4] [--requests 3000] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _harness import answers, cpu_seconds, free_port, publish, sink, thread_cpu_seconds
from _os_thread import PYTHON_THREAD

from otelperf.settings import Settings

BIN = Path(sys.executable).parent


async def load(base_url: str, requests: int, concurrency: int) -> float:
    paths = [f"/items/{i % 50 + 1}" for i in range(40)] + ["/report/books", "/categories/games"] * 5
    sent = 0
    started = time.perf_counter()

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal sent
        while sent < requests:
            path = paths[sent % len(paths)]
            sent += 1
            (await http.get(path)).raise_for_status()

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
    return time.perf_counter() - started


VARIANTS = {
    "off": {},
    "agent only": {"OTELPERF_PROFILING_SPAN_ATTRIBUTION": "false"},
    "agent + span attribution": {},
    # Other configurations of the agent (run with --only): every thread on CPU instead of the GIL
    # holder only, and a higher rate than the default.
    "agent only, all threads": {"OTELPERF_PROFILING_SPAN_ATTRIBUTION": "false", "OTELPERF_PROFILING_GIL_ONLY": "false"},
    "agent only, 50 Hz": {"OTELPERF_PROFILING_SPAN_ATTRIBUTION": "false", "OTELPERF_PROFILING_SAMPLE_RATE": "50"},
    # The line running in each frame (pyroscope-io's default) instead of the function's first line.
    "agent only, running lines": {"OTELPERF_PROFILING_SPAN_ATTRIBUTION": "false", "OTELPERF_PROFILING_LINES": "line"},
    "agent + span attribution, running lines": {"OTELPERF_PROFILING_LINES": "line"},
    # pyroscope-io's in-process stack sampler (no thread tags): by itself, and with the route frames.
    "agent only, stack sampler": {
        "OTELPERF_PROFILING_SPAN_ATTRIBUTION": "false",
        "OTELPERF_PROFILING_SAMPLER": "stack",
    },
    "stack sampler + route frames": {"OTELPERF_PROFILING_SAMPLER": "stack"},
}
DEFAULT_VARIANTS = ["off", "agent only", "agent + span attribution"]
DEFAULT_HZ = Settings().profiling_sample_rate_hz


def agent_seconds(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> float:
    """CPU time of the threads Python did not start (the agent's), between two readings."""
    return sum(
        seconds - before.get(tid, (name, 0.0))[1] for tid, (name, seconds) in after.items() if name != PYTHON_THREAD
    )


def run_variant(variant: str, endpoint: str, requests: int, concurrency: int) -> tuple[float, float, float]:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "OTELPERF_"))}
    env.update(OTEL_TRACES_EXPORTER="none", OTEL_METRICS_EXPORTER="none", OTEL_SERVICE_NAME="bench-profiling")
    if variant != "off":
        env.update(OTELPERF_PYROSCOPE_ENDPOINT=endpoint, **VARIANTS[variant])
    command = [
        "taskset",
        "-c",
        "0",
        str(BIN / "opentelemetry-instrument"),
        str(BIN / "uvicorn"),
        "profiled_demo:app",
        "--app-dir",
        str(Path(__file__).parent),
        "--port",
        str(port),
        "--no-access-log",
    ]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            base_url = f"http://127.0.0.1:{port}"
            if not answers(f"{base_url}/healthz", timeout_s=20):
                raise RuntimeError(f"the demo service ({variant}) did not start")
            asyncio.run(load(base_url, 300, concurrency))  # warm-up: caches, connection pool
            before, threads_before = cpu_seconds(process.pid), thread_cpu_seconds(process.pid)
            elapsed = asyncio.run(load(base_url, requests, concurrency))
            used = cpu_seconds(process.pid) - before
            agent = agent_seconds(threads_before, thread_cpu_seconds(process.pid))
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(30)
    return used / requests * 1000, requests / elapsed, agent / max(used - agent, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--only", action="append", choices=list(VARIANTS), help="a variant besides off (repeatable)")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    chosen = ["off", *args.only] if args.only else DEFAULT_VARIANTS
    os.sched_setaffinity(0, {1})
    endpoint = sink()
    results: dict[str, list[tuple[float, float, float]]] = {variant: [] for variant in chosen}
    for round_index in range(args.rounds):
        for variant in chosen:
            cpu_ms, rps, agent_share = run_variant(variant, endpoint, args.requests, args.concurrency)
            results[variant].append((cpu_ms, rps, agent_share))
            print(
                f"round {round_index + 1} {variant}: {cpu_ms:.3f} CPU ms/request, {rps:.0f} req/s, "
                f"agent threads {agent_share:.2%} of the app's CPU",
                file=sys.stderr,
            )
    medians = {
        variant: tuple(statistics.median(run[column] for run in runs) for column in range(3))
        for variant, runs in results.items()
    }
    base_cpu = medians["off"][0]
    header = (
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, Python {platform.python_version()}: "
        f"demo service pinned to CPU 0, load from CPU 1, {args.concurrency} concurrent clients, "
        f"{args.requests} requests per run, {args.rounds} interleaved rounds, medians; {DEFAULT_HZ} Hz (the default), "
        "GIL-only unless named."
    )
    lines = [
        "| profiling | CPU ms per request | vs off | agent threads' CPU / app's | requests/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for variant, (cpu, rps, agent_share) in medians.items():
        lines.append(f"| {variant} | {cpu:.3f} | {(cpu - base_cpu) / base_cpu:+.1%} | {agent_share:.1%} | {rps:.0f} |")
    publish(header, "\n".join(lines), args.write, "profiling-cost")


if __name__ == "__main__":
    main()
