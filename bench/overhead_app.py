"""The benchmark's endpoints: what typical FastAPI handlers do, all in one request.

- ``GET /work/{item_id}`` (heavy): a Redis cache-aside read (GET, SET on a miss), a query through
  an ORM ``Session`` on a SQLite file, and a CPU task of 200 SHA-256 rounds in a
  ``ThreadPoolExecutor``;
- ``GET /light/{item_id}`` (light): the same cache-aside read, one SELECT on a pooled connection
  (SQLAlchemy Core, no ORM session), and a CPU task of 100 rounds in the same pool: a handler whose
  own work is small, so that what observability adds to each request weighs most.

Plain code, no otelperf import: every variant of ``bench/overhead.py`` runs this same file under
its own launcher.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis
from _os_thread import POOL_THREAD, PYTHON_THREAD, name_os_thread, name_python_threads
from fastapi import FastAPI
from sqlalchemy import Integer, String, bindparam, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "bench_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40))


path = os.environ.get("BENCH_DB", os.path.join(tempfile.gettempdir(), "otelperf-bench.db"))
engine = create_engine(f"sqlite:///{path}", pool_size=4)
Base.metadata.create_all(engine)
with Session(engine) as session:
    if session.get(Item, 1) is None:
        session.add_all(Item(id=i, name=f"item-{i}") for i in range(1, 1001))
        session.commit()
cache = redis.Redis.from_url(os.environ["REDIS_URL"])
# Seconds a cached entry lives. bench/instructions.py makes it outlive the run: under Valgrind a
# wall-clock expiry would make the miss rate depend on how slow each variant runs.
CACHE_TTL_S = int(os.environ.get("BENCH_CACHE_TTL", "5"))
name_python_threads(PYTHON_THREAD)


def _name_pool_thread() -> None:
    """Name the OS thread, so the bench can read the pool's CPU time apart (``bench/overhead.py``)."""
    name_os_thread(threading.get_native_id(), POOL_THREAD)


pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix=POOL_THREAD, initializer=_name_pool_thread)
app = FastAPI()


def digest(seed: str, rounds: int = 200) -> str:
    value = seed.encode()
    for _ in range(rounds):
        value = hashlib.sha256(value).digest()
    return value.hex()[:12]


def cache_aside(key: str) -> bool:
    """A Redis cache-aside read, GET and SET on a miss: whether the key was cached."""
    cached = cache.get(key)
    if cached is None:
        cache.set(key, b"1", ex=CACHE_TTL_S)
    return cached is not None


@app.get("/work/{item_id}")
async def work(item_id: int) -> dict[str, Any]:
    cached = cache_aside(f"bench:{item_id % 100}")
    with Session(engine) as session:
        name = session.scalar(select(Item.name).where(Item.id == item_id % 1000 + 1))
    checksum = await asyncio.get_running_loop().run_in_executor(pool, digest, str(name))
    return {"name": name, "cached": cached, "checksum": checksum}


LIGHT_ROUNDS = 100
name_by_id = select(Item.name).where(Item.id == bindparam("item_id"))


@app.get("/light/{item_id}")
async def light(item_id: int) -> dict[str, Any]:
    cached = cache_aside(f"bench:light:{item_id % 100}")
    with engine.connect() as connection:
        name = connection.scalar(name_by_id, {"item_id": item_id % 1000 + 1})
    checksum = await asyncio.get_running_loop().run_in_executor(pool, digest, str(name), LIGHT_ROUNDS)
    return {"name": name, "cached": cached, "checksum": checksum}
