"""What observability costs the app: otelperf against upstream OpenTelemetry and ddtrace.

Two endpoints of one app (``bench/overhead_app.py``): ``heavy`` (Redis cache-aside, an ORM query,
a thread-pool CPU task of about a millisecond) and ``light`` (the same cache read, one Core SELECT,
a task of about a tenth of that), served by one uvicorn worker pinned to CPU 0; load, Redis, the
collector and the sinks on CPU 1. Variants run interleaved (A B C ... A B C ...) for several
rounds, each endpoint in turn; each table gives medians and ratios to the uninstrumented app:

- closed loop (8 clients as fast as the app answers): requests/s, p50/p99, CPU ms per request, RSS;
- fixed rate (open loop, a share of the uninstrumented app's capacity in round one: a third on the
  heavy endpoint, a quarter on the light one): p50/p99. "Well below saturation" for every variant:
  at half the bare capacity, an app that runs at 0.6x would be 83 % busy, and its p99 would
  measure queueing, not the instrumentation. The windows of two variants are minutes apart here;
  ``bench/tail.py`` compares each with the uninstrumented app in alternating turns, which the VM's
  drift moves far less.

Upstream (``opentelemetry-distro`` with the contrib FastAPI, Redis and SQLAlchemy
instrumentations, OTLP to a local collector) and ddtrace run from their own virtualenvs under
``~/.cache/otelperf/bench`` (SQLAlchemy < 2.1 there, the range the contrib instrumentation accepts).

    python bench/overhead.py [--rounds 3] [--requests 2000] [--endpoint light] [--write docs/benchmarks.md]
    python bench/overhead.py --only "otelperf, 100 % tracing" --baseline HEAD~1   # what a change bought
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from _harness import answers, cpu_seconds, free_port, publish, rss_mib, sink, steal_ms, thread_cpu_seconds
from _os_thread import POOL_THREAD, PYTHON_THREAD

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CACHE = Path(os.environ.get("OTELPERF_CACHE_DIR") or Path.home() / ".cache" / "otelperf") / "bench"
DEAD = "http://127.0.0.1:9"  # nothing listens: the collector-down variant


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of ``overhead_app``: its path prefix, and the fixed-rate load as a share of the
    uninstrumented app's closed-loop throughput on it."""

    name: str
    path: str
    fixed_rate_share: float

    def url(self, index: int) -> str:
        return f"{self.path}/{index}"


ENDPOINTS = {
    "heavy": Endpoint("heavy", "/work", 1 / 3),
    "light": Endpoint("light", "/light", 1 / 4),
}
WARM_UP_REQUESTS = 300  # closed loop, before anything is measured
APP_REQUIREMENTS = ["fastapi>=0.115", "uvicorn>=0.30", "redis>=5", "httpx>=0.27"]
UPSTREAM = [
    *APP_REQUIREMENTS,
    "sqlalchemy>=2.0,<2.1",
    "opentelemetry-distro==0.66b1",
    "opentelemetry-exporter-otlp-proto-grpc==1.45.1",
    "opentelemetry-instrumentation-fastapi==0.66b1",
    "opentelemetry-instrumentation-redis==0.66b1",
    "opentelemetry-instrumentation-sqlalchemy==0.66b1",
]
DDTRACE = [*APP_REQUIREMENTS, "sqlalchemy>=2.0,<2.1", "ddtrace==4.16.0"]


def venv(name: str, requirements: list[str]) -> Path:
    """A virtualenv with ``requirements``, cached by their hash; returns its bin folder."""
    digest = hashlib.sha256("\n".join(requirements).encode()).hexdigest()[:12]
    folder = CACHE / f"{name}-{digest}"
    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
        subprocess.run([str(folder / "bin" / "pip"), "install", "-q", *requirements], check=True)
        (folder / ".complete").touch()
    return folder / "bin"


def worktree(revision: str) -> Path:
    """otelperf's source at ``revision``, checked out once under the cache (for before/after runs)."""
    sha = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short=12", revision], capture_output=True, text=True, check=True
    ).stdout.strip()
    folder = CACHE / f"otelperf-{sha}"
    if not (folder / "otelperf" / "__init__.py").exists():
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run(["git", "-C", str(REPO), "worktree", "prune"], check=True)
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(folder), sha], check=True)
    return folder


