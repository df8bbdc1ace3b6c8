"""Fast path ``context``: the span a ``Context`` holds, read under the API's own key.

Deciding an exemplar (is the measurement's span sampled? which trace does it link to?) starts from
the span in the measurement's context. ``get_current_span(context)`` finds it under the API's
private ``_SPAN_KEY`` and then checks it against the ``Span`` ABC with ``isinstance``, which costs
more than the rest of the answer. With this fast path on, ``span_key()`` returns that key and the
caller reads ``context.get(key)`` (``None`` when there is no span; callers treat an object without
``get_span_context`` as no span). Off, it returns ``None`` and the caller asks
``get_current_span(context)``, whose ``INVALID_SPAN`` is neither sampled nor valid; ``span_in``
does either.

The probe checks that a span put in a context with ``set_span_in_context`` is found under the key.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.context import Context
from opentelemetry.trace import INVALID_SPAN, get_current_span, set_span_in_context

from otelperf.fastpaths.contract import FastPath, Switch

__all__ = ["SWITCH", "probe", "span_in", "span_key"]

NAME = "context"

try:
    from opentelemetry.trace.propagation import _SPAN_KEY

    _KEY: str | None = _SPAN_KEY
except ImportError:  # pragma: no cover - an API laid out otherwise: the public path
    _KEY = None


def span_key() -> str | None:
    """The key a ``Context`` holds its span under, or ``None`` with the fast path off (then ask
    ``get_current_span(context)``). Take it once, use it per measurement."""
    return _KEY if SWITCH.on else None


def span_in(context: Context, key: str | None) -> Any:
    """The span ``context`` holds, read as ``key`` (from ``span_key()``) says; may be ``None`` or
    ``INVALID_SPAN`` when it holds none. Per-measurement callers inline the same expression."""
    return context.get(key) if key is not None else get_current_span(context)


def probe() -> FastPath:
    if _KEY is None:
        return FastPath(NAME, False, "opentelemetry.trace.propagation has no _SPAN_KEY")
    if set_span_in_context(INVALID_SPAN).get(_KEY) is not INVALID_SPAN or Context().get(_KEY) is not None:
        return FastPath(NAME, False, "set_span_in_context does not store the span under _SPAN_KEY")
    return FastPath(NAME, True, "reads the span under opentelemetry.trace.propagation._SPAN_KEY")


SWITCH = Switch(NAME, probe)
