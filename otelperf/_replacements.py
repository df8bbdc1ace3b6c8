"""Contrib instrumentors that otelperf replaces with its own, by entry-point name."""

REPLACED: dict[str, str] = {"sqlalchemy": "otelperf_sqlalchemy"}
