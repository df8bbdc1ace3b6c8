"""Whether a client span is worth starting: not under a parent the sampler already dropped.

Under a 10 % sampler, nine requests in ten are not sampled, and every client span started under
them (a SQL statement, a Redis command) is a ``NonRecordingSpan`` that costs the SDK a sampler
call, a new span id and a context object, about 10 µs each on the benchmark's VM, to record
nothing. The built-in samplers decide such a child exactly as its parent was decided:

- ``parentbased_*`` (otelperf's default production sampler): a parent that is not sampled, local
  or remote, drops its children (``ALWAYS_OFF`` for both, unless set otherwise in code);
- ``traceidratio``: the child has the parent's trace id, so the same ratio gives the same answer;
- ``always_off``: nothing is sampled.

For those samplers, ``ChildSpans.skip()`` says "the SDK would drop it" without asking it; for
any other sampler (``always_on``, a custom one, ``ParentBased`` with other delegates) it always
says no, and every span is started as before. Metrics are recorded either way.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, TraceIdRatioBased


def _follows_parent(sampler: Any) -> bool:
    if isinstance(sampler, ParentBased):
        return all(
            getattr(sampler, delegate, None) is ALWAYS_OFF
            for delegate in ("_remote_parent_not_sampled", "_local_parent_not_sampled")
        )
    if isinstance(sampler, TraceIdRatioBased):
        return True
    return sampler is ALWAYS_OFF


def tracer_sampler(tracer: Any) -> Any:
    """The SDK sampler behind a tracer (a ``ProxyTracer`` is resolved), or ``None``."""
    delegate = getattr(tracer, "_tracer", tracer)  # ProxyTracer keeps the real one here
    return getattr(delegate, "sampler", None)


class ChildSpans:
    """Decides, per client span, whether starting it can record anything."""

    __slots__ = ("_follows", "_tracer")

    def __init__(self, tracer: Any) -> None:
        self._tracer = tracer
        self._follows: bool | None = None  # known once the tracer has an SDK sampler

    def _sampler_follows_parent(self) -> bool:
        if self._follows is None:
            sampler = tracer_sampler(self._tracer)
            if sampler is None:
                return False  # no SDK yet (a ProxyTracer): ask again next time
            self._follows = _follows_parent(sampler)
        return self._follows

    def skip(self) -> bool:
        """True when the current span is not sampled and the sampler would drop its children."""
        parent = trace.get_current_span().get_span_context()
        if not parent.is_valid or parent.trace_flags.sampled:
            return False
        return self._sampler_follows_parent()
