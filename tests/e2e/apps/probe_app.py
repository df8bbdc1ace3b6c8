"""A FastAPI app for the end-to-end tests: every path otelperf must observe, with planted secrets.

The values ``SECRET_*`` must never appear in what the collector receives.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import redis
from fastapi import FastAPI, Request, Response
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select, text

SECRET_EMAIL = "alice.secret@example.com"
SECRET_VALUE = "cache-value-s3cr3t"
SECRET_LITERAL = "literal-s3cr3t"
SECRET_BEARER = "bearer-s3cr3t"
SECRET_COOKIE_IN = "cookie-in-s3cr3t"
SECRET_COOKIE_OUT = "cookie-out-s3cr3t"
SECRET_QUERY = "query-s3cr3t"

metadata = MetaData()
users = Table("probe_users", metadata, Column("id", Integer, primary_key=True), Column("email", String(120)))

database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/probe.db"
engine = create_engine(database_url)
metadata.drop_all(engine)
metadata.create_all(engine)
with engine.begin() as connection:
    connection.execute(insert(users).values(id=1, email=SECRET_EMAIL))

cache = redis.Redis.from_url(os.environ["REDIS_URL"]) if os.environ.get("REDIS_URL") else None

app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, Any]:
    return {"ok": True, "pid": os.getpid()}


@app.get("/users/{user_id}")
async def get_user(user_id: int) -> dict[str, Any]:
    """A cache-aside read: Redis GET, then the database (bound parameter and an inline literal)."""
    key = f"{os.environ.get('OTEL_SERVICE_NAME', 'probe')}:user:{user_id}"
    if cache is not None:
        cached = cache.get(key)
        if cached is not None:
            return {"email": cached.decode(), "cached": True, "pid": os.getpid()}
    with engine.connect() as connection:
        row = connection.execute(select(users.c.email).where(users.c.id == user_id)).first()
        connection.execute(text(f"SELECT count(*) FROM probe_users WHERE email <> '{SECRET_LITERAL}'"))
    if cache is not None and row is not None:
        cache.set(key, SECRET_VALUE, ex=60)
    return {"email": row.email if row else None, "cached": False, "pid": os.getpid()}


@app.get("/sync")
def sync_endpoint() -> dict[str, Any]:
    with engine.connect() as connection:
        count = connection.execute(select(users.c.id)).all()
    return {"rows": len(count), "pid": os.getpid()}


@app.post("/users/duplicate")
async def duplicate_user() -> dict[str, Any]:
    """Unhandled IntegrityError: its message holds the statement and the bound values."""
    with engine.begin() as connection:
        connection.execute(insert(users).values(id=1, email=SECRET_EMAIL))
    return {"unreachable": True}


@app.get("/login")
async def login(request: Request, response: Response, token: str = "", page: int = 1) -> dict[str, Any]:
    """Credentials in a header, a cookie and the query string; a session cookie in the answer."""
    response.set_cookie("session", SECRET_COOKIE_OUT, httponly=True)
    return {"authorized": bool(request.headers.get("authorization")), "token_given": bool(token), "page": page}
