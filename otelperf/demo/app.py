"""The sample service run by ``otelperf demo`` and by docker compose: a small shop catalogue.

It exercises every kind of activity otelperf observes, on embedded defaults:

- cache: Redis when ``REDIS_URL`` answers, else an in-process TTL cache;
- database: SQLAlchemy on a SQLite file (``DATABASE_URL`` for PostgreSQL);
- worker pool: a ``ThreadPoolExecutor`` for CPU work, and a sync ``def`` endpoint that Starlette
  runs in its own thread pool.

Run it under otelperf: ``opentelemetry-instrument uvicorn otelperf.demo.app:app``.

``DEMO_PROBLEMS`` (comma-separated, see ``otelperf.demo.scenario``; unset: none) plants the
problems the performance rules must find, each on its own route so that each shows in its own
signal: ``n_plus_one`` (category listings load their items one by one), ``slow_query`` (recent
orders run an unindexed cross join, sized at start-up to take 0.7 s alone), ``cold_cache``
(item cache keys never repeat), ``saturated_pool`` (reports wait for the one worker of their
pool, each task waiting on a slow downstream call) and ``blocking_coroutine`` (an order renders
its invoice with 0.8 s of CPU-bound code on the event loop).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import random
import tempfile
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, Protocol

from fastapi import FastAPI, HTTPException
from sqlalchemy import ForeignKey, String, create_engine, event, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import otelperf
from otelperf.demo.scenario import CATALOGUE_SIZE, CATEGORIES, problems_from_env
from otelperf.instrumentation.cache.memory import MeteredCache
from otelperf.rules.router import performance_router

try:
    PROBLEMS = problems_from_env(os.environ)
except ValueError as error:
    raise SystemExit(f"DEMO_PROBLEMS: {error}") from None


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    price_cents: Mapped[int]
    category: Mapped[str] = mapped_column(String(40), index=True)


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    quantity: Mapped[int]
    customer_email: Mapped[str] = mapped_column(String(120))


class Cache(Protocol):
    kind: str

    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str, ttl_s: int) -> None: ...


class MemoryCache:
    """An in-process TTL cache, used when no Redis answers; metered as ``otelperf.cache.system=memory``."""

    kind = "memory"

    def __init__(self) -> None:
        self._entries: MeteredCache[str, tuple[float, str]] = MeteredCache({}, name="items")

    def get(self, key: str) -> str | None:
        entry: tuple[float, str] | None = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def set(self, key: str, value: str, ttl_s: int) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + ttl_s, value)


class RedisCache:
    kind = "redis"

    def __init__(self, client: Any) -> None:
        self._client = client

    def get(self, key: str) -> str | None:
        value = self._client.get(key)
        return value.decode() if isinstance(value, bytes) else value

    def set(self, key: str, value: str, ttl_s: int) -> None:
        self._client.set(key, value, ex=ttl_s)


def _connect_cache() -> Cache:
    url = os.environ.get("REDIS_URL")
    if url:
        try:
            import redis

            client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=2)
            client.ping()
            return RedisCache(client)
        except Exception as exc:  # noqa: BLE001 - the demo falls back, and says so
            print(f"demo: Redis at REDIS_URL does not answer ({type(exc).__name__}); using an in-process cache")
    return MemoryCache()


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    path = os.path.join(tempfile.gettempdir(), "otelperf-demo.db")
    return f"sqlite:///{path}"


def _seed(engine: Engine) -> None:
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        if session.scalar(select(func.count()).select_from(Item)):
            return
        rng = random.Random(7)
        session.add_all(
            Item(id=i, name=f"item-{i}", price_cents=rng.randint(100, 20_000), category=rng.choice(CATEGORIES))
            for i in range(1, CATALOGUE_SIZE + 1)
        )
        # Orders to list from the first request on (the load adds more).
        session.add_all(
            Order(item_id=rng.randint(1, CATALOGUE_SIZE), quantity=1, customer_email=f"customer{i}@example.com")
            for i in range(1, RECENT_ORDERS + 1)
        )
        session.commit()


def _sqlite_wal(connection: Any, _record: Any) -> None:
    connection.execute("PRAGMA journal_mode=WAL")


RECENT_ORDERS = 10  # orders listed by /orders/recent


CACHE_TTL_S = 600


def _warm_cache(shop: Shop) -> None:
    """Cache warming at start-up, as production services do: the catalogue is cached before traffic."""
    with Session(shop.engine) as session:
        for item in session.scalars(select(Item)):
            shop.cache.set(f"item:{item.id}", f"{item.name}|{item.price_cents}|{item.category}", ttl_s=CACHE_TTL_S)


class Shop:
    def __init__(self) -> None:
        self.engine = create_engine(_database_url(), pool_size=5, max_overflow=5)
        if self.engine.dialect.name == "sqlite":
            # WAL: a commit does not wait for readers (a long SELECT would otherwise hold every writer).
            event.listen(self.engine, "connect", _sqlite_wal)
        self.cache = _connect_cache()
        workers = 1 if "saturated_pool" in PROBLEMS else 4
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="demo-cpu")
        self.slow_query_repeat = SLOW_QUERY_PROBE_PASSES  # sized at start-up when the slow query is planted


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    shop = Shop()
    _seed(shop.engine)
    if "slow_query" in PROBLEMS:
        shop.slow_query_repeat = _slow_query_repeat(shop.engine)
    _warm_cache(shop)
    app.state.shop = shop
    yield
    shop.pool.shutdown(wait=False)
    shop.engine.dispose()


app = FastAPI(title="otelperf demo shop", lifespan=lifespan)
app.include_router(performance_router())


def _shop() -> Shop:
    shop: Shop | None = getattr(app.state, "shop", None)
    if shop is None:
        raise HTTPException(503, "starting")
    return shop


def _load_item(item_id: int) -> dict[str, Any] | None:
    with Session(_shop().engine) as session:
        item = session.get(Item, item_id)
        if item is None:
            return None
        return {"id": item.id, "name": item.name, "price_cents": item.price_cents, "category": item.category}


@app.get("/items/{item_id}")
async def get_item(item_id: int) -> dict[str, Any]:
    """Cache-aside read: the cache first, the database on a miss."""
    current = _shop()
    key = f"item:{item_id}"
    if "cold_cache" in PROBLEMS:
        key = f"item:{item_id}:{time.monotonic_ns()}"  # a key that changes every call: never a hit
    cached = current.cache.get(key)
    if cached is not None:
        name, price, category = cached.split("|")
        return {"id": item_id, "name": name, "price_cents": int(price), "category": category, "cached": True}
    item = _load_item(item_id)
    if item is None:
        raise HTTPException(404, "no such item")
    current.cache.set(key, f"{item['name']}|{item['price_cents']}|{item['category']}", ttl_s=CACHE_TTL_S)
    return {**item, "cached": False}


@app.get("/categories/{category}")
def list_category(category: str, limit: int = 20) -> dict[str, Any]:
    """A sync endpoint (Starlette runs it in its thread pool): one query, or (``n_plus_one``) the
    ids first and then one query per item."""
    shop = _shop()
    with Session(shop.engine) as session:
        if "n_plus_one" not in PROBLEMS:
            rows = session.execute(
                select(Item.id, Item.name).where(Item.category == category).order_by(Item.price_cents).limit(limit)
            ).all()
        else:
            ids = session.execute(
                select(Item.id).where(Item.category == category).order_by(Item.price_cents).limit(limit)
            ).scalars()
            rows = [session.execute(select(Item.id, Item.name).where(Item.id == i)).one() for i in ids.all()]
    return {"category": category, "items": [{"id": row.id, "name": row.name} for row in rows]}


# A cross join with a LIKE on every pair, ``:repeat`` times over: no index can help.
_SLOW_QUERY = text(
    "SELECT count(*) FROM items AS a, items AS b, (SELECT id FROM items WHERE id <= :repeat) AS c "
    "WHERE a.category = :category AND a.name LIKE '%' || b.category || '%'"
)
# The planted slow query costs this much alone, on any machine: past the 500 ms from which a statement
# counts as slow, however fast the CPU (a fixed join's duration differs several times over between
# machines). Sized in CPU time on SQLite, which runs the query in the calling thread, so a start-up
# on a busy machine does not size it short; waiting for the CPU only makes it slower.
SLOW_QUERY_TARGET_S = 0.7
SLOW_QUERY_PROBE_PASSES = 8  # the passes timed at start-up


def _slow_query_repeat(engine: Engine) -> int:
    """How many passes of the cross join make ``SLOW_QUERY_TARGET_S``, timed once at start-up."""
    probe = SLOW_QUERY_PROBE_PASSES
    clock = time.thread_time if engine.dialect.name == "sqlite" else time.perf_counter
    with Session(engine) as session:
        started = clock()
        session.execute(_SLOW_QUERY, {"category": "books", "repeat": probe}).scalar()
        elapsed = clock() - started
    return max(probe, min(CATALOGUE_SIZE, math.ceil(probe * SLOW_QUERY_TARGET_S / max(elapsed, 1e-3))))


@app.post("/orders")
async def create_order(item_id: int, quantity: int = 1) -> dict[str, Any]:
    """A write; SQLite may answer "database is locked" under concurrent writers (a 503 here)."""
    current = _shop()
    email = f"customer{random.randint(1, 1000)}@example.com"
    try:
        with Session(current.engine) as session:
            order = Order(item_id=item_id, quantity=quantity, customer_email=email)
            session.add(order)
            session.commit()
            order_id = order.id
    except Exception as exc:
        raise HTTPException(503, "could not store the order") from exc
    if "blocking_coroutine" in PROBLEMS and order_id % INVOICE_EVERY == 0:
        # CPU-bound work called straight from the coroutine: every request on this loop waits.
        return {"order_id": order_id, "invoice": render_invoice(order_id)}
    return {"order_id": order_id}


# Every fifth order is a wholesale order whose invoice is rendered in the coroutine for this long
# (CPU-bound, however busy the machine): longer than the loop-lag probe's interval (0.5 s) plus the
# 200 ms from which the event-loop-lag rule calls the loop blocked, so every such block is probed.
INVOICE_EVERY = 5
INVOICE_S = 0.8


def render_invoice(order_id: int) -> str:
    """The invoice's signature: SHA-256 digests chained for ``INVOICE_S`` (pure CPU, holding the GIL)."""
    digest = f"invoice-{order_id}".encode()
    deadline = time.perf_counter() + INVOICE_S
    while time.perf_counter() < deadline:
        for _ in range(1000):
            digest = hashlib.sha256(digest).digest()
    return digest.hex()[:16]


