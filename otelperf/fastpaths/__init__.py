"""The SDK contract: every access to a private OpenTelemetry SDK, API or exporter name lives here.

otelperf's hot paths read a few SDK internals that the public API would make them copy, clean or
recompute on every span or measurement. Each concern is one module with a small typed API and a
``probe()`` that checks the installed SDK on throwaway objects (``contract`` describes the
decision); where a fast path is off, its callers take the public path:

- ``histograms``: measurements fed to the SDK's per-attribute-set aggregations (``metrics.direct``);
- ``exemplars``: otelperf's reservoir for explicit-bucket histograms, through the views;
- ``context``: the span in a ``Context``, for the exemplar filter and reservoir;
- ``spans``: a span's stored fields (processors, span encoder);
- ``grpc_export``: the gRPC span exporter sending the encoder's bytes;
- ``sampling``: a ``ParentBased`` sampler's delegates (skipping child spans that would be dropped).

Three SDK contracts have no public equivalent, so ``OTELPERF_FAST_PATHS=false`` leaves them on;
their probe says whether the installed SDK offers them: ``span_rewrite`` (changing ended spans
before export: sanitizing, the N+1 event), ``metric_export`` (an exporter's preferences) and
``fork`` (a forked worker's own identity and empty metric streams).

``states()`` decides every fast path and returns its state; the startup line and
``otelperf doctor`` print them.
"""

from __future__ import annotations

from otelperf.fastpaths import (
    context,
    exemplars,
    fork,
    grpc_export,
    histograms,
    metric_export,
    sampling,
    span_rewrite,
    spans,
)
from otelperf.fastpaths.contract import FORCED, FORCING_SETTING, FastPath, Switch, force_off

__all__ = ["FORCING_SETTING", "FastPath", "contracts", "describe", "force_off", "states"]

FAST_PATHS: tuple[Switch, ...] = (
    histograms.SWITCH,
    exemplars.SWITCH,
    context.SWITCH,
    spans.SWITCH,
    grpc_export.SWITCH,
    sampling.SWITCH,
)
CONTRACTS: tuple[Switch, ...] = (span_rewrite.SWITCH, metric_export.SWITCH, fork.SWITCH)
NOT_USED = "not used in this process"


def states(skip: frozenset[str] = frozenset(), forced_off: bool | None = None) -> list[FastPath]:
    """Every fast path's state, deciding those not decided yet. A name in ``skip`` (a fast path
    this process does not use, whose probe would import what it never needs) is reported as not
    used unless it was decided already. With ``forced_off`` given, the states the fast paths would
    take with the setting so (nothing is decided: ``otelperf doctor``)."""
    found = []
    for switch in FAST_PATHS:
        state = switch.decided() if forced_off is None else None
        if state is None and switch.name in skip:
            state = FastPath(switch.name, False, NOT_USED)
        if state is None:
            state = switch.state() if forced_off is None else switch.would_be(forced_off)
        found.append(state)
    return found


def contracts() -> list[FastPath]:
    """The state of each SDK contract that has no public equivalent."""
    return [switch.state() for switch in CONTRACTS]


def describe(found: list[FastPath]) -> str:
    """``found`` in one line: the fast paths on, then each one off with its reason; all of them
    forced off in three words; those this process does not use left out."""
    if any(state.reason == FORCED for state in found):
        return f"fast paths off ({FORCING_SETTING}=false)"
    used = [state for state in found if state.reason != NOT_USED]
    on = ", ".join(state.name for state in used if state.on) or "none"
    off = ", ".join(f"{state.name} ({state.reason})" for state in used if not state.on)
    return f"fast paths on: {on}; off: {off}" if off else f"fast paths on: {on}"
