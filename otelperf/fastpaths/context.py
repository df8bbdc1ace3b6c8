"""Fast path ``context``: the span a ``Context`` holds, read under the API's own key.

Deciding an exemplar (is the measurement's span sampled? which trace does it link to?) starts from
the span in the measurement's context. ``get_current_span(context)`` finds it under the API's
private ``_SPAN_KEY`` and then checks it against the ``Span`` ABC with ``isinstance``, which costs
more than the rest of the answer. With this fast path on, ``span_getter()`` returns a C-level
``context.get(_SPAN_KEY)`` (``None`` when there is no span; callers treat an object without
``get_span_context`` as no span). Off, it returns ``get_current_span``, whose ``INVALID_SPAN`` is
neither sampled nor valid.

The probe checks that a span put in a context with ``set_span_in_context`` is found under the key.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import methodcaller
from typing import Any

from opentelemetry.context import Context
from opentelemetry.trace import INVALID_SPAN, get_current_span, set_span_in_context

from otelperf.fastpaths.contract import FastPath, Switch

__all__ = ["SWITCH", "probe", "span_getter"]

NAME = "context"

try:
    from opentelemetry.trace.propagation import _SPAN_KEY

    _stored_span: Callable[[Context], Any] | None = methodcaller("get", _SPAN_KEY)
except ImportError:  # pragma: no cover - an API laid out otherwise: the public path
    _stored_span = None


def span_getter() -> Callable[[Context], Any]:
    """A function from a (non-``None``) ``Context`` to the span it holds: take it once, call it per
    measurement. Its result may be ``None`` or ``INVALID_SPAN`` when the context holds no span."""
    if SWITCH.on and _stored_span is not None:
        return _stored_span
    return get_current_span


def probe() -> FastPath:
    if _stored_span is None:
        return FastPath(NAME, False, "opentelemetry.trace.propagation has no _SPAN_KEY")
    context = set_span_in_context(INVALID_SPAN)
    if _stored_span(context) is not INVALID_SPAN or _stored_span(Context()) is not None:
        return FastPath(NAME, False, "set_span_in_context no longer stores the span under _SPAN_KEY")
    return FastPath(NAME, True, "reads the span under opentelemetry.trace.propagation._SPAN_KEY")


SWITCH = Switch(NAME, probe)
