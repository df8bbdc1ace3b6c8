"""Fast path ``sampling``: what a ``ParentBased`` sampler does with the children of unsampled parents.

A client span under a parent that is not sampled costs the SDK a sampler call, a span id and a
context, to record nothing when the sampler drops it anyway (``instrumentation._children``).
``ParentBased`` keeps the samplers it delegates to in private fields; with this fast path on,
``not_sampled_delegates`` returns those for unsampled remote and local parents, so a caller can
tell that both are ``ALWAYS_OFF``. Off, it returns ``None``: the caller cannot tell, and starts
every child span (what the SDK then decides is unchanged either way).

The probe builds ``ParentBased`` samplers with default and explicit delegates and checks the
fields hold them.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler

from otelperf.fastpaths.contract import FastPath, Switch

__all__ = ["SWITCH", "not_sampled_delegates", "probe"]

NAME = "sampling"
_FIELDS = ("_remote_parent_not_sampled", "_local_parent_not_sampled")


def not_sampled_delegates(sampler: ParentBased) -> tuple[Any, Any] | None:
    """The samplers ``sampler`` asks for a child of an unsampled remote parent and of an
    unsampled local parent; ``None`` with the fast path off."""
    if not SWITCH.on:
        return None
    remote, local = (getattr(sampler, name, None) for name in _FIELDS)
    return remote, local


def probe() -> FastPath:
    default = ParentBased(ALWAYS_ON)
    explicit: Sampler = ParentBased(ALWAYS_OFF, remote_parent_not_sampled=ALWAYS_ON, local_parent_not_sampled=ALWAYS_ON)
    found = [tuple(getattr(sampler, name, None) for name in _FIELDS) for sampler in (default, explicit)]
    if found != [(ALWAYS_OFF, ALWAYS_OFF), (ALWAYS_ON, ALWAYS_ON)]:
        return FastPath(NAME, False, "ParentBased does not keep its not-sampled delegates in the fields read")
    return FastPath(NAME, True, "reads ParentBased._remote_parent_not_sampled/_local_parent_not_sampled")


SWITCH = Switch(NAME, probe)
