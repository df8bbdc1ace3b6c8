"""What a redis-py client is connected to, and what a command or pipeline looks like in a span.

A client's description is computed once and kept on its connection pool (a cluster client's on
its nodes manager), which its pipelines share. Statements keep the command and replace every
argument by ``?`` (``SET ? ? ? ?``), as contrib's Redis instrumentation does: keys and values never
leave the process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from otelperf import semconv
from otelperf.instrumentation.cache.results import command_name
from otelperf.instrumentation.memo import cached_on

_MAX_STATEMENT_CHARS = 1000
_MAX_PIPELINE_TEXT_CHARS = 4096
_TOO_LONG = "..."


@dataclass(frozen=True, slots=True)
class Client:
    name: str  # ``otelperf.cache.name``: ``host:port/db`` or a socket path
    span_attributes: dict[str, Any]


def _describe(instance: Any) -> Client:
    attributes: dict[str, Any] = {semconv.DB_SYSTEM_NAME: "redis"}
    pool = getattr(instance, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", None)
    if isinstance(kwargs, dict):
        db = kwargs.get("db") or 0
        if kwargs.get("path"):
            where = str(kwargs["path"])
            attributes.update({semconv.SERVER_ADDRESS: where, semconv.NETWORK_TRANSPORT: "unix"})
        else:
            host, port = str(kwargs.get("host", "localhost")), int(kwargs.get("port", 6379))
            where = f"{host}:{port}"
            attributes.update(
                {semconv.SERVER_ADDRESS: host, semconv.SERVER_PORT: port, semconv.NETWORK_TRANSPORT: "tcp"}
            )
        attributes[semconv.DB_NAMESPACE] = str(db)
        return Client(f"{where}/{db}", attributes)
    # A cluster client routes each command to a node of its own choosing: name it by a seed node.
    seeds = getattr(getattr(instance, "nodes_manager", None), "startup_nodes", None) or {}
    return Client(f"{min(seeds)}/0" if seeds else "cluster/0", attributes)


def describe(instance: Any) -> Client:
    owner = getattr(instance, "connection_pool", None) or getattr(instance, "nodes_manager", None) or instance
    return cached_on(owner, "_otelperf_redis_client", lambda: _describe(instance))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(_TOO_LONG)] + _TOO_LONG


def statement(args: Sequence[Any]) -> str:
    """``GET ?``: the command and a ``?`` per argument, at most 1000 characters."""
    return _clip(" ".join([command_name(args), *["?"] * (len(args) - 1)]) if args else "", _MAX_STATEMENT_CHARS)


def pipeline_statement(commands: Sequence[Sequence[Any]]) -> str:
    return _clip("\n".join(statement(args) for args in commands), _MAX_PIPELINE_TEXT_CHARS)


def batch_name(commands: Sequence[Sequence[Any]]) -> str:
    """``db.operation.name`` of a pipeline: ``BATCH GET`` when every command is a ``GET``, else ``BATCH``."""
    names = {command_name(args) for args in commands}  # empty for an empty pipeline: ``BATCH``
    return f"BATCH {names.pop()}" if len(names) == 1 else "BATCH"


def pipeline_commands(pipeline: Any) -> list[Sequence[Any]]:
    """The arguments of each queued command, wherever this redis-py version queues them.

    redis-py 6+ cluster pipelines queue on their execution strategy (``command_queue`` for the
    sync one, ``_command_queue`` for asyncio); plain pipelines on ``command_stack``.
    """
    try:
        strategy = getattr(pipeline, "_execution_strategy", None)  # None: getattr on it finds nothing
        queue = None
        for owner, name in (
            (strategy, "command_queue"),
            (strategy, "_command_queue"),
            (pipeline, "command_stack"),
            (pipeline, "_command_stack"),
        ):
            queue = getattr(owner, name, None)
            if queue is not None:
                break
        return [entry.args if hasattr(entry, "args") else entry[0] for entry in queue or []]
    except Exception:  # noqa: BLE001 - a redis-py we do not know: the pipeline is still measured
        return []
