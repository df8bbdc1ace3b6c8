"""The span in a context, found through the context's key or through the public call. These tests
set the switches themselves, so they run the same whether the run forces the fast paths off or not."""

from __future__ import annotations

import pytest
from opentelemetry.context import Context, set_value
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import INVALID_SPAN, set_span_in_context
from opentelemetry.trace.propagation import _SPAN_KEY

from otelperf.fastpaths import context
from tests.unit.conftest import switched


@pytest.mark.parametrize("fast_path", [True, False])
def test_the_span_in_a_context_is_found_either_way(fast_path: bool) -> None:
    sampled = TracerProvider(sampler=ALWAYS_ON).get_tracer("t").start_span("s")
    with switched(context.SWITCH, fast_path):
        key = context.span_key()
    assert (key is not None) is fast_path
    assert context.span_in(set_span_in_context(sampled), key) is sampled
    for empty in (Context(), set_value(_SPAN_KEY, None)):
        assert context.span_in(empty, key) in (None, INVALID_SPAN)
