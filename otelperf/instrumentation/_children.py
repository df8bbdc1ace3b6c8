"""Whether a client span is worth starting: not under a parent the sampler already dropped.

Under a 10 % sampler, nine requests in ten are not sampled, and every client span started under
them (a SQL statement, a Redis command) is a ``NonRecordingSpan`` that costs the SDK a sampler
call, a new span id and a context object, to record nothing. The built-in samplers decide such a
child exactly as its parent was decided:

- ``parentbased_*`` (otelperf's default production sampler): a parent that is not sampled, local
  or remote, drops its children (``ALWAYS_OFF`` for both, unless set otherwise in code);
- ``traceidratio``: the child has the parent's trace id, so the same ratio gives the same answer
  (for a local parent: a remote one was decided by another service's sampler);
- ``always_off``: nothing is sampled.

For those samplers, ``ChildSpans.skip()`` says "the SDK would drop it" without asking it; for
any other sampler (``always_on``, a custom one, ``ParentBased`` with other delegates) it always
says no, and the SDK is asked for every span. Telling a ``ParentBased`` sampler's delegates needs
its private fields (``fastpaths.sampling``); with that fast path off, ``ParentBased`` counts as
"any other sampler". Metrics are recorded either way.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, TraceIdRatioBased

from otelperf.fastpaths.sampling import not_sampled_delegates

_ANY_PARENT, _LOCAL_PARENT, _NEVER = "any parent", "local parent", "never"


def _drops_children_of(sampler: Any) -> str:
    """Which unsampled parents ``sampler`` is known to drop the children of."""
    if isinstance(sampler, ParentBased):
        delegates = not_sampled_delegates(sampler)
        return _ANY_PARENT if delegates is not None and all(d is ALWAYS_OFF for d in delegates) else _NEVER
    if isinstance(sampler, TraceIdRatioBased):
        return _LOCAL_PARENT
    return _ANY_PARENT if sampler is ALWAYS_OFF else _NEVER


def tracer_sampler(tracer: Any) -> Any:
    """The SDK sampler behind a tracer, or ``None``. A ``ProxyTracer`` (got before the tracer
    provider was set) delegates to the global provider's tracer, whose sampler is the provider's."""
    if isinstance(tracer, trace.ProxyTracer):
        return getattr(trace.get_tracer_provider(), "sampler", None)
    return getattr(tracer, "sampler", None)


class ChildSpans:
    """Decides, per client span, whether starting it can record anything."""

    __slots__ = ("_drops", "_tracer")

    def __init__(self, tracer: Any) -> None:
        self._tracer = tracer
        self._drops: str | None = None  # known once the tracer has an SDK sampler

    def _sampler_drops(self) -> str:
        if self._drops is None:
            sampler = tracer_sampler(self._tracer)
            if sampler is None:
                return _NEVER  # no SDK yet (a ProxyTracer): ask again next time
            self._drops = _drops_children_of(sampler)
        return self._drops

    def skip(self) -> bool:
        """True when the current span is not sampled and the sampler would drop its children."""
        parent = trace.get_current_span().get_span_context()
        if not parent.is_valid or parent.trace_flags.sampled:
            return False
        drops = self._sampler_drops()
        return drops == _ANY_PARENT or (drops == _LOCAL_PARENT and not parent.is_remote)
