"""A cardinality bomb, run under ``opentelemetry-instrument``: BOMB_N distinct URL paths (half of
them unknown), BOMB_N distinct cache keys and BOMB_N distinct statements (each on its own table
name), driven in-process. Prints the series count per metric and the overflow counts as JSON."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from typing import Any

import sqlalchemy
from fastapi import FastAPI

import otelperf
from otelperf.instrumentation.cache.memory import MeteredCache

N = int(os.environ["BOMB_N"])
app = FastAPI()


@app.get("/items/{item_id}")
async def item(item_id: str) -> dict[str, str]:
    return {"id": item_id}


async def _request(path: str) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bomb")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    await app(scope, receive, send)


async def paths() -> None:
    for index in range(N):
        await _request(f"/items/{index}" if index % 2 else f"/no/such/path/{index}")


def main() -> None:
    timings = {}
    started = time.perf_counter()
    asyncio.run(paths())
    timings["paths_s"] = time.perf_counter() - started
    started = time.perf_counter()
    cache: MeteredCache[str, int] = MeteredCache({}, name="bomb")
    for index in range(N):
        key = f"key-{index}"
        if cache.get(key) is None:
            cache[key] = index
    timings["cache_s"] = time.perf_counter() - started
    started = time.perf_counter()
    engine = sqlalchemy.create_engine("sqlite://")
    with engine.connect() as connection:
        for index in range(N):
            connection.execute(sqlalchemy.text(f"WITH t{index} AS (SELECT 1 AS x) SELECT x FROM t{index}"))
    timings["statements_s"] = time.perf_counter() - started
    points = otelperf.local_metrics()
    series = Counter(point["name"] for point in points)
    overflow = {
        str(point["attributes"].get("otelperf.metric.name")): point["value"]
        for point in points
        if point["name"] == "otelperf.metric.overflow"
    }
    print(json.dumps({"series": series, "overflow": overflow, "timings": timings}))


main()
