"""A FastAPI app with one distinct hot function per way work runs, for the profiling tests.

- ``/alpha`` and ``/beta``: async endpoints that yield to the loop between CPU chunks, so
  concurrent requests interleave on the event-loop thread;
- ``/gamma``: a sync ``def`` endpoint (Starlette's threadpool);
- ``/delta``: an async endpoint handing its work to a ``ThreadPoolExecutor``.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import FastAPI

app = FastAPI()
pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="crunch")


def _spin(rounds: int) -> int:
    total = 0
    for value in range(rounds):
        total += value * value
    return total


def hot_alpha() -> int:
    return _spin(40_000)


def hot_beta() -> int:
    return _spin(40_000)


def hot_gamma() -> int:
    return _spin(120_000)


def hot_delta() -> int:
    return _spin(120_000)


def hot_epsilon(rounds: int = 150_000) -> int:
    """Spins in its own frame: the top self-time function of ``/epsilon``."""
    total = 0
    for value in range(rounds):
        total += value % 7
    return total


@app.get("/epsilon")
def epsilon() -> dict[str, Any]:
    return {"total": hot_epsilon()}


@app.get("/healthz")
async def healthz() -> dict[str, Any]:
    return {"ok": True, "pid": os.getpid()}


@app.get("/alpha")
async def alpha() -> dict[str, Any]:
    for _ in range(3):
        hot_alpha()
        await asyncio.sleep(0)  # let the other requests' steps run in between
    return {"route": "alpha"}


@app.get("/beta")
async def beta() -> dict[str, Any]:
    for _ in range(3):
        hot_beta()
        await asyncio.sleep(0)
    return {"route": "beta"}


@app.get("/gamma")
def gamma() -> dict[str, Any]:
    hot_gamma()
    return {"route": "gamma"}


@app.get("/delta")
async def delta() -> dict[str, Any]:
    await asyncio.get_running_loop().run_in_executor(pool, hot_delta)
    return {"route": "delta"}
