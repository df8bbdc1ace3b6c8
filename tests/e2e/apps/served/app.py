"""The service's FastAPI app: a readiness route and one route that does a little work."""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from fastapi import FastAPI

app = FastAPI()


def crunch(rounds: int = 60_000) -> int:
    total = 0
    for value in range(rounds):
        total += value * value % 7
    return total


@app.get("/healthz")
async def healthz() -> dict[str, Any]:
    return {"pid": os.getpid()}


@app.get("/work")
def work() -> dict[str, Any]:
    with sqlite3.connect(":memory:") as connection:
        connection.execute("SELECT 1").fetchone()
    return {"pid": os.getpid(), "total": crunch()}
