"""Per-object memoisation for attributes derived once per client, engine or pool."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def cached_on(owner: Any, attribute: str, compute: Callable[[], T]) -> T:
    """``owner.<attribute>``, computed by ``compute()`` and stored there the first time.

    Objects that refuse new attributes (``__slots__``, C types) get a fresh value each call.
    """
    value: T | None = getattr(owner, attribute, None)
    if value is None:
        value = compute()
        with contextlib.suppress(AttributeError, TypeError):
            setattr(owner, attribute, value)
    return value
