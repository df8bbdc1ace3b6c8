"""Cache metrics: Redis commands (sync, asyncio, pipelines) and in-process caches, with hit/miss.

``otelperf.cache.operation.duration`` (s) is recorded for every command, sampled or not, with
``otelperf.cache.system`` (``redis`` / ``memory``), ``otelperf.cache.name``,
``otelperf.cache.operation`` (the command) and, on reads, ``otelperf.cache.result``
(``hit``/``miss``). Multi-key reads (``MGET k1 k2 k3``, ``HMGET``, ``EXISTS``) count one
measurement per key, each with an equal share of the command's duration, so that the hit ratio
is one PromQL expression over the ``_count`` series::

    sum(rate(otelperf_cache_operation_duration_seconds_count{otelperf_cache_result="hit"}[5m]))
      / sum(rate(otelperf_cache_operation_duration_seconds_count{otelperf_cache_result=~"hit|miss"}[5m]))

Spans stay with the contrib Redis instrumentation (``GET ?`` statements); this instrumentor adds
only metrics. For in-process caches see ``otelperf.instrumentation.cache.memory``.

Usage::

    from otelperf.instrumentation.cache import RedisCacheInstrumentor

    RedisCacheInstrumentor().instrument()
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from otelperf._memo import cached_on
from otelperf.instrumentation.cache._recorder import CacheRecorder
from otelperf.instrumentation.cache.package import _instruments

__all__ = ["RedisCacheInstrumentor"]

_recorder: CacheRecorder | None = None


def _client_name(instance: Any) -> str:
    kwargs = getattr(getattr(instance, "connection_pool", None), "connection_kwargs", {}) or {}
    where = kwargs.get("path") or f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
    return f"{where}/{kwargs.get('db', 0)}"


def _name(instance: Any) -> str:
    """``host:port/db`` of a client, computed once per client."""
    return cached_on(instance, "_otelperf_cache_name", lambda: _client_name(instance))


def _command(args: tuple[Any, ...]) -> str:
    first = args[0] if args else "?"
    text = first.decode() if isinstance(first, bytes) else str(first)
    return text.upper()


def _record(instance: Any, args: tuple[Any, ...], reply: Any, started: float, error: Exception | None = None) -> None:
    if _recorder is not None:
        _recorder.command(_name(instance), _command(args), args, reply, time.perf_counter() - started, error)


def _execute_command(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    started = time.perf_counter()
    try:
        reply = wrapped(*args, **kwargs)
    except Exception as exc:
        _record(instance, args, None, started, exc)
        raise
    _record(instance, args, reply, started)
    return reply


async def _execute_command_async(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    started = time.perf_counter()
    try:
        reply = await wrapped(*args, **kwargs)
    except Exception as exc:
        _record(instance, args, None, started, exc)
        raise
    _record(instance, args, reply, started)
    return reply


def _stack(instance: Any) -> list[tuple[Any, ...]]:
    return [entry[0] for entry in getattr(instance, "command_stack", [])]


def _pipeline_execute(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    commands = _stack(instance)
    started = time.perf_counter()
    replies = wrapped(*args, **kwargs)
    if _recorder is not None:
        _recorder.pipeline(_name(instance), commands, replies, time.perf_counter() - started)
    return replies


async def _pipeline_execute_async(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    commands = _stack(instance)
    started = time.perf_counter()
    replies = await wrapped(*args, **kwargs)
    if _recorder is not None:
        _recorder.pipeline(_name(instance), commands, replies, time.perf_counter() - started)
    return replies


_TARGETS = (
    ("redis.client", "Redis.execute_command", _execute_command),
    ("redis.client", "Pipeline.execute", _pipeline_execute),
    ("redis.asyncio.client", "Redis.execute_command", _execute_command_async),
    ("redis.asyncio.client", "Pipeline.execute", _pipeline_execute_async),
)


class RedisCacheInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Records ``otelperf.cache.operation.duration`` for every Redis command and pipeline."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        global _recorder  # noqa: PLW0603 - one recorder per process, swapped by (un)instrument
        _recorder = CacheRecorder("redis", meter_provider=kwargs.get("meter_provider"))
        for module, name, wrapper in _TARGETS:
            wrap_function_wrapper(module, name, wrapper)

    def _uninstrument(self, **kwargs: Any) -> None:
        global _recorder  # noqa: PLW0603
        import importlib

        for module, name, _ in _TARGETS:
            owner, attribute = name.split(".")
            unwrap(getattr(importlib.import_module(module), owner), attribute)
        _recorder = None
