"""otelperf's own instrumentors, where spans and measurements are made, shaped like the contrib packages.

One subpackage per library or concern (``fastapi``, ``redis``, ``sqlalchemy``, ``worker_pool``,
``runtime``; ``cache`` for the cache measurements Redis and in-process caches share). Each is an
``opentelemetry_instrumentor`` entry point, so ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` disables it
by name (``otelperf_sqlalchemy``). They record through ``otelperf.metrics.instruments`` and
scrub text with ``otelperf.redaction``; the helpers they share sit here: ``_children`` (skip
client spans the sampler would drop), ``_errors`` (a scrubbed error on a client span), ``memo``
(attributes derived once per client, engine or pool) and ``replacements`` (the contrib instrumentors
otelperf's replace).
"""
