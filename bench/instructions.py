"""What observability costs the app, counted in instructions: a measure the VM's speed cannot move.

``bench/overhead.py`` measures requests per second, which is what the throughput targets are written
in, but on a shared VM the speed of a whole round drifts by more than a tenth, so a small difference
needs many rounds and still comes out one way or the other. This script runs the
same app and variants under Valgrind's Cachegrind, which counts the instructions every thread of
the process executes (the event loop, the pool, export and gRPC threads alike). A count does not
depend on the machine's speed or on what else runs beside it.

Each variant runs twice, with the same warm-up and ``--requests`` and ``3 * --requests`` measured
requests; the difference of the two totals divided by the difference of the request counts is the
instructions per request, with start-up, warm-up and shutdown cancelled out. Under Cachegrind the
app serves requests several times slower, so the periodic work (metric export, the span batch timer,
the event-loop lag probe) would run that much more often per request: their intervals are
stretched by the measured slow-down, so that each request carries the share of that work it
carries at full speed.

Instructions are not time: a ratio of counts is a throughput ratio only at equal instructions
per cycle, and code differs there (the interpreter, SQLite, OpenSSL); this VM exposes no cycle
counters. What the count measures exactly is how much work a variant adds and what a change
removes; ``overhead.py`` measures the throughput.

    python bench/instructions.py [--endpoint light] [--requests 300] [--rounds 2] [--baseline REV]
        [--write docs/benchmarks.md]

What one instrumentor costs, on the defaults (``--only`` limits the named variants)::

    python bench/instructions.py --only "otelperf, 10 % sampling (production)"
        --try-production "no Redis:OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=otelperf_redis,redis"
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _harness import answers, free_port, publish, sink
from overhead import (
    ENDPOINTS,
    REPO,
    Endpoint,
    Variant,
    add_variant_options,
    app_command,
    app_environment,
    chosen_variants,
    closed_loop,
    start_collector,
)

from otelperf.settings import Settings

WARM_UP = 100
# The variants that have throughput targets, and the upstream reference.
MEASURED = [
    "otelperf, 10 % sampling (production)",
    "otelperf, 10 % sampling + profiling",
    "otelperf, 100 % tracing",
    "otelperf, 100 % + profiling",
    "upstream opentelemetry-instrument",
]
# The periodic work of the OpenTelemetry variants, with its default period at full speed.
PERIODS = {
    "OTEL_METRIC_EXPORT_INTERVAL": 15_000.0,  # otelperf's default; upstream's is 60 000
    "OTEL_BSP_SCHEDULE_DELAY": 5_000.0,
    "OTELPERF_EVENT_LOOP_LAG_INTERVAL": 0.5,
    # Not periodic, but a wall-clock limit: the last spans' export at exit must finish in both runs.
    "OTELPERF_SHUTDOWN_TIMEOUT": 3.0,
}
UPSTREAM_METRIC_INTERVAL = 60_000.0
REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


@dataclass
class Count:
    instructions: int
    seconds: float  # wall time of the measured requests


def _environment(variant: Variant, redis_url: str) -> dict[str, str]:
    """``overhead.py``'s environment for a run, with cache entries that outlive it, in an emptied
    Redis: the warm-up misses every key, the measured requests hit."""
    subprocess.run(["redis-cli", "-u", redis_url, "flushall"], check=True, capture_output=True)
    return {**app_environment(variant, redis_url), "PYTHONHASHSEED": "0", "BENCH_CACHE_TTL": "3600"}


def count(variant: Variant, redis_url: str, requests: int, slowdown: float, endpoint: Endpoint) -> Count:
    """Total instructions of one run of ``variant`` serving the warm-up and ``requests`` requests."""
    port = free_port()
    env = _environment(variant, redis_url)
    if variant.launcher:  # stretch the periodic work by the slow-down (see the module docstring)
        periods = {**PERIODS}
        if variant.name.startswith("upstream"):
            periods["OTEL_METRIC_EXPORT_INTERVAL"] = UPSTREAM_METRIC_INTERVAL
        for name, period in periods.items():
            env[name] = f"{period * slowdown:g}"
        if "OTELPERF_PYROSCOPE_ENDPOINT" in env:  # the profiler's rate, as many samples per request
            rate = float(env.get("OTELPERF_PROFILING_SAMPLE_RATE") or Settings().profiling_sample_rate_hz)
            env["OTELPERF_PROFILING_SAMPLE_RATE"] = str(max(1, round(rate / slowdown)))
    command = [
        "valgrind", "--tool=cachegrind", "--cache-sim=no", "--branch-sim=no", "--trace-children=yes",
        "--cachegrind-out-file=/dev/null", *app_command(variant, port),
    ]  # fmt: skip
    with tempfile.NamedTemporaryFile(prefix="instructions-", suffix=".log", delete=False) as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO / "bench")
    base_url = f"http://127.0.0.1:{port}"
    try:
        if not answers(f"{base_url}/work/0", timeout_s=300):
            raise RuntimeError(f"{variant.name} did not start under valgrind; see {log.name}")
        asyncio.run(closed_loop(base_url, WARM_UP, 8, endpoint))
        seconds, _ = asyncio.run(closed_loop(base_url, requests, 8, endpoint))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(300)
    # Each Valgrind instance (the launcher, then the interpreter it executes) prints its total at exit.
    totals = [int(found.replace(",", "")) for found in REFS.findall(Path(log.name).read_text())]
    if not totals:
        raise RuntimeError(f"no instruction count in {log.name}")
    Path(log.name).unlink()
    return Count(sum(totals), seconds)


def native_seconds_per_request(variant: Variant, redis_url: str, endpoint: Endpoint) -> float:
    """Wall time per request of ``variant`` without Valgrind, set up as ``count`` sets it up: the
    reference for the slow-down."""
    port = free_port()
    process = subprocess.Popen(
        app_command(variant, port),
        env=_environment(variant, redis_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        cwd=REPO / "bench",
    )
    try:
        if not answers(f"http://127.0.0.1:{port}/work/0"):
            raise RuntimeError("the uninstrumented app did not start")
        asyncio.run(closed_loop(f"http://127.0.0.1:{port}", 300, 8, endpoint))
        seconds, _ = asyncio.run(closed_loop(f"http://127.0.0.1:{port}", 1000, 8, endpoint))
    finally:
        process.terminate()
        process.wait(30)
    return seconds / 1000


def per_request(
    variant: Variant, redis_url: str, requests: int, slowdown: float, endpoint: Endpoint
) -> tuple[float, float]:
    """Instructions per request (the long run's total minus the short run's, over the extra requests),
    and the measured wall time per request under Valgrind."""
    short = count(variant, redis_url, requests, slowdown, endpoint)
    long = count(variant, redis_url, 3 * requests, slowdown, endpoint)
    return (long.instructions - short.instructions) / (2 * requests), long.seconds / (3 * requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="measured requests of the short run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--endpoint", choices=sorted(ENDPOINTS), default="light")
    add_variant_options(parser)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="otelperf-instructions-"))
    redis_port = free_port()
    redis_process = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""], stdout=subprocess.DEVNULL
    )
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    collector, endpoint = start_collector(work)
    chosen = chosen_variants(args, endpoint, sink(), only=MEASURED)
    results: dict[str, list[float]] = {variant.name: [] for variant in chosen}
    endpoint = ENDPOINTS[args.endpoint]
    try:
        native = native_seconds_per_request(chosen[0], redis_url, endpoint)
        instructions, valgrind_seconds = per_request(chosen[0], redis_url, args.requests, 1.0, endpoint)
        slowdown = round(valgrind_seconds / native)
        results[chosen[0].name].append(instructions)
        print(f"slow-down under valgrind: {slowdown}x; periods stretched by as much", file=sys.stderr, flush=True)
        for round_index in range(args.rounds):
            for variant in chosen:
                if round_index == 0 and variant is chosen[0]:
                    continue
                instructions, _ = per_request(variant, redis_url, args.requests, slowdown, endpoint)
                results[variant.name].append(instructions)
                print(
                    f"round {round_index + 1} {variant.name}: {instructions / 1e6:.2f} M", file=sys.stderr, flush=True
                )
    finally:
        collector.terminate()
        redis_process.terminate()
    report(results, args, slowdown, endpoint)


def report(results: dict[str, list[float]], args: argparse.Namespace, slowdown: int, endpoint: Endpoint) -> None:
    bare = statistics.median(results["uninstrumented"])
    header = (
        f"Endpoint `{endpoint.name}`. Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, "
        f"Python {platform.python_version()}, "
        f"Valgrind Cachegrind (`python bench/instructions.py`): instructions of every thread per request, from "
        f"runs of {args.requests} and {3 * args.requests} requests (8 clients) after {WARM_UP} warm-up requests; "
        f"{args.rounds} rounds; periodic work stretched {slowdown}x to match the slow-down."
    )
    lines = [
        "| variant | M instructions/req (rounds) | added to bare | bare ÷ variant (throughput at equal IPC) |",
        "|---|---|---:|---:|",
    ]
    for name, values in results.items():
        median = statistics.median(values)
        rounds = ", ".join(f"{value / 1e6:.2f}" for value in values)
        lines.append(
            f"| {name} | {median / 1e6:.2f} ({rounds}) | {(median - bare) / 1e6:+.2f} M ({median / bare - 1:+.1%}) "
            f"| {bare / median:.2f}x |"
        )
    publish(header, "\n".join(lines), args.write, f"instructions-{endpoint.name}")


if __name__ == "__main__":
    main()
