"""Fixed-rate tail latency, each variant side by side with the uninstrumented app in short turns.

``bench/overhead.py`` measures each variant's fixed-rate p99 in one window per round, minutes away
from the uninstrumented app's window. On a shared VM, whose speed drifts within minutes and which
pauses now and then, that ratio moves between the rounds of one run by more than the differences
it is meant to show.

Here the uninstrumented app and one variant are started together, both pinned to CPU 0, and take
turns: while one serves a window of fixed-rate load, the other is stopped (``SIGSTOP``: none of its
threads runs, so it cannot take the core). The turns alternate in pairs (A B, B A, A B, ...) so that
both apps see the same stretches of the VM, and each app's p99 is taken over the requests of all
its windows. A stopped app's timers (span batches, metric export, profile uploads) fire when it
resumes, inside its own windows: the variant carries all of its periodic work, as in production.

    python bench/tail.py [--pairs 12] [--window 5] [--only VARIANT ...] [--write docs/benchmarks.md]

The rate is a third of the uninstrumented app's closed-loop capacity, measured at the start (as in
``overhead.py``), or ``--rate``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from _harness import publish, sink
from overhead import (
    Variant,
    add_variant_options,
    backends,
    chosen_variants,
    closed_loop,
    fixed_rate_of,
    percentile,
    send_at_rate,
    serving,
    warm_up,
)

SETTLE_S = 0.2  # after a resume, before the window's first request
WARM_UP_S = 3.0  # of fixed-rate load on each app before the turns: opens the connections the rate needs


@dataclass
class Turns:
    """The fixed-rate latencies of one app over its windows, and how many requests failed."""

    windows: list[list[float]] = field(default_factory=list)
    failed: int = 0

    @property
    def pooled(self) -> list[float]:
        return [latency for window in self.windows for latency in window]

    def p99_ms(self) -> float:
        return percentile(self.pooled, 0.99) * 1000

    def p50_ms(self) -> float:
        return percentile(self.pooled, 0.5) * 1000


@dataclass
class Pairing:
    variant: str
    bare: Turns
    other: Turns

    def ratio(self) -> float:
        return self.other.p99_ms() / self.bare.p99_ms()

    def pair_ratios(self) -> list[float]:
        """Each window pair's p99 ratio: how much one pair of turns can say on its own."""
        return [
            percentile(other, 0.99) / percentile(bare, 0.99)
            for bare, other in zip(self.bare.windows, self.other.windows, strict=True)
        ]


App = tuple[subprocess.Popen[bytes], str, Turns]  # the process, its base URL, its windows' latencies


async def take_turns(apps: list[App], args: argparse.Namespace, rate: float) -> None:
    """Alternate fixed-rate windows between the apps (first A B, then B A, ...), the idle one stopped.

    One client per app for the whole run: its connections, opened by the warm-up, stay open while
    the app is stopped, so no window starts with connection set-up."""
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with contextlib.AsyncExitStack() as stack:
        turns_of = []
        for process, base_url, turns in apps:
            http = await stack.enter_async_context(httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits))
            await send_at_rate(http, rate, WARM_UP_S)
            process.send_signal(signal.SIGSTOP)
            turns_of.append((process, http, turns))
        for pair in range(args.pairs):
            for process, http, turns in turns_of if pair % 2 == 0 else turns_of[::-1]:
                process.send_signal(signal.SIGCONT)
                await asyncio.sleep(SETTLE_S)
                window = await send_at_rate(http, rate, args.window)
                process.send_signal(signal.SIGSTOP)
                turns.windows.append(window.latencies)
                turns.failed += window.failed


def pair_with_bare(bare: Variant, variant: Variant, args: argparse.Namespace, rate: float) -> Pairing:
    pairing = Pairing(variant.name, Turns(), Turns())
    with contextlib.ExitStack() as running:
        apps: list[App] = []
        for app, turns in ((bare, pairing.bare), (variant, pairing.other)):
            process, base_url = running.enter_context(serving(app, args.redis_url))
            warm_up(base_url, args.concurrency)
            apps.append((process, base_url, turns))
        asyncio.run(take_turns(apps, args, rate))
    return pairing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=12, help="window pairs per variant")
    parser.add_argument("--window", type=float, default=5.0, help="seconds of load per turn")
    parser.add_argument("--rate", type=float, help="requests per second (default: a third of bare capacity)")
    parser.add_argument("--requests", type=int, default=2000, help="closed-loop requests of the calibration")
    parser.add_argument("--concurrency", type=int, default=8)
    add_variant_options(parser)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    with backends() as (args.redis_url, endpoint):
        chosen = chosen_variants(args, endpoint, sink())
        bare, others = chosen[0], chosen[1:]
        rate = args.rate or calibrate(bare, args)
        pairings = []
        for variant in others:
            pairing = pair_with_bare(bare, variant, args, rate)
            print(
                f"{variant.name}: p99 {pairing.other.p99_ms():.1f} ms against {pairing.bare.p99_ms():.1f} ms bare "
                f"({pairing.ratio():.2f}x)",
                file=sys.stderr,
                flush=True,
            )
            pairings.append(pairing)
    report(pairings, args, rate)


def calibrate(bare: Variant, args: argparse.Namespace) -> float:
    """The fixed rate from the uninstrumented app's closed-loop throughput, as ``overhead.py`` sets it."""
    with serving(bare, args.redis_url) as (_, base_url):
        warm_up(base_url, args.concurrency)
        elapsed, _ = asyncio.run(closed_loop(base_url, args.requests, args.concurrency))
    return fixed_rate_of(args.requests / elapsed)


def report(pairings: list[Pairing], args: argparse.Namespace, rate: float) -> None:
    header = (
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores: {rate:.0f} req/s, each variant side by side with the uninstrumented app "
        f"(both pinned to CPU 0, the idle one stopped), {args.pairs} pairs of {args.window:.0f} s turns; "
        "p99 over each app's pooled requests."
    )
    lines = [
        "| variant | bare p50 ms | p50 ms | bare p99 ms | p99 ms | p99 vs bare | pair by pair: median (range) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for pairing in pairings:
        ratios = pairing.pair_ratios()
        lines.append(
            f"| {pairing.variant} | {pairing.bare.p50_ms():.1f} | {pairing.other.p50_ms():.1f} "
            f"| {pairing.bare.p99_ms():.1f} | {pairing.other.p99_ms():.1f} | **{pairing.ratio():.2f}** "
            f"| {statistics.median(ratios):.2f} ({min(ratios):.2f} to {max(ratios):.2f}) |"
        )
    failed = [
        f"{pairing.variant} {pairing.other.failed} (bare {pairing.bare.failed})"
        for pairing in pairings
        if pairing.other.failed or pairing.bare.failed
    ]
    if failed:
        lines += ["", "Requests that failed (counted in the p99 with the time they took to fail): " + "; ".join(failed)]
    publish(header, "\n".join(lines), args.write, "tail")


if __name__ == "__main__":
    main()
