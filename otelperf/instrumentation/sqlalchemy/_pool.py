"""Connection-pool metrics for every SQLAlchemy engine (semantic-convention names).

- ``db.client.connection.count`` (``state`` = ``idle``/``used``) and ``db.client.connection.max``
  are observed from the pools themselves at each collection, so they are exact and cost nothing
  per query;
- ``db.client.connection.wait_time`` and ``db.client.connection.timeouts`` come from wrapping
  ``Engine.raw_connection`` (the one path by which an engine checks a connection out of its pool).
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from otelperf import semconv
from otelperf.instrumentation.memo import cached_on
from otelperf.log import logger
from otelperf.metrics.instruments import BoundedCounter, BoundedHistogram, observe


def _engine_pool_name(engine: Any) -> str:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{os.path.basename(url.database or ':memory:')}"
    port = f":{url.port}" if url.port else ""
    return f"{url.get_backend_name()}://{url.host or ''}{port}/{url.database or ''}"


def pool_name(engine: Any) -> str:
    """``postgresql://host:port/db`` (never credentials); computed once per engine."""
    return cached_on(engine, "_otelperf_pool_name", lambda: _engine_pool_name(engine))


class PoolMetrics:
    """Observes the pools of the engines seen so far; measures checkout waits and timeouts."""

    def __init__(self, meter: Meter) -> None:
        self._pools: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()
        observe(meter, semconv.INSTRUMENTS[semconv.DB_CLIENT_CONNECTION_COUNT], self._observe_count)
        observe(meter, semconv.INSTRUMENTS[semconv.DB_CLIENT_CONNECTION_MAX], self._observe_max)
        self._wait = BoundedHistogram(meter, semconv.INSTRUMENTS[semconv.DB_CLIENT_CONNECTION_WAIT_TIME])
        self._timeouts = BoundedCounter(meter, semconv.INSTRUMENTS[semconv.DB_CLIENT_CONNECTION_TIMEOUTS])

    def _attributes(self, engine: Any) -> dict[str, str]:
        pool = engine.pool
        attributes = self._pools.get(pool)
        if attributes is None:
            attributes = {semconv.DB_CLIENT_CONNECTION_POOL_NAME: pool_name(engine)}
            self._pools[pool] = attributes
        return attributes

    def raw_connection(self, wrapped: Any, engine: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            return wrapped(*args, **kwargs)
        except Exception as exc:
            if type(exc).__name__ == "TimeoutError" and type(exc).__module__.startswith("sqlalchemy"):
                self._safely(self._timeouts.add, 1, self._attributes(engine))
            raise
        finally:
            self._safely(self._wait.record, time.perf_counter() - started, self._attributes(engine))

    @staticmethod
    def _safely(function: Any, *args: Any) -> None:
        try:
            function(*args)
        except Exception:  # noqa: BLE001 - never reach the application
            logger.debug("pool measurement failed", exc_info=True)

    def _observe_count(self, options: CallbackOptions) -> Iterable[Observation]:
        for pool, attributes in list(self._pools.items()):
            checkedout = getattr(pool, "checkedout", None)
            checkedin = getattr(pool, "checkedin", None)
            if checkedout is None or checkedin is None:
                continue
            yield Observation(checkedout(), {**attributes, semconv.DB_CLIENT_CONNECTION_STATE: "used"})
            yield Observation(checkedin(), {**attributes, semconv.DB_CLIENT_CONNECTION_STATE: "idle"})

    def _observe_max(self, options: CallbackOptions) -> Iterable[Observation]:
        for pool, attributes in list(self._pools.items()):
            size = getattr(pool, "size", None)
            overflow = getattr(pool, "_max_overflow", None)
            if size is None or overflow is None or overflow < 0:
                continue
            yield Observation(size() + overflow, attributes)
