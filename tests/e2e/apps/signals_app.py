"""A FastAPI app for the end-to-end signal tests: every path with a known number of operations."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis
import redis.asyncio
from fastapi import FastAPI
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, create_engine, insert, select, text

from otelperf.instrumentation.cache.memory import MeteredCache

metadata = MetaData()
items = Table("signal_items", metadata, Column("id", Integer, primary_key=True), Column("name", String(40)))

engine = create_engine(os.environ["DATABASE_URL"], pool_size=3, max_overflow=0)
metadata.drop_all(engine)
metadata.create_all(engine)
with engine.begin() as connection:
    connection.execute(insert(items), [{"id": i, "name": f"item-{i}"} for i in range(1, 11)])

prefix = os.environ.get("OTEL_SERVICE_NAME", "signals")
cache = redis.Redis.from_url(os.environ["REDIS_URL"])
async_cache = redis.asyncio.Redis.from_url(os.environ["REDIS_URL"])
local: MeteredCache[str, str] = MeteredCache({}, name="l1")
crunch = ThreadPoolExecutor(max_workers=2, thread_name_prefix="crunch")
SLOW = "SELECT name, pg_sleep(0.012) FROM signal_items WHERE id = :id"

app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, Any]:
    return {"ok": True}


@app.get("/cache/{key}")
async def two_level_cache(key: str) -> dict[str, Any]:
    """L1 (memory) then L2 (Redis) then the database."""
    value = local.get(key)
    if value is not None:
        return {"level": "memory"}
    stored = cache.get(f"{prefix}:{key}")
    if stored is not None:
        local[key] = stored.decode()
        return {"level": "redis"}
    with engine.connect() as connection:
        connection.execute(select(items.c.name).where(items.c.id == 1)).first()
    cache.set(f"{prefix}:{key}", "v", ex=60)
    local[key] = "v"
    return {"level": "database"}


@app.get("/multi")
async def multi() -> dict[str, Any]:
    """MGET of 3 keys (2 present), a pipeline of GET present, GET absent, SET, and an async GET."""
    cache.set(f"{prefix}:a", "1")
    cache.set(f"{prefix}:b", "2")
    cache.mget([f"{prefix}:a", f"{prefix}:b", f"{prefix}:absent"])
    with cache.pipeline() as pipe:
        pipe.get(f"{prefix}:a").get(f"{prefix}:absent").set(f"{prefix}:c", "3")
        pipe.execute()
    await async_cache.get(f"{prefix}:absent")
    return {"ok": True}


@app.get("/n-plus-one")
def n_plus_one() -> dict[str, Any]:
    """Six lookups of one statement under one request: an N+1."""
    with engine.connect() as connection:
        names = [connection.execute(text(SLOW), {"id": i}).scalar() for i in range(1, 7)]
    return {"names": names}


@app.get("/batched")
def batched() -> dict[str, Any]:
    """The same six rows in one statement."""
    with engine.connect() as connection:
        statement = text("SELECT name, pg_sleep(0.012) FROM signal_items WHERE id IN :ids").bindparams(
            bindparam("ids", expanding=True)
        )
        names = connection.execute(statement, {"ids": list(range(1, 7))}).scalars().all()
    return {"names": names}


@app.get("/saturate")
async def saturate() -> dict[str, Any]:
    """Eight 50 ms tasks on a pool of two workers: tasks queue."""
    futures = [crunch.submit(time.sleep, 0.05) for _ in range(8)]
    for future in futures:
        future.result()
    return {"tasks": len(futures)}


@app.get("/block")
async def block() -> dict[str, Any]:
    """A coroutine that blocks the event loop."""
    time.sleep(0.3)
    return {"blocked": 0.3}


@app.get("/bomb/{count}")
def bomb(count: int) -> dict[str, Any]:
    """`count` statements on distinct (missing) tables: a cardinality bomb on db.collection.name."""
    failures = 0
    with engine.connect() as connection:
        for index in range(count):
            try:
                connection.execute(text(f"SELECT * FROM bomb_{index}"))
            except Exception:
                failures += 1
                connection.rollback()
    return {"failures": failures}
