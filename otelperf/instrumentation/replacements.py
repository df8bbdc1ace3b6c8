"""Contrib instrumentors that otelperf replaces with its own, by entry-point name."""

REPLACED: dict[str, str] = {
    "fastapi": "otelperf_fastapi",
    "redis": "otelperf_redis",
    "sqlalchemy": "otelperf_sqlalchemy",
}
