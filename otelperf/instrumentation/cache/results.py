"""Which Redis commands are cache reads, and how their replies say hit or miss."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

HIT, MISS = "hit", "miss"

# Reads answered for one key: a nil reply (or an empty hash) is a miss.
_SINGLE = frozenset({"GET", "GETEX", "GETDEL", "HGET", "HGETALL", "LINDEX", "JSON.GET", "HEXISTS", "SISMEMBER"})
# Reads answered per key or field: every nil element is a miss.
_PER_ELEMENT = frozenset({"MGET", "HMGET", "JSON.MGET"})


def command_name(args: Sequence[Any]) -> str:
    """``GET`` for ``("get", "key")`` or ``(b"GET", b"key")``: the command, upper case."""
    first = args[0] if args else "?"
    return (first.decode(errors="replace") if isinstance(first, bytes) else str(first)).upper()


def read_outcomes(command: str, args: Sequence[Any], reply: Any) -> tuple[int, int] | None:
    """(hits, misses) for a cache read, ``None`` for any other command."""
    if command in _SINGLE:
        missed = reply is None or reply == 0 or reply is False or (isinstance(reply, dict) and not reply)
        return (0, 1) if missed else (1, 0)
    if command in _PER_ELEMENT and isinstance(reply, list):
        misses = sum(1 for value in reply if value is None)
        return len(reply) - misses, misses
    if command == "EXISTS" and isinstance(reply, int):
        keys = max(len(args) - 1, 1)
        return reply, max(keys - reply, 0)
    return None
