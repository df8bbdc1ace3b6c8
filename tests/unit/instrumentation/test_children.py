"""``ChildSpans.skip``: a client span is skipped only where the sampler would drop it anyway, and
never for a ``ParentBased`` sampler with the ``sampling`` fast path off (its delegates are private)."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    ParentBasedTraceIdRatio,
    TraceIdRatioBased,
)
from opentelemetry.trace import NonRecordingSpan, NoOpTracer, SpanContext, TraceFlags

from otelperf.fastpaths import sampling
from otelperf.instrumentation._children import ChildSpans, tracer_sampler
from tests.unit.conftest import switched


def _skip(sampler: Any, *, parent_sampled: bool | None, remote: bool = False) -> bool:
    children = ChildSpans(TracerProvider(sampler=sampler).get_tracer("t"))
    if parent_sampled is None:
        return children.skip()
    flags = TraceFlags(TraceFlags.SAMPLED if parent_sampled else TraceFlags.DEFAULT)
    with trace.use_span(NonRecordingSpan(SpanContext(1, 2, is_remote=remote, trace_flags=flags))):
        return children.skip()


@pytest.mark.parametrize(
    ("sampler", "skips"),
    [
        (ParentBasedTraceIdRatio(0.1), (True, True)),
        (ParentBased(ALWAYS_ON), (True, True)),
        # A remote parent was decided by another service's sampler: the ratio may answer otherwise.
        (TraceIdRatioBased(0.5), (True, False)),
        (ALWAYS_OFF, (True, True)),
        (ALWAYS_ON, (False, False)),  # would sample the child of an unsampled parent
        (ParentBased(ALWAYS_ON, remote_parent_not_sampled=ALWAYS_ON), (False, False)),
    ],
)
@pytest.mark.parametrize("fast_path", [True, False], ids=["sampling-fast-path", "public"])
def test_only_samplers_that_follow_the_parent_skip_under_an_unsampled_one(
    sampler: Any, skips: tuple[bool, bool], fast_path: bool
) -> None:
    if not fast_path and isinstance(sampler, ParentBased):
        skips = (False, False)  # its delegates cannot be read: every child span is started
    with switched(sampling.SWITCH, fast_path):
        assert (_skip(sampler, parent_sampled=False), _skip(sampler, parent_sampled=False, remote=True)) == skips
        assert _skip(sampler, parent_sampled=True) is False
        assert _skip(sampler, parent_sampled=True, remote=True) is False
        assert _skip(sampler, parent_sampled=None) is False  # no parent: a root, always asked


def test_a_proxy_tracer_finds_the_sampler_of_the_global_provider_once_it_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = trace.ProxyTracer("t")  # what trace.get_tracer returns before a provider is set
    monkeypatch.setattr(trace, "get_tracer_provider", trace.ProxyTracerProvider)
    assert tracer_sampler(proxy) is None  # not yet: asked again at the next span
    sampler = ParentBasedTraceIdRatio(0.1)
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: TracerProvider(sampler=sampler))
    assert tracer_sampler(proxy) is sampler


def test_a_tracer_without_an_sdk_behind_it_never_skips() -> None:
    flags = TraceFlags(TraceFlags.DEFAULT)
    with trace.use_span(NonRecordingSpan(SpanContext(1, 2, is_remote=False, trace_flags=flags))):
        assert ChildSpans(NoOpTracer()).skip() is False
