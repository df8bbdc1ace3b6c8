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

    python bench/tail.py [--pairs 12] [--window 5] [--endpoint light] [--only VARIANT ...] [--write docs/benchmarks.md]

The rate is the endpoint's share (as in ``overhead.py``: a third on the heavy endpoint, a quarter on
the light one) of the uninstrumented app's closed-loop capacity, measured at the start, or ``--rate``.
Each window also records the load generator's worst delay sending a request and each CPU's steal
(the time the hypervisor gave to other machines): the machine's own disturbance, reported with
the table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
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
    Endpoint,
    Variant,
    Window,
    add_endpoint_option,
    add_variant_options,
    backends,
    chosen_endpoints,
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
    send_delays_ms: list[float] = field(default_factory=list)  # the load generator's worst, per window
    steals_ms: list[float] = field(default_factory=list)  # all CPUs' steal, per window

    def add(self, window: Window) -> None:
        self.windows.append(window.latencies)
        self.failed += window.failed
        self.send_delays_ms.append(window.send_delay_ms)
        self.steals_ms.append(sum(window.steal_ms))

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


async def take_turns(apps: list[App], args: argparse.Namespace, rate: float, endpoint: Endpoint) -> None:
    """Alternate fixed-rate windows between the apps (first A B, then B A, ...), the idle one stopped.

    One client per app for the whole run: its connections, opened by the warm-up, stay open while
    the app is stopped, so no window starts with connection set-up."""
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with contextlib.AsyncExitStack() as stack:
        turns_of = []
        for process, base_url, turns in apps:
            http = await stack.enter_async_context(httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits))
            await send_at_rate(http, rate, WARM_UP_S, endpoint)
            process.send_signal(signal.SIGSTOP)
            turns_of.append((process, http, turns))
        for pair in range(args.pairs):
            for process, http, turns in turns_of if pair % 2 == 0 else turns_of[::-1]:
                process.send_signal(signal.SIGCONT)
                await asyncio.sleep(SETTLE_S)
                window = await send_at_rate(http, rate, args.window, endpoint)
                process.send_signal(signal.SIGSTOP)
                turns.add(window)


def pair_with_bare(
    bare: Variant, variant: Variant, args: argparse.Namespace, rate: float, endpoint: Endpoint
) -> Pairing:
    pairing = Pairing(variant.name, Turns(), Turns())
    with contextlib.ExitStack() as running:
        apps: list[App] = []
        for app, turns in ((bare, pairing.bare), (variant, pairing.other)):
            process, base_url = running.enter_context(serving(app, args.redis_url))
            warm_up(base_url, args.concurrency, endpoint)
            apps.append((process, base_url, turns))
        asyncio.run(take_turns(apps, args, rate, endpoint))
    return pairing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=12, help="window pairs per variant")
    parser.add_argument("--window", type=float, default=5.0, help="seconds of load per turn")
    parser.add_argument("--rate", type=float, help="requests per second (default: a third of bare capacity)")
    parser.add_argument("--requests", type=int, default=2000, help="closed-loop requests of the calibration")
    parser.add_argument("--concurrency", type=int, default=8)
    add_endpoint_option(parser)
    add_variant_options(parser)
    parser.add_argument("--write", type=Path)
    parser.add_argument("--summary", type=Path, help="also write the ratios as JSON here (for bench/all.py)")
    args = parser.parse_args()
    with backends() as (args.redis_url, collector):
        chosen = chosen_variants(args, collector, sink())
        measured = {endpoint: pair_all(chosen, args, endpoint) for endpoint in chosen_endpoints(args)}
    for endpoint, (pairings, rate) in measured.items():
        report(pairings, args, rate, endpoint)
    if args.summary:
        args.summary.write_text(json.dumps(summary(measured), indent=1))


def summary(measured: dict[Endpoint, tuple[list[Pairing], float]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per endpoint and variant: the p99s, their ratio and the pair-by-pair median ratio."""
    return {
        endpoint.name: {
            pairing.variant: {
                "rate": rate,
                "bare_p99_ms": pairing.bare.p99_ms(),
                "p99_ms": pairing.other.p99_ms(),
                "p99_ratio": pairing.ratio(),
                "pair_median_ratio": statistics.median(pairing.pair_ratios()),
                "failed": pairing.other.failed,
            }
            for pairing in pairings
        }
        for endpoint, (pairings, rate) in measured.items()
    }


def pair_all(chosen: list[Variant], args: argparse.Namespace, endpoint: Endpoint) -> tuple[list[Pairing], float]:
    """Every variant after the first (the uninstrumented app) paired with it on ``endpoint``; the rate."""
    bare, others = chosen[0], chosen[1:]
    rate = args.rate or calibrate(bare, args, endpoint)
    pairings = []
    for variant in others:
        pairing = pair_with_bare(bare, variant, args, rate, endpoint)
        print(
            f"{endpoint.name} {variant.name}: p99 {pairing.other.p99_ms():.1f} ms against "
            f"{pairing.bare.p99_ms():.1f} ms bare ({pairing.ratio():.2f}x)",
            file=sys.stderr,
            flush=True,
        )
        pairings.append(pairing)
    return pairings, rate


def calibrate(bare: Variant, args: argparse.Namespace, endpoint: Endpoint) -> float:
    """The fixed rate from the uninstrumented app's closed-loop throughput, as ``overhead.py`` sets it."""
    with serving(bare, args.redis_url) as (_, base_url):
        warm_up(base_url, args.concurrency, endpoint)
        elapsed, _ = asyncio.run(closed_loop(base_url, args.requests, args.concurrency, endpoint))
    return fixed_rate_of(args.requests / elapsed, endpoint)


def report(pairings: list[Pairing], args: argparse.Namespace, rate: float, endpoint: Endpoint) -> None:
    header = (
        f"Endpoint `{endpoint.name}` (`GET {endpoint.path}/{{id}}`). Measured {time.strftime('%Y-%m-%d')} on "
        f"{platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} cores: {rate:.0f} req/s "
        f"({endpoint.fixed_rate_share:.0%} of the uninstrumented capacity), each variant side by side with the "
        f"uninstrumented app (both pinned to CPU 0, the idle one stopped), {args.pairs} pairs of "
        f"{args.window:.0f} s turns; p99 over each app's pooled requests."
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
    lines += ["", machine_load(pairings)]
    publish(header, "\n".join(lines), args.write, f"tail-{endpoint.name}")


def machine_load(pairings: list[Pairing]) -> str:
    """What the machine did during the windows: the load generator's worst send delay and the steal."""
    turns = [turns for pairing in pairings for turns in (pairing.bare, pairing.other)]
    delays = [delay for one in turns for delay in one.send_delays_ms]
    steals = [steal for one in turns for steal in one.steals_ms]
    if not delays:
        return ""
    return (
        f"Machine load over the {len(delays)} windows: the load generator's worst delay sending a request, "
        f"median {statistics.median(delays):.1f} ms (highest {max(delays):.0f} ms); steal (both CPUs) median "
        f"{statistics.median(steals):.0f} ms per window (highest {max(steals):.0f} ms)."
    )


if __name__ == "__main__":
    main()
