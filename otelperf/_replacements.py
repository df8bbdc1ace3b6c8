"""Contrib instrumentors that otelperf replaces with its own, by entry-point name."""

REPLACED: dict[str, str] = {"fastapi": "otelperf_fastapi", "sqlalchemy": "otelperf_sqlalchemy"}
