"""Every benchmark of ``docs/benchmarks.md``, one after the other, and the targets they are held to.

    python bench/all.py --write docs/benchmarks.md [--skip instructions] [--skip micro] ...
        [--rounds 3] [--fixed-seconds 30] [--pairs 12]

Runs ``instructions.py`` (the light endpoint, Valgrind), ``micro.py``, ``profiling_cost.py``,
``overhead.py`` (both endpoints) and ``tail.py`` (both endpoints), each writing its own blocks,
then writes the ``targets`` block: the light endpoint's figures against the targets below, from
the overhead and tail runs of this invocation. ``--skip`` leaves a part out (its blocks keep
what they had; the targets need ``overhead`` and ``tail``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _harness import replace_block

BENCH = Path(__file__).resolve().parent
PARTS = ("instructions", "micro", "profiling_cost", "overhead", "tail")
BARE = "uninstrumented"
PRODUCTION = "otelperf, 10 % sampling (production)"
PRODUCTION_PROFILED = "otelperf, 10 % sampling + profiling"
FULL = "otelperf, 100 % tracing"
FULL_PROFILED = "otelperf, 100 % + profiling"
COLLECTOR_DOWN = "otelperf, 100 %, collector down"
UPSTREAM = "upstream opentelemetry-instrument"
DDTRACE = "ddtrace-run"
DDTRACE_PROFILED = "ddtrace-run + profiler"
# tail.py leaves out the collector-down variant: its tail is not what a healthy service sees.
TAIL_VARIANTS = [UPSTREAM, FULL, FULL_PROFILED, PRODUCTION, PRODUCTION_PROFILED, DDTRACE, DDTRACE_PROFILED]


@dataclass
class Target:
    what: str
    figure: float
    bound: float
    at_least: bool  # the figure must be >= bound (else <=)
    unit: str = "x"

    def met(self) -> bool:
        return self.figure >= self.bound if self.at_least else self.figure <= self.bound

    def row(self) -> str:
        sign = "≥" if self.at_least else "≤"
        figure = f"{self.figure:.1%}" if self.unit == "%" else f"{self.figure:.2f}x"
        bound = f"{self.bound:.0%}" if self.unit == "%" else f"{self.bound:.2f}x"
        return f"| {self.what} | {sign} {bound} | {figure} | {'met' if self.met() else '**not met**'} |"


def run(script: str, *options: str) -> None:
    command = [sys.executable, str(BENCH / script), *options]
    print("$", " ".join(command), file=sys.stderr, flush=True)
    subprocess.run(command, check=True, cwd=BENCH.parent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", type=Path, required=True)
    parser.add_argument("--skip", action="append", default=[], choices=PARTS)
    parser.add_argument("--endpoint", action="append", default=[], help="overhead.py's and tail.py's (default: both)")
    parser.add_argument("--rounds", default="3", help="overhead.py's rounds")
    parser.add_argument("--fixed-seconds", default="30", help="overhead.py's fixed-rate window")
    parser.add_argument("--pairs", default="12", help="tail.py's window pairs per variant")
    args = parser.parse_args()
    write = ["--write", str(args.write.resolve())]
    work = Path(tempfile.mkdtemp(prefix="otelperf-bench-all-"))
    started = time.monotonic()
    endpoints = [option for name in args.endpoint for option in ("--endpoint", name)]
    if "instructions" not in args.skip:
        run("instructions.py", "--endpoint", "light", *write)
    if "micro" not in args.skip:
        run("micro.py", *write)
    if "profiling_cost" not in args.skip:
        run("profiling_cost.py", *write)
    if "overhead" not in args.skip:
        timing = ["--rounds", args.rounds, "--fixed-seconds", args.fixed_seconds, *endpoints]
        run("overhead.py", *timing, "--summary", str(work / "overhead.json"), *write)
    if "tail" not in args.skip:
        only = [option for name in TAIL_VARIANTS for option in ("--only", name)]
        run("tail.py", *only, *endpoints, "--pairs", args.pairs, "--summary", str(work / "tail.json"), *write)
    if (work / "overhead.json").exists() and (work / "tail.json").exists():
        overhead = json.loads((work / "overhead.json").read_text())["light"]
        tail = json.loads((work / "tail.json").read_text())["light"]
        replace_block(args.write, "targets", targets(overhead, tail))
        print(targets(overhead, tail))
    print(f"all done in {(time.monotonic() - started) / 60:.0f} min", file=sys.stderr)


def targets(overhead: dict[str, Any], tail: dict[str, Any]) -> str:
    """The light endpoint's targets, each with its figure from this run, and the peers' columns."""
    bare = overhead[BARE]

    def throughput(variant: str) -> float:
        return float(overhead[variant]["rps"] / bare["rps"])

    profiler_added = (overhead[PRODUCTION_PROFILED]["cpu_ms"] - overhead[PRODUCTION]["cpu_ms"]) / bare["cpu_ms"]
    agent = overhead[PRODUCTION_PROFILED]["native_cpu_ms"] / bare["cpu_ms"]
    pro, full = PRODUCTION_PROFILED, FULL_PROFILED
    rows = [
        Target("10 % sampling + profiling: throughput vs bare", throughput(pro), 0.85, True),
        Target("100 % tracing + profiling: throughput vs bare", throughput(full), 0.60, True),
        Target("10 % sampling + profiling: p99 at a fixed rate vs bare", tail[pro]["p99_ratio"], 1.5, False),
        Target("100 % tracing + profiling: p99 at a fixed rate vs bare", tail[full]["p99_ratio"], 2.0, False),
        Target(
            "the profiler at its defaults: added CPU per request vs the bare app's", profiler_added, 0.03, False, "%"
        ),
    ]
    lines = [
        "| target (light endpoint) | bound | this run | |",
        "|---|---:|---:|---|",
        *(target.row() for target in rows),
        "",
        f"The profiler's added CPU is the CPU per request of `{PRODUCTION_PROFILED}` less that of "
        f"`{PRODUCTION}` (closed loop, medians of the rounds), over the bare app's; of it, the agent's own "
        f"threads took {agent:.1%} of the bare app's CPU per request, read from their own CPU time in the "
        "same windows.",
        "",
        "| variant | throughput vs bare | added CPU ms/request | p99 at a fixed rate vs bare (`tail.py`) |",
        "|---|---:|---:|---:|",
    ]
    for variant in [
        UPSTREAM,
        DDTRACE,
        DDTRACE_PROFILED,
        FULL,
        FULL_PROFILED,
        PRODUCTION,
        PRODUCTION_PROFILED,
        COLLECTOR_DOWN,
    ]:
        added = overhead[variant]["cpu_ms"] - bare["cpu_ms"]
        p99 = f"{tail[variant]['p99_ratio']:.2f}x" if variant in tail else "-"
        lines.append(f"| {variant} | {throughput(variant):.2f}x | {added:.2f} | {p99} |")
    lines += ["", f"The bare app used {bare['cpu_ms']:.2f} ms of CPU per request."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