def start_collector(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = subprocess.run(
        ["bash", str(REPO / "collector-config" / "build.sh")], capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    port = free_port()
    config = work / "collector.yaml"
    config.write_text(
        f"""receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{port}
processors:
  batch: {{}}
exporters:
  file:
    path: /dev/null
service:
  telemetry:
    logs:
      level: error
    metrics:
      level: none
  pipelines:
    traces: {{receivers: [otlp], processors: [batch], exporters: [file]}}
    metrics: {{receivers: [otlp], processors: [batch], exporters: [file]}}
"""
    )
    process = subprocess.Popen(
        ["taskset", "-c", "1", binary, "--config", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    time.sleep(2)
    return process, f"http://127.0.0.1:{port}"


@dataclass
class Variant:
    name: str
    bin: Path
    launcher: list[str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float
    rss_mib: float
    pool_cpu_ms: float = 0.0  # CPU per request of the app's own thread-pool task: the same work in every variant
    main_cpu_ms: float = 0.0  # CPU per request of the main thread: the event loop serving the requests
    native_cpu_ms: float = 0.0  # CPU per request of the threads Python did not start: a profiling agent's
    fixed_p50_ms: float = 0.0
    fixed_p99_ms: float = 0.0
    fixed_failed: int = 0  # fixed-rate requests that failed (counted in its latencies at their failure)
    fixed_send_delay_ms: float = 0.0  # the load generator's worst delay sending a fixed-rate request
    fixed_steal_ms: tuple[float, ...] = ()  # per CPU, taken by the hypervisor during the fixed-rate window

    @property
    def cpu_per_pool(self) -> float:
        """CPU per request in units of the pool task's: steadier than milliseconds on a VM whose speed
        drifts, for variants whose pool task is instrumented alike (collector up against down)."""
        return self.cpu_ms / self.pool_cpu_ms if self.pool_cpu_ms else float("nan")

    @property
    def other_cpu_ms(self) -> float:
        """CPU per request of every thread but the event loop's and the pool's: span and metric
        export, gRPC, the agents' threads. The request path itself does not change when the
        collector is down; this is where collector up and down differ."""
        return max(self.cpu_ms - self.main_cpu_ms - self.pool_cpu_ms, 0.0)


def thread_groups_cpu_seconds(pid: int) -> tuple[float, float, float]:
    """CPU time so far of the app's thread-pool threads (``overhead_app.POOL_THREAD``), of its main
    thread, and of the native threads (neither named by ``overhead_app``: a profiling agent's)."""
    threads = thread_cpu_seconds(pid)
    pool = sum(seconds for name, seconds in threads.values() if name == POOL_THREAD)
    native = sum(seconds for name, seconds in threads.values() if name not in (POOL_THREAD, PYTHON_THREAD))
    return pool, threads.get(pid, ("", 0.0))[1], native


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def closed_loop(
    base_url: str, requests: int, concurrency: int, endpoint: Endpoint = ENDPOINTS["heavy"]
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    sent = 0

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal sent
        while sent < requests:
            sent += 1
            started = time.perf_counter()
            (await http.get(endpoint.url(sent))).raise_for_status()
            latencies.append(time.perf_counter() - started)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        return time.perf_counter() - started, latencies


def fixed_rate_of(bare_rps: float, endpoint: Endpoint) -> float:
    """The fixed-rate load: the endpoint's share of the uninstrumented app's throughput, to 10 req/s."""
    return float(round(bare_rps * endpoint.fixed_rate_share / 10) * 10)


def warm_up(base_url: str, concurrency: int, endpoint: Endpoint = ENDPOINTS["heavy"]) -> None:
    asyncio.run(closed_loop(base_url, WARM_UP_REQUESTS, concurrency, endpoint))


@dataclass
class Window:
    """One window of fixed-rate load: each request's latency (a failed one's: the time it took to
    fail), how many failed, and whether the machine held everything up meanwhile."""

    latencies: list[float]
    failed: int
    # The load generator's worst lateness sending a request. It runs on the other CPU: when it is
    # late by as much as the slowest requests took, the whole VM stalled, not the app.
    send_delay_ms: float
    steal_ms: tuple[float, ...]  # per CPU, the time the hypervisor took from this VM in the window


async def fixed_rate(base_url: str, rate: float, seconds: float, endpoint: Endpoint) -> Window:
    """Requests sent at ``rate`` for ``seconds``: their latencies, and what the machine did meanwhile."""
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as http:
        return await send_at_rate(http, rate, seconds, endpoint)


async def send_at_rate(http: httpx.AsyncClient, rate: float, seconds: float, endpoint: Endpoint) -> Window:
    """``fixed_rate`` on a client that is already open (``bench/tail.py`` keeps one per app).

    A request that fails (an error status, or 30 s without a connection or an answer) counts with
    the time it took to fail, so a stall shows in the p99 and in the count instead of ending the run."""
    latencies: list[float] = []
    failed = 0

    async def one(index: int) -> None:
        nonlocal failed
        started = time.perf_counter()
        try:
            (await http.get(endpoint.url(index))).raise_for_status()
        except httpx.HTTPError:
            failed += 1
        latencies.append(time.perf_counter() - started)

    tasks = []
    worst_delay = 0.0
    steal_before = steal_ms()
    with load_generator_without_gc():
        begin = time.perf_counter()
        for index in range(int(rate * seconds)):
            due = begin + index / rate
            if due > time.perf_counter():
                await asyncio.sleep(due - time.perf_counter())
            worst_delay = max(worst_delay, time.perf_counter() - due)
            tasks.append(asyncio.create_task(one(index)))
        await asyncio.gather(*tasks)
    steal = tuple(after - before for before, after in zip(steal_before, steal_ms(), strict=True))
    return Window(latencies, failed, worst_delay * 1000, steal)


@contextlib.contextmanager
def load_generator_without_gc() -> Iterator[None]:
    """No cyclic garbage collection in this process (the load) during a window. A full collection of
    the load generator's heap pauses it for tens of milliseconds; the requests in flight then wait
    for the load to read their answers, and each such pause puts requests of every variant, the
    uninstrumented app's too, among the slowest 1 %."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def app_environment(variant: Variant, redis_url: str) -> dict[str, str]:
    """The environment of one run of ``variant``: this one's, less any telemetry settings, plus the variant's."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "OTELPERF_", "DD_"))}
    env.update(variant.env, REDIS_URL=redis_url, PYTHONUNBUFFERED="1")
    return env


def app_command(variant: Variant, port: int) -> list[str]:
    """``variant``'s launcher and uvicorn serving the benchmark app on ``port``. Run it from ``bench/``,
    not the repository root: opentelemetry-instrument puts the working directory on sys.path ahead of
    PYTHONPATH, so from there a --baseline variant would import today's otelperf."""
    return [
        *variant.launcher, str(variant.bin / "uvicorn"), "overhead_app:app",
        "--app-dir", str(REPO / "bench"), "--port", str(port), "--no-access-log",
        # Idle connections stay open through bench/tail.py's stopped turns: no reconnections in its windows.
        "--timeout-keep-alive", "600",
    ]  # fmt: skip


@contextlib.contextmanager
def serving(variant: Variant, redis_url: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``variant`` serving the benchmark app on CPU 0, answering at the yielded base URL; stopped after."""
    port = free_port()
    env = app_environment(variant, redis_url)
    command = ["taskset", "-c", "0", *app_command(variant, port)]
    with tempfile.NamedTemporaryFile(prefix=f"bench-{variant.name}-", suffix=".log", delete=False) as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO / "bench")
    base_url = f"http://127.0.0.1:{port}"
    try:
        if not answers(f"{base_url}/work/1"):
            raise RuntimeError(f"{variant.name} did not start; see {log.name}")
        if variant.name.startswith("otelperf") and _says_otelperf_failed(Path(log.name)):
            raise RuntimeError(f"{variant.name} answers, but otelperf failed to load in it; see {log.name}")
        yield process, base_url
    finally:
        process.send_signal(signal.SIGCONT)  # a stopped process (bench/tail.py) cannot act on SIGTERM
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def _says_otelperf_failed(log: Path) -> bool:
    """Whether the app's log says the launcher could not load otelperf's distro (the package is
    missing, or broken): the app then serves uninstrumented, and would be measured as the bare app
    under otelperf's name. (A ``--baseline`` revision whose start-up line's entry point the installed
    distribution names differently fails later, after instrumenting: that one is measured.)"""
    return "Distribution otelperf configuration failed" in log.read_text(errors="replace")


def run(variant: Variant, args: argparse.Namespace, rate: float | None, endpoint: Endpoint) -> Run:
    with serving(variant, args.redis_url) as (process, base_url):
        warm_up(base_url, args.concurrency, endpoint)
        before, (pool_before, main_before, native_before) = (
            cpu_seconds(process.pid),
            thread_groups_cpu_seconds(process.pid),
        )
        elapsed, latencies = asyncio.run(closed_loop(base_url, args.requests, args.concurrency, endpoint))
        used = cpu_seconds(process.pid) - before
        pool_after, main_after, native_after = thread_groups_cpu_seconds(process.pid)
        result = Run(
            rps=args.requests / elapsed,
            p50_ms=percentile(latencies, 0.5) * 1000,
            p99_ms=percentile(latencies, 0.99) * 1000,
            cpu_ms=used / args.requests * 1000,
            rss_mib=rss_mib(process.pid),
            pool_cpu_ms=(pool_after - pool_before) / args.requests * 1000,
            main_cpu_ms=(main_after - main_before) / args.requests * 1000,
            native_cpu_ms=(native_after - native_before) / args.requests * 1000,
        )
        if rate:
            window = asyncio.run(fixed_rate(base_url, rate, args.fixed_seconds, endpoint))
            result.fixed_p50_ms = percentile(window.latencies, 0.5) * 1000
            result.fixed_p99_ms = percentile(window.latencies, 0.99) * 1000
            result.fixed_failed = window.failed
            result.fixed_send_delay_ms = window.send_delay_ms
            result.fixed_steal_ms = window.steal_ms
    return result


def _full_tracing(collector: str) -> tuple[list[str], dict[str, str]]:
    """Launcher and environment of ``otelperf, 100 % tracing``, which baselines and experiments vary."""
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector, "OTEL_SERVICE_NAME": "bench", "OTEL_TRACES_SAMPLER": "always_on"}
    return [str(BIN / "opentelemetry-instrument")], env


def baseline_variants(collector: str, revisions: list[str], sink_url: str | None = None) -> list[Variant]:
    """``otelperf, 100 % tracing`` and otelperf's defaults (and, given a Pyroscope ``sink_url``,
    ``100 % + profiling``) as they were at each revision: its source first on ``PYTHONPATH`` (the
    installed distribution's entry points then load that code; an entry point whose module the
    revision lacks is skipped, and the contrib instrumentor it replaces loads). An instrumentor the
    revision declares under an entry point the installed distribution lacks is not loaded at all:
    check the baseline's start-up line."""
    chosen = []
    for rev in revisions:
        path = {"PYTHONPATH": str(worktree(rev))}
        launcher, full = _full_tracing(collector)
        labelled = [("100 % tracing", full), ("10 % sampling (production)", _production(collector)[1])]
        if sink_url:
            labelled.append(("100 % + profiling", {**full, "OTELPERF_PYROSCOPE_ENDPOINT": sink_url}))
        for label, env in labelled:
            chosen.append(Variant(f"otelperf, {label}, at {rev}", BIN, launcher, {**env, **path}))
    return chosen


def _production(collector: str) -> tuple[list[str], dict[str, str]]:
    """Launcher and environment of ``otelperf, 10 % sampling (production)``: otelperf's defaults."""
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector,
        "OTEL_SERVICE_NAME": "bench",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.1",
    }
    return [str(BIN / "opentelemetry-instrument")], env


def experiment_variants(
    collector: str, tries: list[str], production: bool = False, sink_url: str = ""
) -> list[Variant]:
    """``otelperf, 100 % tracing`` (or, with ``production``, otelperf's defaults) with extra environment
    variables, one variant per ``LABEL:VAR=VALUE,...``; ``{sink}`` in a value is the bench's Pyroscope sink."""
    launcher, env = _production(collector) if production else _full_tracing(collector)
    base = "10 % sampling (production)" if production else "100 % tracing"
    chosen = []
    for spec in tries:
        label, _, assignments = spec.partition(":")
        # A comma starts the next assignment only before ``NAME=``: values may hold commas.
        extra = dict(item.split("=", 1) for item in re.split(r",(?=[A-Z_][A-Z0-9_]*=)", assignments) if item)
        extra = {name: value.replace("{sink}", sink_url) for name, value in extra.items()}
        chosen.append(Variant(f"otelperf, {base}, {label}", BIN, launcher, {**env, **extra}))
    return chosen


def variants(collector: str, sink_url: str) -> list[Variant]:
    otelperf = [str(BIN / "opentelemetry-instrument")]
    exporting = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector, "OTEL_SERVICE_NAME": "bench"}
    full = {**exporting, "OTEL_TRACES_SAMPLER": "always_on"}
    upstream_bin = venv("upstream", UPSTREAM)
    ddtrace_bin = venv("ddtrace", DDTRACE)
    ddtrace_run = [str(ddtrace_bin / "ddtrace-run")]
    agent = {"DD_TRACE_AGENT_URL": sink_url, "DD_SERVICE": "bench", "DD_INSTRUMENTATION_TELEMETRY_ENABLED": "false"}
    return [
        Variant("uninstrumented", BIN, []),
        Variant(
            "upstream opentelemetry-instrument",
            upstream_bin,
            [str(upstream_bin / "opentelemetry-instrument")],
            {**full, "OTEL_PYTHON_DISTRO": "distro", "OTEL_PYTHON_CONFIGURATOR": "configurator"},
        ),
        Variant("otelperf, 100 % tracing", BIN, otelperf, full),
        Variant("otelperf, 100 % + profiling", BIN, otelperf, {**full, "OTELPERF_PYROSCOPE_ENDPOINT": sink_url}),
        Variant("otelperf, 10 % sampling (production)", BIN, *_production(collector)),
        Variant(
            "otelperf, 10 % sampling + profiling",
            BIN,
            otelperf,
            {**_production(collector)[1], "OTELPERF_PYROSCOPE_ENDPOINT": sink_url},
        ),
        Variant("otelperf, 100 %, collector down", BIN, otelperf, {**full, "OTEL_EXPORTER_OTLP_ENDPOINT": DEAD}),
        Variant("ddtrace-run", ddtrace_bin, ddtrace_run, agent),
        Variant("ddtrace-run + profiler", ddtrace_bin, ddtrace_run, {**agent, "DD_PROFILING_ENABLED": "true"}),
    ]  # fmt: skip


def add_variant_options(parser: argparse.ArgumentParser) -> None:
    """The options that choose the variants (shared with ``bench/instructions.py``)."""
    parser.add_argument(
        "--only", action="append", help="a variant to run besides uninstrumented (repeatable; names hold commas)"
    )
    parser.add_argument(
        "--baseline",
        action="append",
        default=[],
        help="also run otelperf (100 %% tracing, defaults, profiling) as it was at this git revision (repeatable)",
    )
    parser.add_argument(
        "--try",
        dest="tries",
        action="append",
        default=[],
        metavar="LABEL:VAR=VALUE,...",
        help="also run otelperf (100 %% tracing) with these environment variables (repeatable): experiments; "
        "{sink} stands for the bench's Pyroscope sink",
    )
    parser.add_argument(
        "--try-production",
        dest="production_tries",
        action="append",
        default=[],
        metavar="LABEL:VAR=VALUE,...",
        help="the same, on otelperf's defaults (10 %% sampling): what each part of the defaults costs",
    )


def chosen_variants(
    args: argparse.Namespace, collector: str, sink_url: str, only: list[str] | None = None
) -> list[Variant]:
    """The variants ``add_variant_options`` chose: uninstrumented first, then ``--only`` (or ``only``,
    or all), the baselines and the experiments."""
    chosen = variants(collector, sink_url)
    wanted = args.only or only
    if wanted:
        chosen = [variant for variant in chosen if variant.name in {"uninstrumented", *wanted}]
    chosen += baseline_variants(collector, args.baseline, sink_url)
    chosen += experiment_variants(collector, args.tries, sink_url=sink_url)
    chosen += experiment_variants(collector, args.production_tries, production=True, sink_url=sink_url)
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    # 30 s at a third of capacity is about 3 000 requests: the p99 is the 30th slowest, not the 8th of 720.
    parser.add_argument("--fixed-seconds", type=float, default=30.0)
    add_endpoint_option(parser)
    add_variant_options(parser)
    parser.add_argument("--write", type=Path)
    parser.add_argument("--summary", type=Path, help="also write the medians as JSON here (for bench/all.py)")
    args = parser.parse_args()
    with backends() as (args.redis_url, collector):
        chosen = chosen_variants(args, collector, sink())
        measured = measure(chosen, args, chosen_endpoints(args))
    for endpoint, (results, rate) in measured.items():
        report(results, args, rate, endpoint)
    if args.summary:
        args.summary.write_text(json.dumps(summary(measured), indent=1))


def summary(measured: Measured) -> dict[str, dict[str, dict[str, float]]]:
    """Per endpoint and variant: the medians of each measured field, and the fixed rate."""
    names = [field_.name for field_ in dataclasses.fields(Run) if field_.type in ("float", float)]
    return {
        endpoint.name: {
            "fixed_rate": {"rate": rate},
            **{
                variant: {
                    **{name: float(statistics.median(getattr(run_, name) for run_ in runs)) for name in names},
                    "rps_min": min(run_.rps for run_ in runs),
                    "rps_max": max(run_.rps for run_ in runs),
                }
                for variant, runs in results.items()
            },
        }
        for endpoint, (results, rate) in measured.items()
    }


def add_endpoint_option(parser: argparse.ArgumentParser) -> None:
    """``--endpoint`` (shared with ``bench/tail.py``)."""
    parser.add_argument(
        "--endpoint",
        action="append",
        choices=sorted(ENDPOINTS),
        help="an endpoint to measure (repeatable; default: heavy and light)",
    )


def chosen_endpoints(args: argparse.Namespace) -> list[Endpoint]:
    return [ENDPOINTS[name] for name in args.endpoint or ("heavy", "light")]


Measured = dict[Endpoint, tuple[dict[str, list[Run]], float]]  # per endpoint: runs per variant, fixed rate


def measure(chosen: list[Variant], args: argparse.Namespace, endpoints: list[Endpoint]) -> Measured:
    """``args.rounds`` rounds; in each, every endpoint in turn with every variant in turn. The first
    run of an endpoint (the uninstrumented app's) sets its fixed rate, and runs again with it."""
    measured: Measured = {endpoint: ({variant.name: [] for variant in chosen}, 0.0) for endpoint in endpoints}
    for round_index in range(args.rounds):
        for endpoint in endpoints:
            results, rate = measured[endpoint]
            for variant in chosen:
                result = run(variant, args, rate or None, endpoint)
                if not rate:
                    rate = fixed_rate_of(result.rps, endpoint)
                    measured[endpoint] = results, rate
                    result = run(variant, args, rate, endpoint)
                results[variant.name].append(result)
                print(f"round {round_index + 1} {endpoint.name} {variant.name}: {result}", file=sys.stderr, flush=True)
    return measured


@contextlib.contextmanager
def backends() -> Iterator[tuple[str, str]]:
    """Redis and the collector, on CPU 1 with this process (the load): their URLs, for the run."""
    os.sched_setaffinity(0, {1})
    work = Path(tempfile.mkdtemp(prefix="otelperf-bench-"))
    redis_port = free_port()
    redis_process = subprocess.Popen(
        ["taskset", "-c", "1", "redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    collector, endpoint = start_collector(work)
    try:
        yield f"redis://127.0.0.1:{redis_port}/0", endpoint
    finally:
        collector.terminate()
        redis_process.terminate()


def report(results: dict[str, list[Run]], args: argparse.Namespace, rate: float, endpoint: Endpoint) -> None:
    def median(name: str, attribute: str) -> float:
        return float(statistics.median(getattr(run_, attribute) for run_ in results[name]))

    base = "uninstrumented"
    header = (
        f"Endpoint `{endpoint.name}` (`GET {endpoint.path}/{{id}}`). Measured {time.strftime('%Y-%m-%d')} on "
        f"{platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} cores: app pinned to CPU 0, "
        f"load/Redis/collector on CPU 1; {args.rounds} interleaved rounds, medians. Closed loop: "
        f"{args.concurrency} clients, {args.requests} requests. Fixed rate: {rate:.0f} req/s for "
        f"{args.fixed_seconds:.0f} s ({endpoint.fixed_rate_share:.0%} of the uninstrumented capacity)."
    )
    lines = [
        "| variant | req/s | vs bare | p50 ms | p99 ms | CPU ms/req | CPU ÷ pool task's | other threads' CPU ms/req "
        "| native threads' CPU ms/req | RSS MiB | fixed-rate p50 ms | fixed-rate p99 ms | p99 vs bare |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in results:
        lines.append(
            f"| {name} | {median(name, 'rps'):.0f} | {median(name, 'rps') / median(base, 'rps'):.2f} "
            f"| {median(name, 'p50_ms'):.1f} | {median(name, 'p99_ms'):.1f} | {median(name, 'cpu_ms'):.2f} "
            f"| {median(name, 'cpu_per_pool'):.2f} | {median(name, 'other_cpu_ms'):.2f} "
            f"| {median(name, 'native_cpu_ms'):.3f} "
            f"| {median(name, 'rss_mib'):.0f} "
            f"| {median(name, 'fixed_p50_ms'):.1f} "
            f"| {median(name, 'fixed_p99_ms'):.1f} "
            f"| {median(name, 'fixed_p99_ms') / median(base, 'fixed_p99_ms'):.2f} |"
        )
    lines.extend(collector_down_summary(results))
    lines.extend(failures_summary(results))
    lines.extend(fixed_windows_by_round(results))
    publish(header, "\n".join(lines), args.write, f"overhead-{endpoint.name}")


def failures_summary(results: dict[str, list[Run]]) -> list[str]:
    """The fixed-rate requests that failed, per variant and round (none: nothing is said)."""
    failed = {name: [run_.fixed_failed for run_ in runs] for name, runs in results.items()}
    if not any(any(counts) for counts in failed.values()):
        return []
    return [
        "",
        "Fixed-rate requests that failed (counted in the p99 with the time they took to fail), by round: "
        + "; ".join(f"{name} {', '.join(map(str, counts))}" for name, counts in failed.items() if any(counts))
        + ".",
    ]


def fixed_windows_by_round(results: dict[str, list[Run]]) -> list[str]:
    """Each fixed-rate window's p99 against its round's uninstrumented one, with what the machine did
    in it: a round where every variant is high and the load generator was late too stalled the VM."""
    bare = results["uninstrumented"]
    rounds = len(bare)
    lines = [
        "",
        "Fixed-rate windows round by round: p99 vs the round's uninstrumented p99 (the load generator's worst "
        "delay sending a request, ms; each CPU's steal, ms).",
        "",
        "| variant | " + " | ".join(f"round {index + 1}" for index in range(rounds)) + " |",
        "|---|" + "---:|" * rounds,
    ]
    for name, runs in results.items():
        cells = [
            f"{run_.fixed_p99_ms / base.fixed_p99_ms:.2f} ({run_.fixed_send_delay_ms:.0f}; "
            + "/".join(f"{steal:.0f}" for steal in run_.fixed_steal_ms)
            + ")"
            for run_, base in zip(runs, bare, strict=False)
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def collector_down_summary(results: dict[str, list[Run]]) -> list[str]:
    """Collector down against up, round by round (the target: it costs at most 2 % more)."""
    up, down = results.get("otelperf, 100 % tracing"), results.get("otelperf, 100 %, collector down")
    if not up or not down:
        return []
    pairs = list(zip(up, down, strict=False))
    normalised = [d.cpu_per_pool / u.cpu_per_pool - 1 for u, d in pairs]
    other = [(d.other_cpu_ms - u.other_cpu_ms) / u.cpu_ms for u, d in pairs]
    return [
        "",
        "Collector down against up, round by round: CPU per request in pool-task units "
        + ", ".join(f"{value:+.1%}" for value in normalised)
        + f" (median {statistics.median(normalised):+.1%}); the other threads' CPU (export, gRPC), "
        "as a share of a request's CPU with the collector up: "
        + ", ".join(f"{value:+.1%}" for value in other)
        + f" (median {statistics.median(other):+.1%}).",
    ]


if __name__ == "__main__":
    main()
