"""Fast read access to span attributes, for the processors and the span encoder (they run for every span)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def backing_dict(attributes: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """Attributes as a plain mapping.

    The SDK keeps them in a ``BoundedAttributes``, a mapping written in Python: its ``get`` goes
    through ``Mapping.get``, which raises and catches ``KeyError`` for every missing key, and its
    ``items()`` iterates through ``collections.abc`` and its own ``__getitem__``; both several times
    slower than a ``dict``'s. Its backing ``dict`` is read directly when it is there.
    """
    if attributes is None:
        return {}
    backing: Mapping[str, Any] | None = getattr(attributes, "_dict", None)
    return backing if backing is not None else attributes


def attribute_dict(span: Any) -> Mapping[str, Any]:
    """The span's attributes as a plain mapping (``backing_dict`` of its stored attributes)."""
    return backing_dict(span._attributes)
