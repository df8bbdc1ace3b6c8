"""The SDK's providers, built from ``Settings``: resource, sampler, span processors, views, readers.

``providers.Pipeline`` assembles one process's tracer and meter providers from the stages below
it (``processors`` and ``profiling`` for spans, ``metrics`` for views and exemplar reservoirs,
``export`` for the exporters) and flushes them within a time budget; it also registers the running
pipeline, where the in-process readers find it (``otelperf.local_metrics()``, the in-process
report). ``resource`` says who is talking; ``local`` keeps the optional in-process copy of the metrics.
"""
