"""In-process caches that show up next to Redis as ``otelperf.cache.system=memory``.

Two ways in, both exact (every lookup is a measurement):

- ``MeteredCache(cache, name)`` wraps any mapping used as a cache (a ``dict``, a
  ``cachetools.TTLCache``/``LRUCache``...). A lookup that finds the key is a hit, a ``KeyError``
  or a ``get`` default is a miss; writes and deletes are measured too. It is a drop-in for
  ``cachetools.cached(cache=...)``::

      from cachetools import TTLCache, cached
      from otelperf.instrumentation.cache.memory import MeteredCache

      @cached(cache=MeteredCache(TTLCache(maxsize=1024, ttl=60), name="prices"))
      def price(item_id: int) -> int: ...

- ``metered_lru_cache(name, maxsize)`` replaces ``functools.lru_cache`` on a function::

      @metered_lru_cache("settings", maxsize=256)
      def load_setting(key: str) -> str: ...

An L1 cache in front of Redis then reads, per request, as memory hit / memory miss + redis hit.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, MutableMapping
from typing import Any, ParamSpec, TypeVar

from otelperf.instrumentation.cache.recorder import CacheRecorder

__all__ = ["MeteredCache", "metered_lru_cache"]

K = TypeVar("K")
V = TypeVar("V")
P = ParamSpec("P")
R = TypeVar("R")

_recorders: dict[str, CacheRecorder] = {}
_MISSING = object()


def _recorder() -> CacheRecorder:
    recorder = _recorders.get("memory")
    if recorder is None:
        recorder = _recorders.setdefault("memory", CacheRecorder("memory"))
    return recorder


class MeteredCache(MutableMapping[K, V]):
    """A mapping wrapper that measures every lookup, write and delete of the cache it wraps."""

    def __init__(self, cache: MutableMapping[K, V], name: str) -> None:
        self._cache = cache
        self.name = name

    def __getitem__(self, key: K) -> V:
        started = time.perf_counter()
        try:
            value = self._cache[key]
        except KeyError:
            _recorder().record(self.name, "GET", time.perf_counter() - started, misses=1)
            raise
        _recorder().record(self.name, "GET", time.perf_counter() - started, hits=1)
        return value

    def get(self, key: K, default: Any = None) -> Any:
        started = time.perf_counter()
        value = self._cache.get(key, _MISSING)
        hit = value is not _MISSING
        _recorder().record(self.name, "GET", time.perf_counter() - started, hits=int(hit), misses=int(not hit))
        return value if hit else default

    def __setitem__(self, key: K, value: V) -> None:
        started = time.perf_counter()
        self._cache[key] = value
        _recorder().record(self.name, "SET", time.perf_counter() - started)

    def __delitem__(self, key: K) -> None:
        started = time.perf_counter()
        del self._cache[key]
        _recorder().record(self.name, "DELETE", time.perf_counter() - started)

    def __contains__(self, key: object) -> bool:
        return key in self._cache

    def __iter__(self) -> Iterator[K]:
        return iter(self._cache)

    def __len__(self) -> int:
        return len(self._cache)

    def __getattr__(self, attribute: str) -> Any:
        # maxsize, currsize, ttl, ... of the wrapped cache
        return getattr(self._cache, attribute)


class _LRU(MutableMapping[Hashable, Any]):
    """A thread-safe bounded LRU mapping (what ``functools.lru_cache`` keeps, made observable)."""

    def __init__(self, maxsize: int) -> None:
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._maxsize = maxsize
        self._lock = threading.Lock()

    def __getitem__(self, key: Hashable) -> Any:
        with self._lock:
            value = self._data[key]
            self._data.move_to_end(key)
            return value

    def __setitem__(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._maxsize:
                self._data.popitem(last=False)

    def __delitem__(self, key: Hashable) -> None:
        with self._lock:
            del self._data[key]

    def __iter__(self) -> Iterator[Hashable]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)


def metered_lru_cache(name: str, maxsize: int = 128) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """``functools.lru_cache`` with every call measured as a hit or a miss of cache ``name``."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        cache: MeteredCache[Hashable, Any] = MeteredCache(_LRU(maxsize), name)

        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            key = functools._make_key(args, kwargs, typed=False)
            try:
                result: R = cache[key]
                return result
            except KeyError:
                pass
            value = function(*args, **kwargs)
            cache[key] = value
            return value

        wrapper.cache_clear = cache._cache.clear  # type: ignore[attr-defined]
        return wrapper

    return decorate