# The one worker's slow downstream call, per report: the demo's one report a second brings 1.4 s of
# work a second, so the pool stays saturated with room to spare even when other problems slow the
# requests that feed it.
DOWNSTREAM_S = 1.4


def _price_digest(seed: int, rounds: int) -> str:
    if "saturated_pool" in PROBLEMS:
        time.sleep(DOWNSTREAM_S)  # a slow downstream call made from the pool's only worker
    digest = str(seed).encode()
    for _ in range(rounds):
        digest = hashlib.sha256(digest).digest()
    return digest.hex()[:16]


@app.get("/report/{category}")
async def category_report(category: str) -> dict[str, Any]:
    """Aggregates in the database, then CPU work in the worker pool."""
    current = _shop()
    with Session(current.engine) as session:
        total = session.scalar(select(func.sum(Item.price_cents)).where(Item.category == category)) or 0
    loop = asyncio.get_running_loop()
    digest = await loop.run_in_executor(current.pool, _price_digest, total, 2_000)
    return {"category": category, "total_cents": total, "digest": digest}


@app.get("/orders/recent")
def recent_orders(limit: int = RECENT_ORDERS) -> dict[str, Any]:
    """The latest orders with their items (one join); ``slow_query`` adds an unindexed cross join
    that counts related items."""
    shop = _shop()
    with Session(shop.engine) as session:
        rows = session.execute(
            select(Order.id, Order.quantity, Item.name)
            .join(Item, Item.id == Order.item_id)
            .order_by(Order.id.desc())
            .limit(limit)
        ).all()
        related = None
        if "slow_query" in PROBLEMS:
            # The same category as the start-up timing: the same duration on every call.
            related = session.execute(_SLOW_QUERY, {"category": "books", "repeat": shop.slow_query_repeat}).scalar()
    lines = [{"order": row.id, "item": row.name, "quantity": row.quantity} for row in rows]
    return {"orders": lines, "related": related}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    current = _shop()
    return {"status": "ok", "cache": current.cache.kind, "database": current.engine.dialect.name}


@app.get("/demo/telemetry")
def telemetry() -> list[dict[str, Any]]:
    """What otelperf measured in this process (``OTELPERF_LOCAL_METRICS=true``). Demo only.

    A plain ``def``, so it runs in the threadpool: a collection of metrics can wait behind the
    exporter's own, and the event loop must not wait with it.
    """
    return otelperf.local_metrics()
