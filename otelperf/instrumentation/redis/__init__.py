"""Redis instrumentation: a client span and cache measurements per command or pipeline, in one wrapper.

Why not contrib's ``RedisInstrumentor`` plus a separate metrics wrapper: two wrappers around every
command cost more than the two apart, and contrib starts a span, formats the statement and
attaches a context for every command, even where nothing records. This one wraps each command once
for the span and the measurement, and starts the span only where it can record
(``_children.ChildSpans``); the figures are in ``docs/benchmarks.md``.

Covered: ``Redis`` and ``Pipeline`` (sync and asyncio: ``execute_command``, ``execute``,
``immediate_execute_command``), ``RedisCluster.execute_command`` and ``ClusterPipeline.execute``
(sync and asyncio). Signals:

- a ``CLIENT`` span named after the command (``GET``), with ``db.system.name`` = ``redis``,
  ``db.operation.name``, ``db.query.text`` (``GET ?``: arguments never leave the process),
  ``db.namespace`` (the database index), ``server.address``/``server.port``,
  ``network.transport``, and ``error.type`` with an ``exception`` event on failure. A pipeline is
  one span ``BATCH`` (``BATCH GET`` when all its commands are ``GET``) with
  ``db.operation.batch.size`` and one statement per line. Stable database semantic conventions
  only (contrib also emits the old ``db.statement`` names under ``OTEL_SEMCONV_STABILITY_OPT_IN=database/dup``);
- ``otelperf.cache.operation.duration`` (s) for every command, sampled or not, with
  ``otelperf.cache.system`` = ``redis``, ``otelperf.cache.name`` (``host:port/db``),
  ``otelperf.cache.operation`` and, on reads, ``otelperf.cache.result`` (``hit``/``miss``).
  Multi-key reads (``MGET k1 k2 k3``, ``HMGET``, ``EXISTS``) count one measurement per key, each
  with an equal share of the duration, so the hit ratio is one PromQL expression over the
  ``_count`` series::

      sum(rate(otelperf_cache_operation_duration_seconds_count{otelperf_cache_result="hit"}[5m]))
        / sum(rate(otelperf_cache_operation_duration_seconds_count{otelperf_cache_result=~"hit|miss"}[5m]))

Under ``opentelemetry-instrument`` with otelperf installed this is automatic (entry point
``otelperf_redis``) and contrib's ``redis`` instrumentor is not loaded; disabling
``otelperf_redis`` brings contrib's back. Usage in code::

    from otelperf.instrumentation.redis import RedisInstrumentor

    RedisInstrumentor().instrument()
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from otelperf.instrumentation.cache.recorder import CacheRecorder
from otelperf.instrumentation.redis._telemetry import Operation, RedisTelemetry
from otelperf.instrumentation.redis.package import _instruments
from otelperf.version import __version__

__all__ = ["RedisInstrumentor"]

_state: dict[str, RedisTelemetry] = {}

Begin = Callable[[RedisTelemetry, Any, tuple[Any, ...]], Operation | None]


def _begin(begin: Begin, instance: Any, args: tuple[Any, ...]) -> Operation | None:
    telemetry = _state.get("telemetry")
    return begin(telemetry, instance, args) if telemetry is not None else None


def _traced(begin: Begin) -> Callable[..., Any]:
    """A wrapt wrapper for a blocking call: ``begin`` before it, the operation's ``end`` after."""

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        operation = _begin(begin, instance, args)
        if operation is None:
            return wrapped(*args, **kwargs)
        try:
            reply = wrapped(*args, **kwargs)
        except Exception as exc:
            operation.end(None, exc)
            raise
        operation.end(reply, None)
        return reply

    return wrapper


def _traced_async(begin: Begin) -> Callable[..., Any]:
    """The same for a coroutine method (``redis.asyncio``)."""

    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        operation = _begin(begin, instance, args)
        if operation is None:
            return await wrapped(*args, **kwargs)
        try:
            reply = await wrapped(*args, **kwargs)
        except Exception as exc:
            operation.end(None, exc)
            raise
        operation.end(reply, None)
        return reply

    return wrapper


_command, _command_async = _traced(RedisTelemetry.command), _traced_async(RedisTelemetry.command)
_pipeline, _pipeline_async = _traced(RedisTelemetry.pipeline), _traced_async(RedisTelemetry.pipeline)

_TARGETS = (
    ("redis.client", "Redis.execute_command", _command),
    ("redis.client", "Pipeline.execute", _pipeline),
    ("redis.client", "Pipeline.immediate_execute_command", _command),
    ("redis.cluster", "RedisCluster.execute_command", _command),
    ("redis.cluster", "ClusterPipeline.execute", _pipeline),
    ("redis.asyncio.client", "Redis.execute_command", _command_async),
    ("redis.asyncio.client", "Pipeline.execute", _pipeline_async),
    ("redis.asyncio.client", "Pipeline.immediate_execute_command", _command_async),
    ("redis.asyncio.cluster", "RedisCluster.execute_command", _command_async),
    ("redis.asyncio.cluster", "ClusterPipeline.execute", _pipeline_async),
)


def _present(module: str, name: str) -> tuple[Any, str] | None:
    """The class and method a target names, when this redis-py has them."""
    try:
        owner_name, method = name.split(".")
        owner = getattr(importlib.import_module(module), owner_name)
    except (ImportError, AttributeError):
        return None
    return (owner, method) if hasattr(owner, method) else None


class RedisInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Entry point ``otelperf_redis``; replaces contrib's ``redis``."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        tracer = trace.get_tracer(__name__, __version__, tracer_provider=kwargs.get("tracer_provider"))
        recorder = CacheRecorder("redis", meter_provider=kwargs.get("meter_provider"))
        _state["telemetry"] = RedisTelemetry(tracer, recorder)
        for module, name, wrapper in _TARGETS:
            if _present(module, name) is not None:
                wrap_function_wrapper(module, name, wrapper)

    def _uninstrument(self, **kwargs: Any) -> None:
        for module, name, _ in _TARGETS:
            target = _present(module, name)
            if target is not None:
                unwrap(*target)
        _state.pop("telemetry", None)
