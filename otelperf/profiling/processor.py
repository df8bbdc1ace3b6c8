"""Links spans and profiles: ``pyroscope.profile.id`` on local roots, thread tags while they run.

Grafana's trace-to-profile link looks for ``pyroscope.profile.id`` on a span and queries the
samples labelled ``span_id`` with that value. pyroscope-otel sets both per *OS thread* at span
start and end, so concurrent requests on one event-loop thread share tags and work in a thread
pool gets none. Here the root is published in a ``ContextVar`` that follows the work: event-loop
task steps (``profiling.tasks``), thread-pool tasks and anyio's threadpool (the worker-pool
instrumentation) re-tag their thread from it before running.
"""

from __future__ import annotations

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from otelperf.fastpaths import spans
from otelperf.profiling.tags import Root, current_root, holding, tag_thread, tagged_root

PROFILE_ID = "pyroscope.profile.id"


class ProfileSpanProcessor(SpanProcessor):
    """Marks local root spans and tags the current thread with them.

    ``link_spans=False`` (a sampler without thread tags) keeps the root for the ``[route]`` frames
    but sets no ``pyroscope.profile.id``: Grafana would offer a link to samples that cannot exist.
    """

    def __init__(self, link_spans: bool = True) -> None:
        self._link_spans = link_spans
        self._identity = spans.getter("context", "parent")

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        context, parent = self._identity(span)
        if context is None or (parent is not None and not parent.is_remote):
            return
        root = Root(context.span_id, span.name)
        if self._link_spans:
            span.set_attribute(PROFILE_ID, root.span_id)
        current_root.set(root)
        if not holding():
            tag_thread(root)

    def on_end(self, span: ReadableSpan) -> None:
        # The SDK passes a read-only copy here: compare ids, not objects.
        tagged = tagged_root()
        if tagged is not None and span.context is not None and tagged.number == span.context.span_id:
            tag_thread(None)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True
