"""otelperf's own instrumentors, shaped like the OpenTelemetry contrib packages.

Each is an ``opentelemetry_instrumentor`` entry point, so ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``
disables it by name (``otelperf_sqlalchemy``).
"""
