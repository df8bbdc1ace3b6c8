"""Fast read access to a span's attributes for processors (they run for every span)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def attribute_dict(span: Any) -> Mapping[str, Any]:
    """The span's attributes as a plain mapping.

    The SDK keeps them in a ``BoundedAttributes`` whose ``get`` goes through ``Mapping.get``,
    which raises and catches ``KeyError`` for every missing key: several times slower than a
    ``dict`` lookup. Its backing ``dict`` is read directly when it is there.
    """
    attributes = span._attributes
    if attributes is None:
        return {}
    backing: Mapping[str, Any] | None = getattr(attributes, "_dict", None)
    return backing if backing is not None else attributes
